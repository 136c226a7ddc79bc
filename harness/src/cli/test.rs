//! `trellis test`: run libtest-compatible binaries the way cargo-nextest does.

use super::failure::{code, Failure};
use crate::exit;
use crate::prow;
use crate::reporter::junit::Junit;
use crate::reporter::store::store_build_dir;
use crate::reporter::terminal::Terminal;
use crate::reporter::{self, EventKind, Reporter};
use crate::runner::{self, Partition, RunOptions, TestOutcome};
use std::path::PathBuf;
use std::time::Duration;

/// Run the tests of libtest-compatible binaries (libtest-mimic suites, `cargo test`
/// executables) nextest-style: each test in its own process, in parallel, with a
/// deadline and retries (a pass after a failure is FLAKY), optional sharding and
/// fail-fast, and a JUnit report with flakyFailure/rerunFailure elements.
///
/// Suites reach the cluster through KUBECONFIG, which is passed through. Exit code 0
/// when every test passed (flaky ones included), 7 when any failed, 4 when there was
/// no test to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Test binaries.
    #[arg(required = true, value_name = "BINARY")]
    binaries: Vec<PathBuf>,
    /// Tests run at once (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Deadline for one attempt of one test, in seconds (over 0, at most a week).
    #[arg(long, default_value_t = 300.0, value_name = "SECS", value_parser = super::seconds)]
    timeout: f64,
    /// Extra attempts after a failure.
    #[arg(long, default_value_t = 0, value_name = "N")]
    retries: u32,
    /// Run one shard: K/N (or count:K/N) takes every N-th test from the K-th.
    #[arg(long, value_name = "K/N")]
    partition: Option<String>,
    /// Stop starting tests after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Run only the ignored tests (`#[ignore]`), as nextest --run-ignored only.
    #[arg(long)]
    ignored: bool,
    /// Only tests whose name contains this.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Write a JUnit report here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Leave the run as a Prow build directory here (started.json, finished.json,
    /// artifacts/junit_01.xml) and ingest it into the store as --job.
    #[arg(long, value_name = "DIR")]
    build_dir: Option<PathBuf>,
    /// Job name the run is stored under (with --build-dir).
    #[arg(long, default_value = "trellis-test", value_name = "NAME")]
    job: String,
    /// Skip the tests listed (unexpired, for --job or every job) in this quarantine
    /// file (`trellis gate --quarantine`'s format); they are reported skipped with the
    /// entry's owner and reason. An entry names the test or its row (`suite.test`).
    #[arg(long, value_name = "FILE")]
    skip_quarantined: Option<PathBuf>,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let started = chrono::Utc::now().timestamp();
    let mut cases = Vec::new();
    for b in &args.binaries {
        cases.append(&mut runner::list_tests(b, args.ignored)?);
    }
    if let Some(f) = &args.filter {
        cases.retain(|c| c.name.contains(f.as_str()));
    }
    if let Some(p) = &args.partition {
        cases = Partition::parse(p)
            .map_err(code(exit::USAGE))?
            .select(cases);
    }
    let skip = match &args.skip_quarantined {
        Some(path) => quarantined(path, &args.job, &cases, started)?,
        None => Default::default(),
    };
    if cases.is_empty() {
        // A run of nothing passing would hide a typo'd filter or an empty binary.
        return Err(Failure::message(
            exit::NOT_FOUND,
            "no tests to run: the binaries list none, or --filter/--partition/--ignored left none",
            "run BINARY --list to see its tests, then check --filter",
        ));
    }
    let opts = RunOptions {
        jobs: args.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |j| j as usize,
        ),
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        fail_fast: args.fail_fast,
        output_dir: None,
        env: Vec::new(),
        interrupt: None,
        skip: std::sync::Arc::new(skip),
    };
    let mut sinks: Vec<Box<dyn reporter::Sink>> = vec![Box::new(Terminal::progress())];
    if let Some(path) = &args.junit {
        sinks.push(Box::new(Junit::to_file(path.clone())));
    }
    let build = args.build_dir.as_ref().map(|d| d.join(started.to_string()));
    if let Some(build) = &build {
        sinks.push(Box::new(Junit::to_file(
            build.join("artifacts/junit_01.xml"),
        )));
    }
    let reporter = Reporter::new(sinks);
    let mut sink_error = None;
    let report = runner::run(cases, &opts, |e| {
        if let Err(e) = reporter.report(EventKind::Test(e)) {
            sink_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = sink_error {
        return Err(e.into());
    }
    let (p, k, f, s) = (
        report.count(TestOutcome::Passed),
        report.count(TestOutcome::Flaky),
        report.count(TestOutcome::Failed),
        report.count(TestOutcome::Skipped),
    );
    println!(
        "{} tests run in {:.2} s: {p} passed, {k} flaky, {f} failed, {s} skipped",
        p + k + f,
        report.elapsed.as_secs_f64()
    );
    if let Some(build) = &build {
        let finished = started + report.elapsed.as_secs() as i64;
        let rerun = runner::RerunSpec {
            // Absolute, so `trellis gate --retry` finds them from anywhere.
            binaries: args
                .binaries
                .iter()
                .map(|b| std::path::absolute(b).unwrap_or_else(|_| b.clone()))
                .collect(),
            ignored: args.ignored,
            timeout: opts.timeout,
            // The tests reach a cluster, if any, through the KUBECONFIG passed
            // through: the re-run passes the gate's own through the same way.
            kubeconfig: None,
            context: None,
        };
        store_run(build, &args.job, started, finished, f == 0, &rerun, db)?;
    }
    Ok(if f > 0 { exit::TESTS_FAILED } else { exit::OK })
}

/// Completes the Prow build directory (its JUnit is written) and ingests it.
fn store_run(
    build: &std::path::Path,
    job: &str,
    started: i64,
    finished: i64,
    passed: bool,
    rerun: &runner::RerunSpec,
    db: &crate::store::Location,
) -> Result<(), Failure> {
    let started = prow::Started {
        timestamp: started,
        ..Default::default()
    };
    let finished = prow::Finished {
        timestamp: Some(finished),
        passed: Some(passed),
        result: Some(if passed {
            prow::ProwResult::Success
        } else {
            prow::ProwResult::Failure
        }),
        metadata: [(runner::RERUN_METADATA_KEY.to_string(), rerun.to_metadata())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    write_metadata(&build.join("started.json"), &started)?;
    write_metadata(&build.join("finished.json"), &finished)?;
    let stored = store_build_dir(build, job, finished.timestamp.unwrap_or_default(), db)?;
    super::print_stored(&stored, build);
    Ok(())
}

fn write_metadata(path: &std::path::Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    prow::write(path, value).map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("{}: {e}", path.display()),
            "check that --build-dir is writable",
        )
    })
}

/// The listed tests a quarantine file covers today, with the reason each is skipped;
/// expired entries are warned about and skip nothing.
fn quarantined(
    path: &std::path::Path,
    job: &str,
    cases: &[runner::TestCase],
    now: i64,
) -> Result<std::collections::HashMap<String, String>, Failure> {
    let applied = super::run::load_quarantine(path, job, now)?;
    Ok(cases
        .iter()
        .filter_map(|c| Some((c.name.clone(), applied.skip_reason(&c.name)?)))
        .collect())
}
