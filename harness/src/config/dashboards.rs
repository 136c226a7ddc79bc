//! TestGrid's YAML configuration format, as kubernetes/test-infra writes it under
//! `config/testgrids/`: `test_groups`, `dashboards` with `dashboard_tab`s,
//! `dashboard_groups`, and a `default.yaml` whose `default_test_group` and
//! `default_dashboard_tab` fill every unset field. Prow job files whose jobs carry
//! `testgrid-dashboards` / `testgrid-tab-name` annotations add tabs the way TestGrid's
//! config merger does.
//!
//! A dashboard is release-blocking when its name ends in `-blocking`, or when it sets
//! the trellis field `trellis_release_blocking: true` (false overrides the name).
//!
//! `trellis gate` judges a pre-submit job's build against base jobs: a test group may
//! name them with the trellis field `trellis_base_jobs: [ci-…]`; otherwise the base is
//! every stored job that is not a pre-submit (the `presubmits:` of Prow job files in
//! the config, and jobs with PR builds in the store).

use crate::model::Grid;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The trellis extension field on a dashboard that marks it release-blocking.
pub const RELEASE_BLOCKING_FIELD: &str = "trellis_release_blocking";

/// Values TestGrid itself uses when neither the config nor a default.yaml sets them:
/// 5 recent columns, no alerts (a threshold of 0), a 7-day window. (10 / 3 / 1 / 15 are
/// Kubernetes's default.yaml, which `dashboards/default.yaml` carries.)
const BUILTIN_COLUMNS_RECENT: u32 = 5;
const BUILTIN_FAILURES_TO_ALERT: u32 = 0;
const BUILTIN_PASSES_TO_CLOSE: u32 = 1;
const BUILTIN_DAYS_OF_RESULTS: u32 = 7;

/// Kubernetes's default.yaml values, for the tabs trellis makes itself (stored jobs no
/// config names): without them an unconfigured job could never alert.
const KUBERNETES_COLUMNS_RECENT: u32 = 10;
const KUBERNETES_FAILURES_TO_ALERT: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{dir}: no TestGrid YAML files (*.yaml, *.yml)")]
    Empty { dir: PathBuf },
}

impl ConfigError {
    pub fn hint(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "pass --dashboards DIR with a readable directory",
            ConfigError::Invalid { .. } => "fix the named field; the format is TestGrid's (config/testgrids in kubernetes/test-infra)",
            ConfigError::Empty { .. } => "put TestGrid YAML (test_groups, dashboards, dashboard_groups) in the directory",
        }
    }
}

/// A test group: one job's results.
#[derive(Debug, Clone, PartialEq)]
pub struct TestGroup {
    pub name: String,
    pub gcs_prefix: Option<String>,
    pub days_of_results: u32,
    pub num_columns_recent: u32,
    pub num_failures_to_alert: u32,
    pub num_passes_to_disable_alert: u32,
    /// 0: never stale.
    pub alert_stale_results_hours: u32,
    /// The periodic or post-submit jobs `trellis gate` judges this (pre-submit)
    /// job's builds against (`trellis_base_jobs`); empty: the default base.
    pub base_jobs: Vec<String>,
    /// No `Pod` row (TestGrid's `disable_prowjob_analysis`).
    pub disable_prowjob_analysis: bool,
    /// Builds are named by commit in the summary (TestGrid's `use_kubernetes_client`).
    pub use_kubernetes_client: bool,
    /// A test's repeated results in one build are rows of their own, not one merged
    /// cell (TestGrid's `disable_merged_status`).
    pub disable_merged_status: bool,
}

impl TestGroup {
    /// The stored job this group reads: its name, or the last element of its gcs_prefix.
    pub fn matches_job(&self, job: &str) -> bool {
        self.name == job
            || self
                .gcs_prefix
                .as_deref()
                .and_then(|p| p.trim_end_matches('/').rsplit('/').next())
                .is_some_and(|last| last == job)
    }
}

/// A dashboard tab: a view of one test group.
#[derive(Debug, Clone)]
pub struct Tab {
    pub name: String,
    pub test_group_name: String,
    pub num_columns_recent: u32,
    pub num_failures_to_alert: u32,
    pub num_passes_to_disable_alert: u32,
    pub alert_stale_results_hours: u32,
    /// A column whose failing share of cells exceeds this makes the tab BROKEN (0: off).
    pub broken_column_threshold: f64,
    /// Row filters from `base_options` (`include-filter-by-regex`, `exclude-filter-by-regex`).
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// A job with fewer columns than `num_failures_to_alert` alerts when all of them
    /// fail (trellis's unconfigured-jobs tabs; TestGrid never does).
    pub alert_on_short_history: bool,
    /// The latest green is named by its commit's first 9 characters, not the build id
    /// (the test group's `use_kubernetes_client`, on in Kubernetes's default.yaml).
    pub latest_green_by_commit: bool,
    /// Days per healthiness interval, when the tab's `health_analysis_options` enable
    /// TestGrid's healthiness analysis.
    pub health_analysis_days: Option<u32>,
    /// Where "file a bug" for a failing test goes (the tab's `file_bug_template`, else
    /// the default tab's).
    pub file_bug_template: Option<BugTemplate>,
}

/// TestGrid's `file_bug_template`: a URL and query options whose values may name
/// `<test-name>`, `<test-url>` and `<environment>` (the tab).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BugTemplate {
    pub url: String,
    #[serde(default)]
    pub options: Vec<BugTemplateOption>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BugTemplateOption {
    pub key: String,
    pub value: String,
}

impl BugTemplate {
    /// The template filled in for one test; `None` when the URL is not http(s).
    pub fn link(&self, test: &str, test_url: &str, environment: &str) -> Option<String> {
        let fill = |v: &str| {
            v.replace("<test-name>", test)
                .replace("<test-url>", test_url)
                .replace("<environment>", environment)
        };
        let mut url = reqwest::Url::parse(&self.url).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        if !self.options.is_empty() {
            let mut q = url.query_pairs_mut();
            for o in &self.options {
                q.append_pair(&o.key, &fill(&o.value));
            }
        }
        Some(url.to_string())
    }
}

impl Tab {
    /// Consecutive failures that open an alert on a grid of `columns` columns.
    pub fn failures_to_alert(&self, columns: usize) -> u32 {
        let short = u32::try_from(columns).unwrap_or(u32::MAX).max(1);
        if self.alert_on_short_history {
            self.num_failures_to_alert.min(short)
        } else {
            self.num_failures_to_alert
        }
    }

    /// A tab named after its test group, with Kubernetes's default.yaml values (10
    /// recent columns, alert after 3 failures, close after 1 pass, no staleness, no
    /// BROKEN).
    pub fn with_kubernetes_defaults(name: &str, test_group: &str) -> Tab {
        Tab {
            name: name.to_string(),
            test_group_name: test_group.to_string(),
            num_columns_recent: KUBERNETES_COLUMNS_RECENT,
            num_failures_to_alert: KUBERNETES_FAILURES_TO_ALERT,
            num_passes_to_disable_alert: BUILTIN_PASSES_TO_CLOSE,
            alert_stale_results_hours: 0,
            broken_column_threshold: 0.0,
            include: None,
            exclude: None,
            alert_on_short_history: false,
            latest_green_by_commit: true,
            health_analysis_days: None,
            file_bug_template: None,
        }
    }

    pub fn shows_row(&self, row: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(row))
            && self.exclude.as_ref().is_none_or(|r| !r.is_match(row))
    }
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub name: String,
    pub tabs: Vec<Tab>,
    pub release_blocking: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DashboardGroup {
    pub name: String,
    pub dashboard_names: Vec<String>,
}

/// Everything in a dashboards directory, defaults applied.
#[derive(Debug, Clone, Default)]
pub struct DashboardConfig {
    pub test_groups: Vec<TestGroup>,
    pub dashboards: Vec<Dashboard>,
    pub groups: Vec<DashboardGroup>,
    /// Jobs the config's Prow job files list as `presubmits`.
    pub presubmits: Vec<String>,
}

/// The dashboard that shows stored jobs no config names.
pub const UNCONFIGURED: &str = "unconfigured-jobs";

impl DashboardConfig {
    /// This config plus a dashboard of the stored jobs it does not show (one tab
    /// each, TestGrid's defaults, never release-blocking), so no stored job is left
    /// out without a word. Without any config, that is every stored job.
    pub fn with_unconfigured(mut self, stored: &[String]) -> DashboardConfig {
        let shown = self.jobs_shown(stored);
        let tabs: Vec<Tab> = stored
            .iter()
            .filter(|j| !shown.contains(j))
            .map(|j| Tab {
                // Nobody has configured this job: a history too short for the
                // default threshold (a conformance run is one column) is red when
                // it fails, not FLAKY.
                alert_on_short_history: true,
                ..Tab::with_kubernetes_defaults(j, j)
            })
            .collect();
        if !tabs.is_empty() {
            self.dashboards.push(Dashboard {
                name: UNCONFIGURED.into(),
                tabs,
                release_blocking: false,
            });
        }
        self
    }

    /// Days of results the analysis commands look back by default: the longest
    /// `days_of_results` of any test group, TestGrid's built-in value without any.
    pub fn days_of_results(&self) -> u32 {
        self.test_groups
            .iter()
            .map(|g| g.days_of_results)
            .max()
            .unwrap_or(BUILTIN_DAYS_OF_RESULTS)
    }

    /// `days_of_results` of the test group that reads `job`, if a group does.
    pub fn days_of_results_for(&self, job: &str) -> Option<u32> {
        self.test_groups
            .iter()
            .find(|g| g.matches_job(job))
            .map(|g| g.days_of_results)
    }

    /// Cuts each grid to the `days_of_results` of the test group that reads its job,
    /// back from `until` (TestGrid keeps a window per group); a job no group reads
    /// keeps what it has.
    pub fn cut_to_group_windows(&self, grids: &mut [Grid], until: i64) {
        for g in grids {
            if let Some(days) = self.days_of_results_for(&g.job) {
                g.keep_since(until - i64::from(days) * 86_400);
            }
        }
    }

    /// Makes stored grids what TestGrid's updater would show at `now`: cells stored
    /// while a build was running re-read as at `now` ([`Grid::expire_running`]); no
    /// `Pod` row where the job's test group sets `disable_prowjob_analysis`; repeated
    /// results as rows of their own where it sets `disable_merged_status`.
    pub fn as_testgrid_reads(&self, grids: &mut [Grid], now: i64) {
        for g in grids {
            g.expire_running(now);
            let Some(group) = self.test_groups.iter().find(|t| t.matches_job(&g.job)) else {
                continue;
            };
            if group.disable_prowjob_analysis {
                g.remove_row(crate::model::POD_ROW);
            }
            if group.disable_merged_status {
                g.split_merged();
            }
        }
    }

    /// The base jobs configured for `job` (`trellis_base_jobs` of the test group
    /// that reads it), if any.
    pub fn base_jobs_for(&self, job: &str) -> Option<&[String]> {
        self.test_groups
            .iter()
            .find(|g| g.matches_job(job) && !g.base_jobs.is_empty())
            .map(|g| g.base_jobs.as_slice())
    }

    pub fn test_group(&self, name: &str) -> Option<&TestGroup> {
        self.test_groups.iter().find(|g| g.name == name)
    }

    /// The stored jobs that some tab reads (by test group name or gcs_prefix).
    pub fn jobs_shown(&self, stored: &[String]) -> Vec<String> {
        stored
            .iter()
            .filter(|job| {
                self.dashboards.iter().flat_map(|d| &d.tabs).any(|t| {
                    match self.test_group(&t.test_group_name) {
                        Some(group) => group.matches_job(job),
                        None => t.test_group_name == **job,
                    }
                })
            })
            .cloned()
            .collect()
    }
}

// ---- raw YAML shapes (every field optional; defaults resolved afterwards) ----

#[derive(Debug, Default, Deserialize)]
struct RawFile {
    #[serde(default)]
    test_groups: Vec<RawTestGroup>,
    #[serde(default)]
    dashboards: Vec<RawDashboard>,
    #[serde(default)]
    dashboard_groups: Vec<RawGroup>,
    default_test_group: Option<RawTestGroup>,
    default_dashboard_tab: Option<RawTab>,
    #[serde(default)]
    periodics: Vec<RawProwJob>,
    #[serde(default)]
    postsubmits: BTreeMap<String, Vec<RawProwJob>>,
    #[serde(default)]
    presubmits: BTreeMap<String, Vec<RawProwJob>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawTestGroup {
    #[serde(default)]
    name: String,
    gcs_prefix: Option<String>,
    days_of_results: Option<u32>,
    num_columns_recent: Option<u32>,
    num_failures_to_alert: Option<u32>,
    num_passes_to_disable_alert: Option<u32>,
    alert_stale_results_hours: Option<u32>,
    #[serde(default)]
    trellis_base_jobs: Vec<String>,
    disable_prowjob_analysis: Option<bool>,
    use_kubernetes_client: Option<bool>,
    disable_merged_status: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawHealthAnalysisOptions {
    #[serde(default)]
    enable: bool,
    days_of_analysis: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawAlertOptions {
    /// The only tab alert option production TestGrid reads (thresholds come from the
    /// test group; see [`resolve_tab`]).
    alert_stale_results_hours: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawTab {
    #[serde(default)]
    name: String,
    #[serde(default)]
    test_group_name: String,
    num_columns_recent: Option<u32>,
    alert_options: Option<RawAlertOptions>,
    health_analysis_options: Option<RawHealthAnalysisOptions>,
    broken_column_threshold: Option<f64>,
    base_options: Option<String>,
    file_bug_template: Option<BugTemplate>,
}

#[derive(Debug, Default, Deserialize)]
struct RawDashboard {
    name: String,
    #[serde(default)]
    dashboard_tab: Vec<RawTab>,
    trellis_release_blocking: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct RawGroup {
    name: String,
    #[serde(default)]
    dashboard_names: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawProwJob {
    #[serde(default)]
    name: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Loads every `*.yaml`/`*.yml` in `dir` (not recursive) as one configuration.
pub fn load_dir(dir: &Path) -> Result<DashboardConfig, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConfigError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ConfigError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Io {
            path: path.clone(),
            source: e,
        })?;
        let raw: RawFile = crate::yaml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        files.push((path, raw));
    }
    resolve(files)
}

fn resolve(files: Vec<(PathBuf, RawFile)>) -> Result<DashboardConfig, ConfigError> {
    let default_group = files
        .iter()
        .find_map(|(_, f)| f.default_test_group.clone())
        .unwrap_or_default();
    let default_tab = files
        .iter()
        .find_map(|(_, f)| f.default_dashboard_tab.clone())
        .unwrap_or_default();
    let mut config = DashboardConfig::default();
    let mut raw_dashboards: BTreeMap<String, (RawDashboard, PathBuf)> = BTreeMap::new();
    let mut order = Vec::new();
    let mut injected: Vec<(String, RawTab)> = Vec::new();
    for (path, file) in files {
        for g in file.test_groups {
            config.test_groups.push(resolve_group(g, &default_group));
        }
        for d in file.dashboards {
            match raw_dashboards.get_mut(&d.name) {
                Some((existing, _)) => existing.dashboard_tab.extend(d.dashboard_tab),
                None => {
                    order.push(d.name.clone());
                    raw_dashboards.insert(d.name.clone(), (d, path.clone()));
                }
            }
        }
        for g in file.dashboard_groups {
            config.groups.push(DashboardGroup {
                name: g.name,
                dashboard_names: g.dashboard_names,
            });
        }
        config
            .presubmits
            .extend(file.presubmits.values().flatten().map(|j| j.name.clone()));
        let jobs = file
            .periodics
            .into_iter()
            .chain(file.postsubmits.into_values().flatten())
            .chain(file.presubmits.into_values().flatten());
        for job in jobs {
            inject_prow_job(job, &mut config, &default_group, &mut injected);
        }
    }
    for (dashboard, tab) in injected {
        if !raw_dashboards.contains_key(&dashboard) {
            order.push(dashboard.clone());
            let raw = RawDashboard {
                name: dashboard.clone(),
                ..RawDashboard::default()
            };
            raw_dashboards.insert(
                dashboard.clone(),
                (raw, PathBuf::from("(prow job annotations)")),
            );
        }
        if let Some((d, _)) = raw_dashboards.get_mut(&dashboard) {
            d.dashboard_tab.push(tab);
        }
    }
    for name in order {
        let Some((raw, path)) = raw_dashboards.remove(&name) else {
            continue;
        };
        let mut tabs = Vec::new();
        for tab in raw.dashboard_tab {
            tabs.push(resolve_tab(tab, &default_tab, &config, &path, &raw.name)?);
        }
        config.dashboards.push(Dashboard {
            release_blocking: raw
                .trellis_release_blocking
                .unwrap_or(raw.name.ends_with("-blocking")),
            name: raw.name,
            tabs,
        });
    }
    Ok(config)
}

fn resolve_group(g: RawTestGroup, d: &RawTestGroup) -> TestGroup {
    TestGroup {
        gcs_prefix: g.gcs_prefix,
        days_of_results: g
            .days_of_results
            .or(d.days_of_results)
            .unwrap_or(BUILTIN_DAYS_OF_RESULTS),
        num_columns_recent: set(g.num_columns_recent)
            .or(set(d.num_columns_recent))
            .unwrap_or(BUILTIN_COLUMNS_RECENT),
        num_failures_to_alert: set(g.num_failures_to_alert)
            .or(set(d.num_failures_to_alert))
            .unwrap_or(BUILTIN_FAILURES_TO_ALERT),
        num_passes_to_disable_alert: g
            .num_passes_to_disable_alert
            .or(d.num_passes_to_disable_alert)
            .unwrap_or(BUILTIN_PASSES_TO_CLOSE),
        alert_stale_results_hours: g
            .alert_stale_results_hours
            .or(d.alert_stale_results_hours)
            .unwrap_or(0),
        base_jobs: g.trellis_base_jobs,
        disable_prowjob_analysis: g
            .disable_prowjob_analysis
            .or(d.disable_prowjob_analysis)
            .unwrap_or(false),
        use_kubernetes_client: g
            .use_kubernetes_client
            .or(d.use_kubernetes_client)
            .unwrap_or(false),
        disable_merged_status: g
            .disable_merged_status
            .or(d.disable_merged_status)
            .unwrap_or(false),
        name: g.name,
    }
}

/// Tab settings as TestGrid's production deployment resolves them:
/// `num_columns_recent` is the tab's, else default.yaml's tab value (which fills every
/// tab, so the group's is reached only without one), else the group's; alert
/// thresholds are the test group's (tab `alert_options` count only under TestGrid's
/// `--tab-alerts`, which production does not pass); staleness is the tab's
/// `alert_options` only.
fn resolve_tab(
    t: RawTab,
    d: &RawTab,
    config: &DashboardConfig,
    path: &Path,
    dashboard: &str,
) -> Result<Tab, ConfigError> {
    let group = config.test_group(&t.test_group_name);
    let alert = t.alert_options.clone().unwrap_or_default();
    let (include, exclude) = parse_base_options(
        t.base_options.as_deref().or(d.base_options.as_deref()),
    )
    .map_err(|reason| ConfigError::Invalid {
        path: path.to_path_buf(),
        reason: format!(
            "dashboard {dashboard}, tab {}: base_options: {reason}",
            t.name
        ),
    })?;
    Ok(Tab {
        num_columns_recent: set(t.num_columns_recent)
            .or(set(d.num_columns_recent))
            .or(group.map(|g| g.num_columns_recent))
            .unwrap_or(BUILTIN_COLUMNS_RECENT),
        num_failures_to_alert: group
            .map(|g| g.num_failures_to_alert)
            .unwrap_or(BUILTIN_FAILURES_TO_ALERT),
        num_passes_to_disable_alert: group
            .map(|g| g.num_passes_to_disable_alert)
            .unwrap_or(BUILTIN_PASSES_TO_CLOSE),
        alert_stale_results_hours: alert
            .alert_stale_results_hours
            .or(d
                .alert_options
                .as_ref()
                .and_then(|a| a.alert_stale_results_hours))
            .unwrap_or(0),
        broken_column_threshold: t
            .broken_column_threshold
            .or(d.broken_column_threshold)
            .unwrap_or(0.0),
        include,
        exclude,
        alert_on_short_history: false,
        latest_green_by_commit: group.is_some_and(|g| g.use_kubernetes_client),
        health_analysis_days: t
            .health_analysis_options
            .as_ref()
            .or(d.health_analysis_options.as_ref())
            .filter(|h| h.enable)
            .map(|h| set(h.days_of_analysis).unwrap_or(DEFAULT_DAYS_OF_ANALYSIS)),
        file_bug_template: t
            .file_bug_template
            .clone()
            .or_else(|| d.file_bug_template.clone())
            .filter(|b| !b.url.is_empty()),
        name: t.name,
        test_group_name: t.test_group_name,
    })
}

/// TestGrid's healthiness interval when `days_of_analysis` is not set.
const DEFAULT_DAYS_OF_ANALYSIS: u32 = 7;

/// A proto3 number field: 0 is "not set" (TestGrid's `num_failures_to_alert: 0`
/// means the default applies, not "alert on none").
fn set(value: Option<u32>) -> Option<u32> {
    value.filter(|n| *n != 0)
}

/// `base_options` is a URL query string: `include-filter-by-regex=…&exclude-filter-by-regex=…&width=10`.
fn parse_base_options(options: Option<&str>) -> Result<(Option<Regex>, Option<Regex>), String> {
    let mut include = None;
    let mut exclude = None;
    for pair in options.unwrap_or("").split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let slot = match key {
            "include-filter-by-regex" => &mut include,
            "exclude-filter-by-regex" => &mut exclude,
            _ => continue,
        };
        let pattern = percent_decode(value);
        *slot = Some(Regex::new(&pattern).map_err(|e| format!("`{pattern}`: {e}"))?);
    }
    Ok((include, exclude))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Prow job annotated `testgrid-dashboards: a, b` (and optionally
/// `testgrid-tab-name`) becomes a test group named after the job and a tab on each
/// named dashboard.
fn inject_prow_job(
    job: RawProwJob,
    config: &mut DashboardConfig,
    default_group: &RawTestGroup,
    injected: &mut Vec<(String, RawTab)>,
) {
    let Some(dashboards) = job.annotations.get("testgrid-dashboards") else {
        return;
    };
    let tab_name = job
        .annotations
        .get("testgrid-tab-name")
        .cloned()
        .unwrap_or_else(|| job.name.clone());
    let num_failures_to_alert = job
        .annotations
        .get("testgrid-num-failures-to-alert")
        .and_then(|v| v.trim().parse().ok());
    if config.test_group(&job.name).is_none() {
        config.test_groups.push(resolve_group(
            RawTestGroup {
                name: job.name.clone(),
                num_failures_to_alert,
                ..RawTestGroup::default()
            },
            default_group,
        ));
    }
    for dashboard in dashboards
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        injected.push((
            dashboard.to_string(),
            RawTab {
                name: tab_name.clone(),
                test_group_name: job.name.clone(),
                ..RawTab::default()
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_testgrid() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/testgrid")
    }

    #[test]
    fn real_testgrid_configs_load() {
        let config = load_dir(&shared_testgrid()).unwrap();
        let conformance = config
            .dashboards
            .iter()
            .find(|d| d.name == "conformance-all")
            .unwrap();
        assert!(!conformance.release_blocking);
        let tab = conformance
            .tabs
            .iter()
            .find(|t| t.name == "Gardener, v1.35 AWS")
            .unwrap();
        assert_eq!(tab.test_group_name, "ci-gardener-e2e-conformance-aws-v1.35");
        // Tab alert_options win; default.yaml fills what nothing sets.
        assert_eq!(tab.num_columns_recent, 10);
        // default.yaml's file_bug_template, filled in for one test.
        let bug = tab.file_bug_template.as_ref().unwrap();
        assert_eq!(
            bug.link("[sig-node] a & b", "https://ci.example/t#x", "aws").as_deref(),
            Some("https://github.com/kubernetes/kubernetes/issues/new?title=E2E%3A+%5Bsig-node%5D+a+%26+b&body=https%3A%2F%2Fci.example%2Ft%23x")
        );
        let script = BugTemplate {
            url: "javascript:alert(1)".into(),
            options: Vec::new(),
        };
        assert_eq!(script.link("t", "u", "e"), None);
        let group = config
            .test_group("ci-gardener-e2e-conformance-aws-v1.35")
            .unwrap();
        assert_eq!(group.num_failures_to_alert, 1);
        assert_eq!(group.alert_stale_results_hours, 168);
        assert_eq!(group.days_of_results, 15);
        assert_eq!(group.num_passes_to_disable_alert, 1);
        assert!(group.matches_job("ci-gardener-e2e-conformance-aws-v1.35"));
        // sig-release dashboards are declared empty; Prow annotations add the tabs.
        let blocking = config
            .dashboards
            .iter()
            .find(|d| d.name == "sig-release-master-blocking")
            .unwrap();
        assert!(blocking.release_blocking);
        assert!(blocking
            .tabs
            .iter()
            .any(|t| t.name == "gce-cos-alphafeatures-master"
                && t.test_group_name == "ci-kubernetes-e2e-gce-cos-alphafeatures-master"));
        assert!(config.groups.iter().any(|g| g.name == "sig-release"));
        let notes = config
            .dashboards
            .iter()
            .find(|d| d.name == "sig-release-release-notes-presubmits")
            .unwrap();
        assert_eq!(notes.tabs.len(), 7);
    }

    #[test]
    fn gcs_prefix_last_element_matches_a_job() {
        let g = resolve_group(
            RawTestGroup {
                name: "my-group".into(),
                gcs_prefix: Some("bucket/logs/ci-kind-e2e/".into()),
                ..RawTestGroup::default()
            },
            &RawTestGroup::default(),
        );
        assert!(g.matches_job("ci-kind-e2e"));
        assert!(g.matches_job("my-group"));
        assert!(!g.matches_job("logs"));
        // TestGrid's own built-in, not Kubernetes's default.yaml.
        assert_eq!(g.num_columns_recent, 5);
    }

    /// Rule 16: each test group keeps its own `days_of_results`, and (rule 17) at
    /// least its newest column, however old.
    #[test]
    fn each_test_group_has_its_own_window() {
        use crate::model::{CellStatus, Column, Grid};
        let c = load_yaml(&[(
            "x.yaml",
            "test_groups:\n- name: daily\n  days_of_results: 1\n- name: weekly\n  days_of_results: 7\n",
        )]);
        let now = 100 * 86_400;
        let grid = |job: &str, ages_days: &[i64]| {
            let columns = ages_days
                .iter()
                .map(|d| Column {
                    build: format!("{d}"),
                    started: Some(now - d * 86_400 - 60),
                    ..Column::default()
                })
                .collect();
            let mut g = Grid::new(job.into(), columns);
            let r = g.add_row("t".into());
            for col in 0..ages_days.len() {
                g.set(r, col, CellStatus::Fail, Some(format!("m{col}")));
            }
            g
        };
        let mut grids = vec![
            grid("daily", &[0, 2, 3]),
            grid("weekly", &[0, 2, 3, 8]),
            grid("stale", &[5, 6]),
            grid("daily-old", &[4, 5]),
        ];
        let mut with_old = c.clone();
        with_old.test_groups.push(TestGroup {
            name: "daily-old".into(),
            ..c.test_groups[0].clone()
        });
        with_old.cut_to_group_windows(&mut grids, now);
        let builds = |g: &Grid| {
            g.columns
                .iter()
                .map(|c| c.build.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(builds(&grids[0]), ["0"]);
        assert_eq!(builds(&grids[1]), ["0", "2", "3"]);
        // No group reads it: the whole window stays.
        assert_eq!(builds(&grids[2]), ["5", "6"]);
        // Every build older than its group's window: the newest is kept.
        assert_eq!(builds(&grids[3]), ["4"]);
        assert_eq!(grids[3].row(0), [CellStatus::Fail]);
        assert_eq!(grids[3].message(0, 0), Some("m0"));
        assert_eq!(grids[3].message(0, 1), None);
    }

    /// #15 rule 4: `disable_prowjob_analysis` hides the `Pod` row (its messages move
    /// with the rows below it); a cell stored while running is read as at `now`; and
    /// (#15 "Also") `disable_merged_status` shows a test's runs as rows of their own.
    #[test]
    fn testgrid_reads_pod_rows_running_cells_and_repeated_runs() {
        use crate::model::{CellStatus, Column, Grid, OVERALL_ROW, POD_ROW};
        let c = load_yaml(&[(
            "x.yaml",
            "test_groups:\n- name: quiet\n  disable_prowjob_analysis: true\n  \
             disable_merged_status: true\n- name: prow\n",
        )]);
        let now = 10 * 86_400;
        let grid = |job: &str| {
            let columns = vec![
                Column {
                    build: "running".into(),
                    started: Some(now - 25 * 3600),
                    ..Column::default()
                },
                Column {
                    build: "waiting-for-podinfo".into(),
                    started: Some(now - 3 * 3600),
                    finished: Some(now - 2 * 3600),
                    ..Column::default()
                },
            ];
            let mut g = Grid::new(job.into(), columns);
            let overall = g.add_row(OVERALL_ROW.into());
            let pod = g.add_row(POD_ROW.into());
            let t = g.add_row("t".into());
            g.set(overall, 0, CellStatus::Running, None);
            g.set(overall, 1, CellStatus::Pass, None);
            g.set(pod, 1, CellStatus::Running, None);
            g.set(t, 1, CellStatus::Fail, Some("t failed".into()));
            let retried = g.add_row("retried".into());
            g.set(
                retried,
                1,
                CellStatus::Flaky,
                Some("1/3 runs passed: timeout".into()),
            );
            g.set_attempts(retried, 1, 3);
            g
        };
        let mut grids = vec![grid("quiet"), grid("prow")];
        c.as_testgrid_reads(&mut grids, now);
        // disable_merged_status: the FLAKY cell of 3 runs is its runs, failures first.
        assert_eq!(
            grids[0].rows,
            [OVERALL_ROW, "t", "retried", "retried [1]", "retried [2]"]
        );
        assert_eq!(grids[0].message(1, 1), Some("t failed"));
        let at = |g: &Grid, r: usize| g.row(r)[1];
        assert_eq!(
            [at(&grids[0], 2), at(&grids[0], 3), at(&grids[0], 4)],
            [CellStatus::Fail, CellStatus::Fail, CellStatus::Pass]
        );
        assert_eq!(grids[0].message(2, 1), Some("timeout"));
        assert_eq!(grids[0].attempts(2, 1), 1);
        assert_eq!(grids[1].rows, [OVERALL_ROW, POD_ROW, "t", "retried"]);
        assert_eq!(at(&grids[1], 3), CellStatus::Flaky);
        // Started 25 h ago and still running: given up on.
        assert_eq!(grids[1].row(0), [CellStatus::Fail, CellStatus::Pass]);
        assert_eq!(
            grids[1].message(0, 0),
            Some(crate::model::NOT_COMPLETED_MESSAGE)
        );
        // Finished 2 h ago, no podinfo.json yet: TestGrid stops waiting after 1 h.
        assert_eq!(
            grids[1].row(1),
            [CellStatus::NoResult, CellStatus::PassWithSkips]
        );
    }

    fn load_yaml(files: &[(&str, &str)]) -> DashboardConfig {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        load_dir(dir.path()).unwrap()
    }

    const TAB_AND_GROUP: &str = "test_groups:\n- name: g\n  num_columns_recent: 20\n  \
        num_failures_to_alert: 4\n  alert_stale_results_hours: 5\ndashboards:\n- name: d\n  \
        dashboard_tab:\n  - name: t\n    test_group_name: g\n    alert_options:\n      \
        num_failures_to_alert: 2\n";

    #[test]
    fn settings_resolve_as_production_testgrid_reads_them() {
        let defaults = "default_test_group:\n  num_failures_to_alert: 3\n\
                        default_dashboard_tab:\n  num_columns_recent: 10\n";
        let c = load_yaml(&[("default.yaml", defaults), ("x.yaml", TAB_AND_GROUP)]);
        let t = &c.dashboards[0].tabs[0];
        // default.yaml's tab value fills the tab before the group's is reached.
        assert_eq!(t.num_columns_recent, 10);
        // Alert thresholds are the group's: tab alert_options need --tab-alerts.
        assert_eq!(t.num_failures_to_alert, 4);
        // Staleness is the tab's alert_options only: the group's 5 h is not read.
        assert_eq!(t.alert_stale_results_hours, 0);
    }

    #[test]
    fn without_default_yaml_testgrids_builtins_apply() {
        let c = load_yaml(&[(
            "x.yaml",
            "test_groups:\n- name: g\ndashboards:\n- name: d\n  dashboard_tab:\n  \
             - name: t\n    test_group_name: g\n",
        )]);
        let t = &c.dashboards[0].tabs[0];
        assert_eq!((t.num_columns_recent, t.num_failures_to_alert), (5, 0));
        assert_eq!(c.days_of_results(), 7);
        // …while the tabs trellis makes for unconfigured jobs use Kubernetes's values.
        let u = DashboardConfig::default().with_unconfigured(&["j".to_string()]);
        assert_eq!(u.dashboards[0].tabs[0].num_failures_to_alert, 3);
    }

    #[test]
    fn zero_failures_to_alert_means_unset() {
        // proto3: 0 is the default value, so the next level's (or the built-in)
        // threshold applies, not "never alert".
        let defaults = RawTestGroup {
            num_failures_to_alert: Some(2),
            ..RawTestGroup::default()
        };
        let g = resolve_group(
            RawTestGroup {
                name: "g".into(),
                num_failures_to_alert: Some(0),
                ..RawTestGroup::default()
            },
            &defaults,
        );
        assert_eq!(g.num_failures_to_alert, 2);
        let g = resolve_group(
            RawTestGroup {
                name: "g".into(),
                num_failures_to_alert: Some(0),
                ..RawTestGroup::default()
            },
            &RawTestGroup::default(),
        );
        assert_eq!(g.num_failures_to_alert, BUILTIN_FAILURES_TO_ALERT);
    }

    #[test]
    fn base_options_filters() {
        let (inc, exc) = parse_base_options(Some(
            "width=10&include-filter-by-regex=%5Bsig-node%5D&exclude-filter-by-regex=Slow",
        ))
        .unwrap();
        assert!(inc.unwrap().is_match("[sig-node] Pods"));
        assert!(exc.unwrap().is_match("[Slow]"));
        assert!(parse_base_options(Some("include-filter-by-regex=([")).is_err());
    }
}
