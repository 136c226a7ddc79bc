//! `trellis report --markdown`: short enough for a PR comment or `$GITHUB_STEP_SUMMARY`:
//! the verdict, failing tests with their last good commit, and new flakes.

use super::Site;
use crate::analysis::flakes::Class;
use std::fmt::Write as _;

const MAX_ITEMS: usize = 10;

/// Text in the summary, which is pasted into PR comments: it must not break the
/// table, smuggle markup, ping people (`@team`), or become a link or an image.
fn cell(text: &str) -> String {
    let t: String = crate::printable::line(text).chars().take(160).collect();
    let mut out = String::with_capacity(t.len() + 16);
    for c in t.chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '!' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after @ keeps GitHub from reading a mention.
            '@' => out.push_str("@&#8203;"),
            c => out.push(c),
        }
    }
    // No autolinks either.
    out.replace("://", ":&#47;&#47;")
}

pub fn markdown(site: &Site) -> String {
    let r = &site.snapshot.status.release;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## trellis: release {}\n",
        if r.blocked {
            "**BLOCKED**"
        } else {
            "not blocked"
        }
    );
    for x in r.reasons.iter().filter(|x| x.blocking).take(MAX_ITEMS) {
        let test = x
            .test
            .as_deref()
            .map(|t| format!(" {}", cell(t)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- {} / {}:{test} {}",
            cell(&x.dashboard),
            cell(&x.job),
            cell(&x.message)
        );
    }
    let failing: Vec<_> = site
        .snapshot
        .status
        .dashboards
        .iter()
        .flat_map(|d| {
            d.tabs
                .iter()
                .flat_map(move |t| t.failing_tests.iter().map(move |f| (d, t, f)))
        })
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\n### Failing tests\n\n| tab | test | failing since | last good commit |\n|---|---|---|---|");
        for (d, t, f) in failing.iter().take(MAX_ITEMS) {
            let good = f
                .last_pass
                .as_ref()
                .and_then(|p| p.commit.clone().or(Some(p.build.clone())))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "| {} / {} | {} | {} | {} |",
                cell(&d.name),
                cell(&t.name),
                cell(&f.test),
                cell(&f.first_fail.build),
                cell(&good)
            );
        }
        if failing.len() > MAX_ITEMS {
            let _ = writeln!(out, "\n…and {} more.", failing.len() - MAX_ITEMS);
        }
    }
    let mut new_flakes: Vec<_> = site
        .snapshot
        .flakes
        .values()
        .flatten()
        .filter(|s| {
            s.class == Class::Flaky
                && !site
                    .previous
                    .get(&(s.job.clone(), s.test.clone()))
                    .is_some_and(|p| *p > 0.0)
        })
        .collect();
    new_flakes.sort_by(|a, b| b.flake_rate.total_cmp(&a.flake_rate));
    if !new_flakes.is_empty() {
        let _ = writeln!(
            out,
            "\n### New flakes\n\n| job | test | flake rate (95% CI) | runs |\n|---|---|---|---|"
        );
        for s in new_flakes.iter().take(MAX_ITEMS) {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1}% ({:.1}–{:.1}%) | {} |",
                cell(&s.job),
                cell(&s.test),
                s.flake_rate * 100.0,
                s.flake_rate_low * 100.0,
                s.flake_rate_high * 100.0,
                s.runs
            );
        }
    }
    out
}
