//! `trellis flakes`: per (job, test) flake statistics and classes.

use super::failure::Failure;
use super::window::{self, WindowArgs};
use crate::analysis::{self, flakes::Class};
use crate::exit;

/// Flaky and failing tests, per job, with the evidence: runs, passes, failures,
/// FLAKY cells, flake rate with its Wilson 95% interval, TestGrid flip flakiness,
/// same-commit disagreements, and for failing tests the last passing and first
/// failing build and commit (the range to bisect).
///
/// `--json` prints {window: {days, since, until}, outages: [{job, build}], tests: [{job, test, class, runs, passes, failures, flakes,
/// broken_runs, flake_rate, flake_rate_low, flake_rate_high, flip_flakiness, same_commit_flakes,
/// last_pass, first_fail, priority}]}; only failing and flaky tests unless --all.
/// `flip_flakiness` is null where TestGrid does not list the test (only FLAKY results
/// or infra failures).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Passing tests too.
    #[arg(long)]
    all: bool,
    /// Print quarantine entries (YAML for `trellis gate --quarantine`) for flaky tests
    /// whose flake rate is above --min-rate even at the low end of its 95% interval;
    /// owner from the test's [sig-…], 30 days until expiry.
    #[arg(long, conflicts_with = "json")]
    propose_quarantine: bool,
    /// The flake rate a proposed quarantine needs (the interval's low end above it).
    #[arg(
        long,
        default_value_t = 0.05,
        value_name = "RATE",
        requires = "propose_quarantine"
    )]
    min_rate: f64,
}

/// Days a proposed quarantine entry lasts: long enough to fix, short enough to be
/// looked at again.
const QUARANTINE_DAYS: i64 = 30;

/// The SIG a Kubernetes e2e test names (`[sig-network]`), as its owner.
fn owner_of(test: &str) -> String {
    test.split('[')
        .filter_map(|part| part.split(']').next())
        .find(|tag| tag.starts_with("sig-"))
        .unwrap_or("unowned")
        .to_string()
}

/// YAML double-quoted string.
fn yaml_quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn propose_quarantine(
    table: &[crate::analysis::flakes::FlakeStats],
    min_rate: f64,
    now: i64,
) -> String {
    let expires = crate::config::quarantine::day(now + QUARANTINE_DAYS * 86_400);
    let mut out = format!(
        "# Proposed by `trellis flakes --propose-quarantine`: flaky tests whose flake rate\n\
         # is above {:.0}% even at the low end of its 95% interval. Add an issue link to each.\nquarantine:\n",
        min_rate * 100.0
    );
    let mut any = false;
    for s in table
        .iter()
        .filter(|s| s.class == Class::Flaky && s.flake_rate_low > min_rate)
        // The Overall and Pod rows and suite nodes are builds and setup, not tests to
        // quarantine.
        .filter(|s| crate::model::is_test_row(&s.test))
    {
        any = true;
        out.push_str(&format!(
            "  - test: {}\n    owner: {}\n    reason: {}\n    expires: {expires}\n",
            yaml_quote(&s.test),
            owner_of(&s.test),
            // No `job:` — the evidence is the base job's, and the entry is for the
            // pre-submit jobs that run the same test.
            yaml_quote(&format!(
                "flakes in {} in {:.1}% of {} runs (95% {:.1}-{:.1}%), {} same-commit disagreements",
                s.job,
                s.flake_rate * 100.0,
                s.runs,
                s.flake_rate_low * 100.0,
                s.flake_rate_high * 100.0,
                s.same_commit_flakes
            )),
        ));
    }
    if !any {
        out.push_str("  []\n");
        out = out.replace("quarantine:\n  []\n", "quarantine: []\n");
    }
    out
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let config = args.window.config()?;
    let window = args.window.window(&config);
    let grids = window::grids(db, args.job.clone().map(|j| vec![j]), window.span())?;
    let mut table: Vec<_> = analysis::flake_table(&config, &grids, 2)
        .into_values()
        .flatten()
        .filter(|s| args.all || s.class != Class::Passing)
        .collect();
    table.sort_by(|a, b| {
        rank(a.class)
            .cmp(&rank(b.class))
            .then_with(|| b.flake_rate.total_cmp(&a.flake_rate))
            .then_with(|| (&a.job, &a.test).cmp(&(&b.job, &b.test)))
    });
    // Columns where most tests failed at once say nothing about any one test: they
    // are out of every rate, and said so.
    let outages: Vec<serde_json::Value> = grids
        .iter()
        .flat_map(|g| {
            analysis::flakes::outage_builds(g)
                .into_iter()
                .map(|build| serde_json::json!({ "job": g.job, "build": build }))
        })
        .collect();
    if args.propose_quarantine {
        print!(
            "{}",
            propose_quarantine(&table, args.min_rate, args.window.now())
        );
        return Ok(exit::OK);
    }
    if args.window.json {
        return super::print_json(&serde_json::json!({
            "window": window,
            "outages": outages,
            "tests": table,
        }));
    }
    println!("{}", window.describe());
    if !outages.is_empty() {
        let builds: Vec<String> = outages
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["job"].as_str().unwrap_or(""),
                    o["build"].as_str().unwrap_or("")
                )
            })
            .collect();
        println!(
            "{} outage column(s), where most tests failed at once, left out of every rate: {}",
            builds.len(),
            builds.join(", ")
        );
    }
    if table.is_empty() {
        println!("no failing or flaky tests in the window");
        return Ok(exit::OK);
    }
    println!(
        "{:<8} {:>6} {:>8} {:>15} {:>6} {:>5}  job / test",
        "class", "runs", "flake%", "95% CI", "flip%", "same"
    );
    for s in &table {
        let class = match s.class {
            Class::Failing => "failing",
            Class::Flaky => "flaky",
            Class::Passing => "passing",
        };
        println!(
            "{class:<8} {:>6} {:>8} {:>15} {:>6} {:>5}  {} / {}",
            s.runs,
            window::percent(s.flake_rate),
            format!(
                "{}–{}",
                window::percent(s.flake_rate_low),
                window::percent(s.flake_rate_high)
            ),
            s.flip_flakiness
                .map_or_else(|| "-".to_string(), |f| format!("{f:.1}")),
            s.same_commit_flakes,
            crate::printable::line(&s.job),
            crate::printable::line(&s.test)
        );
        if let Some(first) = &s.first_fail {
            let from = s
                .last_pass
                .as_ref()
                .map(window::at)
                .unwrap_or_else(|| "(no pass in window)".into());
            println!("{:>55}bisect: {from} .. {}", "", window::at(first));
        }
        if let Some(p) = s.priority {
            println!("{:>55}priority: {}", "", super::status::priority_name(p));
        }
    }
    Ok(exit::OK)
}

fn rank(c: Class) -> u8 {
    match c {
        Class::Failing => 0,
        Class::Flaky => 1,
        Class::Passing => 2,
    }
}
