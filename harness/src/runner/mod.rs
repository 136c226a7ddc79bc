//! A nextest-style runner for libtest-compatible test binaries (libtest-mimic suites,
//! `cargo test` executables): list the tests, run each in its own process in parallel
//! with a deadline, retry failures (a pass after a failure is FLAKY), shard with
//! `--partition`, stop early with `--fail-fast`, and write JUnit with Surefire's
//! `flakyFailure`/`rerunFailure` elements.
//!
//! Lifecycle steps are [`TestEvent`]s, sent as they happen; the reporter's sinks
//! (terminal, build log, JUnit) consume them.

mod exec;
mod junit;
mod list;
mod rerun;

pub use exec::{
    run, skip_reason, Attempt, RunOptions, RunReport, TestEvent, TestOutcome, TestRun, SKIP_MARKER,
};
pub use junit::write_junit;
pub use list::{list_tests, Partition, TestCase};
pub use rerun::{RerunSpec, Retried, METADATA_KEY as RERUN_METADATA_KEY};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{binary}: cannot run: {source}")]
    Spawn {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{binary}: `--list --format terse` failed: {stderr}")]
    List { binary: String, stderr: String },
    #[error("`{0}` is not a partition like 1/3 or count:1/3")]
    Partition(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RunnerError {
    pub fn hint(&self) -> &'static str {
        match self {
            RunnerError::Spawn { .. } => {
                "pass the path of a built test binary (cargo test --no-run prints them)"
            }
            RunnerError::List { .. } => {
                "the binary must accept libtest's arguments (libtest or libtest-mimic)"
            }
            RunnerError::Partition(_) => "write K/N with 1 <= K <= N, e.g. --partition 2/4",
            RunnerError::Io { .. } => "check that the output directory is writable",
        }
    }
}
