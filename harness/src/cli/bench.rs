//! `trellis bench`: print performance figures (never fails on a slow machine).

use crate::exit;
use std::path::PathBuf;

/// Measure trellis's speed and print the figures.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// JUnit parsing throughput on one core (files are read into memory first).
    /// Default files: every junit_01.xml under ../shared/data/conformance/submissions.
    Parse {
        files: Vec<PathBuf>,
        /// Shared data folder used when no FILES are given.
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        #[arg(long, default_value_t = 7)]
        rounds: usize,
    },
    /// Time to verify one submission (every check), per submission folder.
    /// Default: every folder under ../shared/data/conformance/submissions.
    Verify {
        dirs: Vec<PathBuf>,
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Store write throughput: synthetic builds into a fresh temporary store.
    Ingest {
        #[arg(long, default_value_t = 20)]
        builds: usize,
        #[arg(long, default_value_t = 50_000)]
        cells: usize,
    },
}

pub fn run(args: Args) -> i32 {
    match args.what {
        What::Parse {
            files,
            data,
            rounds,
        } => parse(files, data, rounds),
        What::Ingest { builds, cells } => ingest(builds, cells),
        What::Verify { dirs, data, rounds } => verify(dirs, data, rounds),
    }
}

fn parse(mut files: Vec<PathBuf>, data: PathBuf, rounds: usize) -> i32 {
    if files.is_empty() {
        files = submission_junits(&data.join("conformance/submissions"));
        if files.is_empty() {
            eprintln!(
                "error: no junit_01.xml under {}\n  hint: pass FILES or --data",
                data.display()
            );
            return exit::FAILURE;
        }
    }
    let f = match crate::bench::parse(&files, rounds) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            return exit::FAILURE;
        }
    };
    let mb = f.bytes as f64 / 1e6;
    println!(
        "junit parse: {} files, {:.1} MB, {} testcases, {} rounds on one core",
        f.files,
        mb,
        f.testcases,
        f.rounds.times.len()
    );
    for (label, t) in [("best", f.rounds.best()), ("median", f.rounds.median())] {
        println!(
            "  {label:<6} {:>8.1} ms  {:>7.0} MB/s",
            t.as_secs_f64() * 1e3,
            mb / t.as_secs_f64()
        );
    }
    println!("  target: >= 500 MB/s (Python junitparser: about 25 MB/s on the same files)");
    exit::OK
}

fn ingest(builds: usize, cells: usize) -> i32 {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create a temporary directory: {e}");
            return exit::FAILURE;
        }
    };
    let f = match crate::bench::ingest(&dir.path().join("bench.db"), builds, cells) {
        Ok(f) => f,
        Err(e) => return super::report_store_error(&e),
    };
    let secs = f.elapsed.as_secs_f64();
    println!(
        "store ingest: {} builds x {} cells = {} cells in {:.2} s: {:.0} cells/s",
        f.builds,
        cells,
        f.cells,
        secs,
        f.cells as f64 / secs
    );
    println!("  target: >= 500,000 cells/s");
    exit::OK
}

fn verify(mut dirs: Vec<PathBuf>, data: PathBuf, rounds: usize) -> i32 {
    if dirs.is_empty() {
        dirs = submission_dirs(&data.join("conformance/submissions"));
    }
    println!(
        "verify-submission: {} folders, best of {} rounds each (target: < 200 ms)",
        dirs.len(),
        rounds.max(1)
    );
    for dir in &dirs {
        let version = dir
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| crate::certify::Minor::parse_folder(&n.to_string_lossy()));
        let opts = crate::certify::VerifyOptions {
            stable: version.unwrap_or_else(crate::certify::required::newest_embedded),
            ..Default::default()
        };
        let r = crate::bench::verify(dir, &opts, rounds);
        let shown: Vec<_> = dir.components().rev().take(2).collect();
        let shown = shown
            .iter()
            .rev()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        println!(
            "  {shown:<28} {:>7.1} ms  {}",
            r.best().as_secs_f64() * 1e3,
            if r.passed { "pass" } else { "FAIL" }
        );
    }
    exit::OK
}

fn submission_dirs(root: &std::path::Path) -> Vec<PathBuf> {
    read_dirs(root).iter().flat_map(|v| read_dirs(v)).collect()
}

fn submission_junits(root: &std::path::Path) -> Vec<PathBuf> {
    submission_dirs(root)
        .into_iter()
        .map(|d| d.join("junit_01.xml"))
        .filter(|f| f.is_file())
        .collect()
}

fn read_dirs(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
