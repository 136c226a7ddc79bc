//! The HTML pages other than the tab grids.

use super::escape::{self, html};
use super::plots::{self, Series};
use super::{ReportError, Site, Writer};
use crate::analysis::{flakes::Class, testgrid::coalesce, DashboardReport, TabReport};
use crate::model::CellStatus;
use crate::model::Grid;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const DAY: i64 = 86_400;
/// A build where everything failed (an outage) would otherwise list thousands.
const MAX_FAILURES_PER_BUILD_PAGE: usize = 200;

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
        out.push_str("<ul class=\"reasons\">");
        for x in blocking.iter().take(30) {
            out.push_str(&reason_item(site, x, ""));
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
                body.push_str(&reason_item(site, r, "../"));
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
fn regex_escape(text: &str) -> String {
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
fn reason_item(site: &Site, r: &crate::analysis::release::Reason, up: &str) -> String {
    let tabs = job_tab_hrefs(site);
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
fn daily(grids: &[(&str, &Grid)], value: impl Fn(&Grid, &[usize]) -> Option<f64>) -> Vec<Series> {
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

pub fn flakiness(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
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

/// Clusters shown on the triage page; the rest are counted.
const MAX_CLUSTERS_SHOWN: usize = 200;
/// Tests, jobs per test and builds per job listed for one cluster.
const MAX_TESTS_PER_CLUSTER: usize = 10;
const MAX_JOBS_PER_TEST: usize = 5;
const MAX_BUILDS_PER_JOB: usize = 8;

pub fn triage(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let total: u64 = site.clusters.iter().map(|c| c.count).sum();
    let mut body = format!(
        "<h1>Failure clusters</h1><p class=\"muted\">{total} failures in {} clusters: texts normalised \
         (times, ids, addresses, generated names, map order), then grouped when their edit distance \
         is under 10% of their mean length, within each test and then across tests, as Kubernetes \
         triage does. Text every failure of a cluster shares is plain; <mark>marked</mark> text varies.</p>",
        site.clusters.len()
    );
    for c in site.clusters.iter().take(MAX_CLUSTERS_SHOWN) {
        cluster_section(&mut body, c);
    }
    if site.clusters.len() > MAX_CLUSTERS_SHOWN {
        let _ = write!(
            body,
            "<p class=\"muted\">… and {} smaller clusters (trellis triage --json lists every one)</p>",
            site.clusters.len() - MAX_CLUSTERS_SHOWN
        );
    }
    w.page("triage.html", "Triage", &body)
}

/// "1 failure", "3 failures".
fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn cluster_section(body: &mut String, c: &crate::analysis::triage::Cluster) {
    let infra = if crate::analysis::flakes::is_infra_message(&c.example) {
        " <span class=\"chip infra\">infra</span>"
    } else {
        ""
    };
    let _ = write!(
        body,
        "<section id=\"c{id}\"><h2><a href=\"#c{id}\">{count}</a>{infra} · {ci} CI · {pr} PR · {tests} · {jobs} · {builds}{sig}</h2>",
        id = html(&c.id),
        count = count_of(c.count, "failure", "failures"),
        ci = c.ci,
        pr = c.pr,
        tests = count_of(c.tests.len() as u64, "test", "tests"),
        jobs = count_of(c.jobs.len() as u64, "job", "jobs"),
        builds = count_of(c.builds.len() as u64, "build", "builds"),
        sig = c.sig.as_deref().map(|s| format!(" · {}", html(s))).unwrap_or_default(),
    );
    let _ = write!(
        body,
        "<div class=\"cluster-meta\">{}<div class=\"muted\">first seen {} · last seen {} · <a href=\"{}\">file a bug</a> · id {}</div></div>",
        day_histogram(&c.days),
        utc(c.builds.iter().filter_map(|b| b.started).min()),
        utc(c.builds.iter().filter_map(|b| b.started).max()),
        bug_link(c),
        html(&c.id)
    );
    let _ = write!(
        body,
        "<div class=\"muted\">the cluster's text, normalised (what differs between its failures <mark>marked</mark>):</div><div class=\"msg\">{}</div>",
        highlighted(&c.representative, &c.common)
    );
    if c.example != c.representative {
        let _ = write!(
            body,
            "<div class=\"muted\">one failure as it was written:</div><div class=\"msg\">{}</div>",
            html(&c.example)
        );
    }
    body.push_str("<ul>");
    for t in c.tests.iter().take(MAX_TESTS_PER_CLUSTER) {
        let _ = write!(body, "<li>{} × {}<ul>", t.count, html(&t.name));
        for j in t.jobs.iter().take(MAX_JOBS_PER_TEST) {
            let links: Vec<String> = j
                .builds
                .iter()
                .take(MAX_BUILDS_PER_JOB)
                .map(|b| {
                    format!(
                        "<a href=\"{}\">{}</a>",
                        escape::attr(&build_href(&j.name, b)),
                        html(b)
                    )
                })
                .collect();
            let more = j.builds.len().saturating_sub(MAX_BUILDS_PER_JOB);
            let _ = write!(
                body,
                "<li>{} in {}: {}{}</li>",
                j.count,
                html(&j.name),
                links.join(" "),
                if more > 0 {
                    format!(" … and {more} more")
                } else {
                    String::new()
                }
            );
        }
        more_items(body, t.jobs.len(), MAX_JOBS_PER_TEST, "jobs");
        body.push_str("</ul></li>");
    }
    more_items(body, c.tests.len(), MAX_TESTS_PER_CLUSTER, "tests");
    body.push_str("</ul></section>");
}

/// "… and N more {what}" as a list item, when `total` is over the `shown` limit.
fn more_items(body: &mut String, total: usize, shown: usize, what: &str) {
    if total > shown {
        let _ = write!(
            body,
            "<li class=\"muted\">… and {} more {what}</li>",
            total - shown
        );
    }
}

/// The representative text with the parts not every member shares marked.
fn highlighted(text: &str, common: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &(start, end) in common {
        let (Some(varying), Some(shared)) = (text.get(at..start), text.get(start..end)) else {
            break;
        };
        if !varying.is_empty() {
            let _ = write!(out, "<mark>{}</mark>", html(varying));
        }
        out.push_str(&html(shared));
        at = end;
    }
    if let Some(rest) = text.get(at..).filter(|r| !r.is_empty()) {
        let _ = write!(out, "<mark>{}</mark>", html(rest));
    }
    out
}

/// Failures per day as a small bar chart (as go.k8s.io/triage draws one per
/// cluster): a bar per UTC day from the first to the last, days without failures
/// empty, the newest day's bar dark, the first and last dates under it.
fn day_histogram(days: &[(i64, u64)]) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return String::from("<span class=\"muted\">no start times</span>");
    };
    let span = ((last.0 - first.0) / DAY + 1).clamp(1, 366) as usize;
    let max = days.iter().map(|d| d.1).max().unwrap_or(1).max(1);
    let mut counts = vec![0u64; span];
    for (day, n) in days {
        let i = ((day - first.0) / DAY).max(0) as usize;
        if let Some(slot) = counts.get_mut(i.min(span - 1)) {
            *slot += n;
        }
    }
    let bar = (360 / span).clamp(1, 12);
    let width = (bar * span).max(260);
    let height = 36;
    let mut out = format!(
        "<svg class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\">",
        height + 14
    );
    for (i, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let h = ((*n as f64 / max as f64) * height as f64).ceil().max(1.0) as usize;
        let fill = if i + 1 == span { "#a50e0e" } else { "#e57368" };
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\" fill=\"{fill}\"/>",
            i * bar,
            height - h,
            bar.saturating_sub(1).max(1)
        );
    }
    let date = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let _ = write!(
        out,
        "<text x=\"0\" y=\"{y}\" font-size=\"10\">{}</text><text x=\"{width}\" y=\"{y}\" font-size=\"10\" text-anchor=\"end\">{} · max {max}/day</text></svg>",
        date(first.0),
        date(last.0),
        y = height + 12
    );
    out
}

/// A GitHub "new issue" link with the cluster's summary filled in.
fn bug_link(c: &crate::analysis::triage::Cluster) -> String {
    let first_line: String = c
        .representative
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    let mut body_text = format!(
        "Failure cluster {} ({} failures in {} tests, {} jobs):\n\n```\n{}\n```\n\nTests:\n",
        c.id,
        c.count,
        c.tests.len(),
        c.jobs.len(),
        c.representative.chars().take(1500).collect::<String>()
    );
    for t in c.tests.iter().take(10) {
        body_text.push_str(&format!("- {} ({} failures)\n", t.name, t.count));
    }
    let mut url = match reqwest::Url::parse("https://github.com/kubernetes/kubernetes/issues/new") {
        Ok(u) => u,
        Err(_) => return String::new(),
    };
    url.query_pairs_mut()
        .append_pair("title", &format!("Failure cluster {}: {first_line}", c.id))
        .append_pair("body", &body_text);
    escape::attr(url.as_str())
}

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

pub fn builds(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
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
