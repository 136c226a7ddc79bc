//! `trellis status`: dashboard and tab statuses, and the release verdict.

use super::failure::Failure;
use super::window::{self, WindowArgs};
use crate::analysis;
use crate::exit;
use std::path::Path;

/// Is the release blocked? Every dashboard's tabs with TestGrid's status, alerting
/// (failing) tests with the range to bisect, flaky tests with their flake rate, and the
/// release-blocking verdict with its reasons.
///
/// A dashboard is release-blocking when its name ends in -blocking (or it sets
/// trellis_release_blocking: true). Stored jobs no dashboard names appear on an
/// `unconfigured-jobs` dashboard, never release-blocking; without any config that is
/// every stored job. Exit code 0 when nothing blocks the release, 6 when
/// it is blocked. `--json` prints {dashboards: [{name, status, release_blocking, tabs:
/// [{name, job, status, message, failing_tests, flaky_tests, latest_green, last_run}]}],
/// release: {blocked, reasons: [{blocking, dashboard, job, kind, message, test?, since?}]}}.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
}

pub fn run(args: Args, db: &Path) -> Result<i32, Failure> {
    let config = crate::report::with_stored_jobs(db, args.window.config()?)?;
    let days = config
        .test_groups
        .iter()
        .map(|g| g.days_of_results)
        .max()
        .unwrap_or(15);
    let since = Some(args.window.since(days));
    let snapshot = crate::report::snapshot(db, &config, since, args.window.now())?;
    let report = snapshot.status;
    if args.window.json {
        super::print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.release.blocked {
        exit::RELEASE_BLOCKED
    } else {
        exit::OK
    })
}

fn print_report(report: &analysis::StatusReport) {
    for d in &report.dashboards {
        let tag = if d.release_blocking {
            " [release-blocking]"
        } else {
            ""
        };
        println!("{}{tag}: {}", d.name, d.status.name());
        if d.name == crate::config::UNCONFIGURED {
            println!("  (stored jobs no dashboard names; give them one in a TestGrid-format YAML under --dashboards DIR, see dashboards/README.md)");
        }
        for t in &d.tabs {
            let job = t
                .job
                .as_deref()
                .map(|j| format!(" ({j})"))
                .unwrap_or_default();
            println!("  {:<8} {}{job}", t.status.name(), t.name);
            println!("           {}", t.message);
            if let Some(g) = &t.latest_green {
                println!("           latest green: build {g}");
            }
            for f in &t.failing_tests {
                let good = f
                    .last_pass
                    .as_ref()
                    .map(|p| format!("; last pass {}", window::at(p)))
                    .unwrap_or_default();
                println!(
                    "           failing: {} — {} run(s) since {}{good}",
                    f.test,
                    f.fail_count,
                    window::at(&f.first_fail)
                );
            }
            for f in t.flaky_tests.iter().take(10) {
                let band = f
                    .priority
                    .map(|p| format!(" [{}]", priority_name(p)))
                    .unwrap_or_default();
                println!(
                    "           flaky:   {} — {} of {} runs (95% CI {}–{}){band}",
                    f.test,
                    window::percent(f.flake_rate),
                    f.runs,
                    window::percent(f.flake_rate_low),
                    window::percent(f.flake_rate_high)
                );
            }
            if t.flaky_tests.len() > 10 {
                println!(
                    "           … and {} more flaky tests (trellis flakes)",
                    t.flaky_tests.len() - 10
                );
            }
        }
    }
    let r = &report.release;
    println!();
    println!(
        "release: {}",
        if r.blocked { "BLOCKED" } else { "not blocked" }
    );
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
        for x in reasons {
            let test = x
                .test
                .as_deref()
                .map(|t| format!(" {t}:"))
                .unwrap_or_default();
            println!("    {} / {}:{test} {}", x.dashboard, x.job, x.message);
        }
    }
}

pub fn priority_name(p: analysis::flakes::Priority) -> &'static str {
    match p {
        analysis::flakes::Priority::CriticalUrgent => "critical-urgent",
        analysis::flakes::Priority::ImportantSoon => "important-soon",
    }
}
