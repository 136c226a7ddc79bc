//! `trellis test`: run libtest-compatible binaries the way cargo-nextest does.

use crate::exit;
use crate::runner::{self, Event, Partition, RunOptions, TestOutcome};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Run the tests of libtest-compatible binaries (libtest-mimic suites, `cargo test`
/// executables) nextest-style: each test in its own process, in parallel, with a
/// deadline and retries (a pass after a failure is FLAKY), optional sharding and
/// fail-fast, and a JUnit report with flakyFailure/rerunFailure elements.
///
/// Suites reach the cluster through KUBECONFIG, which is passed through. Exit code 0
/// when every test passed (flaky ones included), 7 when any failed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Test binaries.
    #[arg(required = true, value_name = "BINARY")]
    binaries: Vec<PathBuf>,
    /// Tests run at once (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Deadline for one attempt of one test, in seconds.
    #[arg(long, default_value_t = 300.0, value_name = "SECS")]
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
}

pub fn run(args: Args, db: &std::path::Path) -> i32 {
    let started = chrono::Utc::now().timestamp();
    let mut cases = Vec::new();
    for b in &args.binaries {
        match runner::list_tests(b, args.ignored) {
            Ok(mut t) => cases.append(&mut t),
            Err(e) => {
                eprintln!("error: {e}\n  hint: {}", e.hint());
                return exit::FAILURE;
            }
        }
    }
    if let Some(f) = &args.filter {
        cases.retain(|c| c.name.contains(f.as_str()));
    }
    if let Some(p) = &args.partition {
        match Partition::parse(p) {
            Ok(p) => cases = p.select(cases),
            Err(e) => {
                eprintln!("error: {e}\n  hint: {}", e.hint());
                return exit::USAGE;
            }
        }
    }
    let opts = RunOptions {
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        retries: args.retries,
        fail_fast: args.fail_fast,
        output_dir: None,
        env: Vec::new(),
        interrupt: None,
    };
    let mut progress = Progress::new();
    let report = match runner::run(cases, &opts, |e| progress.on(e)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            return exit::FAILURE;
        }
    };
    progress.finish();
    for t in report
        .tests
        .iter()
        .filter(|t| t.outcome == TestOutcome::Failed)
    {
        if let Some(last) = t.attempts.last() {
            eprintln!(
                "--- {} ({} attempt(s)) ---\n{}",
                t.case.name,
                t.attempts.len(),
                last.output.trim_end()
            );
        }
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
    if let Some(path) = &args.junit {
        if let Err(e) = runner::write_junit(&report, path) {
            eprintln!(
                "error: {}: {e}\n  hint: check that the JUnit path is writable",
                path.display()
            );
            return exit::FAILURE;
        }
    }
    if let Some(dir) = &args.build_dir {
        if let Err(code) = store_run(&report, dir, &args.job, started, f == 0, db) {
            return code;
        }
    }
    if f > 0 {
        exit::TESTS_FAILED
    } else {
        exit::OK
    }
}

/// Writes the run in Prow layout under `dir/<build id>` and ingests it.
fn store_run(
    report: &runner::RunReport,
    dir: &std::path::Path,
    job: &str,
    started: i64,
    passed: bool,
    db: &std::path::Path,
) -> Result<(), i32> {
    let build = dir.join(started.to_string());
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("error: {what}: {e}\n  hint: check that --build-dir is writable");
        exit::FAILURE
    };
    runner::write_junit(report, &build.join("artifacts/junit_01.xml"))
        .map_err(|e| fail("writing JUnit", &e))?;
    let finished = started + report.elapsed.as_secs() as i64;
    let write = |name: &str, value: serde_json::Value| {
        std::fs::write(build.join(name), value.to_string()).map_err(|e| fail(name, &e))
    };
    write("started.json", serde_json::json!({ "timestamp": started }))?;
    write(
        "finished.json",
        serde_json::json!({ "timestamp": finished, "passed": passed, "result": if passed { "SUCCESS" } else { "FAILURE" } }),
    )?;
    super::store_build_dir(&build, job, finished, db)
}

/// A progress bar on a terminal, one line per finished test otherwise.
struct Progress {
    tty: bool,
    total: usize,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            total: 0,
        }
    }

    fn on(&mut self, e: &Event) {
        let mut err = std::io::stderr().lock();
        match e {
            Event::Started { total } => {
                self.total = *total;
                let _ = writeln!(err, "running {total} tests");
            }
            Event::AttemptFailed {
                name,
                attempt,
                will_retry: true,
            } => {
                if !self.tty {
                    let _ = writeln!(err, "RETRY  attempt {attempt} of {name} failed");
                }
            }
            Event::AttemptFailed { .. } => {}
            Event::TestFinished {
                name,
                outcome,
                duration,
                done,
                total,
            } => {
                let word = outcome.word();
                if self.tty {
                    let width = 30;
                    let filled = done * width / (*total).max(1);
                    let _ = write!(
                        err,
                        "\r[{}{}] {done}/{total} {word:<5} {}\x1b[K",
                        "=".repeat(filled),
                        " ".repeat(width - filled),
                        name.chars().take(60).collect::<String>()
                    );
                } else if *outcome != TestOutcome::Passed {
                    let _ = writeln!(err, "{word:<5} [{:>8.3}s] {name}", duration.as_secs_f64());
                }
            }
        }
    }

    fn finish(&self) {
        if self.tty && self.total > 0 {
            eprintln!();
        }
    }
}
