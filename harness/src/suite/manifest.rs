//! Suite manifests (`suites/NAME.yaml`): what a suite is and how to run it.
//!
//! ```yaml
//! name: smoke
//! kind: libtest          # libtest | conformance | e2e
//! binary: trellis-smoke  # libtest and e2e: a path, or a name next to trellis or on PATH
//! timeout: 15m           # the whole suite
//! test_timeout: 3m       # libtest: one attempt of one test
//! retries: 1             # libtest: extra attempts (a pass after a failure is FLAKY)
//! parallel: 4
//! focus: ''              # regex; libtest: on test names, ginkgo: --focus
//! skip: ''
//! allowlist: e2e-allowlist.txt  # e2e: exact spec names, one a line (instead of focus)
//! ```

use super::SuiteError;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteKind {
    /// A libtest-compatible binary, run test by test by trellis's runner.
    Libtest,
    /// The official conformance image run as a pod, the way Hydrophone does.
    Conformance,
    /// A local `e2e.test` binary (optionally through `ginkgo` for parallelism).
    E2e,
    /// A control-plane upgrade (`--upgrade-to`) with availability measured throughout.
    Upgrade,
    /// A small ClusterLoader2-style load, measured against SIG Scalability's SLOs.
    Perf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub kind: SuiteKind,
    #[serde(default)]
    pub description: String,
    pub binary: Option<String>,
    /// e2e: the ginkgo CLI; when set, e2e.test runs under `ginkgo --procs=N`.
    pub ginkgo: Option<String>,
    /// conformance: the image; default registry.k8s.io/conformance:<server version>.
    pub image: Option<String>,
    /// conformance: the namespace it runs in (created and deleted by trellis).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub focus: String,
    #[serde(default)]
    pub skip: String,
    /// e2e: a file of exact spec names, one a line (relative to the manifest); the
    /// focus becomes exactly those specs.
    pub allowlist: Option<PathBuf>,
    /// How many specs the allowlist names (set by [`load`]).
    #[serde(skip)]
    pub allowlisted: usize,
    /// e2e: ginkgo's --label-filter.
    #[serde(default)]
    pub label_filter: String,
    #[serde(default = "one")]
    pub parallel: usize,
    #[serde(default)]
    pub retries: u32,
    /// e2e: ginkgo's --flake-attempts.
    #[serde(default)]
    pub flake_attempts: u32,
    /// `timeout` as written; [`load`] parses it into `timeout`.
    #[serde(rename = "timeout")]
    timeout_text: String,
    #[serde(rename = "test_timeout")]
    test_timeout_text: Option<String>,
    #[serde(skip)]
    pub timeout: Duration,
    #[serde(skip)]
    pub test_timeout: Option<Duration>,
    /// conformance: E2E_EXTRA_ARGS; e2e: extra arguments to e2e.test.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// conformance: E2E_EXTRA_GINKGO_ARGS.
    #[serde(default)]
    pub extra_ginkgo_args: Vec<String>,
    /// upgrade: soaks, sampling and disruption budgets.
    #[serde(default)]
    pub upgrade: UpgradeSettings,
    /// perf: the load's shape and the SLO.
    #[serde(default)]
    pub perf: PerfSettings,
    #[serde(skip)]
    pub path: PathBuf,
}

/// The `upgrade:` block of an upgrade suite, durations as written (`20s`, `1m`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeSettings {
    /// Monitoring before the first step (default 20s).
    pub baseline_soak: Option<String>,
    /// Monitoring after each component's upgrade (default 15s).
    pub step_soak: Option<String>,
    /// How often each backend is sampled (default 1s).
    pub sample_interval: Option<String>,
    /// How long one sample may take (default 5s).
    pub sample_timeout: Option<String>,
    /// Allowed disruption per backend (`default` for the rest; default 0s).
    #[serde(default)]
    pub budgets: std::collections::BTreeMap<String, String>,
}

/// The perf suite's load, as the manifest's `perf:` block writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfSettings {
    /// Namespaces made (default 2).
    pub namespaces: Option<usize>,
    /// Deployments in each (default 2).
    pub deployments: Option<usize>,
    /// Pods in each Deployment (default 5)…
    pub replicas: Option<usize>,
    /// …then scaled to (default 10).
    pub scale_to: Option<usize>,
    /// The suite's create, scale and delete calls a second (default 10).
    pub qps: Option<f64>,
    /// How long the pods may take to be Running, each time (default 2m).
    pub wait_timeout: Option<String>,
    /// Pod startup SLO on p99 (default 5s, SIG Scalability's).
    pub pod_startup_slo: Option<String>,
    /// Fault injection: hold every pod at a scheduling gate this long (unset: none).
    pub inject_start_delay: Option<String>,
}

impl PerfSettings {
    /// Defaulted and checked; the error names the field.
    pub fn resolved(&self) -> Result<super::perf::Settings, String> {
        let duration = |field: &str, text: &Option<String>, default: u64| match text {
            None => Ok(Duration::from_secs(default)),
            Some(t) => parse_duration(t)
                .ok_or_else(|| format!("perf.{field}: `{t}` is not a duration like 5s or 2m")),
        };
        let s = super::perf::Settings {
            namespaces: self.namespaces.unwrap_or(2),
            deployments: self.deployments.unwrap_or(2),
            replicas: self.replicas.unwrap_or(5),
            scale_to: self.scale_to.unwrap_or(10),
            qps: self.qps.unwrap_or(10.0),
            wait_timeout: duration("wait_timeout", &self.wait_timeout, 120)?,
            pod_startup_slo: duration("pod_startup_slo", &self.pod_startup_slo, 5)?,
            inject_start_delay: match &self.inject_start_delay {
                None => None,
                Some(t) => Some(parse_duration(t).ok_or_else(|| {
                    format!("perf.inject_start_delay: `{t}` is not a duration like 2s")
                })?),
            },
        };
        if s.namespaces == 0 || s.deployments == 0 || s.replicas == 0 {
            return Err("perf: namespaces, deployments and replicas must be at least 1".into());
        }
        if s.namespaces * s.deployments * s.replicas.max(s.scale_to) > 100_000 {
            return Err("perf: more than 100,000 pods is not a mini-performance run".into());
        }
        if !(s.qps.is_finite() && s.qps > 0.0) {
            return Err(format!("perf.qps: {} must be a positive number", s.qps));
        }
        Ok(s)
    }
}

/// [`UpgradeSettings`] with every duration parsed and defaulted.
#[derive(Debug, Clone)]
pub struct UpgradeTimes {
    pub baseline_soak: Duration,
    pub step_soak: Duration,
    pub sample_interval: Duration,
    pub sample_timeout: Duration,
    pub budgets: std::collections::BTreeMap<String, Duration>,
}

impl UpgradeTimes {
    /// The budget of `backend`: its own, else `default`, else zero.
    pub fn budget(&self, backend: &str) -> Duration {
        self.budgets
            .get(backend)
            .or_else(|| self.budgets.get("default"))
            .copied()
            .unwrap_or(Duration::ZERO)
    }
}

impl UpgradeSettings {
    /// Parses the durations; the error names the field.
    pub fn times(&self) -> Result<UpgradeTimes, String> {
        let parse = |field: &str, text: &Option<String>, default: u64| match text {
            None => Ok(Duration::from_secs(default)),
            Some(t) => parse_duration(t).ok_or_else(|| {
                format!("upgrade.{field}: `{t}` is not a duration like 1s, 20s or 2m")
            }),
        };
        let mut budgets = std::collections::BTreeMap::new();
        for (backend, text) in &self.budgets {
            let d = match text.trim() {
                "0" | "0s" => Duration::ZERO,
                t => parse_duration(t).ok_or_else(|| {
                    format!("upgrade.budgets.{backend}: `{t}` is not a duration like 0s or 1s")
                })?,
            };
            budgets.insert(backend.clone(), d);
        }
        let times = UpgradeTimes {
            baseline_soak: parse("baseline_soak", &self.baseline_soak, 20)?,
            step_soak: parse("step_soak", &self.step_soak, 15)?,
            sample_interval: parse("sample_interval", &self.sample_interval, 1)?,
            sample_timeout: parse("sample_timeout", &self.sample_timeout, 5)?,
            budgets,
        };
        if times.sample_interval.is_zero() {
            return Err("upgrade.sample_interval: must be more than 0".into());
        }
        Ok(times)
    }
}

fn one() -> usize {
    1
}

fn default_namespace() -> String {
    "trellis-conformance".into()
}

/// `90s`, `15m`, `3h`, `1h30m` or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0;
    let mut number = String::new();
    for c in s.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'h' | 'm' | 's' => {
                let n: f64 = number.parse().ok()?;
                total += n * match c {
                    'h' => 3600.0,
                    'm' => 60.0,
                    _ => 1.0,
                };
                number.clear();
            }
            _ => return None,
        }
    }
    (number.is_empty() && total > 0.0).then(|| Duration::from_secs_f64(total))
}

/// Finds a suite: `NAME` is `DIR/NAME.yaml`; anything ending in .yaml is a path.
pub fn resolve(name: &str, dir: &Path) -> PathBuf {
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        PathBuf::from(name)
    } else {
        dir.join(format!("{name}.yaml"))
    }
}

/// The suite names a directory of manifests offers, sorted.
fn available(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".yaml").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn load(path: &Path) -> Result<Manifest, SuiteError> {
    let bad = |reason: String| SuiteError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SuiteError::NoManifest {
            path: path.to_path_buf(),
            available: available(path.parent().unwrap_or(Path::new("."))),
        },
        _ => bad(e.to_string()),
    })?;
    let mut m: Manifest = crate::yaml::from_str(&text).map_err(bad)?;
    m.path = path.to_path_buf();
    let duration = |field: &str, text: &str| {
        parse_duration(text).ok_or_else(|| {
            bad(format!(
                "{field}: `{text}` is not a duration like 90s, 15m or 2h"
            ))
        })
    };
    m.timeout = duration("timeout", &m.timeout_text)?;
    m.test_timeout = match &m.test_timeout_text {
        Some(t) => Some(duration("test_timeout", t)?),
        None => None,
    };
    let needs_binary = matches!(m.kind, SuiteKind::Libtest | SuiteKind::E2e);
    if needs_binary && m.binary.as_deref().unwrap_or("").is_empty() {
        return Err(bad(format!(
            "`binary` is required for a {:?} suite",
            m.kind
        )
        .to_lowercase()));
    }
    if m.kind == SuiteKind::Upgrade {
        m.upgrade.times().map_err(bad)?;
    }
    if m.kind == SuiteKind::Perf {
        m.perf.resolved().map_err(bad)?;
    }
    if m.parallel == 0 {
        return Err(bad("`parallel` must be at least 1".into()));
    }
    if let Some(list) = m.allowlist.clone() {
        if !m.focus.is_empty() {
            return Err(bad(
                "`focus` and `allowlist` both set: the allowlist is the focus; drop one".into(),
            ));
        }
        let list = path.parent().unwrap_or(Path::new(".")).join(list);
        let text = std::fs::read_to_string(&list)
            .map_err(|e| bad(format!("allowlist {}: {e}", list.display())))?;
        let names = allowlist_names(&text);
        if names.is_empty() {
            return Err(bad(format!("allowlist {} names no spec", list.display())));
        }
        m.focus = allowlist_focus(&names);
        m.allowlisted = names.len();
    }
    for (field, re) in [("focus", &m.focus), ("skip", &m.skip)] {
        if let Err(e) = regex::Regex::new(re) {
            return Err(bad(format!("`{field}` is not a regular expression: {e}")));
        }
    }
    Ok(m)
}

/// The spec names of an allowlist: one a line; blank lines and `#` comments ignored.
pub fn allowlist_names(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A ginkgo focus matching exactly these specs: each name escaped (what Rust's regex
/// escapes, Go's RE2 also reads as literals) and anchored, so a name that is a prefix
/// of another does not pull the other in. Ginkgo matches the focus against the suite's
/// description, a space, then the spec's text, so the start is a space, not `^`.
pub fn allowlist_focus(names: &[&str]) -> String {
    let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    format!("(?:^|\\s)(?:{})$", alternatives.join("|"))
}

/// A suite binary: a path as given, else a file of that name in `dirs`, else on PATH.
pub fn find_binary(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, SuiteError> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(SuiteError::Binary {
                name: name.into(),
                searched: vec![p],
            })
        };
    }
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let candidates: Vec<PathBuf> = dirs
        .iter()
        .chain(&path_dirs)
        .map(|d| d.join(name))
        .collect();
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or(SuiteError::Binary {
            name: name.into(),
            searched: candidates.into_iter().take(dirs.len() + 1).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5d"), None);
    }

    #[test]
    fn an_allowlist_focuses_on_exactly_its_specs() {
        let text =
            "# why\n\n[sig-apps] Job should adopt [Conformance]\n[sig-apps] Job should adopt\n";
        let names = allowlist_names(text);
        assert_eq!(names.len(), 2);
        let re = regex::Regex::new(&allowlist_focus(&names)).unwrap();
        // What Ginkgo matches: the suite's description, a space, the spec's text.
        let text = |spec: &str| format!("Kubernetes e2e suite {spec}");
        assert!(re.is_match(&text("[sig-apps] Job should adopt [Conformance]")));
        assert!(re.is_match(&text("[sig-apps] Job should adopt")));
        assert!(!re.is_match(&text(
            "[sig-apps] Job should adopt matching orphans [Conformance]"
        )));
    }
}
