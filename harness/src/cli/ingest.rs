//! `trellis ingest`: read artifacts into the store.

use super::failure::{self, Failure};
use crate::exit;
use crate::ingest::{self, HttpOptions, IngestError, IngestOptions};
use crate::printable::line;
use crate::store::InsertOutcome;
use std::time::Duration;

/// Read CI artifacts into the store.
///
/// Each INPUT is a JUnit XML file (any dialect), a Prow build directory or a tree of
/// them (logs/<job>/<build>/, pr-logs/pull/<org_repo>/<pr>/<job>/<build>/), a Sonobuoy
/// results tarball, a Hydrophone output directory, a CNCF conformance submission
/// directory, an e2e.log, or an http(s):// or gs:// URL of one of those.
/// Builds already stored are left as they are. Inputs that fail are reported as they
/// happen, listed at the end and make the exit code 3; the others are still stored.
/// A line per build is printed unless --quiet; a long ingest says how far it has got
/// on stderr every 10 s; -v logs each input, -vv each build read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, directories or URLs to ingest.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Job name for every build read (default: from the path: the Prow job directory,
    /// else the input's directory or file name).
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Build id (only for an input that holds one build; default: from the path, the
    /// run's start time, or a digest of its results).
    #[arg(long, value_name = "ID")]
    build: Option<String>,
    /// Deadline for each HTTP request, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    http_timeout: u64,
    /// Retries after a transient HTTP failure (connect error, timeout, 5xx, 429).
    #[arg(long, default_value_t = 3, value_name = "N")]
    http_retries: u32,
    /// The most one downloaded file (or listing) may hold, in MB.
    #[arg(long, default_value_t = 1024, value_name = "MB")]
    http_max_mb: u64,
    /// The longest one file's whole transfer may take, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    http_max_seconds: u64,
    /// GCS endpoint used for gs:// URLs and bucket listings.
    #[arg(
        long,
        env = "TRELLIS_GCS_ENDPOINT",
        default_value = "https://storage.googleapis.com",
        value_name = "URL"
    )]
    gcs_endpoint: String,
    /// No line per build: only errors and the summary.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    // Extracted archives and downloads go when Ctrl-C or SIGTERM stops the ingest, and
    // those an earlier, killed ingest left behind go now.
    if let Err(e) = ingest::scratch::clean_up_on_signals() {
        tracing::warn!("cannot watch for Ctrl-C to clean up scratch directories: {e}");
    }
    let swept = ingest::scratch::sweep_orphans(&std::env::temp_dir());
    if swept > 0 {
        tracing::info!(
            swept,
            "removed scratch directories of ingests that were killed"
        );
    }
    let mut store = super::open_store(db)?;
    let opts = IngestOptions {
        job: args.job,
        build: args.build,
        http: HttpOptions {
            timeout: Duration::from_secs(args.http_timeout.max(1)),
            retries: args.http_retries,
            gcs_endpoint: args.gcs_endpoint,
            max_file_bytes: args.http_max_mb.max(1) << 20,
            max_transfer: Duration::from_secs(args.http_max_seconds.max(1)),
        },
    };
    let now = chrono::Utc::now().timestamp();
    let mut tally = Tally::default();
    let started = std::time::Instant::now();
    let mut told = started;
    for (i, input) in args.inputs.iter().enumerate() {
        let units = match ingest::discover(input, &opts) {
            Ok(u) => u,
            Err(e) => {
                tally.fail(input, &e);
                continue;
            }
        };
        tracing::info!(
            input = %crate::secrets::Redactor::default().redact(input),
            builds = units.len(),
            "discovered"
        );
        for (j, unit) in units.iter().enumerate() {
            tracing::debug!(source = unit.source, job = unit.job, "reading");
            if told.elapsed() >= PROGRESS_EVERY {
                told = std::time::Instant::now();
                eprintln!(
                    "… input {} of {}, build {} of {} in it; {} stored so far ({:.0} s)",
                    i + 1,
                    args.inputs.len(),
                    j + 1,
                    units.len(),
                    tally.stored,
                    started.elapsed().as_secs_f64()
                );
            }
            let build = match ingest::read_unit(unit, now) {
                Ok(b) => b,
                Err(e) => {
                    tally.fail(&unit.source, &e);
                    continue;
                }
            };
            match store.insert_build(&build) {
                Ok(
                    outcome
                    @ (InsertOutcome::Inserted { cells } | InsertOutcome::Updated { cells }),
                ) => {
                    let c = build.counts();
                    if !args.quiet {
                        // A build stored while running is replaced by what it says now.
                        let verb = match outcome {
                            InsertOutcome::Updated { .. } => "updated",
                            _ => "stored",
                        };
                        let running = if build.result.as_deref() == Some(ingest::RUNNING_RESULT) {
                            ", still running"
                        } else {
                            ""
                        };
                        println!(
                            "{verb:<10} {}/{}  {cells} cells ({} pass, {} fail, {} flaky, {} skip, {} other){running}",
                            line(&build.job), line(&build.build), c.pass, c.fail, c.flaky, c.skip, c.other
                        );
                    }
                    tally.stored += 1;
                    tally.cells += cells;
                }
                Ok(InsertOutcome::AlreadyStored) => {
                    if !args.quiet {
                        println!(
                            "unchanged  {}/{}  (already stored)",
                            line(&build.job),
                            line(&build.build)
                        );
                    }
                    tally.unchanged += 1;
                }
                Err(e) => {
                    eprintln!("{}", failure::render(&e));
                    tally.failed.push(unit.source.clone());
                }
            }
        }
    }
    tally.report(store.location())
}

/// How often a long ingest says how far it has got (on stderr).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Tally {
    stored: usize,
    unchanged: usize,
    cells: usize,
    failed: Vec<String>,
}

impl Tally {
    fn fail(&mut self, input: &str, e: &IngestError) {
        eprintln!("{}", failure::render(e));
        // A URL's user:password@ is not repeated in the summary.
        self.failed.push(
            crate::secrets::Redactor::default()
                .redact(input)
                .into_owned(),
        );
    }

    fn report(self, db: &crate::store::Location) -> Result<i32, Failure> {
        println!(
            "ingested into {}: {} builds stored ({} cells), {} already stored, {} failed",
            db,
            self.stored,
            self.cells,
            self.unchanged,
            self.failed.len()
        );
        if self.failed.is_empty() {
            return Ok(exit::OK);
        }
        // Each reason was printed (with its hint) when it happened.
        println!("not ingested (reasons above):");
        for input in &self.failed {
            println!("  {input}");
        }
        Ok(exit::INPUT_REJECTED)
    }
}
