//! The index and dashboard pages, and what every page shares: links to pages,
//! times, percentages, sparklines and the per-day series the plots draw.

use super::escape::{self, html};
use super::plots::{self, Series};
use super::{ReportError, Site, Writer};
use crate::analysis::{testgrid::coalesce, DashboardReport, TabReport};
use crate::model::CellStatus;
use crate::model::Grid;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub(super) const DAY: i64 = 86_400;

pub fn dashboard_href(name: &str) -> String {
    format!("dashboards/{}.html", escape::slug(name))
}

pub fn tab_href(dashboard: &str, tab: &str) -> String {
    format!("tabs/{}.html", escape::slug(&format!("{dashboard}/{tab}")))
}

pub fn build_href(job: &str, build: &str) -> String {
    format!("builds/{}/{}.html", escape::slug(job), escape::slug(build))
}

/// Each stored job's tab grid (the first tab that reads it).
pub(super) fn job_tab_hrefs(site: &Site) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for d in &site.snapshot.status.dashboards {
        for t in &d.tabs {
            if let Some(job) = &t.job {
                out.entry(job.clone())
                    .or_insert_with(|| tab_href(&d.name, &t.name));
            }
        }
    }
    out
}

fn chip(status: &str) -> String {
    format!("<span class=\"chip {0}\">{0}</span>", html(status))
}

pub(super) fn utc(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn verdict_banner(site: &Site) -> String {
    let r = &site.snapshot.status.release;
    let mut out = String::new();
    let (cls, text) = if r.blocked {
        ("blocked", "Release BLOCKED")
    } else {
        ("clear", "Release not blocked")
    };
    let _ = write!(out, "<div class=\"verdict {cls}\"><strong>{text}</strong>");
    let blocking: Vec<_> = r.reasons.iter().filter(|x| x.blocking).collect();
    if !blocking.is_empty() {
        let tabs = job_tab_hrefs(site);
        out.push_str("<ul class=\"reasons\">");
        for x in blocking.iter().take(30) {
            out.push_str(&reason_item(&tabs, x, ""));
        }
        out.push_str("</ul>");
        if blocking.len() > 30 {
            let _ = write!(
                out,
                "<div class=\"muted\">… and {} more (trellis status --details lists every one)</div>",
                blocking.len() - 30
            );
        }
    }
    let mut reviews: BTreeMap<&str, usize> = BTreeMap::new();
    for x in r.reasons.iter().filter(|x| !x.blocking) {
        *reviews.entry(x.dashboard.as_str()).or_default() += 1;
    }
    if !reviews.is_empty() {
        let links: Vec<String> = reviews
            .iter()
            .map(|(d, n)| {
                format!(
                    "<a href=\"{}#review\">{}</a> ({n})",
                    escape::attr(&dashboard_href(d)),
                    html(d)
                )
            })
            .collect();
        let _ = write!(
            out,
            "<div class=\"muted\">{} review item{}: {}</div>",
            reviews.values().sum::<usize>(),
            if reviews.values().sum::<usize>() == 1 {
                ""
            } else {
                "s"
            },
            links.join(", ")
        );
    }
    out.push_str("</div>");
    out
}

pub fn index(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let mut body = String::from("<h1>CI signal</h1>");
    body.push_str(&verdict_banner(site));
    let by_name: BTreeMap<&str, &DashboardReport> = site
        .snapshot
        .status
        .dashboards
        .iter()
        .map(|d| (d.name.as_str(), d))
        .collect();
    let mut listed = std::collections::HashSet::new();
    let mut groups: Vec<(&str, Vec<&str>)> = site
        .config
        .groups
        .iter()
        .map(|g| {
            (
                g.name.as_str(),
                g.dashboard_names.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let others: Vec<&str> = by_name
        .keys()
        .copied()
        .filter(|n| {
            !site
                .config
                .groups
                .iter()
                .any(|g| g.dashboard_names.iter().any(|d| d == n))
        })
        .collect();
    if !others.is_empty() {
        groups.push(("other dashboards", others));
    }
    for (group, names) in groups {
        let _ = write!(body, "<h2>{}</h2><table class=\"list\">", html(group));
        for name in names {
            let Some(d) = by_name.get(name) else { continue };
            listed.insert(name);
            let blocking = if d.release_blocking {
                " <span class=\"muted\">release-blocking</span>"
            } else {
                ""
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td><a href=\"{}\">{}</a>{blocking}</td><td class=\"muted\">{} tabs</td></tr>",
                chip(d.status.name()),
                escape::attr(&dashboard_href(&d.name)),
                html(&d.name),
                d.tabs.len()
            );
        }
        body.push_str("</table>");
    }
    w.page("index.html", "CI signal", &body)
}

pub fn dashboards(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let tabs = job_tab_hrefs(site);
    for d in &site.snapshot.status.dashboards {
        let mut body = format!("<h1>{} {}</h1>", html(&d.name), chip(d.status.name()));
        if d.release_blocking {
            body.push_str("<p class=\"muted\">release-blocking dashboard</p>");
        }
        let reviews: Vec<_> = site
            .snapshot
            .status
            .release
            .reasons
            .iter()
            .filter(|r| r.dashboard == d.name)
            .collect();
        if !reviews.is_empty() {
            let _ = write!(
                body,
                "<h2 id=\"review\">Release review items ({})</h2><ul class=\"reasons\">",
                reviews.len()
            );
            for r in reviews {
                body.push_str(&reason_item(&tabs, r, "../"));
            }
            body.push_str("</ul>");
        }
        for t in &d.tabs {
            tab_section(&mut body, site, &d.name, t);
        }
        let grids: Vec<(&str, &Grid)> = d
            .tabs
            .iter()
            .filter_map(|t| Some((t.name.as_str(), site.snapshot.grids.get(t.job.as_deref()?)?)))
            .collect();
        body.push_str("<h2>Trends</h2><div class=\"plots\">");
        body.push_str(&plots::line_chart(
            "Pass rate",
            "passed builds per day (%)",
            &daily(&grids, pass_rate),
            plots::YAxis::Percent,
            plots::Spacing::Daily,
        ));
        body.push_str(&plots::line_chart(
            "Build duration p50",
            "minutes",
            &daily(&grids, |g, c| quantile(g, c, 0.5)),
            plots::YAxis::Value,
            plots::Spacing::Daily,
        ));
        body.push_str(&plots::line_chart(
            "Build duration p75",
            "minutes",
            &daily(&grids, |g, c| quantile(g, c, 0.75)),
            plots::YAxis::Value,
            plots::Spacing::Daily,
        ));
        body.push_str(&plots::line_chart(
            "Failures per day",
            "failed test results per day",
            &daily(&grids, failures),
            plots::YAxis::Count,
            plots::Spacing::Daily,
        ));
        body.push_str("</div>");
        w.page(&dashboard_href(&d.name), &d.name, &body)?;
    }
    Ok(())
}

/// Failing and flaky tests listed per tab on a dashboard page; the rest are a link
/// away (the tab grid showing only failing rows, the flakiness page for the job).
const LISTED_PER_TAB: usize = 20;
/// Characters of a failure message shown on the dashboard (the build page has it all).
const DASHBOARD_MESSAGE_CHARS: usize = 240;

/// `text` as a regular expression that matches exactly it (for grid filters).
pub(super) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    out.push('^');
    for c in text.chars() {
        if "\\^$.*+?()[]{}|/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// A link to the tab grid filtered to one test.
fn grid_row_href(dashboard: &str, tab: &str, test: &str) -> String {
    format!(
        "../{}#include={}",
        tab_href(dashboard, tab),
        escape::uri_component(&regex_escape(test))
    )
}

/// A build as a link to its page, with its commit.
fn build_link(job: Option<&str>, b: &crate::model::BuildRef, up: &str) -> String {
    let build = match job {
        Some(job) => format!(
            "<a href=\"{up}{}\">{}</a>",
            escape::attr(&build_href(job, &b.build)),
            html(&b.build)
        ),
        None => html(&b.build),
    };
    match &b.commit {
        Some(c) => format!("{build} <span class=\"muted\">{}</span>", html(c)),
        None => build,
    }
}

fn tab_section(body: &mut String, site: &Site, dashboard: &str, t: &TabReport) {
    let job = t.job.as_deref();
    let bug = site
        .config
        .dashboards
        .iter()
        .find(|d| d.name == dashboard)
        .and_then(|d| d.tabs.iter().find(|x| x.name == t.name))
        .and_then(|x| x.file_bug_template.as_ref());
    let _ = write!(
        body,
        "<h2>{} <a href=\"../{}\">{}</a></h2><div>{}</div><div class=\"muted\">last run {} · latest green {}{}</div>",
        chip(t.status.name()),
        escape::attr(&tab_href(dashboard, &t.name)),
        html(&t.name),
        html(&t.message),
        utc(t.last_run),
        html(&t.latest_green),
        job.map(|j| format!(" · job {}", html(j))).unwrap_or_default()
    );
    if !t.failing_tests.is_empty() {
        let _ = write!(
            body,
            "<table class=\"list\"><tr><th>failing test ({})</th><th>failures</th><th>message</th><th>first failing</th><th>last passing</th>{}</tr>",
            t.failing_tests.len(),
            if bug.is_some() { "<th></th>" } else { "" }
        );
        for f in t.failing_tests.iter().take(LISTED_PER_TAB) {
            let good = f
                .last_pass
                .as_ref()
                .map(|b| build_link(job, b, "../"))
                .unwrap_or_else(|| "<span class=\"muted\">none in the window</span>".into());
            let message: String = f
                .message
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(DASHBOARD_MESSAGE_CHARS)
                .collect();
            let row = grid_row_href(dashboard, &t.name, &f.test);
            // The bug lives outside the site: its link is absolute when the site
            // knows where it is served.
            let test_url = match &site.site_url {
                Some(base) => format!("{base}/{}", row.trim_start_matches("../")),
                None => row.trim_start_matches("../").to_string(),
            };
            let file = bug
                .and_then(|b| b.link(&f.test, &test_url, &t.name))
                .map(|href| {
                    format!(
                        "<td><a href=\"{}\">file a bug</a></td>",
                        escape::attr(&href)
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                body,
                "<tr><td class=\"test\"><a href=\"{}\">{}</a></td><td>{}</td><td class=\"msg\">{}</td><td>{}</td><td>{good}</td>{file}</tr>",
                escape::attr(&row),
                html(&f.test),
                f.fail_count,
                html(&message),
                build_link(job, &f.first_fail, "../"),
            );
        }
        body.push_str("</table>");
        if t.failing_tests.len() > LISTED_PER_TAB {
            let _ = write!(
                body,
                "<p class=\"muted\">… and {} more failing tests: <a href=\"../{}#failing=1&amp;sort=failures\">the tab grid, failing rows only</a></p>",
                t.failing_tests.len() - LISTED_PER_TAB,
                escape::attr(&tab_href(dashboard, &t.name))
            );
        }
    }
    if !t.flaky_tests.is_empty() {
        let _ = write!(
            body,
            "<table class=\"list\"><tr><th>flaky test ({})</th><th>flake rate</th><th>95% CI</th><th>priority</th><th>runs</th></tr>",
            t.flaky_tests.len()
        );
        for f in t.flaky_tests.iter().take(LISTED_PER_TAB) {
            let _ = write!(
                body,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td></tr>",
                escape::attr(&grid_row_href(dashboard, &t.name, &f.test)),
                html(&f.test),
                pct(f.flake_rate),
                pct(f.flake_rate_low),
                pct(f.flake_rate_high),
                f.priority.map(|p| html(&format!("{p:?}"))).unwrap_or_else(|| "-".into()),
                f.runs
            );
        }
        body.push_str("</table>");
        if let (true, Some(job)) = (t.flaky_tests.len() > LISTED_PER_TAB, job) {
            let query = escape::uri_component(job);
            let _ = write!(
                body,
                "<p class=\"muted\">… and {} more flaky tests: <a href=\"../flakiness.html#job={}\">the flakiness page for this job</a></p>",
                t.flaky_tests.len() - LISTED_PER_TAB,
                escape::attr(&query)
            );
        }
    }
}

/// A release reason (blocking or a review item) as a list item linking to its tab
/// and the build it started at. `up` leads from the page to the site root.
/// `tabs` is [`job_tab_hrefs`], made once per page rather than once per reason.
fn reason_item(
    tabs: &std::collections::HashMap<String, String>,
    r: &crate::analysis::release::Reason,
    up: &str,
) -> String {
    let job = match tabs.get(&r.job) {
        Some(href) => format!(
            "<a href=\"{up}{}\">{}</a>",
            escape::attr(href),
            html(&r.job)
        ),
        None => html(&r.job),
    };
    let test = r
        .test
        .as_deref()
        .map(|t| format!("<code>{}</code>: ", html(t)))
        .unwrap_or_default();
    let since = r
        .since
        .as_ref()
        .map(|b| format!(" · since {}", build_link(Some(&r.job), b, up)))
        .unwrap_or_default();
    format!(
        "<li><span class=\"muted\">{}</span> {} / {job}: {test}{}{since}</li>",
        html(r.kind),
        html(&r.dashboard),
        html(&r.message)
    )
}

/// One series per tab: `value(grid, columns of one day)` per day.
pub(super) fn daily(
    grids: &[(&str, &Grid)],
    value: impl Fn(&Grid, &[usize]) -> Option<f64>,
) -> Vec<Series> {
    grids
        .iter()
        .map(|(name, g)| {
            let mut days: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for (c, col) in g.columns.iter().enumerate() {
                if let Some(s) = col.started {
                    days.entry(s.div_euclid(DAY)).or_default().push(c);
                }
            }
            Series {
                name: name.to_string(),
                points: days
                    .into_iter()
                    .filter_map(|(d, cols)| Some((d * DAY, value(g, &cols)?)))
                    .collect(),
            }
        })
        .collect()
}

fn pass_rate(g: &Grid, cols: &[usize]) -> Option<f64> {
    let known: Vec<bool> = cols.iter().filter_map(|c| g.columns[*c].passed).collect();
    (!known.is_empty())
        .then(|| 100.0 * known.iter().filter(|p| **p).count() as f64 / known.len() as f64)
}

fn quantile(g: &Grid, cols: &[usize], q: f64) -> Option<f64> {
    let mut mins: Vec<f64> = cols
        .iter()
        .filter_map(|c| g.columns[*c].duration_secs())
        .map(|s| s as f64 / 60.0)
        .collect();
    plots::quantile(&mut mins, q)
}

fn failures(g: &Grid, cols: &[usize]) -> Option<f64> {
    let mut n = 0u64;
    for r in 0..g.rows.len() {
        for c in cols {
            if coalesce(g.row(r)[*c], true) == CellStatus::Fail {
                n += 1;
            }
        }
    }
    Some(n as f64)
}

/// The newest `n` results as coloured characters, oldest on the left; the newest one
/// underlined, so which end is "now" never has to be guessed.
pub(super) fn sparkline(g: &Grid, row: usize, n: usize) -> String {
    let glyph = |s: CellStatus| match coalesce(s, true) {
        CellStatus::Pass => ("P", '▁'),
        CellStatus::Fail => ("F", '█'),
        CellStatus::Flaky => ("K", '▅'),
        _ => ("", '·'),
    };
    let mut out =
        String::from("<span class=\"spark\" title=\"oldest left, newest right (underlined)\">");
    let cells: Vec<CellStatus> = g.row(row).iter().take(n).rev().copied().collect();
    let Some((newest, older)) = cells.split_last() else {
        out.push_str("</span>");
        return out;
    };
    // Runs of one kind share a span: a mostly green row costs a few bytes, not forty
    // elements (the test pages list every job a test runs in).
    let mut i = 0;
    while i < older.len() {
        let (cls, ch) = glyph(older[i]);
        let mut run = String::new();
        while i < older.len() && glyph(older[i]).0 == cls {
            run.push(ch);
            i += 1;
        }
        let _ = write!(out, "<span class=\"{cls}\">{run}</span>");
    }
    let (cls, ch) = glyph(*newest);
    let _ = write!(out, "<span class=\"{cls} newest\">{ch}</span></span>");
    out
}

/// Each (job, test)'s row in its grid.
pub(super) fn row_positions(site: &Site) -> std::collections::HashMap<(&str, &str), usize> {
    site.snapshot
        .grids
        .iter()
        .flat_map(|(job, g)| {
            g.rows
                .iter()
                .enumerate()
                .map(move |(i, r)| ((job.as_str(), r.as_str()), i))
        })
        .collect()
}
