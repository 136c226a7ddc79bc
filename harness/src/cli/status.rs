//! `trellis status`: dashboard and tab statuses, and the release verdict.

use super::failure::Failure;
use super::window::{self, WindowArgs};
use crate::analysis;
use crate::exit;
use crate::printable::line;

/// Is the release blocked? Every dashboard's tabs with TestGrid's status, alerting
/// (failing) tests with the range to bisect, flaky tests with their flake rate, and the
/// release-blocking verdict with its reasons.
///
/// A dashboard is release-blocking when its name ends in -blocking (or it sets
/// trellis_release_blocking: true). Stored jobs no dashboard names appear on an
/// `unconfigured-jobs` dashboard, never release-blocking; without any config that is
/// every stored job. Exit code 0 when nothing blocks the release, 6 when
/// it is blocked. `--json` prints {window: {days, since, until}, future_builds: {total,
/// first: [{job, build, started}]}, dashboards: [{name, status, release_blocking, tabs:
/// [{name, job, status, message, failing_tests, flaky_tests, latest_green, last_run,
/// healthiness?}]}],
/// release: {blocked, reasons: [{blocking, dashboard, job, kind, message, test?, since?}]},
/// perf_regressions: [as `trellis regressions --json` lists them]}.
///
/// Stored perf figures are judged against each job's baseline at `trellis
/// regressions`' defaults; a perf regression is shown, and does not block the release.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Every failing and flaky test, release reason and tab message (default: the
    /// first few of each, and messages only for tabs that are not passing).
    #[arg(long)]
    details: bool,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let config = crate::report::with_stored_jobs(db, args.window.config()?)?;
    let window = args.window.window(&config);
    let snapshot = crate::report::snapshot(
        db,
        &config,
        window.span(),
        window.until,
        window.per_test_group,
    )?;
    let report = snapshot.status;
    // Builds dated after the decision time are not evidence (three green builds dated
    // 2100 must not unblock a release); they are named, not silently dropped.
    let (future, future_total) = crate::store::Store::open(db)?.builds_after(window.until, 5)?;
    let perf_settings = crate::analysis::perf::Settings::default();
    let perf = super::perf_check::checks(db, None, window.until, &perf_settings)?;
    let perf_regressed: Vec<_> = perf
        .iter()
        .filter(|c| c.verdict == analysis::perf::Verdict::Regressed)
        .collect();
    if args.window.json {
        super::print_json(&serde_json::json!({
            "window": window,
            "dashboards": report.dashboards,
            "release": report.release,
            "future_builds": { "total": future_total, "first": future },
            "perf_regressions": perf_regressed,
        }))?;
    } else {
        println!("{}", window.describe());
        if future_total > 0 {
            let named: Vec<String> = future
                .iter()
                .map(|f| format!("{}/{} ({} UTC)", f.job, f.build, window::utc(f.started)))
                .collect();
            println!(
                "warning: {future_total} build(s) dated after the decision time are not evidence \
                 (check their clocks): {}",
                named.join(", ")
            );
        }
        print_report(&report, args.details);
        if !perf.is_empty() {
            println!();
            println!("{}", super::perf_check::summary(&perf, &perf_settings));
            for c in &perf_regressed {
                println!("  {}", super::perf_check::describe(c));
            }
        }
    }
    Ok(if report.release.blocked {
        exit::RELEASE_BLOCKED
    } else {
        exit::OK
    })
}

/// Failing and flaky tests listed per tab without `--details`.
const SHORT_LIST: usize = 3;

fn print_report(report: &analysis::StatusReport, details: bool) {
    let list = if details { usize::MAX } else { SHORT_LIST };
    let mut unconfigured_red = 0;
    for d in &report.dashboards {
        let tag = if d.release_blocking {
            " [release-blocking]"
        } else {
            ""
        };
        println!("{}{tag}: {}", d.name, d.status.name());
        let unconfigured = d.name == crate::config::UNCONFIGURED;
        if unconfigured {
            println!("  (stored jobs no dashboard names; give them one in a TestGrid-format YAML under --dashboards DIR, see dashboards/README.md)");
        }
        for t in &d.tabs {
            if unconfigured && !matches!(t.status, analysis::testgrid::TabStatus::Passing) {
                unconfigured_red += 1;
            }
            print_tab(t, details, list);
        }
    }
    let r = &report.release;
    println!();
    println!(
        "release: {}",
        if r.blocked { "BLOCKED" } else { "not blocked" }
    );
    if unconfigured_red > 0 {
        println!("  ({unconfigured_red} unconfigured job(s) not passing: unconfigured jobs never block the release)");
    }
    for (blocking, title) in [(true, "blocking"), (false, "needs review")] {
        let reasons: Vec<_> = r
            .reasons
            .iter()
            .filter(|x| x.blocking == blocking)
            .collect();
        if reasons.is_empty() {
            continue;
        }
        println!("  {title}:");
        for x in reasons.iter().take(list) {
            let test = x
                .test
                .as_deref()
                .map(|t| format!(" {}:", line(t)))
                .unwrap_or_default();
            println!(
                "    {} / {}:{test} {}",
                line(&x.dashboard),
                line(&x.job),
                line(&x.message)
            );
        }
        more(reasons.len(), list, "reasons", "    ");
    }
}

/// One tab: a line when it passes, the evidence when it does not (all of it, and
/// TestGrid's tab message, with `--details`).
fn print_tab(t: &analysis::TabReport, details: bool, list: usize) {
    let job = match t.job.as_deref() {
        Some(j) if j != t.name => format!(" ({})", line(j)),
        _ => String::new(),
    };
    // A build id, a short commit (Kubernetes's default.yaml) or "no recent greens".
    let green = format!("; latest green: {}", line(&t.latest_green));
    let last = t
        .last_run
        .map(|l| format!("; last run {} UTC", window::utc(l)))
        .unwrap_or_default();
    println!(
        "  {:<8} {}{job}{last}{green}",
        t.status.name(),
        line(&t.name)
    );
    if details || !matches!(t.status, analysis::testgrid::TabStatus::Passing) {
        println!("           {}", line(&t.message));
    }
    for f in t.failing_tests.iter().take(list) {
        let good = f
            .last_pass
            .as_ref()
            .map(|p| format!("; last pass {}", window::at(p)))
            .unwrap_or_default();
        println!(
            "           failing: {} — {} run(s) since {}{good}",
            line(&f.test),
            f.fail_count,
            window::at(&f.first_fail)
        );
    }
    more(t.failing_tests.len(), list, "failing tests", "           ");
    for f in t.flaky_tests.iter().take(list) {
        let band = f
            .priority
            .map(|p| format!(" [{}]", priority_name(p)))
            .unwrap_or_default();
        println!(
            "           flaky:   {} — {} of {} runs (95% CI {}–{}){band}",
            line(&f.test),
            window::percent(f.flake_rate),
            f.runs,
            window::percent(f.flake_rate_low),
            window::percent(f.flake_rate_high)
        );
    }
    more(t.flaky_tests.len(), list, "flaky tests", "           ");
}

fn more(total: usize, shown: usize, what: &str, indent: &str) {
    if total > shown {
        println!("{indent}… and {} more {what} (--details)", total - shown);
    }
}

pub fn priority_name(p: analysis::flakes::Priority) -> &'static str {
    match p {
        analysis::flakes::Priority::CriticalUrgent => "critical-urgent",
        analysis::flakes::Priority::ImportantSoon => "important-soon",
    }
}
