//! `trellis simulate`: synthetic CI history with a ground-truth file.

use super::failure::Failure;
use crate::config;
use crate::exit;
use crate::simulate::{self, SimOptions};
use crate::store::{InsertOutcome, Store};
use std::path::PathBuf;

/// Write synthetic CI history: N jobs × M builds × K tests with injected flaky tests,
/// breakages and fixes at known builds and commits, retries (FLAKY cells) and infra
/// outages, plus ground-truth.json saying what was injected where.
///
/// With --out DIR the builds are written in Prow layout (DIR/logs/<job>/<build>/) for
/// `trellis ingest DIR`; with --store they go straight into the store (--db), which is
/// how large histories are made for benchmarks.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write Prow-layout builds and ground-truth.json into.
    #[arg(long, value_name = "DIR", required_unless_present = "store")]
    out: Option<PathBuf>,
    /// Write the builds into the store (--db) instead of files.
    #[arg(long)]
    store: bool,
    /// Where ground-truth.json goes with --store (default: beside the store).
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Number of jobs: named sim-job-NN [default: 3], or the first N test groups of
    /// --jobs-from [default: all of them].
    #[arg(long)]
    jobs: Option<usize>,
    /// Take job names from the test groups of a TestGrid dashboards directory.
    #[arg(long, value_name = "DIR")]
    jobs_from: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    builds: usize,
    #[arg(long, default_value_t = 200)]
    tests: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of tests that are flaky.
    #[arg(long, default_value_t = 0.05)]
    flaky_share: f64,
    /// Range a flaky test's per-run failure probability is drawn from, uniformly
    /// (`0.01:0.5` makes high-rate flakes, whose failures streak by chance).
    #[arg(long, default_value = "0.02:0.30", value_name = "LOW:HIGH", value_parser = parse_range)]
    flaky_rates: (f64, f64),
    /// Share of tests that break at some build.
    #[arg(long, default_value_t = 0.01)]
    broken_share: f64,
    /// Probability that a build is an infra outage.
    #[arg(long, default_value_t = 0.02)]
    outage_probability: f64,
    /// Hours between builds of a job.
    #[arg(long, default_value_t = 2.0)]
    interval_hours: f64,
    /// PR builds per job, in a pre-submit job pull-<job>, each a known scenario (clean,
    /// regression, a flaky test broken, hit by a known flake, outage) for `trellis gate`.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pr_builds: usize,
    /// Attempts per test in a PR build (as Ginkgo's --flake-attempts).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pr_attempts: u32,
}

/// Cells a simulation may write: about 10 GB of Prow files, beyond any test's need.
const MAX_CELLS: usize = 50_000_000;

fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("`{text}` is not LOW:HIGH with 0 <= LOW <= HIGH <= 1, e.g. 0.01:0.5");
    let (lo, hi) = text.split_once(':').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (
        lo.parse().map_err(|_| bad())?,
        hi.parse().map_err(|_| bad())?,
    );
    if (0.0..=hi).contains(&lo) && hi <= 1.0 {
        Ok((lo, hi))
    } else {
        Err(bad())
    }
}

/// Refuses options that cannot describe a history, naming the flag.
fn check(args: &Args, jobs: usize) -> Result<(), Failure> {
    let bad = |flag: &str, why: String| {
        Err(Failure::message(
            exit::USAGE,
            format!("--{flag}: {why}"),
            format!("pass a valid --{flag} (see trellis simulate --help)"),
        ))
    };
    for (flag, share) in [
        ("flaky-share", args.flaky_share),
        ("broken-share", args.broken_share),
        ("outage-probability", args.outage_probability),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return bad(flag, format!("{share} is not a share between 0 and 1"));
        }
    }
    if !(args.interval_hours > 0.0 && args.interval_hours <= 24.0 * 365.0) {
        return bad(
            "interval-hours",
            format!(
                "{} is not between 0 (excluded) and a year",
                args.interval_hours
            ),
        );
    }
    for (flag, n) in [
        ("jobs", jobs),
        ("builds", args.builds),
        ("tests", args.tests),
    ] {
        if n == 0 {
            return bad(flag, "must be at least 1".into());
        }
    }
    let cells = jobs.saturating_mul(args.builds).saturating_mul(args.tests);
    if cells > MAX_CELLS {
        return bad(
            "builds",
            format!(
                "{jobs} jobs × {} builds × {} tests is {cells} cells, over {MAX_CELLS}",
                args.builds, args.tests
            ),
        );
    }
    Ok(())
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let jobs: Vec<String> = match &args.jobs_from {
        Some(dir) => {
            let groups = config::load_dir(dir)?.test_groups;
            if groups.is_empty() {
                return Err(Failure::message(
                    exit::USAGE,
                    format!(
                        "--jobs-from {}: no test_groups to take job names from",
                        dir.display()
                    ),
                    "point --jobs-from at TestGrid YAML that has test_groups",
                ));
            }
            let n = args.jobs.unwrap_or(groups.len());
            groups.into_iter().map(|g| g.name).take(n).collect()
        }
        None => (1..=args.jobs.unwrap_or(3))
            .map(|i| format!("sim-job-{i:02}"))
            .collect(),
    };
    check(&args, args.jobs.unwrap_or(jobs.len()))?;
    let mut opts = SimOptions::new(
        jobs,
        args.builds,
        args.tests,
        chrono::Utc::now().timestamp(),
    );
    opts.seed = args.seed;
    opts.flaky_share = args.flaky_share;
    opts.flaky_probability = args.flaky_rates;
    opts.broken_share = args.broken_share;
    opts.outage_probability = args.outage_probability;
    opts.interval = (args.interval_hours * 3600.0) as i64;
    opts.pr_builds = args.pr_builds;
    opts.pr_attempts = args.pr_attempts.clamp(1, 20);
    let (truth, truth_path) = if args.store {
        let mut store = Store::open(db)?;
        let mut stored = 0usize;
        let truth = simulate::simulate(&opts, |b| {
            if let InsertOutcome::Inserted { .. } = store.insert_build(&b)? {
                stored += 1;
            }
            Ok::<(), crate::store::StoreError>(())
        });
        match truth {
            Ok(t) => {
                println!("stored {stored} simulated builds in {}", db);
                (
                    t,
                    args.truth
                        .clone()
                        .unwrap_or_else(|| match db.sqlite_path() {
                            Some(path) => path.with_extension("truth.json"),
                            None => PathBuf::from("simulated.truth.json"),
                        }),
                )
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        let out = args.out.clone().unwrap_or_default();
        let truth = simulate::simulate(&opts, |b| simulate::write_build(&out, &b));
        match truth {
            Ok(t) => {
                println!(
                    "wrote {} builds under {}",
                    opts.jobs.len() * (opts.builds + opts.pr_builds),
                    out.join("logs").display()
                );
                (t, out.join("ground-truth.json"))
            }
            Err(e) => {
                return Err(Failure::message(
                    exit::FAILURE,
                    format!("{}: {e}", out.display()),
                    "check that --out is writable",
                ))
            }
        }
    };
    let text = serde_json::to_string_pretty(&truth).map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("cannot encode the ground truth: {e}"),
            "this is a bug in trellis; please report it",
        )
    })?;
    std::fs::write(&truth_path, text).map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("{}: {e}", truth_path.display()),
            "check that the ground truth's directory is writable",
        )
    })?;
    // The simulated jobs' dashboards go beside the output, never into a directory
    // real jobs are judged by.
    let config_dir = truth_path.with_file_name(match args.store {
        true => format!(
            "{}.dashboards",
            db.sqlite_path()
                .and_then(|p| p.file_stem())
                .map_or("sim".into(), |s| s.to_string_lossy())
        ),
        false => "dashboards".to_string(),
    });
    simulate::dashboards::write(&config_dir, &opts.jobs).map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("{}: {e}", config_dir.display()),
            "check that the output directory is writable",
        )
    })?;
    println!(
        "dashboards for these jobs in {} (pass --dashboards {} to status, flakes, report)",
        config_dir.display(),
        config_dir.display()
    );
    let count = |k: &str| truth.tests.iter().filter(|t| t.kind == k).count();
    println!(
        "ground truth in {}: {} flaky, {} broken, {} fixed tests; {} outage builds",
        truth_path.display(),
        count("flaky"),
        count("broken"),
        count("fixed"),
        truth.outages.len()
    );
    if !truth.prs.is_empty() {
        println!(
            "{} PR builds in {} (their truth under `prs`)",
            truth.prs.len(),
            opts.jobs
                .iter()
                .map(|j| simulate::presubmit::pr_job(j))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(exit::OK)
}
