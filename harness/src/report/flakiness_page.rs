//! The flakiness page: every flaky test with its rate, interval, band, trend and
//! recent results, filterable and sortable, and the share of FLAKY results per day.

use super::escape::{self, html};
use super::pages::{daily, job_tab_hrefs, pct, regex_escape, row_positions, sparkline};
use super::plots;
use super::{ReportError, Site, Writer};
use crate::analysis::{flakes::Class, testgrid::coalesce};
use crate::model::{CellStatus, Grid};
use std::fmt::Write as _;

/// Flaky tests listed on the flakiness page (the worst first); `trellis flakes` has all.
const MAX_FLAKY_LISTED: usize = 500;

/// The flake rate against the older half of the window, in words: which way it went
/// and whether that is better.
fn trend_text(now: f64, before: Option<f64>) -> (String, f64) {
    match before {
        Some(p) if now > p + 0.02 => (format!("▲ worse, was {}", pct(p)), now - p),
        Some(p) if now + 0.02 < p => (format!("▼ better, was {}", pct(p)), now - p),
        Some(p) => (format!("≈ same, was {}", pct(p)), now - p),
        None => ("new: no runs in the older half".to_string(), 0.0),
    }
}

pub fn write(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let mut body = String::from(
        "<h1>Flakiness</h1><p class=\"muted\">Flake rate = (FLAKY results + failures outside runs of three) / runs, \
         with its Wilson 95% interval. Priority is SIG Release's band (critical-urgent over 20%, important-soon over 2%). \
         Trend compares the newer half of the window with the older half: ▲ worse, ▼ better. \
         Recent results run oldest to newest, the newest underlined.</p>",
    );
    let mut rows: Vec<_> = site
        .snapshot
        .flakes
        .values()
        .flatten()
        .filter(|s| s.class == Class::Flaky)
        .collect();
    rows.sort_by(|a, b| {
        b.flake_rate
            .total_cmp(&a.flake_rate)
            .then_with(|| a.test.cmp(&b.test))
    });
    if rows.is_empty() {
        body.push_str(
            "<p><strong>No flaky test in this window.</strong> Every test with results either passed every run or \
             failed as a run (a real failure, on the dashboards), or had too few runs to tell.</p>",
        );
    } else {
        let tabs = job_tab_hrefs(site);
        let jobs: std::collections::BTreeSet<&str> = rows.iter().map(|s| s.job.as_str()).collect();
        body.push_str("<div id=\"controls\"><label>filter <input id=\"table-filter\" placeholder=\"text in any column\"></label><label>job <select id=\"table-job\"><option value=\"\">every job</option>");
        for j in &jobs {
            let _ = write!(
                body,
                "<option value=\"{}\">{}</option>",
                escape::attr(j),
                html(j)
            );
        }
        body.push_str("</select></label><span id=\"table-count\"></span></div>");
        body.push_str("<table class=\"list\" data-table><thead><tr><th>job</th><th>test</th><th>flake rate</th><th>95% CI</th><th>priority</th><th>runs</th><th>trend (newer vs older half)</th><th>recent results</th></tr></thead><tbody>");
        let grid_rows = row_positions(site);
        for s in rows.iter().take(MAX_FLAKY_LISTED) {
            let (trend, change) = trend_text(
                s.flake_rate,
                site.previous.get(&(s.job.clone(), s.test.clone())).copied(),
            );
            let spark = site
                .snapshot
                .grids
                .get(&s.job)
                .zip(grid_rows.get(&(s.job.as_str(), s.test.as_str())))
                .map(|(g, r)| sparkline(g, *r, 40))
                .unwrap_or_default();
            let (job, test) = match tabs.get(&s.job) {
                Some(tab) => (
                    format!("<a href=\"{}\">{}</a>", escape::attr(tab), html(&s.job)),
                    format!(
                        "<a href=\"{}#include={}\">{}</a>",
                        escape::attr(tab),
                        escape::uri_component(&regex_escape(&s.test)),
                        html(&s.test)
                    ),
                ),
                None => (html(&s.job), html(&s.test)),
            };
            let (band, rank) = match s.priority {
                Some(crate::analysis::flakes::Priority::CriticalUrgent) => ("critical-urgent", 2),
                Some(crate::analysis::flakes::Priority::ImportantSoon) => ("important-soon", 1),
                None => ("-", 0),
            };
            let _ = write!(
                body,
                "<tr data-job=\"{}\"><td>{job}</td><td>{test}</td><td data-sort=\"{}\">{}</td><td>{}–{}</td><td data-sort=\"{rank}\">{band}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{change}\">{}</td><td>{spark}</td></tr>",
                escape::attr(&s.job),
                s.flake_rate,
                pct(s.flake_rate),
                pct(s.flake_rate_low),
                pct(s.flake_rate_high),
                s.runs,
                s.runs,
                html(&trend)
            );
        }
        body.push_str("</tbody></table><script src=\"assets/table.js\"></script>");
        if rows.len() > MAX_FLAKY_LISTED {
            let _ = write!(
                body,
                "<p class=\"muted\">… and {} more flaky tests with lower rates: trellis flakes --json lists every one</p>",
                rows.len() - MAX_FLAKY_LISTED
            );
        }
    }
    let grids: Vec<(&str, &Grid)> = site
        .snapshot
        .grids
        .iter()
        .map(|(j, g)| (j.as_str(), g))
        .collect();
    body.push_str("<h2>Flake rate over time</h2><div class=\"plots\">");
    body.push_str(&plots::line_chart(
        "FLAKY results per day",
        "share of results that passed only on retry (%)",
        &daily(&grids, flaky_share),
        plots::YAxis::Value,
        plots::Spacing::Daily,
    ));
    body.push_str("</div>");
    w.page("flakiness.html", "Flakiness", &body)
}

fn flaky_share(g: &Grid, cols: &[usize]) -> Option<f64> {
    let (mut flaky, mut filled) = (0u64, 0u64);
    for r in 0..g.rows.len() {
        for c in cols {
            match coalesce(g.row(r)[*c], true) {
                CellStatus::NoResult => {}
                CellStatus::Flaky => {
                    flaky += 1;
                    filled += 1;
                }
                _ => filled += 1,
            }
        }
    }
    (filled > 0).then(|| 100.0 * flaky as f64 / filled as f64)
}
