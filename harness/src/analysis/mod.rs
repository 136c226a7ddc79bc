//! CI-signal analysis over the stored history: TestGrid-exact tab statuses and alerts,
//! flake rates with their uncertainty, the release-blocking verdict, regressions
//! between windows, and failure clusters.
//!
//! Pure computation on grids the store loaded (`store::load_grids`): nothing here
//! reads a file or opens the store (a test holds that line). [`Snapshot`] is the one
//! recipe every reader of the whole picture (`trellis status`, the report) computes.

pub mod flakes;
pub mod gate;
pub mod pass_rates;
pub mod perf;
pub mod regressions;
pub mod release;
mod snapshot;
pub mod stats;
pub mod testgrid;
pub mod triage;

pub use snapshot::Snapshot;

use crate::config::{DashboardConfig, Tab};
use crate::model::{BuildRef, Grid};
use flakes::{AlertRule, Class, FlakeStats, Priority};
use serde::Serialize;
use std::collections::HashMap;
use testgrid::TabStatus;

/// The stored job a tab reads: its test group matched by name or gcs_prefix.
pub fn job_for_tab<'a>(
    config: &DashboardConfig,
    tab: &Tab,
    stored: &'a [String],
) -> Option<&'a String> {
    match config.test_group(&tab.test_group_name) {
        Some(group) => stored.iter().find(|j| group.matches_job(j)),
        None => stored.iter().find(|j| **j == tab.test_group_name),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailingTest {
    pub test: String,
    pub fail_count: u32,
    /// The oldest failure of the alert (the first bad build) and when it started.
    pub first_fail: BuildRef,
    pub fail_time: Option<i64>,
    /// The newest failure.
    pub latest_fail: BuildRef,
    /// The last good build before the failures, and when it started.
    pub last_pass: Option<BuildRef>,
    pub pass_time: Option<i64>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlakyTest {
    pub test: String,
    pub runs: u64,
    pub flake_rate: f64,
    pub flake_rate_low: f64,
    pub flake_rate_high: f64,
    pub priority: Option<Priority>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TabReport {
    pub name: String,
    pub job: Option<String>,
    pub status: TabStatus,
    pub message: String,
    pub failing_tests: Vec<FailingTest>,
    pub flaky_tests: Vec<FlakyTest>,
    /// TestGrid's latest green: a build id, a short commit, or "no recent greens".
    pub latest_green: String,
    pub last_run: Option<i64>,
    /// TestGrid's healthiness analysis, where the tab's `health_analysis_options`
    /// enable it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthiness: Option<flakes::Healthiness>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DashboardReport {
    pub name: String,
    pub status: TabStatus,
    pub release_blocking: bool,
    pub tabs: Vec<TabReport>,
}

/// `trellis status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub dashboards: Vec<DashboardReport>,
    pub release: release::Verdict,
}

/// Every dashboard's and tab's status, and the release verdict, from loaded grids and
/// their flake statistics ([`flake_table`], one entry per grid row, by job).
pub fn status(
    config: &DashboardConfig,
    grids: &HashMap<String, Grid>,
    flakes: &HashMap<String, Vec<FlakeStats>>,
    now: i64,
) -> StatusReport {
    let stored: Vec<String> = grids.keys().cloned().collect();
    let mut verdict = release::Verdict::default();
    let mut dashboards = Vec::new();
    for d in &config.dashboards {
        let mut tabs = Vec::new();
        for tab in &d.tabs {
            let job = job_for_tab(config, tab, &stored);
            let grid = job.and_then(|j| grids.get(j));
            let report = match grid {
                Some(g) => {
                    let stats = flakes.get(&g.job).map(Vec::as_slice).unwrap_or(&[]);
                    tab_report(g, tab, stats, d.release_blocking, now)
                }
                None => TabReport {
                    name: tab.name.clone(),
                    job: None,
                    // TestGrid: a tab with no runs is STALE once staleness is on.
                    status: if tab.alert_stale_results_hours > 0 {
                        TabStatus::Stale
                    } else {
                        TabStatus::Unknown
                    },
                    message: "no stored results for this test group".into(),
                    failing_tests: Vec::new(),
                    flaky_tests: Vec::new(),
                    latest_green: testgrid::NO_GREENS.to_string(),
                    last_run: None,
                    healthiness: None,
                },
            };
            if d.release_blocking {
                match grid {
                    Some(g) => release_reasons(g, &d.name, &report, now, &mut verdict),
                    None => verdict.push(release::Reason {
                        blocking: true,
                        dashboard: d.name.clone(),
                        job: tab.test_group_name.clone(),
                        kind: "no-runs",
                        message: format!(
                            "tab {}: no stored results for test group {}",
                            tab.name, tab.test_group_name
                        ),
                        test: None,
                        since: None,
                    }),
                }
            }
            tabs.push(report);
        }
        let status = tabs
            .iter()
            .map(|t| t.status)
            .max_by_key(|s| s.rank())
            .unwrap_or(TabStatus::Unknown);
        dashboards.push(DashboardReport {
            name: d.name.clone(),
            status,
            release_blocking: d.release_blocking,
            tabs,
        });
    }
    StatusReport {
        dashboards,
        release: verdict,
    }
}

fn tab_report(grid: &Grid, tab: &Tab, stats: &[FlakeStats], blocking: bool, now: i64) -> TabReport {
    let summary = testgrid::summarize_tab(grid, tab, now);
    let build_ref = |col: usize| BuildRef {
        build: grid.columns[col].build.clone(),
        commit: grid.columns[col].commit.clone(),
    };
    let failing_tests = summary
        .alerts
        .iter()
        .map(|(row, a)| FailingTest {
            test: crate::model::row_label(&grid.job, &grid.rows[*row]),
            fail_count: a.fail_count,
            first_fail: build_ref(a.first_fail),
            fail_time: grid.columns[a.first_fail].started,
            latest_fail: build_ref(a.latest_fail),
            last_pass: a.last_pass.map(build_ref),
            pass_time: a.last_pass.and_then(|c| grid.columns[c].started),
            message: grid.message(*row, a.latest_fail).map(str::to_string),
        })
        .collect();
    let mut flaky_tests: Vec<FlakyTest> = testgrid::visible_rows(grid, tab)
        .into_iter()
        .filter_map(|r| stats.get(r))
        .filter(|s| s.class == Class::Flaky)
        .map(|s| FlakyTest {
            priority: if blocking {
                Priority::for_rate(s.flake_rate)
            } else {
                None
            },
            test: crate::model::row_label(&grid.job, &s.test),
            // The runs the rate is over: breakage set aside is in neither part.
            runs: s.runs - s.broken_runs,
            flake_rate: s.flake_rate,
            flake_rate_low: s.flake_rate_low,
            flake_rate_high: s.flake_rate_high,
        })
        .collect();
    flaky_tests.sort_by(|a, b| {
        b.flake_rate
            .total_cmp(&a.flake_rate)
            .then_with(|| a.test.cmp(&b.test))
    });
    TabReport {
        name: tab.name.clone(),
        job: Some(grid.job.clone()),
        status: summary.status,
        message: summary.message,
        failing_tests,
        flaky_tests,
        latest_green: summary.latest_green,
        last_run: summary.last_run,
        healthiness: tab.health_analysis_days.map(|days| {
            flakes::healthiness(grid, &testgrid::visible_rows_all(grid, tab), now, days)
        }),
    }
}

fn release_reasons(
    grid: &Grid,
    dashboard: &str,
    report: &TabReport,
    now: i64,
    verdict: &mut release::Verdict,
) {
    let before = verdict.reasons.len();
    release::check_job(grid, dashboard, now, verdict);
    let blocked_now = verdict.reasons[before..].iter().any(|r| r.blocking);
    // Name the failing tests behind a blocked job: they are what to fix.
    if blocked_now {
        for t in &report.failing_tests {
            verdict.push(release::Reason {
                blocking: true,
                dashboard: dashboard.to_string(),
                job: grid.job.clone(),
                kind: "failing-test",
                message: format!(
                    "failing {} run(s) in a row since build {}",
                    t.fail_count, t.first_fail.build
                ),
                test: Some(t.test.clone()),
                since: Some(t.first_fail.clone()),
            });
        }
    }
    for f in &report.flaky_tests {
        if let Some(p) = f.priority {
            let band = match p {
                Priority::CriticalUrgent => "critical-urgent (over 20%)",
                Priority::ImportantSoon => "important-soon (over 2%)",
            };
            verdict.push(release::Reason {
                blocking: false,
                dashboard: dashboard.to_string(),
                job: grid.job.clone(),
                kind: "flake",
                message: format!(
                    "flakes in {:.1}% of {} runs (95% CI {:.1}-{:.1}%): {band}",
                    f.flake_rate * 100.0,
                    f.runs,
                    f.flake_rate_low * 100.0,
                    f.flake_rate_high * 100.0
                ),
                test: Some(f.test.clone()),
                since: None,
            });
        }
    }
}

/// Flake statistics for every row of every grid (in row order, by job), with alert
/// thresholds and priorities from the dashboards that show each job. Grids are
/// analysed on up to `threads` threads.
pub fn flake_table(
    config: &DashboardConfig,
    grids: &[Grid],
    threads: usize,
) -> HashMap<String, Vec<FlakeStats>> {
    let stored: Vec<String> = grids.iter().map(|g| g.job.clone()).collect();
    let columns: HashMap<&str, usize> = grids
        .iter()
        .map(|g| (g.job.as_str(), g.columns.len()))
        .collect();
    let mut rules: HashMap<&str, AlertRule> = HashMap::new();
    let mut blocking: HashMap<&str, bool> = HashMap::new();
    for d in &config.dashboards {
        for tab in &d.tabs {
            if let Some(job) = job_for_tab(config, tab, &stored) {
                rules.entry(job).or_insert(AlertRule {
                    failures_to_open: tab
                        .failures_to_alert(columns.get(job.as_str()).copied().unwrap_or(0)),
                    passes_to_close: tab.num_passes_to_disable_alert,
                });
                *blocking.entry(job).or_default() |= d.release_blocking;
            }
        }
    }
    let threads = threads.clamp(1, grids.len().max(1));
    let (rules, blocking) = (&rules, &blocking);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    grids
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|g| {
                            let rule = rules.get(g.job.as_str()).copied().unwrap_or_default();
                            let on_blocking =
                                blocking.get(g.job.as_str()).copied().unwrap_or(false);
                            let mut stats = flakes::grid_stats(g, rule);
                            for s in stats
                                .iter_mut()
                                .filter(|s| on_blocking && s.class == Class::Flaky)
                            {
                                s.priority = Priority::for_rate(s.flake_rate);
                            }
                            (g.job.clone(), stats)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Every failing cell's message in the grids, for triage. The `Overall` and `Pod`
/// rows are left out: "Build failed" repeats the build's result, it is not a cause,
/// and as one failure per failed build it would be the largest cluster of all.
pub fn failures<'a>(grids: impl IntoIterator<Item = &'a Grid>) -> Vec<triage::Failure<'a>> {
    let mut out = Vec::new();
    for g in grids {
        for (row, col, text) in g.messages() {
            if crate::model::is_build_row(&g.rows[row]) {
                continue;
            }
            let column = &g.columns[col];
            out.push(triage::Failure {
                job: &g.job,
                test: &g.rows[row],
                build: &column.build,
                text,
                started: column.started,
                pr: column.pr,
                passed: column.passed,
            });
        }
    }
    // Messages come out of a hash map: a fixed order makes clusters (and which
    // message is a cluster's example) the same every time.
    out.sort_by(|a, b| (a.job, a.test, a.build, a.text).cmp(&(b.job, b.test, b.build, b.text)));
    out
}
