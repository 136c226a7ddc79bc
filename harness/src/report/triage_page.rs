//! The triage page: failure clusters as go.k8s.io/triage shows them.

use super::escape::{self, html};
use super::pages::{build_href, utc, DAY};
use super::{ReportError, Site, Writer};
use std::fmt::Write as _;

/// Clusters shown on the triage page; the rest are counted.
const MAX_CLUSTERS_SHOWN: usize = 200;
/// Tests, jobs per test and builds per job listed for one cluster.
const MAX_TESTS_PER_CLUSTER: usize = 10;
const MAX_JOBS_PER_TEST: usize = 5;
const MAX_BUILDS_PER_JOB: usize = 8;

pub fn write(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
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
