//! What `trellis gate` prints and writes: text for a terminal or build log, Markdown
//! for a PR comment, and JUnit where known flakes are flaky rather than failed.

use crate::analysis::gate::{
    format_chance, BaseBuild, Evidence, FailureClass, GateReport, JudgedFailure, Verdict,
};
use crate::model::{Build, CountBucket};
use crate::printable::line;
use crate::xml::escape as xml;
use std::fmt::Write;
use std::path::Path;

/// Infra failures listed one by one in text before the rest are counted.
const INFRA_SHOWN: usize = 3;

/// Longest failure message quoted in text and Markdown.
const QUOTE_BYTES: usize = 300;

fn quote(message: Option<&str>) -> String {
    let m = message.unwrap_or("").trim();
    let first = m.lines().next().unwrap_or("");
    let mut end = first.len().min(QUOTE_BYTES);
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < first.len() || m.lines().nth(1).is_some() {
        "…"
    } else {
        ""
    };
    format!("{}{cut}", line(&first[..end]))
}

fn build_ref(b: &BaseBuild) -> String {
    match &b.commit {
        Some(c) => format!("{}/{} (commit {})", b.job, b.build, &c[..c.len().min(12)]),
        None => format!("{}/{}", b.job, b.build),
    }
}

/// One line of evidence, the same words in text and Markdown.
pub fn evidence_line(f: &JudgedFailure) -> String {
    match &f.evidence {
        Evidence::Infra { reason } => reason.clone(),
        Evidence::Quarantined {
            owner,
            reason,
            issue,
            expires,
        } => format!(
            "quarantined until {expires} by {owner}: {reason}{}",
            issue
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default()
        ),
        Evidence::BrokenOnBase {
            since,
            last_pass,
            failing_runs,
            ..
        } => format!(
            "failing on the base for its last {failing_runs} runs, since {}{}",
            build_ref(since),
            last_pass
                .as_ref()
                .map(|p| format!("; last passed {}", build_ref(p)))
                .unwrap_or_default()
        ),
        Evidence::KnownFlake {
            base,
            attempts,
            chance,
            retries_to_decide,
            recent,
        } => format!(
            "flakes on the base: {:.1}% of {} runs (95% {:.1}–{:.1}%), {} same-commit \
             disagreement{}; failing {attempts} attempt{} has a chance up to {}; {} more failing \
             retr{} would rule the flake out; last flaked {}",
            base.flake_rate * 100.0,
            base.base_runs,
            base.flake_rate_low * 100.0,
            base.flake_rate_high * 100.0,
            base.same_commit_flakes,
            if base.same_commit_flakes == 1 {
                ""
            } else {
                "s"
            },
            if *attempts == 1 { "" } else { "s" },
            format_chance(*chance),
            retries_to_decide,
            if *retries_to_decide == 1 { "y" } else { "ies" },
            recent
                .iter()
                .take(3)
                .map(build_ref)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Evidence::New { reason, .. } => reason.clone(),
    }
}

fn headline(report: &GateReport) -> String {
    let new = report.failures.iter().filter(|f| f.blocks()).count();
    let verdict = match report.verdict {
        Verdict::Pass => "PASS".to_string(),
        Verdict::Block => format!(
            "BLOCK: {new} new failure{}",
            if new == 1 { "" } else { "s" }
        ),
    };
    format!(
        "{verdict} — {}/{}{}: {} results, {} failed, {} flaked on retry; judged against {}",
        line(&report.build.job),
        line(&report.build.build),
        report
            .build
            .pr
            .map(|p| format!(" (PR #{p})"))
            .unwrap_or_default(),
        report.checked,
        report.counts.fail,
        report.flaked_here.len(),
        if report.base.is_empty() {
            "no base jobs".to_string()
        } else {
            report
                .base
                .iter()
                .map(|(j, n)| format!("{} ({n} builds)", line(j)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    )
}

pub fn text(report: &GateReport, window: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(report));
    let _ = writeln!(out, "{window}");
    if report.failures.is_empty() {
        let _ = writeln!(out, "no failures to judge");
    }
    // An outage fails every test for one reason: a few say it, a count says the rest.
    let infra = report
        .failures
        .iter()
        .filter(|f| f.class == FailureClass::Infra)
        .count();
    let mut infra_shown = 0;
    for f in &report.failures {
        if f.class == FailureClass::Infra {
            infra_shown += 1;
            if infra > INFRA_SHOWN + 1 && infra_shown > INFRA_SHOWN {
                if infra_shown == INFRA_SHOWN + 1 {
                    let _ = writeln!(
                        out,
                        "\n… and {} more infra failures (--json lists them)",
                        infra - INFRA_SHOWN
                    );
                }
                continue;
            }
        }
        let _ = writeln!(out, "\n{:<15} {}", f.class.name(), line(&f.test));
        if f.message.is_some() {
            let _ = writeln!(
                out,
                "                failed: {}",
                quote(f.message.as_deref())
            );
        }
        let _ = writeln!(out, "                {}", line(&evidence_line(f)));
    }
    if !report.retried.is_empty() {
        let _ = writeln!(out, "\nretried:");
        for r in &report.retried {
            let _ = writeln!(out, "  {}: {}", line(&r.test), retry_words(r));
        }
    }
    if !report.flaked_here.is_empty() {
        let _ = writeln!(
            out,
            "\nflaked in this build (failed, then passed on retry):"
        );
        for t in &report.flaked_here {
            let _ = writeln!(out, "  {}: {}", line(&t.test), line(&t.base));
        }
    }
    out
}

fn retry_words(r: &crate::runner::Retried) -> String {
    if r.failed < r.attempts {
        // The re-run stops at the first pass: the last attempt passed.
        format!("passed on retry {}", r.attempts)
    } else {
        format!(
            "failed all {} retr{}",
            r.attempts,
            if r.attempts == 1 { "y" } else { "ies" }
        )
    }
}

/// Markdown cells may not hold a `|` or a line break.
fn md(text: &str) -> String {
    line(text).replace('|', "\\|").replace('<', "&lt;")
}

/// Short enough for a PR comment: the blocking failures in full, the rest one line each.
pub fn markdown(report: &GateReport, report_url: Option<&str>) -> String {
    let mut out = String::new();
    let icon = match report.verdict {
        Verdict::Pass => "✅",
        Verdict::Block => "❌",
    };
    let _ = writeln!(out, "### {icon} trellis gate: {}\n", md(&headline(report)));
    if !report.flaked_here.is_empty() {
        let _ = writeln!(
            out,
            "Flaked in this build (failed, then passed on retry):\n"
        );
        for t in report.flaked_here.iter().take(10) {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                md(&t.test).replace('`', "'"),
                md(&t.base)
            );
        }
        if report.flaked_here.len() > 10 {
            let _ = writeln!(out, "- … and {} more", report.flaked_here.len() - 10);
        }
        out.push('\n');
    }
    if report.failures.is_empty() {
        let _ = writeln!(out, "No failures to judge.");
        return out;
    }
    let link = |b: &BaseBuild| match report_url {
        Some(url) => format!(
            "[{}]({}/{})",
            md(&build_ref(b)),
            url.trim_end_matches('/'),
            crate::report::build_href(&b.job, &b.build)
        ),
        None => md(&build_ref(b)),
    };
    let _ = writeln!(out, "| class | test | evidence |\n|---|---|---|");
    // A PR comment stays readable: at most this many rows, then a count.
    const ROWS: usize = 30;
    for f in report.failures.iter().take(ROWS) {
        let mut evidence = md(&evidence_line(f));
        match &f.evidence {
            Evidence::BrokenOnBase { since, .. } => {
                let _ = write!(evidence, " — {}", link(since));
            }
            Evidence::KnownFlake { recent, .. } if report_url.is_some() => {
                let links: Vec<String> = recent.iter().take(3).map(link).collect();
                let _ = write!(evidence, " — {}", links.join(", "));
            }
            _ => {}
        }
        let class = if f.blocks() {
            format!("**{}**", f.class.name())
        } else {
            f.class.name().to_string()
        };
        let _ = writeln!(
            out,
            "| {class} | `{}` | {evidence} |",
            md(&f.test).replace('`', "'")
        );
    }
    if report.failures.len() > ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more failures (`trellis gate --json` lists them all).",
            report.failures.len() - ROWS
        );
    }
    out
}

/// JUnit of the gated build: known flakes as `flakyFailure` in a passing test case
/// (as Maven Surefire writes a test that passed on rerun), quarantined and infra
/// failures as skipped with the reason, `new` and `broken-on-base` as failures.
pub fn write_junit(report: &GateReport, build: &Build, path: &Path) -> std::io::Result<()> {
    let judged: std::collections::HashMap<&str, &JudgedFailure> = report
        .failures
        .iter()
        .map(|f| (f.test.as_str(), f))
        .collect();
    let mut body = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for cell in &build.cells {
        let name = xml(&cell.test);
        let _ = write!(
            body,
            "    <testcase name=\"{name}\" classname=\"{}\"",
            xml(&build.job)
        );
        if let Some(d) = cell.duration {
            let _ = write!(body, " time=\"{d:.3}\"");
        }
        body.push('>');
        let message = xml(cell.message.as_deref().unwrap_or(""));
        match judged.get(cell.test.as_str()) {
            Some(f) => {
                let why = xml(&evidence_line(f));
                match f.class {
                    FailureClass::KnownFlake => {
                        let _ = write!(body, "<flakyFailure message=\"{message}\" type=\"known-flake\">{why}</flakyFailure>");
                    }
                    FailureClass::Quarantined | FailureClass::Infra => {
                        skipped += 1;
                        let _ = write!(body, "<skipped message=\"{}: {why}\"/>", f.class.name());
                    }
                    FailureClass::New | FailureClass::BrokenOnBase => {
                        failures += 1;
                        let _ = write!(
                            body,
                            "<failure message=\"{message}\" type=\"{}\">{why}</failure>",
                            f.class.name()
                        );
                    }
                }
            }
            None if cell.status.bucket() == CountBucket::Skip => {
                skipped += 1;
                body.push_str("<skipped/>");
            }
            None => {}
        }
        body.push_str("</testcase>\n");
    }
    let out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"trellis gate {}/{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\">\n{body}  </testsuite>\n</testsuites>\n",
        xml(&build.job),
        xml(&build.build),
        build.cells.len()
    );
    let tmp = path.with_extension("xml.tmp");
    std::fs::write(&tmp, out)?;
    std::fs::rename(&tmp, path)
}
