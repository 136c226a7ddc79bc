//! `trellis simulate`: synthetic CI history with a known truth, for tests, benchmarks
//! and for trying trellis without a CI system.
//!
//! N jobs × M builds × K tests, with injected flaky tests (a per-run failure
//! probability; some failures are retried and pass, giving FLAKY cells), breakages
//! and fixes at known builds and commits, and infra outages (whole columns failing
//! with a one-word message, as a cluster that never came up). Output is either a
//! Prow-layout tree (`logs/<job>/<build>/…` with JUnit) or builds written straight into
//! a store, plus a ground-truth file saying what was injected where.

pub mod dashboards;
pub mod presubmit;
mod prow;

pub use prow::write_build;

use crate::model::{Build, Cell, CellStatus, OVERALL_ROW, POD_ROW};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub jobs: Vec<String>,
    pub builds: usize,
    pub tests: usize,
    pub seed: u64,
    /// Share of tests that are flaky.
    pub flaky_share: f64,
    /// Per-run failure probability of a flaky test, drawn uniformly from this range.
    pub flaky_probability: (f64, f64),
    /// Share of tests that break at some build (some get fixed later).
    pub broken_share: f64,
    /// Share of flaky failures that are retried and pass (FLAKY cells).
    pub retried_share: f64,
    /// Probability that a build is an infra outage (every test fails).
    pub outage_probability: f64,
    /// Seconds between builds of a job.
    pub interval: i64,
    /// Start time of the newest build (Unix seconds).
    pub end: i64,
    /// PR builds per job, in a pre-submit job `pull-<job>` (see [`presubmit`]).
    pub pr_builds: usize,
    /// Attempts per test in a PR build (a pass on a later one is FLAKY).
    pub pr_attempts: u32,
}

impl SimOptions {
    pub fn new(jobs: Vec<String>, builds: usize, tests: usize, end: i64) -> SimOptions {
        SimOptions {
            jobs,
            builds,
            tests,
            seed: 1,
            flaky_share: 0.05,
            flaky_probability: (0.02, 0.30),
            broken_share: 0.01,
            retried_share: 0.5,
            outage_probability: 0.02,
            interval: 2 * 3600,
            end,
            pr_builds: 0,
            pr_attempts: 3,
        }
    }
}

/// What was injected, for checking what trellis finds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroundTruth {
    pub jobs: Vec<String>,
    pub builds_per_job: usize,
    pub tests_per_job: usize,
    /// Every non-stable (job, test).
    pub tests: Vec<TruthTest>,
    /// (job, build) of every outage column.
    pub outages: Vec<(String, String)>,
    /// Every PR build, with what `trellis gate` should find in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prs: Vec<presubmit::TruthPr>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TruthTest {
    pub job: String,
    pub test: String,
    /// `flaky`, `broken` (still failing at the newest build) or `fixed`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_probability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<BuildAt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_at: Option<BuildAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildAt {
    pub build: String,
    pub commit: String,
}

/// SplitMix64: small, fast, deterministic for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Clone, Copy)]
enum Behaviour {
    Stable,
    Flaky(f64),
    /// Fails from build index `from` until `to` (exclusive; `None`: still failing).
    Broken {
        from: usize,
        to: Option<usize>,
    },
}

const SIGS: [&str; 8] = [
    "apps",
    "node",
    "network",
    "storage",
    "api-machinery",
    "auth",
    "cli",
    "scheduling",
];

fn test_name(i: usize) -> String {
    format!(
        "Kubernetes e2e suite.[sig-{}] simulated behaviour {i:05} should hold [Conformance]",
        SIGS[i % SIGS.len()]
    )
}

/// The commit a build index tested: consecutive builds share one in pairs, the way
/// periodic jobs re-test an unchanged head.
fn commit_of(build_index: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (build_index / 2) as u64;
    h = h
        .wrapping_mul(0x0100_0000_01b3)
        .rotate_left(17)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:012x}", h >> 16)
}

fn build_id(index: usize) -> String {
    format!("{}", 1_700_000_000_000u64 + index as u64)
}

/// Generates every build, oldest first per job, handing each to `sink`.
pub fn simulate<E>(
    opts: &SimOptions,
    mut sink: impl FnMut(Build) -> Result<(), E>,
) -> Result<GroundTruth, E> {
    let mut rng = Rng(opts.seed);
    let names: Vec<String> = (0..opts.tests).map(test_name).collect();
    let mut truth = GroundTruth {
        jobs: opts.jobs.clone(),
        builds_per_job: opts.builds,
        tests_per_job: opts.tests,
        ..GroundTruth::default()
    };
    for job in &opts.jobs {
        let behaviours = behaviours(opts, &mut rng);
        for (t, b) in behaviours.iter().enumerate() {
            if let Some(tt) = truth_of(job, &names[t], *b) {
                truth.tests.push(tt);
            }
        }
        for index in 0..opts.builds {
            let outage = rng.unit() < opts.outage_probability;
            if outage {
                truth.outages.push((job.clone(), build_id(index)));
            }
            let build = one_build(opts, job, index, &names, &behaviours, outage, &mut rng);
            sink(build)?;
        }
        presubmit::pr_builds(
            opts,
            job,
            &names,
            &behaviours,
            &mut rng,
            &mut sink,
            &mut truth.prs,
        )?;
    }
    Ok(truth)
}

fn behaviours(opts: &SimOptions, rng: &mut Rng) -> Vec<Behaviour> {
    (0..opts.tests)
        .map(|_| {
            let roll = rng.unit();
            if roll < opts.flaky_share {
                let (lo, hi) = opts.flaky_probability;
                Behaviour::Flaky(lo + (hi - lo) * rng.unit())
            } else if roll < opts.flaky_share + opts.broken_share && opts.builds >= 12 {
                let from = opts.builds / 3 + rng.below(opts.builds / 2);
                let to = from + 5 + rng.below(15);
                let fixed = rng.unit() < 0.5 && to < opts.builds;
                Behaviour::Broken {
                    from,
                    to: fixed.then_some(to),
                }
            } else {
                Behaviour::Stable
            }
        })
        .collect()
}

fn truth_of(job: &str, test: &str, b: Behaviour) -> Option<TruthTest> {
    let at = |i: usize| BuildAt {
        build: build_id(i),
        commit: commit_of(i),
    };
    let base = |kind| TruthTest {
        job: job.to_string(),
        test: test.to_string(),
        kind,
        failure_probability: None,
        broken_at: None,
        fixed_at: None,
    };
    match b {
        Behaviour::Stable => None,
        Behaviour::Flaky(p) => Some(TruthTest {
            failure_probability: Some(p),
            ..base("flaky")
        }),
        Behaviour::Broken { from, to } => Some(TruthTest {
            broken_at: Some(at(from)),
            fixed_at: to.map(at),
            ..base(if to.is_some() { "fixed" } else { "broken" })
        }),
    }
}

fn one_build(
    opts: &SimOptions,
    job: &str,
    index: usize,
    names: &[String],
    behaviours: &[Behaviour],
    outage: bool,
    rng: &mut Rng,
) -> Build {
    let started =
        opts.end - (opts.builds - 1 - index) as i64 * opts.interval - rng.below(600) as i64;
    let duration = 1800 + rng.below(3600) as i64;
    let mut cells = Vec::with_capacity(names.len() + 1);
    for (t, name) in names.iter().enumerate() {
        let (status, message) = if outage {
            (CellStatus::Fail, Some("ClusterSetupFailed".to_string()))
        } else {
            cell_outcome(behaviours[t], index, t, opts.retried_share, rng)
        };
        cells.push(Cell {
            test: name.clone(),
            status,
            duration: Some(1.0 + rng.below(120) as f64),
            attempts: if status == CellStatus::Flaky { 2 } else { 1 },
            message,
        });
    }
    let passed = !cells.iter().any(|c| c.status == CellStatus::Fail);
    cells.push(overall_cell(passed, duration as f64));
    cells.push(pod_cell());
    Build {
        job: job.to_string(),
        build: build_id(index),
        started: Some(started),
        finished: Some(started + duration),
        passed: Some(passed),
        result: Some(if passed { "SUCCESS" } else { "FAILURE" }.to_string()),
        commit: Some(commit_of(index)),
        source: "trellis simulate".to_string(),
        cells,
        ..Build::default()
    }
}

/// The `Overall` row of a simulated build: its result, as Prow's finished.json says.
fn overall_cell(passed: bool, duration: f64) -> Cell {
    Cell {
        test: OVERALL_ROW.to_string(),
        status: if passed {
            CellStatus::Pass
        } else {
            CellStatus::Fail
        },
        duration: Some(duration),
        attempts: 1,
        message: (!passed).then(|| "Build failed: FAILURE".to_string()),
    }
}

/// The `Pod` row of a simulated build: its pod ran to the end (a failing test
/// container is the tests' business, not the pod's), as podinfo.json would say.
fn pod_cell() -> Cell {
    Cell {
        test: POD_ROW.to_string(),
        status: CellStatus::Pass,
        duration: None,
        attempts: 1,
        message: None,
    }
}

fn cell_outcome(
    b: Behaviour,
    index: usize,
    test: usize,
    retried_share: f64,
    rng: &mut Rng,
) -> (CellStatus, Option<String>) {
    match b {
        Behaviour::Stable => (CellStatus::Pass, None),
        Behaviour::Broken { from, to } if index >= from && to.is_none_or(|to| index < to) => (
            CellStatus::Fail,
            Some(format!(
                "expected status 200, got 500 from /apis/apps/v1/namespaces/e2e-{}/deployments (test {test})",
                1000 + rng.below(9000)
            )),
        ),
        Behaviour::Broken { .. } => (CellStatus::Pass, None),
        Behaviour::Flaky(p) => {
            if rng.unit() >= p {
                return (CellStatus::Pass, None);
            }
            let message = format!(
                "timed out waiting for the condition on pods/web-{:08x}-{:05} in namespace e2e-{}",
                rng.next() as u32,
                rng.below(99_999),
                1000 + rng.below(9000)
            );
            // Retried failures that then pass are FLAKY cells.
            let status = if rng.unit() < retried_share { CellStatus::Flaky } else { CellStatus::Fail };
            (status, Some(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed() {
        let opts = SimOptions::new(vec!["a".into()], 20, 30, 1_700_000_000);
        let mut first = Vec::new();
        simulate(&opts, |b| -> Result<(), ()> {
            first.push(b);
            Ok(())
        })
        .unwrap();
        let mut second = Vec::new();
        simulate(&opts, |b| -> Result<(), ()> {
            second.push(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(first.len(), 20);
        // 30 tests, Overall and Pod.
        assert_eq!(first[0].cells.len(), 32);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.cells, b.cells);
        }
        assert_eq!(commit_of(2), commit_of(3));
        assert_ne!(commit_of(3), commit_of(4));
    }
}
