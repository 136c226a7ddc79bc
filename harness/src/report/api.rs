//! JSON files in the shape of TestGrid's summary API, so existing consumers can read
//! them: `api/v1/dashboards/<dashboard>/summary` and `…/tab-summaries`.

use super::{ReportError, Site, Writer};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct TabSummary<'a> {
    dashboard_name: &'a str,
    tab_name: &'a str,
    overall_status: &'static str,
    detailed_status_message: &'a str,
    last_run_timestamp: Option<String>,
    last_update_timestamp: String,
    latest_passing_build: &'a str,
    failures_summary: FailuresSummary<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthiness_summary: Option<HealthinessSummary<'a>>,
}

#[derive(Serialize)]
struct FailuresSummary<'a> {
    failure_stats: FailureStats,
    top_failing_tests: Vec<FailingTestSummary<'a>>,
}

#[derive(Serialize)]
struct FailureStats {
    num_failing_tests: usize,
}

/// One alerting test, with TestGrid's fields: the first failing (`fail_build_id`),
/// newest failing and last passing builds, their times, and links to the builds.
#[derive(Serialize)]
struct FailingTestSummary<'a> {
    display_name: &'a str,
    test_name: &'a str,
    fail_count: u32,
    fail_build_id: String,
    latest_fail_build_id: String,
    pass_build_id: String,
    fail_timestamp: Option<String>,
    pass_timestamp: Option<String>,
    failure_message: &'a str,
    build_link: String,
    latest_fail_build_link: String,
}

#[derive(Serialize)]
struct HealthinessSummary<'a> {
    healthiness_stats: HealthinessStats,
    top_flaky_tests: Vec<FlakyTestSummary<'a>>,
}

#[derive(Serialize)]
struct HealthinessStats {
    start: String,
    end: String,
    num_flaky_tests: usize,
    average_flakiness: f64,
    previous_flakiness: Option<f64>,
}

#[derive(Serialize)]
struct FlakyTestSummary<'a> {
    display_name: &'a str,
    flakiness: f64,
    previous_flakiness: Option<f64>,
    change: crate::analysis::flakes::Change,
}

/// The alerting tests of a tab, as TestGrid's summary lists them.
fn failures_summary<'a>(t: &'a crate::analysis::TabReport, by_commit: bool) -> FailuresSummary<'a> {
    let job = t.job.as_deref().unwrap_or_default();
    // How the summary names a build: its id, or its short commit like the latest green.
    let name = |b: &crate::model::BuildRef| match b.commit.as_deref().filter(|_| by_commit) {
        Some(c) => c.chars().take(9).collect(),
        None => b.build.clone(),
    };
    let link = |b: &crate::model::BuildRef| super::pages::build_href(job, &b.build);
    FailuresSummary {
        failure_stats: FailureStats {
            num_failing_tests: t.failing_tests.len(),
        },
        top_failing_tests: t
            .failing_tests
            .iter()
            .map(|f| FailingTestSummary {
                display_name: &f.test,
                test_name: &f.test,
                fail_count: f.fail_count,
                fail_build_id: name(&f.first_fail),
                latest_fail_build_id: name(&f.latest_fail),
                pass_build_id: f.last_pass.as_ref().map(name).unwrap_or_default(),
                fail_timestamp: f.fail_time.map(rfc3339),
                pass_timestamp: f.pass_time.map(rfc3339),
                failure_message: f.message.as_deref().unwrap_or_default(),
                build_link: link(&f.first_fail),
                latest_fail_build_link: link(&f.latest_fail),
            })
            .collect(),
    }
}

fn healthiness_summary(h: &crate::analysis::flakes::Healthiness) -> HealthinessSummary<'_> {
    HealthinessSummary {
        healthiness_stats: HealthinessStats {
            start: rfc3339(h.start),
            end: rfc3339(h.end),
            num_flaky_tests: h.tests.iter().filter(|t| t.flakiness > 0.0).count(),
            average_flakiness: h.average_flakiness,
            previous_flakiness: h.previous_flakiness,
        },
        top_flaky_tests: h
            .tests
            .iter()
            .filter(|t| t.flakiness > 0.0)
            .map(|t| FlakyTestSummary {
                display_name: &t.test,
                flakiness: t.flakiness,
                previous_flakiness: t.previous_flakiness,
                change: t.change,
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct DashboardSummary<'a> {
    name: &'a str,
    overall_status: &'static str,
    tab_status_count: BTreeMap<&'static str, u32>,
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A path segment TestGrid would accept as-is, else a slug.
fn segment(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name != "."
        && name != ".."
    {
        name.to_string()
    } else {
        super::escape::slug(name)
    }
}

/// Whether the tab names builds by commit (Kubernetes's `use_kubernetes_client`).
fn by_commit(site: &Site, dashboard: &str, tab: &str) -> bool {
    site.config
        .dashboards
        .iter()
        .filter(|d| d.name == dashboard)
        .flat_map(|d| &d.tabs)
        .find(|t| t.name == tab)
        .is_some_and(|t| t.latest_green_by_commit)
}

pub fn write(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    for d in &site.snapshot.status.dashboards {
        let tabs: Vec<TabSummary> = d
            .tabs
            .iter()
            .map(|t| TabSummary {
                dashboard_name: &d.name,
                tab_name: &t.name,
                overall_status: t.status.name(),
                detailed_status_message: &t.message,
                last_run_timestamp: t.last_run.map(rfc3339),
                last_update_timestamp: rfc3339(site.snapshot.now),
                latest_passing_build: &t.latest_green,
                failures_summary: failures_summary(t, by_commit(site, &d.name, &t.name)),
                healthiness_summary: t.healthiness.as_ref().map(healthiness_summary),
            })
            .collect();
        let mut counts = BTreeMap::new();
        for t in &d.tabs {
            *counts.entry(t.status.name()).or_insert(0) += 1;
        }
        let summary = DashboardSummary {
            name: &d.name,
            overall_status: d.status.name(),
            tab_status_count: counts,
        };
        let base = format!("api/v1/dashboards/{}", segment(&d.name));
        let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default();
        w.write(
            &format!("{base}/tab-summaries"),
            &json(serde_json::json!({ "tab_summaries": tabs })),
        )?;
        w.write(
            &format!("{base}/summary"),
            &json(serde_json::json!({ "dashboard_summary": summary })),
        )?;
    }
    Ok(())
}
