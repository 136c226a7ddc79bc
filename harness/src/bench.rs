//! Benchmarks behind `trellis bench`: they measure and print, never pass or fail.

use crate::ingest::{junit, IngestError};
use crate::model::{Build, Cell, CellStatus};
use crate::store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Timings of repeated rounds of the same work.
#[derive(Debug, Clone)]
pub struct Rounds {
    pub times: Vec<Duration>,
}

impl Rounds {
    pub fn best(&self) -> Duration {
        self.times.iter().min().copied().unwrap_or_default()
    }

    pub fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t.get(t.len() / 2).copied().unwrap_or_default()
    }
}

/// JUnit parsing throughput over files held in memory (so the disk is not measured).
pub struct ParseFigures {
    pub files: usize,
    pub bytes: u64,
    pub testcases: usize,
    pub rounds: Rounds,
}

pub fn parse(files: &[PathBuf], rounds: usize) -> Result<ParseFigures, IngestError> {
    let mut docs = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| IngestError::Io {
            path: f.clone(),
            source: e,
        })?;
        docs.push((f.display().to_string(), bytes));
    }
    let bytes = docs.iter().map(|d| d.1.len() as u64).sum();
    let mut testcases = 0;
    let mut times = Vec::new();
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        testcases = 0;
        for (name, doc) in &docs {
            let report = junit::parse_slice(name, doc)?;
            testcases += report.cases.len() + report.dropped_skips as usize;
        }
        times.push(start.elapsed());
    }
    Ok(ParseFigures {
        files: docs.len(),
        bytes,
        testcases,
        rounds: Rounds { times },
    })
}

/// Store write throughput: `builds` synthetic builds of `cells` cells each, into a
/// fresh store at `db`.
pub struct IngestFigures {
    pub builds: usize,
    pub cells: usize,
    pub elapsed: Duration,
}

pub fn ingest(db: &Path, builds: usize, cells: usize) -> Result<IngestFigures, StoreError> {
    let mut store = Store::open(db)?;
    let names: Vec<String> = (0..cells)
        .map(|i| format!("Kubernetes e2e suite.[It] [sig-bench] synthetic spec number {i} should behave [Conformance]"))
        .collect();
    let mut elapsed = Duration::ZERO;
    for b in 0..builds {
        let build = synthetic_build(b, &names);
        let start = Instant::now();
        store.insert_build(&build)?;
        elapsed += start.elapsed();
    }
    Ok(IngestFigures {
        builds,
        cells: builds * cells,
        elapsed,
    })
}

fn synthetic_build(n: usize, names: &[String]) -> Build {
    let cells = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // A realistic mix: mostly passes, some skips, a few failures and flakes.
            let status = match (i * 7 + n * 13) % 100 {
                0 => CellStatus::Fail,
                1 => CellStatus::Flaky,
                2..=40 => CellStatus::PassWithSkips,
                _ => CellStatus::Pass,
            };
            Cell {
                test: name.clone(),
                status,
                duration: Some((i % 300) as f64 * 0.5),
                attempts: if status == CellStatus::Flaky { 2 } else { 1 },
                message: (status == CellStatus::Fail)
                    .then(|| format!("timed out waiting for pod {i}")),
            }
        })
        .collect();
    Build {
        job: "bench-job".into(),
        build: format!("{}", 1_000_000 + n),
        started: Some(1_700_000_000 + n as i64 * 3600),
        finished: Some(1_700_000_000 + n as i64 * 3600 + 1800),
        passed: Some(true),
        source: "synthetic".into(),
        cells,
        ..Build::default()
    }
}

/// Verification timings of one submission folder.
pub struct VerifyFigures {
    pub rounds: Rounds,
    pub passed: bool,
}

impl VerifyFigures {
    pub fn best(&self) -> Duration {
        self.rounds.best()
    }
}

pub fn verify(dir: &Path, opts: &crate::certify::VerifyOptions, rounds: usize) -> VerifyFigures {
    let mut times = Vec::new();
    let mut passed = false;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let report = crate::certify::verify(dir, opts);
        times.push(start.elapsed());
        passed = report.verdict == crate::certify::Verdict::Pass;
    }
    VerifyFigures {
        rounds: Rounds { times },
        passed,
    }
}
