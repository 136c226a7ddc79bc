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
