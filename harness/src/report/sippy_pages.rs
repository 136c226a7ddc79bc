//! Sippy's side of the site: job pass rates and test pass rates against the previous
//! window (worst drop first), a page per test across every job that runs it, and
//! component readiness (the Fisher regressions of `trellis regressions` as a
//! component × job table).

use super::escape::{self, attr, html};
use super::gather::Sippy;
use super::pages::{build_href, job_tab_hrefs, pct, row_positions, sparkline, utc};
use super::{ReportError, Site, Writer};
use crate::analysis::pass_rates::{Compared, Counts, TestRates};
use crate::analysis::testgrid::coalesce;
use crate::model::{CellStatus, Grid};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Tests listed on tests.html (worst drop first); the rest are in
/// api/pass-rates.json.
const MAX_TESTS: usize = 1000;
/// Of those, the ones given a page of their own (the worst drops): a page per test
/// of a 5,000-test release history would cost more than the rest of the site.
const MAX_TEST_PAGES: usize = 300;
/// A change of pass rate smaller than this is shown as no change.
const NOTABLE_POINTS: f64 = 5.0;

pub fn test_href(test: &str) -> String {
    format!("tests/{}.html", escape::slug(test))
}

pub fn write(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let Some(sippy) = &site.sippy else {
        let none = "<p>Pass rates need a window with a start (trellis report --days N).</p>";
        for (rel, title) in [
            ("jobs.html", "Job pass rates"),
            ("tests.html", "Test pass rates"),
            ("components.html", "Component readiness"),
        ] {
            w.page(rel, title, &format!("<h1>{title}</h1>{none}"))?;
        }
        return Ok(());
    };
    let tabs = job_tab_hrefs(site);
    jobs_page(sippy, &tabs, w)?;
    let paged: HashSet<&str> = sippy
        .tests
        .iter()
        .take(MAX_TEST_PAGES)
        .map(|t| t.test.as_str())
        .collect();
    tests_page(sippy, &paged, w)?;
    test_pages(site, sippy, &tabs, w)?;
    components_page(sippy, &paged, w)?;
    api(sippy, w)
}

fn windows_text(s: &Sippy) -> String {
    format!(
        "this window: builds started {} – {}; previous: {} – {}",
        utc(Some(s.windows.current)),
        utc(Some(s.windows.until)),
        utc(Some(s.windows.previous)),
        utc(Some(s.windows.current))
    )
}

fn rate(c: &Counts) -> String {
    match c.pass_rate() {
        Some(r) => format!(
            "{} <span class=\"muted\">{}/{}</span>",
            pct(r),
            c.passes,
            c.runs
        ),
        None => "<span class=\"muted\">no runs</span>".into(),
    }
}

/// The change in points, coloured when it is more than [`NOTABLE_POINTS`].
fn delta(c: &Compared) -> String {
    match c.delta_points() {
        Some(d) if d <= -NOTABLE_POINTS => format!("<span class=\"worse\">▼ {:.1}</span>", -d),
        Some(d) if d >= NOTABLE_POINTS => format!("<span class=\"better\">▲ {d:.1}</span>"),
        Some(d) => format!("<span class=\"muted\">{d:+.1}</span>"),
        None => "<span class=\"muted\">new</span>".into(),
    }
}

fn jobs_page(s: &Sippy, tabs: &HashMap<String, String>, w: &mut Writer) -> Result<(), ReportError> {
    let mut body = format!(
        "<h1>Job pass rates</h1><p class=\"muted\">Builds that passed, {}; Δ in points, worst drop first.</p>",
        windows_text(s)
    );
    if s.jobs.is_empty() {
        body.push_str("<p>No builds in either window.</p>");
        return w.page("jobs.html", "Job pass rates", &body);
    }
    body.push_str("<table class=\"list\"><tr><th>job</th><th>this window</th><th>previous</th><th>Δ points</th></tr>");
    for j in &s.jobs {
        let name = match tabs.get(&j.job) {
            Some(href) => format!("<a href=\"{}\">{}</a>", attr(href), html(&j.job)),
            None => html(&j.job),
        };
        let _ = write!(
            body,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rate(&j.rates.current),
            rate(&j.rates.previous),
            delta(&j.rates)
        );
    }
    body.push_str("</table>");
    w.page("jobs.html", "Job pass rates", &body)
}

fn test_name(test: &str, paged: &HashSet<&str>, up: &str) -> String {
    if paged.contains(test) {
        format!(
            "<a href=\"{}\">{}</a>",
            attr(&format!("{up}{}", test_href(test))),
            html(test)
        )
    } else {
        html(test)
    }
}

fn tests_page(s: &Sippy, paged: &HashSet<&str>, w: &mut Writer) -> Result<(), ReportError> {
    let mut body = format!(
        "<h1>Test pass rates</h1><p class=\"muted\">Every result of a test across the jobs that run it \
         (a pass on retry counts as a pass and as a flake, as in Sippy), {}; Δ in points, worst drop first.</p>",
        windows_text(s)
    );
    if s.tests.is_empty() {
        body.push_str("<p>No test results in either window.</p>");
        return w.page("tests.html", "Test pass rates", &body);
    }
    body.push_str("<table class=\"list\"><tr><th>test</th><th>component</th><th>this window</th><th>previous</th><th>Δ points</th><th>flakes</th><th>jobs</th></tr>");
    for t in s.tests.iter().take(MAX_TESTS) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            test_name(&t.test, paged, ""),
            html(&t.component),
            rate(&t.rates.current),
            rate(&t.rates.previous),
            delta(&t.rates),
            t.rates.current.flakes,
            t.jobs.len()
        );
    }
    body.push_str("</table>");
    if s.tests.len() > MAX_TESTS {
        let _ = write!(
            body,
            "<p class=\"muted\">… and {} more tests with smaller changes: every one is in <a href=\"api/pass-rates.json\">api/pass-rates.json</a>.</p>",
            s.tests.len() - MAX_TESTS
        );
    }
    w.page("tests.html", "Test pass rates", &body)
}

fn test_pages(
    site: &Site,
    s: &Sippy,
    tabs: &HashMap<String, String>,
    w: &mut Writer,
) -> Result<(), ReportError> {
    let rows = row_positions(site);
    for t in s.tests.iter().take(MAX_TEST_PAGES) {
        w.page(
            &test_href(&t.test),
            &t.test,
            &test_page(site, s, t, tabs, &rows),
        )?;
    }
    Ok(())
}

fn test_page(
    site: &Site,
    s: &Sippy,
    t: &TestRates,
    tabs: &HashMap<String, String>,
    rows: &HashMap<(&str, &str), usize>,
) -> String {
    let mut body = format!(
        "<h1>{}</h1><p>component <strong>{}</strong> · this window {} · previous {} · Δ {}</p><p class=\"muted\">{}</p>",
        html(&t.test),
        html(&t.component),
        rate(&t.rates.current),
        rate(&t.rates.previous),
        delta(&t.rates),
        windows_text(s)
    );
    body.push_str("<table class=\"list\"><tr><th>job</th><th>this window</th><th>previous</th><th>Δ points</th><th>flakes</th><th>recent results (newest right)</th><th>latest failure</th></tr>");
    for j in &t.jobs {
        let job = match tabs.get(&j.job) {
            Some(href) => format!("<a href=\"../{}\">{}</a>", attr(href), html(&j.job)),
            None => html(&j.job),
        };
        let grid = site.snapshot.grids.get(&j.job);
        let row = rows.get(&(j.job.as_str(), t.test.as_str())).copied();
        let (spark, failed) = match (grid, row) {
            (Some(g), Some(r)) => (sparkline(g, r, 40), latest_failure(g, r)),
            _ => (String::new(), None),
        };
        let failed = failed
            .map(|build| {
                format!(
                    "<a href=\"../{}\">{}</a>",
                    attr(&build_href(&j.job, build)),
                    html(build)
                )
            })
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            body,
            "<tr><td>{job}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{spark}</td><td>{failed}</td></tr>",
            rate(&j.rates.current),
            rate(&j.rates.previous),
            delta(&j.rates),
            j.rates.current.flakes
        );
    }
    body.push_str("</table>");
    body
}

/// The newest build in which row `r` failed.
fn latest_failure(g: &Grid, r: usize) -> Option<&str> {
    g.row(r)
        .iter()
        .position(|s| coalesce(*s, true) == CellStatus::Fail)
        .map(|c| g.columns[c].build.as_str())
}

fn components_page(s: &Sippy, paged: &HashSet<&str>, w: &mut Writer) -> Result<(), ReportError> {
    use crate::analysis::regressions::{
        EXTREME_DROP_POINTS, MIN_DROP_POINTS, MIN_SAMPLE_FAILURES, SIGNIFICANCE,
    };
    let r = &s.readiness;
    let mut body = format!(
        "<h1>Component readiness</h1><p class=\"muted\">A test regressed in a job when it fails significantly more in the sample \
         (builds started {} – {}) than in the basis ({} – {}): one-sided Fisher exact test, p &lt; {SIGNIFICANCE}, at least \
         {MIN_SAMPLE_FAILURES} sample failures and a pass-rate drop over {MIN_DROP_POINTS} points (over {EXTREME_DROP_POINTS}: extreme), \
         as Sippy judges and <code>trellis regressions</code> prints. Components are the <code>[sig-…]</code> of test names. \
         Green: tests ran and none regressed; red: regressions (dark: an extreme one); grey: no test of the component ran there.</p>",
        utc(Some(s.windows.current)),
        utc(Some(s.windows.until)),
        utc(Some(s.windows.basis)),
        utc(Some(s.windows.current)),
    );
    if r.components.is_empty() {
        body.push_str("<p>No test results in the sample window.</p>");
        return w.page("components.html", "Component readiness", &body);
    }
    body.push_str("<div class=\"wide\"><table class=\"readiness\"><tr><th>component</th>");
    for job in &r.jobs {
        let _ = write!(
            body,
            "<th title=\"{}\"><span>{}</span></th>",
            attr(job),
            html(job)
        );
    }
    body.push_str("</tr>");
    for (component, cells) in &r.components {
        let anchor = escape::slug(component);
        let _ = write!(
            body,
            "<tr><th><a href=\"#{}\">{}</a></th>",
            attr(&anchor),
            html(component)
        );
        for job in &r.jobs {
            let cell = match cells.get(job) {
                None => "<td class=\"none\">–</td>".to_string(),
                Some(c) if c.regressions.is_empty() => format!(
                    "<td class=\"ok\" title=\"{} tests, no regression\">{}</td>",
                    c.tests, c.tests
                ),
                Some(c) => format!(
                    "<td class=\"{}\" title=\"{} of {} tests regressed\"><a href=\"#{}\">{}</a></td>",
                    if c.regressions.iter().any(|x| x.extreme) { "extreme" } else { "regressed" },
                    c.regressions.len(),
                    c.tests,
                    attr(&anchor),
                    c.regressions.len()
                ),
            };
            body.push_str(&cell);
        }
        body.push_str("</tr>");
    }
    body.push_str("</table></div>");
    let mut any = false;
    for (component, cells) in &r.components {
        let found: Vec<_> = cells.values().flat_map(|c| &c.regressions).collect();
        if found.is_empty() {
            continue;
        }
        any = true;
        let _ = write!(
            body,
            "<h2 id=\"{}\">{} <span class=\"muted\">{} regression{}</span></h2>\
             <table class=\"list\"><tr><th>job</th><th>test</th><th>basis</th><th>sample</th><th>drop (points)</th><th>p-value</th></tr>",
            attr(&escape::slug(component)),
            html(component),
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        );
        for x in found {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{} <span class=\"muted\">{}/{} failed</span></td><td>{} <span class=\"muted\">{}/{} failed</span></td><td>{}{:.1}</td><td>{:.2e}</td></tr>",
                html(&x.job),
                test_name(&x.test, paged, ""),
                pct(x.basis.pass_rate),
                x.basis.failures,
                x.basis.runs,
                pct(x.sample.pass_rate),
                x.sample.failures,
                x.sample.runs,
                if x.extreme { "<strong>extreme</strong> " } else { "" },
                x.drop * 100.0,
                x.p_value
            );
        }
        body.push_str("</table>");
    }
    if !any {
        body.push_str("<p>No significant regression in any component.</p>");
    }
    w.page("components.html", "Component readiness", &body)
}

/// Every job's and test's rates (tests without their per-job rows), for what the
/// pages cut.
fn api(s: &Sippy, w: &mut Writer) -> Result<(), ReportError> {
    let tests: Vec<serde_json::Value> = s
        .tests
        .iter()
        .map(|t| {
            serde_json::json!({
                "test": t.test, "component": t.component, "current": t.rates.current,
                "previous": t.rates.previous, "delta_points": t.rates.delta_points(), "jobs": t.jobs.len(),
            })
        })
        .collect();
    let value = serde_json::json!({"windows": s.windows, "jobs": s.jobs, "tests": tests});
    w.write("api/pass-rates.json", &value.to_string())
}
