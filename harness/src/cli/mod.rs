//! Command-line parsing and dispatch. One module per subcommand; no logic lives here
//! beyond turning arguments into calls and results into output and exit codes.

mod bench;
mod certify;
mod cluster;
mod failure;
mod flakes;
mod gate;
mod gate_output;
mod ingest;
mod perf_check;
mod regressions;
mod report;
mod results;
mod run;
mod run_config;
mod runs;
mod show;
mod simulate;
mod status;
mod store;
mod test;
mod triage;
mod verify_submission;
mod window;

use crate::exit;
use crate::store::Store;
use clap::{Parser, Subcommand};
use failure::Failure;
use std::path::PathBuf;

/// trellis — Kubernetes conformance, CI-signal and flake-triage harness.
///
/// Ingests CI artifacts (JUnit, Prow builds, Sonobuoy and Hydrophone output, CNCF
/// conformance submissions) into a store (embedded SQLite, or a PostgreSQL server)
/// and shows what was stored; checks and builds CNCF conformance submissions.
///
/// Exit codes: 0 ok; 1 failure; 2 usage; 3 some inputs rejected; 4 not found;
/// 5 submission rejected; 6 release blocked; 7 tests failed; 8 gate blocked (a new
/// failure); 130/143 interrupted by
/// SIGINT/SIGTERM (after tearing down).
#[derive(Debug, Parser)]
#[command(name = "trellis", version, propagate_version = true)]
pub struct Cli {
    /// The results store: an SQLite file (a path or sqlite:PATH), or a PostgreSQL
    /// database (postgres://USER@HOST:PORT/DB[?sslmode=…]; the password from the URL,
    /// PGPASSWORD or ~/.pgpass). Default: $XDG_DATA_HOME/trellis/trellis.db.
    #[arg(long, global = true, env = "TRELLIS_DB", value_name = "PATH|URL")]
    db: Option<std::ffi::OsString>,

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
    Gate(gate::Args),
    Report(report::Args),
    Test(test::Args),
    Run(Box<run::Args>),
    Up(cluster::UpArgs),
    Down(cluster::DownArgs),
    Janitor(cluster::JanitorArgs),
    Preflight(cluster::PreflightArgs),
    Simulate(simulate::Args),
    Results(results::Args),
    VerifySubmission(verify_submission::Args),
    Certify(certify::Args),
    Bench(bench::Args),
    Store(store::Args),
}

impl Command {
    /// Commands that only read the store.
    fn reads_store_only(&self) -> bool {
        matches!(
            self,
            Command::Runs(_)
                | Command::Show(_)
                | Command::Status(_)
                | Command::Flakes(_)
                | Command::Regressions(_)
                | Command::Triage(_)
                | Command::Report(_)
        )
    }
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    let argv = match run_config::expand(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(failure) => {
            eprintln!("{}", failure.render());
            return failure.code;
        }
    };
    let cli = match Cli::try_parse_from(argv) {
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
    sigpipe_for(&cli.command);
    let db = match &cli.db {
        Some(value) => match crate::store::Location::parse(value) {
            Ok(at) => at,
            Err(e) => {
                let failure = Failure::from(e);
                eprintln!("{}", failure.render());
                return failure.code;
            }
        },
        None => crate::store::Location::Sqlite(crate::store::default_path()),
    };
    let result = match read_only_store(&cli.command, &db) {
        Err(failure) => Err(failure),
        Ok(()) => dispatch(cli.command, &db),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            // The one place an error reaches the user.
            eprintln!("{}", failure.render());
            failure.code
        }
    }
}

/// Rust starts with SIGPIPE ignored, which turns `trellis runs | head` into a panic on
/// the next write to stdout. The commands that print a listing restore the default so
/// they stop quietly like any Unix filter. The others keep it ignored: they hold TLS
/// connections (rustls writes with `writev`, which raises SIGPIPE when the peer is
/// gone) and child processes, and an API server killed mid-run must be an error they
/// report, not a signal that kills trellis.
fn sigpipe_for(command: &Command) {
    let prints_a_listing = matches!(command, Command::Results(_))
        || (command.reads_store_only() && !matches!(command, Command::Report(_)));
    #[cfg(unix)]
    if prints_a_listing {
        // SAFETY: called once, before this process starts any thread; SIG_DFL is a
        // valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

/// Commands that only read the store must not create one where a mistyped --db
/// points: they fail with NOT_FOUND instead.
fn read_only_store(command: &Command, db: &crate::store::Location) -> Result<(), Failure> {
    if command.reads_store_only() && !db.may_exist() {
        return Err(Failure::message(
            exit::NOT_FOUND,
            format!("no store at {db}"),
            "store something first (trellis ingest, trellis run), or point --db or TRELLIS_DB at an existing store",
        ));
    }
    Ok(())
}

fn dispatch(command: Command, db: &crate::store::Location) -> Result<i32, Failure> {
    match command {
        Command::Ingest(args) => ingest::run(args, db),
        Command::Runs(args) => runs::run(args, db),
        Command::Show(args) => show::run(args, db),
        Command::Status(args) => status::run(args, db),
        Command::Flakes(args) => flakes::run(args, db),
        Command::Regressions(args) => regressions::run(args, db),
        Command::Triage(args) => triage::run(args, db),
        Command::Gate(args) => gate::run(args, db),
        Command::Report(args) => report::run(args, db),
        Command::Test(args) => test::run(args, db),
        Command::Run(args) => run::run(*args, db),
        Command::Up(args) => cluster::up(args),
        Command::Down(args) => cluster::down(args),
        Command::Janitor(args) => cluster::janitor(args),
        Command::Preflight(args) => cluster::preflight(args),
        Command::Simulate(args) => simulate::run(args, db),
        Command::Results(args) => results::run(args),
        Command::VerifySubmission(args) => verify_submission::run(args),
        Command::Certify(args) => certify::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Store(args) => store::run(args),
    }
}

fn init_tracing(verbose: u8) {
    // trellis's own logs at the level asked for; its libraries' (kube, hyper,
    // rustls) only from -vvv on, where they stop being noise.
    let default = match verbose {
        0 => "warn",
        1 => "warn,trellis=info",
        2 => "warn,trellis=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Opens the store.
fn open_store(db: &crate::store::Location) -> Result<Store, Failure> {
    Ok(Store::open(db)?)
}

/// Says what a run stored, from which build directory.
fn print_stored(stored: &[crate::reporter::store::Stored], build_dir: &std::path::Path) {
    for s in stored {
        eprintln!(
            "stored {}/{} ({} cells) from {}",
            s.job,
            s.build,
            s.cells,
            build_dir.display()
        );
    }
}

/// Prints `value` as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> Result<i32, Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("cannot encode JSON: {e}"),
            "this is a bug in trellis; please report it with the command line",
        )
    })?;
    println!("{text}");
    Ok(exit::OK)
}

/// Unix seconds as `2024-07-01 13:11 UTC`, or `-`.
fn format_time(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// `--timeout`-style seconds: a finite number over 0, at most a week (`inf`, `nan`,
/// `-5` and `1e30` are refused by name instead of panicking or meaning nothing).
pub(crate) fn seconds(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 7.0 * 86_400.0 {
        Ok(v)
    } else {
        Err(format!(
            "`{text}` must be over 0 and at most 604800 (a week)"
        ))
    }
}

/// Hours: a finite number from 0 to ten years.
pub(crate) fn hours(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of hours"))?;
    if v.is_finite() && (0.0..=87_600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{text}` must be from 0 to 87600 (ten years)"))
    }
}

/// A directory trellis ships (`suites`, `kind-configs`): the one given, else
/// `./NAME` when the working directory has it, else the one in the checkout trellis
/// was built from, so `trellis run` works from anywhere. Falls back to `./NAME`, which
/// the error for a missing file then names.
pub(crate) fn shipped_dir(given: Option<&std::path::Path>, name: &str) -> PathBuf {
    if let Some(dir) = given {
        return dir.to_path_buf();
    }
    let here = PathBuf::from(name);
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|root| root.join(name));
    match checkout {
        Some(dir) if !here.is_dir() && dir.is_dir() => dir,
        _ => here,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Flags of other programs (cargo, libtest, kubectl, k8s/build.sh) that hints quote on
    /// purpose.
    const OTHER_PROGRAMS_FLAGS: &[&str] = &[
        "kubeconfig",
        "no-e2e",
        "node-binaries",
        "no-run",
        "workspace",
        "locked",
        "list",
    ];

    fn long_flags(cmd: &clap::Command, flags: &mut BTreeSet<String>) {
        // clap's own, on every command.
        flags.insert("help".to_string());
        flags.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string)),
        );
        for sub in cmd.get_subcommands() {
            long_flags(sub, flags);
        }
    }

    /// The text of every hint: `fn hint` bodies, and the hint argument of each
    /// `Failure::message` (its last lines).
    fn hint_texts(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                hint_texts(&path, out);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let name = path.display().to_string();
            for (at, _) in text.match_indices("fn hint(") {
                let body = &text[at..];
                let end = body.find("\n    }\n").unwrap_or(body.len());
                out.push((name.clone(), body[..end].to_string()));
            }
            for (at, _) in text.match_indices("Failure::message(") {
                let call = &text[at..];
                let end = call.find("))").unwrap_or(call.len());
                // The hint is the last argument.
                let last = call[..end].rsplit(",\n").nth(1).unwrap_or_default();
                out.push((name.clone(), last.to_string()));
            }
        }
    }

    /// A hint that names a flag trellis does not have sends the user nowhere.
    #[test]
    fn every_flag_a_hint_names_exists() {
        let mut flags = BTreeSet::new();
        long_flags(&super::Cli::command(), &mut flags);
        let mut hints = Vec::new();
        hint_texts(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut hints,
        );
        assert!(hints.len() > 20, "found only {} hints", hints.len());
        let flag = regex::Regex::new(r"(?:^|[\s`(])--([a-z][a-z0-9-]+)").unwrap();
        let mut unknown = Vec::new();
        for (file, text) in &hints {
            for c in flag.captures_iter(text) {
                let f = &c[1];
                if !flags.contains(f) && !OTHER_PROGRAMS_FLAGS.contains(&f) {
                    unknown.push(format!("{file}: --{f}"));
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "hints name flags trellis lacks: {unknown:#?}"
        );
    }
}
