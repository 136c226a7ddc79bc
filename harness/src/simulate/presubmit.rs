//! Pre-submit (PR) builds with a known truth, for judging `trellis gate`.
//!
//! Each base job gets a pre-submit job `pull-<job>` whose builds test PRs on top of
//! the base's newest commit, each under one scenario: a clean PR, a PR that breaks
//! one or two stable tests, a PR that makes a flaky test fail every time, a PR hit
//! by a known flake, or an infra outage. Base breakage at the head reaches every PR
//! the way it does in CI. Tests run up to `pr_attempts` times (Ginkgo's
//! `--flake-attempts`): a pass on a later attempt is a FLAKY cell, not a failure.
//!
//! A PR "hit by a flake" picks the flaky test that failed with probability
//! proportional to its chance of failing every attempt (`p^n`): the failures such PRs
//! show are the ones a real flake produces, not a uniform pick.

use super::{commit_of, Behaviour, Rng, SimOptions};
use crate::model::{Build, Cell, CellStatus};
use serde::Serialize;

/// What was injected into one PR build.
#[derive(Debug, Clone, Serialize)]
pub struct TruthPr {
    pub job: String,
    pub build: String,
    pub pr: u64,
    /// `clean`, `regression`, `flaky-regression`, `flake-hit` or `outage`.
    pub scenario: &'static str,
    /// Every failing test with the class `trellis gate` should give it.
    pub failures: Vec<TruthFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TruthFailure {
    pub test: String,
    /// `new`, `known-flake`, `broken-on-base` or `infra`.
    pub class: &'static str,
    /// The chance that one more attempt fails (1 for a regression or breakage): what
    /// a retry would show.
    pub failure_probability: f64,
}

const SCENARIOS: [(&str, f64); 5] = [
    ("clean", 0.20),
    ("regression", 0.25),
    ("flaky-regression", 0.10),
    ("flake-hit", 0.30),
    ("outage", 0.15),
];

fn scenario(rng: &mut Rng) -> &'static str {
    let mut roll = rng.unit();
    for (name, share) in SCENARIOS {
        if roll < share {
            return name;
        }
        roll -= share;
    }
    "clean"
}

/// The pre-submit job of a base job.
pub fn pr_job(job: &str) -> String {
    format!("pull-{job}")
}

/// Generates `opts.pr_builds` PR builds for `job`, whose tests behave as `behaviours`.
pub(super) fn pr_builds<E>(
    opts: &SimOptions,
    job: &str,
    names: &[String],
    behaviours: &[Behaviour],
    rng: &mut Rng,
    sink: &mut impl FnMut(Build) -> Result<(), E>,
    truth: &mut Vec<TruthPr>,
) -> Result<(), E> {
    let head = opts.builds.saturating_sub(1);
    let attempts = opts.pr_attempts.max(1);
    let stable: Vec<usize> = (0..names.len())
        .filter(|t| matches!(behaviours[*t], Behaviour::Stable))
        .collect();
    let flaky: Vec<(usize, f64)> = behaviours
        .iter()
        .enumerate()
        .filter_map(|(t, b)| match b {
            Behaviour::Flaky(p) => Some((t, *p)),
            _ => None,
        })
        .collect();
    for i in 0..opts.pr_builds {
        let pr = 10_000 + i as u64;
        let mut kind = scenario(rng);
        // Forced outcomes: test index → (class, per-attempt failure probability).
        let mut forced: Vec<(usize, &'static str, f64)> = Vec::new();
        match kind {
            "regression" if !stable.is_empty() => {
                for _ in 0..1 + rng.below(2) {
                    forced.push((stable[rng.below(stable.len())], "new", 1.0));
                }
            }
            "flaky-regression" if !flaky.is_empty() => {
                forced.push((flaky[rng.below(flaky.len())].0, "new", 1.0));
            }
            "flake-hit" if !flaky.is_empty() => {
                let weights: Vec<f64> =
                    flaky.iter().map(|(_, p)| p.powi(attempts as i32)).collect();
                let total: f64 = weights.iter().sum();
                let mut roll = rng.unit() * total;
                let pick = weights
                    .iter()
                    .position(|w| {
                        roll -= w;
                        roll < 0.0
                    })
                    .unwrap_or(flaky.len() - 1);
                forced.push((flaky[pick].0, "known-flake", flaky[pick].1));
            }
            "outage" => {}
            _ => kind = "clean",
        }
        let outage = kind == "outage";
        let mut cells = Vec::with_capacity(names.len() + 1);
        let mut failures = Vec::new();
        for (t, name) in names.iter().enumerate() {
            let (status, tries, class, q) = if outage {
                (CellStatus::Fail, 1, "infra", 1.0)
            } else if let Some((_, class, q)) = forced.iter().find(|f| f.0 == t) {
                (CellStatus::Fail, attempts, *class, *q)
            } else {
                match behaviours[t] {
                    Behaviour::Broken { from, to }
                        if head >= from && to.is_none_or(|to| head < to) =>
                    {
                        (CellStatus::Fail, attempts, "broken-on-base", 1.0)
                    }
                    Behaviour::Flaky(p) => {
                        let failed = (0..attempts).take_while(|_| rng.unit() < p).count() as u32;
                        match failed {
                            0 => (CellStatus::Pass, 1, "", 0.0),
                            n if n == attempts => (CellStatus::Fail, attempts, "known-flake", p),
                            n => (CellStatus::Flaky, n + 1, "", 0.0),
                        }
                    }
                    _ => (CellStatus::Pass, 1, "", 0.0),
                }
            };
            let message = match (status, class) {
                (CellStatus::Fail, "infra") => Some("ClusterSetupFailed".to_string()),
                (CellStatus::Fail, _) => Some(format!(
                    "expected status 200, got 500 from /apis/apps/v1/namespaces/e2e-{}/deployments (test {t})",
                    1000 + rng.below(9000)
                )),
                _ => None,
            };
            if status == CellStatus::Fail {
                failures.push(TruthFailure {
                    test: name.clone(),
                    class,
                    failure_probability: q,
                });
            }
            cells.push(Cell {
                test: name.clone(),
                status,
                duration: Some(1.0 + rng.below(120) as f64),
                attempts: tries,
                message,
            });
        }
        let passed = failures.is_empty();
        cells.push(super::overall_cell(passed, 3600.0));
        let started = opts.end + 600 * (i as i64 + 1);
        let build = format!("{}", 1_800_000_000_000u64 + i as u64);
        truth.push(TruthPr {
            job: pr_job(job),
            build: build.clone(),
            pr,
            scenario: kind,
            failures,
        });
        sink(Build {
            job: pr_job(job),
            build,
            started: Some(started),
            finished: Some(started + 3600),
            passed: Some(passed),
            result: Some(if passed { "SUCCESS" } else { "FAILURE" }.to_string()),
            commit: Some(format!("{}+pr{pr}", commit_of(head))),
            pr: Some(pr),
            source: "trellis simulate".to_string(),
            cells,
            ..Build::default()
        })?;
    }
    Ok(())
}
