//! Command-line parsing and dispatch. One module per subcommand; no logic lives here
//! beyond turning arguments into calls and results into output and exit codes.

mod bench;
mod certify;
mod cluster;
mod failure;
mod flakes;
mod ingest;
mod regressions;
mod report;
mod run;
mod runs;
mod show;
mod simulate;
mod status;
mod test;
mod triage;
mod verify_submission;
mod window;

use crate::exit;
use crate::store::{Store, StoreError};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// trellis — Kubernetes conformance, CI-signal and flake-triage harness.
///
/// Ingests CI artifacts (JUnit, Prow builds, Sonobuoy and Hydrophone output, CNCF
/// conformance submissions) into an embedded store and shows what was stored; checks
/// and builds CNCF conformance submissions.
///
/// Exit codes: 0 ok; 1 failure; 2 usage; 3 some inputs rejected; 4 not found;
/// 5 submission rejected; 6 release blocked; 7 tests failed; 130/143 interrupted by
/// SIGINT/SIGTERM (after tearing down).
#[derive(Debug, Parser)]
#[command(name = "trellis", version, propagate_version = true)]
pub struct Cli {
    /// The results store (SQLite file). Default: $XDG_DATA_HOME/trellis/trellis.db.
    #[arg(long, global = true, env = "TRELLIS_DB", value_name = "PATH")]
    db: Option<PathBuf>,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Ingest(ingest::Args),
    Runs(runs::Args),
    Show(show::Args),
    Status(status::Args),
    Flakes(flakes::Args),
    Regressions(regressions::Args),
    Triage(triage::Args),
    Report(report::Args),
    Test(test::Args),
    Run(Box<run::Args>),
    Up(cluster::UpArgs),
    Down(cluster::DownArgs),
    Janitor(cluster::JanitorArgs),
    Preflight(cluster::PreflightArgs),
    Simulate(simulate::Args),
    VerifySubmission(verify_submission::Args),
    Certify(certify::Args),
    Bench(bench::Args),
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    init_tracing(cli.verbose);
    let db = cli.db.clone().unwrap_or_else(crate::store::default_path);
    let result = match cli.command {
        Command::Run(args) => run::run(*args, &db),
        Command::Test(args) => test::run(args, &db),
        command => Ok(dispatch(command, &db)),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("{}", failure.render());
            failure.code
        }
    }
}

fn dispatch(command: Command, db: &std::path::Path) -> i32 {
    match command {
        Command::Ingest(args) => ingest::run(args, db),
        Command::Runs(args) => runs::run(args, db),
        Command::Show(args) => show::run(args, db),
        Command::Status(args) => status::run(args, db),
        Command::Flakes(args) => flakes::run(args, db),
        Command::Regressions(args) => regressions::run(args, db),
        Command::Triage(args) => triage::run(args, db),
        Command::Report(args) => report::run(args, db),
        Command::Test(_) | Command::Run(_) => unreachable!("dispatched above"),
        Command::Up(args) => cluster::up(args),
        Command::Down(args) => cluster::down(args),
        Command::Janitor(args) => cluster::janitor(args),
        Command::Preflight(args) => cluster::preflight(args),
        Command::Simulate(args) => simulate::run(args, db),
        Command::VerifySubmission(args) => verify_submission::run(args),
        Command::Certify(args) => certify::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Opens the store, or prints why not.
fn open_store(db: &std::path::Path) -> Result<Store, i32> {
    Store::open(db).map_err(|e| report_store_error(&e))
}

fn report_store_error(e: &StoreError) -> i32 {
    eprintln!("error: {e}\n  hint: {}", e.hint());
    exit::FAILURE
}

/// Prints `value` as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> i32 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            exit::OK
        }
        Err(e) => {
            eprintln!("error: cannot encode JSON: {e}");
            exit::FAILURE
        }
    }
}

/// Unix seconds as `2024-07-01 13:11 UTC`, or `-`.
fn format_time(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
