//! Build pages: one per build of every job — its metadata, counts, failed and FLAKY
//! results, neighbours, and an upgrade run's disruption timeline.

use super::escape::{self, html};
use super::pages::{build_href, job_tab_hrefs, utc};
use super::plots;
use super::{ReportError, Site, Writer};
use crate::analysis::testgrid::coalesce;
use crate::model::{CellStatus, Grid};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A build where everything failed (an outage) would otherwise list thousands.
const MAX_FAILURES_PER_BUILD_PAGE: usize = 200;

/// Intervals listed under the timeline; the rest are in the record.
const LISTED_INTERVALS: usize = 20;

/// An upgrade run's disruption: a timeline (a lane per backend that was disrupted,
/// the upgrade steps as lines) and the intervals as text.
fn disruption_timeline(d: &serde_json::Value) -> String {
    use serde_json::Value;
    let duration = d.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
    let intervals: Vec<(&str, f64, f64, &str)> = d
        .get("intervals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            Some((
                i.get("backend")?.as_str()?,
                i.get("from")?.as_f64()?,
                i.get("to")?.as_f64()?,
                i.get("error").and_then(Value::as_str).unwrap_or(""),
            ))
        })
        .collect();
    let marks: Vec<(f64, String)> = d
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s.get("at")?.as_f64()?,
                s.get("component")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let mut lanes: Vec<plots::Lane> = Vec::new();
    for (backend, from, to, _) in &intervals {
        match lanes.iter_mut().find(|l| l.name == *backend) {
            Some(l) => l.spans.push((*from, *to)),
            None => lanes.push(plots::Lane {
                name: backend.to_string(),
                spans: vec![(*from, *to)],
            }),
        }
    }
    let mut out = String::from("<h2>Disruption</h2>");
    if lanes.is_empty() {
        let _ = write!(
            out,
            "<p>No backend was disrupted over the {duration:.0} s the monitor ran ({} upgrade steps).</p>",
            marks.len()
        );
        return out;
    }
    out.push_str(&plots::timeline(
        "Disruption per backend (red: unavailable)",
        duration,
        &lanes,
        &marks,
    ));
    out.push_str("<table class=\"list\"><tr><th>backend</th><th>from (s)</th><th>to (s)</th><th>error</th></tr>");
    for (backend, from, to, error) in intervals.iter().take(LISTED_INTERVALS) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{from:.1}</td><td>{to:.1}</td><td>{}</td></tr>",
            html(backend),
            html(error)
        );
    }
    out.push_str("</table>");
    let cut = d.get("cut").and_then(serde_json::Value::as_bool) == Some(true);
    if intervals.len() > LISTED_INTERVALS || cut {
        out.push_str(
            "<p class=\"muted\">… more intervals in the build's artifacts/upgrade-monitor.json</p>",
        );
    }
    out
}

/// A metadata value as HTML: text as is, an object as a nested table of its fields,
/// an array as a list — never a JSON blob.
fn metadata_value(v: &serde_json::Value, depth: usize) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => html(s),
        Value::Null => "<span class=\"muted\">null</span>".into(),
        Value::Object(map) if depth < 4 && !map.is_empty() => {
            let mut out = String::from("<table class=\"kv\">");
            for (k, v) in map {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    html(k),
                    metadata_value(v, depth + 1)
                );
            }
            out.push_str("</table>");
            out
        }
        Value::Array(items) if depth < 4 && !items.is_empty() => {
            let mut out = String::from("<ul class=\"kv\">");
            for item in items.iter().take(50) {
                let _ = write!(out, "<li>{}</li>", metadata_value(item, depth + 1));
            }
            if items.len() > 50 {
                let _ = write!(
                    out,
                    "<li class=\"muted\">… and {} more</li>",
                    items.len() - 50
                );
            }
            out.push_str("</ul>");
            out
        }
        other => html(&other.to_string()),
    }
}

/// How many results of each kind column `c` holds.
fn column_counts(g: &Grid, c: usize) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for r in 0..g.rows.len() {
        if !crate::model::is_test_row(&g.rows[r]) {
            continue;
        }
        let raw = g.row(r)[c];
        let kind = match coalesce(raw, true) {
            _ if raw == CellStatus::PassWithSkips => "skipped",
            CellStatus::Pass => "passed",
            CellStatus::Fail => "failed",
            CellStatus::Flaky => "flaky",
            CellStatus::NoResult => continue,
            _ => "other",
        };
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}

pub fn write(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let tabs = job_tab_hrefs(site);
    for (job, g) in &site.snapshot.grids {
        let infos = site.builds.get(job);
        let prefix = super::grid_page::common_prefix(
            g.rows
                .iter()
                .map(String::as_str)
                .filter(|n| crate::model::is_test_row(n)),
        );
        for (c, col) in g.columns.iter().enumerate() {
            let info = infos.and_then(|i| i.get(&col.build));
            // Columns are newest first: the one after is the build before.
            // The neighbours' pages are in the same folder: their file names do.
            let link = |to: Option<&crate::model::Column>, text: &str| match to {
                Some(b) => format!(
                    "<a href=\"{}\">{text} {}</a>",
                    escape::attr(&format!("{}.html", escape::slug(&b.build))),
                    html(&b.build)
                ),
                None => format!("<span class=\"muted\">no {text} build</span>"),
            };
            let tab = tabs
                .get(job)
                .map(|href| format!(" · <a href=\"../../{}\">tab grid</a>", escape::attr(href)))
                .unwrap_or_default();
            let counts = column_counts(g, c);
            let summary: Vec<String> = counts
                .iter()
                .map(|(k, n)| format!("<span class=\"count {k}\">{n} {k}</span>"))
                .collect();
            let mut body = format!(
                "<h1>{} / {}</h1><p class=\"nav\">{} · {} · job <a href=\"../../jobs.html\">{}</a>{tab}</p><p>{}</p>\
                 <table class=\"list\"><tr><td>started</td><td>{}</td></tr><tr><td>finished</td><td>{}</td></tr>\
                 <tr><td>result</td><td>{}</td></tr><tr><td>commit</td><td>{}</td></tr>",
                html(job),
                html(&col.build),
                link(g.columns.get(c + 1), "previous"),
                link(c.checked_sub(1).and_then(|p| g.columns.get(p)), "next"),
                html(job),
                if summary.is_empty() {
                    "no test results".to_string()
                } else {
                    summary.join(" ")
                },
                utc(col.started),
                utc(col.finished),
                html(&match (col.passed, info.and_then(|i| i.result.as_deref())) {
                    (_, Some(r)) => r.to_string(),
                    (Some(true), None) => "passed".into(),
                    (Some(false), None) => "failed".into(),
                    (None, None) => "-".into(),
                }),
                html(col.commit.as_deref().unwrap_or("-"))
            );
            if let Some(i) = info {
                let source = match escape::url(&i.source) {
                    Some(href) => format!("<a href=\"{href}\">{}</a>", html(&i.source)),
                    None => html(&i.source),
                };
                let _ = write!(body, "<tr><td>artifacts</td><td>{source}</td></tr>");
                if let Some(pr) = i.pr {
                    let _ = write!(body, "<tr><td>pull request</td><td>{pr}</td></tr>");
                }
                for (k, v) in &i.metadata {
                    if k == crate::model::DISRUPTION_METADATA {
                        continue;
                    }
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td></tr>",
                        html(k),
                        metadata_value(v, 0)
                    );
                }
            }
            body.push_str("</table>");
            if let Some(d) = info.and_then(|i| i.metadata.get(crate::model::DISRUPTION_METADATA)) {
                body.push_str(&disruption_timeline(d));
            }
            failed_and_flaky(&mut body, g, c, &prefix);
            w.page(
                &build_href(job, &col.build),
                &format!("{job} {}", col.build),
                &body,
            )?;
        }
    }
    Ok(())
}

/// The failed tests, then the FLAKY ones with their attempts, each with its message.
fn failed_and_flaky(body: &mut String, g: &Grid, c: usize, prefix: &str) {
    if !prefix.is_empty() {
        // Said once, not on every name: a release history's build pages would
        // otherwise repeat it millions of times.
        let _ = write!(
            body,
            "<p class=\"muted\">test names below start with <code>{}</code></p>",
            html(prefix)
        );
    }
    for (wanted, title) in [
        (CellStatus::Fail, "Failed tests"),
        (CellStatus::Flaky, "Flaky tests (passed on retry)"),
    ] {
        let rows: Vec<usize> = (0..g.rows.len())
            .filter(|r| crate::model::is_test_row(&g.rows[*r]))
            .filter(|r| coalesce(g.row(*r)[c], true) == wanted)
            .collect();
        let _ = write!(
            body,
            "<h2>{title} <span class=\"muted\">{}</span></h2>",
            rows.len()
        );
        if rows.is_empty() {
            body.push_str("<p>none</p>");
            continue;
        }
        for r in rows.iter().take(MAX_FAILURES_PER_BUILD_PAGE) {
            let attempts = match (wanted, g.attempts(*r, c)) {
                (CellStatus::Flaky, n) if n > 1 => {
                    format!(" <span class=\"muted\">{n} attempts</span>")
                }
                _ => String::new(),
            };
            let name = &g.rows[*r];
            let _ = write!(
                body,
                "<h3>{}{attempts}</h3><div class=\"msg\">{}</div>",
                html(name.strip_prefix(prefix).unwrap_or(name)),
                html(g.message(*r, c).unwrap_or("(no message)"))
            );
        }
        if rows.len() > MAX_FAILURES_PER_BUILD_PAGE {
            let _ = write!(
                body,
                "<p class=\"muted\">… and {} more (trellis show lists every one)</p>",
                rows.len() - MAX_FAILURES_PER_BUILD_PAGE
            );
        }
    }
}
