//! `trellis results`: what a run's build directory says, `sonobuoy results` style.

use super::failure::Failure;
use crate::certify::{required, Minor};
use crate::exit;
use crate::ingest::{e2e_log, junit};
use crate::model::CountBucket;
use crate::printable::line;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Summarise a run's results: passed, failed and skipped per suite (each JUnit
/// file), the failed specs with their messages, and whether the run is what a CNCF
/// conformance submission needs: every required test of its Kubernetes version ran and
/// passed (the version from --k8s-version, else the run's finished.json, else its
/// e2e.log).
///
/// Exit codes: 0 nothing failed (and, when the version is known, every required test
/// passed); 7 a test failed; 5 nothing failed but required tests are missing; 4 no
/// JUnit file in DIR.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A build directory (`trellis run` leaves OUT/JOB/BUILD), or any directory
    /// holding JUnit files (junit*.xml, up to three levels down).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The Kubernetes version the run tested, for the required tests (vX.Y).
    #[arg(long, value_name = "vX.Y")]
    k8s_version: Option<String>,
}

/// Failed specs listed per suite before the rest are counted.
const FAILED_SHOWN: usize = 20;
/// Required tests listed when some are missing.
const MISSING_SHOWN: usize = 10;

pub fn run(args: Args) -> Result<i32, Failure> {
    let files = junit_files(&args.dir);
    if files.is_empty() {
        return Err(Failure::message(
            exit::NOT_FOUND,
            format!("{}: no JUnit file (junit*.xml) in it", args.dir.display()),
            "pass the build directory a `trellis run` left (OUT/JOB/BUILD)",
        ));
    }
    println!("results of {}", args.dir.display());
    let mut failed_total = 0u64;
    let mut passed_conformance = BTreeSet::new();
    let mut failed_conformance = BTreeSet::new();
    for file in &files {
        let report = junit::parse_file(file)?;
        let t = &report.tally;
        failed_total += t.failed;
        println!(
            "suite {}: {} passed, {} failed, {} flaky, {} skipped",
            suite_name(file),
            t.passed,
            t.failed,
            t.flaky,
            t.skipped + report.dropped_skips
        );
        let failed: Vec<_> = report
            .cases
            .iter()
            .filter(|c| c.result.status.bucket() == CountBucket::Fail)
            .collect();
        for c in failed.iter().take(FAILED_SHOWN) {
            let message = c.result.message.as_deref().unwrap_or("").lines().next();
            let message: String = message.unwrap_or("").chars().take(200).collect();
            println!("  FAILED {}: {}", line(c.name()), line(&message));
        }
        if failed.len() > FAILED_SHOWN {
            println!("  … and {} more failed", failed.len() - FAILED_SHOWN);
        }
        for c in &report.cases {
            if !c.name().contains("[Conformance]") {
                continue;
            }
            let name = required::normalize(c.name());
            match c.result.status.bucket() {
                CountBucket::Fail => failed_conformance.insert(name),
                CountBucket::Pass | CountBucket::Flaky => passed_conformance.insert(name),
                CountBucket::Skip | CountBucket::Other => false,
            };
        }
    }
    let version = args
        .k8s_version
        .clone()
        .or_else(|| run_version(&args.dir))
        .and_then(|v| Minor::parse(&v));
    let Some(version) = version else {
        println!("CNCF conformance: the Kubernetes version is unknown (pass --k8s-version vX.Y)");
        return Ok(if failed_total > 0 {
            exit::TESTS_FAILED
        } else {
            exit::OK
        });
    };
    let list = required::load(version, None).map_err(|e| {
        Failure::message(
            exit::INPUT_REJECTED,
            format!("no required-test list for {version}: {e}"),
            "pass --k8s-version with a version trellis has a list for (v1.24 and later)",
        )
    })?;
    let missing: Vec<String> = list
        .names
        .iter()
        .filter(|n| !passed_conformance.contains(*n))
        .map(|n| {
            if failed_conformance.contains(n) {
                format!("{n} (failed)")
            } else {
                format!("{n} (not run)")
            }
        })
        .collect();
    let total = list.names.len();
    println!(
        "CNCF conformance {version} ({}): {} of {total} required tests passed",
        list.source,
        total - missing.len()
    );
    for m in missing.iter().take(MISSING_SHOWN) {
        println!("  missing: {}", line(m));
    }
    if missing.len() > MISSING_SHOWN {
        println!("  … and {} more", missing.len() - MISSING_SHOWN);
    }
    let verdict = if failed_total > 0 {
        (
            "not ready for a submission: tests failed",
            exit::TESTS_FAILED,
        )
    } else if !missing.is_empty() {
        (
            "not ready for a submission: required tests are missing",
            exit::SUBMISSION_REJECTED,
        )
    } else {
        ("ready for a submission (`trellis certify` next)", exit::OK)
    };
    println!("verdict: {}", verdict.0);
    Ok(verdict.1)
}

/// `junit*.xml` files in `dir` and up to three levels below it, sorted.
fn junit_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            if kind.is_dir() && depth < 3 {
                walk(&path, depth + 1, out);
            } else if kind.is_file() && name.starts_with("junit") && name.ends_with(".xml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out.sort();
    out
}

/// `junit_conformance.xml` → `conformance`; `junit_01.xml` → its directory's name.
fn suite_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = stem.strip_prefix("junit_").unwrap_or(&stem);
    if suffix.chars().all(|c| c.is_ascii_digit()) {
        let parent = file
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned());
        return parent.unwrap_or(stem);
    }
    suffix.to_string()
}

/// The server version a run recorded (finished.json's job-version), else its e2e.log's.
fn run_version(dir: &Path) -> Option<String> {
    let finished = crate::ingest::prow::read_finished(&dir.join("finished.json"))
        .ok()
        .and_then(|f| f.job_version);
    finished.or_else(|| {
        let log = [dir.join("e2e.log"), dir.join("artifacts/e2e.log")]
            .into_iter()
            .find(|p| p.is_file())?;
        let summary = e2e_log::parse_file(&log).ok()?;
        summary.apiserver_version.or(summary.e2e_version)
    })
}
