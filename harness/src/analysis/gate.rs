//! `trellis gate`: judge each failure of one build (a PR's pre-submit run) against the
//! history of base jobs (periodic or post-submit runs of the same tests), and say
//! whether the build should block.
//!
//! Every failing test gets one class, with the evidence for it:
//! - `infra`: the build itself shows an outage (most results failing), the failure is
//!   a one-word infra message, or the build failed with no test failing;
//! - `quarantined`: listed in the quarantine file, unexpired;
//! - `broken-on-base`: the base is failing it too, since a known build and commit;
//! - `known-flake`: it flakes on the base, and failing every attempt the way it did
//!   here is not unlikely at the base's flake rate;
//! - `new`: none of these. The one class that blocks.
//!
//! The flake judgement admits uncertainty in the direction that protects PR authors
//! from noise *and* keeps real regressions visible: it takes the upper end of the
//! Wilson 95% interval of the base flake rate as the chance one attempt fails, so the
//! chance that n attempts all fail is at most `high^n`. Below [`UNLIKELY`] that is too
//! unlikely to be the flake: a PR that makes a flaky test fail every time is found as
//! `new` once it has failed enough attempts, and the gate says how many more retries
//! would settle a failure it has excused.

use super::flakes::{self, AlertRule, Class, GridContext, Scratch};
use super::stats;
use super::testgrid::coalesce;
use super::triage::InfraMatcher;
use crate::config::infra::InfraLabels;
use crate::config::quarantine::{Quarantine, QuarantineEntry};
use crate::model::{self, Build, CellStatus, CountBucket, Counts, Grid};
use serde::Serialize;

/// A failure whose chance under the base's flakiness is below this is not that flake.
pub const UNLIKELY: f64 = 0.001;

/// Retries recommended for an excused failure leave a flake at most this chance of
/// failing every one of them.
pub const RETRY_MISS: f64 = 0.01;

/// Newest flaky base builds shown as evidence of a known flake.
const RECENT_FLAKES: usize = 5;

/// What excuses a failure before the base history is asked: the quarantine file (on
/// `today`, `YYYY-MM-DD`) and failure texts labelled infra.
#[derive(Default)]
pub struct Excuses {
    pub quarantine: Quarantine,
    pub infra: InfraMatcher,
    pub today: String,
}

impl Excuses {
    pub fn new(quarantine: Quarantine, infra: &InfraLabels, today: String) -> Excuses {
        Excuses {
            quarantine,
            infra: InfraMatcher::new(infra),
            today,
        }
    }

    /// Nothing excused, on `today`.
    pub fn none(today: &str) -> Excuses {
        Excuses {
            today: today.to_string(),
            ..Excuses::default()
        }
    }
}

/// The history of one base job for the failing tests: their rows and each build's
/// stored counts (outages are told from the counts, since the rows are few).
pub struct BaseHistory {
    pub grid: Grid,
    pub counts: Vec<Counts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    New,
    BrokenOnBase,
    Infra,
    KnownFlake,
    Quarantined,
}

impl FailureClass {
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::New => "new",
            FailureClass::BrokenOnBase => "broken-on-base",
            FailureClass::Infra => "infra",
            FailureClass::KnownFlake => "known-flake",
            FailureClass::Quarantined => "quarantined",
        }
    }
}

/// A build of a base job, as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseBuild {
    pub job: String,
    pub build: String,
    pub commit: Option<String>,
}

/// Why a failure got its class. `kind` in JSON is the class it supports.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    Infra {
        reason: String,
    },
    Quarantined {
        owner: String,
        reason: String,
        issue: Option<String>,
        expires: String,
    },
    BrokenOnBase {
        job: String,
        /// The first failing base build of the streak the PR inherits…
        since: BaseBuild,
        /// …and the newest passing one before it: the range to bisect.
        last_pass: Option<BaseBuild>,
        /// Consecutive failures at the base's head.
        failing_runs: u64,
    },
    KnownFlake {
        #[serde(flatten)]
        base: BaseCounts,
        /// Attempts of this test in the build, every one failed.
        attempts: u32,
        /// At most this likely for the base's flakiness to fail every attempt.
        chance: f64,
        /// Further failing retries after which the flake would no longer explain it.
        retries_to_decide: u32,
        /// Newest base builds where it flaked.
        recent: Vec<BaseBuild>,
    },
    New {
        #[serde(flatten)]
        base: BaseCounts,
        attempts: u32,
        /// At most this likely to fail every attempt at the base's failure rate: how
        /// unlikely the failure is by chance. 1 with no history.
        chance: f64,
        /// What the judgement rests on, in words.
        reason: String,
    },
}

/// The base history of one test, pooled over the base jobs that ran it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BaseCounts {
    /// Base jobs with a result for the test.
    pub base_jobs: Vec<String>,
    /// Results counted (outage builds and infra failures left out).
    pub base_runs: u64,
    pub base_failures: u64,
    /// FLAKY cells: failed, then passed on retry.
    pub base_flakes: u64,
    pub flake_rate: f64,
    pub flake_rate_low: f64,
    pub flake_rate_high: f64,
    /// Commits on which the base both passed and failed it.
    pub same_commit_flakes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct JudgedFailure {
    pub test: String,
    pub class: FailureClass,
    /// The failure message in the build (clipped).
    pub message: Option<String>,
    pub evidence: Evidence,
}

impl JudgedFailure {
    pub fn blocks(&self) -> bool {
        self.class == FailureClass::New
    }
}

/// A test that failed, then passed on retry, in the gated build.
#[derive(Debug, Clone, Serialize)]
pub struct FlakedHere {
    pub test: String,
    /// It flakes on the base too: the retry's pass is the known flake.
    pub known_flake: bool,
    /// What the base says, in words.
    pub base: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GatedBuild {
    pub job: String,
    pub build: String,
    pub commit: Option<String>,
    pub pr: Option<u64>,
}

/// What `trellis gate` decided (also its `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub verdict: Verdict,
    pub build: GatedBuild,
    /// Results in the build (Overall and suite nodes aside).
    pub checked: u64,
    pub counts: Counts,
    /// Base jobs consulted and how many of their builds.
    pub base: Vec<(String, usize)>,
    /// Failures, the blocking ones first.
    pub failures: Vec<JudgedFailure>,
    /// Tests that failed and passed on retry in this build: not failures, listed
    /// with what the base says of them.
    pub flaked_here: Vec<FlakedHere>,
    /// Failing tests run again by `trellis gate --retry` (their results are folded
    /// into the build before it is judged).
    pub retried: Vec<crate::runner::Retried>,
    /// Quarantine entries that have expired: they excuse nothing any more.
    pub expired_quarantine: Vec<String>,
}

/// The failing (and flaky) tests of `build` that need base history (to read only
/// their rows): none for an outage build, whose failures are infra whatever the base
/// says.
pub fn failing_tests(build: &Build) -> Vec<String> {
    if flakes::is_outage(&build.counts()) {
        return Vec::new();
    }
    let mut tests: Vec<String> = build
        .cells
        .iter()
        .filter(|c| {
            model::is_test_row(&c.test)
                && (c.status.bucket() == CountBucket::Fail || c.status == CellStatus::Flaky)
        })
        .map(|c| c.test.clone())
        .collect();
    tests.sort();
    tests.dedup();
    tests
}

/// Judges every failure of `build` against `base` (one entry per base job; each grid
/// holds the rows of [`failing_tests`]) after what `excuses` excuses.
pub fn judge(build: &Build, base: &[BaseHistory], excuses: &Excuses) -> GateReport {
    let (quarantine, today) = (&excuses.quarantine, excuses.today.as_str());
    let counts = build.counts();
    let outage = flakes::is_outage(&counts);
    let contexts: Vec<GridContext> = base
        .iter()
        .map(|h| {
            let outages = h.counts.iter().map(flakes::is_outage).collect();
            GridContext::with_outages(&h.grid, outages)
        })
        .collect();
    let mut scratch = Scratch::default();
    let mut failures = Vec::new();
    let mut flaked_here = Vec::new();
    for cell in build.cells.iter().filter(|c| model::is_test_row(&c.test)) {
        if cell.status == CellStatus::Flaky {
            flaked_here.push(flaked(&cell.test, base, &contexts, &mut scratch));
            continue;
        }
        if cell.status.bucket() != CountBucket::Fail {
            continue;
        }
        let judged = |class, evidence| JudgedFailure {
            test: cell.test.clone(),
            class,
            message: cell.message.clone(),
            evidence,
        };
        if outage {
            failures.push(judged(
                FailureClass::Infra,
                Evidence::Infra {
                    reason: format!(
                        "{} of the build's {} results failed: an outage, not this test",
                        counts.fail,
                        counts.pass + counts.fail + counts.flaky
                    ),
                },
            ));
            continue;
        }
        if let Some(m) = cell
            .message
            .as_deref()
            .filter(|m| flakes::is_infra_message(m))
        {
            failures.push(judged(
                FailureClass::Infra,
                Evidence::Infra {
                    reason: format!("the one-word failure message `{m}` marks an infra failure"),
                },
            ));
            continue;
        }
        if let Some(reason) = cell.message.as_deref().and_then(|m| excuses.infra.why(m)) {
            failures.push(judged(FailureClass::Infra, Evidence::Infra { reason }));
            continue;
        }
        if let Some(q) = quarantine.find(&build.job, &cell.test, today) {
            failures.push(judged(FailureClass::Quarantined, quarantined(q)));
            continue;
        }
        let (class, evidence) = against_base(
            &cell.test,
            cell.attempts.max(1),
            base,
            &contexts,
            &mut scratch,
        );
        failures.push(judged(class, evidence));
    }
    // A build that failed with no failing test broke outside the tests.
    let overall_failed = build
        .cells
        .iter()
        .any(|c| c.test == model::OVERALL_ROW && c.status.bucket() == CountBucket::Fail);
    if overall_failed && counts.fail == 0 {
        failures.push(JudgedFailure {
            test: model::OVERALL_ROW.to_string(),
            class: FailureClass::Infra,
            message: build
                .cells
                .iter()
                .find(|c| c.test == model::OVERALL_ROW)
                .and_then(|c| c.message.clone()),
            evidence: Evidence::Infra {
                reason:
                    "the build failed with no test failing: set-up, tear-down or the job itself"
                        .into(),
            },
        });
    }
    failures.sort_by(|a, b| a.class.cmp(&b.class).then_with(|| a.test.cmp(&b.test)));
    let verdict = if failures.iter().any(JudgedFailure::blocks) {
        Verdict::Block
    } else {
        Verdict::Pass
    };
    GateReport {
        verdict,
        build: GatedBuild {
            job: build.job.clone(),
            build: build.build.clone(),
            commit: build.commit.clone(),
            pr: build.pr,
        },
        checked: counts.pass + counts.fail + counts.flaky + counts.skip + counts.other,
        counts,
        base: base
            .iter()
            .map(|h| (h.grid.job.clone(), h.grid.columns.len()))
            .collect(),
        failures,
        flaked_here,
        retried: Vec::new(),
        expired_quarantine: quarantine.expired(today),
    }
}

/// What the base says of a test that flaked in the build: a known flake, or a test
/// that never flaked there (a flake the change may have brought).
fn flaked(
    test: &str,
    base: &[BaseHistory],
    contexts: &[GridContext],
    scratch: &mut Scratch,
) -> FlakedHere {
    let (known_flake, words) = match against_base(test, 1, base, contexts, scratch).1 {
        Evidence::KnownFlake { base, .. } => (
            true,
            format!(
                "a known flake: {:.1}% of {} base runs (95% {:.1}–{:.1}%)",
                base.flake_rate * 100.0,
                base.base_runs,
                base.flake_rate_low * 100.0,
                base.flake_rate_high * 100.0
            ),
        ),
        Evidence::BrokenOnBase { since, .. } => (
            false,
            format!("failing on the base since {}/{}", since.job, since.build),
        ),
        Evidence::New { base, .. } if base.base_runs == 0 => {
            (false, "no base history to call it a known flake".into())
        }
        Evidence::New { base, .. } => (
            false,
            format!(
                "not a known flake: {} of {} base runs failed or flaked; did this change make it flaky?",
                base.base_failures + base.base_flakes,
                base.base_runs
            ),
        ),
        Evidence::Infra { reason } => (false, reason),
        Evidence::Quarantined { reason, .. } => (false, reason),
    };
    FlakedHere {
        test: test.to_string(),
        known_flake,
        base: words,
    }
}

/// Failures `judge` excused as known flakes but would rule on with more attempts:
/// (test, retries that would decide it), for a confirmation by retry.
pub fn worth_retrying(report: &GateReport) -> Vec<(String, u32)> {
    report
        .failures
        .iter()
        .filter_map(|f| match &f.evidence {
            Evidence::KnownFlake {
                retries_to_decide, ..
            } => Some((f.test.clone(), *retries_to_decide)),
            _ => None,
        })
        .collect()
}

/// The failures worth running again to confirm (`trellis gate --retry`): those that
/// block, and those excused as known flakes; not infra, quarantined or broken on the
/// base, which a retry would not change.
pub fn to_retry(report: &GateReport) -> Vec<String> {
    report
        .failures
        .iter()
        .filter(|f| matches!(f.class, FailureClass::New | FailureClass::KnownFlake))
        .filter(|f| f.test != model::OVERALL_ROW)
        .map(|f| f.test.clone())
        .collect()
}

/// Folds the retries of one failing test into `build`: `failed` of `retries` more
/// attempts failed. Any pass makes the cell FLAKY (it failed, then passed: not a
/// failure); all failing adds the attempts, which `judge` then weighs.
pub fn record_retries(build: &mut Build, test: &str, retries: u32, failed: u32) {
    if let Some(cell) = build.cells.iter_mut().find(|c| c.test == test) {
        cell.attempts = cell.attempts.max(1) + retries;
        if failed < retries {
            cell.status = CellStatus::Flaky;
        }
    }
}

fn quarantined(q: &QuarantineEntry) -> Evidence {
    Evidence::Quarantined {
        owner: q.owner.clone(),
        reason: q.reason.clone(),
        issue: q.issue.clone(),
        expires: q.expires.clone(),
    }
}

/// One failing test (every one of `attempts` failed) against the base history.
fn against_base(
    test: &str,
    attempts: u32,
    base: &[BaseHistory],
    contexts: &[GridContext],
    scratch: &mut Scratch,
) -> (FailureClass, Evidence) {
    let mut pooled = BaseCounts::default();
    let mut evidence = 0u64;
    let mut counted = 0u64;
    let mut flaky_anywhere = false;
    let mut recent: Vec<(Option<i64>, BaseBuild)> = Vec::new();
    for (history, ctx) in base.iter().zip(contexts) {
        let grid = &history.grid;
        let Some(row) = grid.rows.iter().position(|r| r == test) else {
            continue;
        };
        let s = flakes::row_stats(grid, row, ctx, AlertRule::default(), scratch);
        if s.runs == 0 {
            continue;
        }
        let head = failing_head(grid, row, ctx);
        // Failing on the base now: an open alert, or its newest two or more results
        // failing where it never failed otherwise (too new for TestGrid's alert).
        if s.class == Class::Failing || (head >= 2 && s.flakes + s.failures == head) {
            let (since, last_pass) = head_range(grid, row, ctx);
            return (
                FailureClass::BrokenOnBase,
                Evidence::BrokenOnBase {
                    job: grid.job.clone(),
                    since,
                    last_pass,
                    failing_runs: head,
                },
            );
        }
        pooled.base_jobs.push(grid.job.clone());
        pooled.base_runs += s.runs;
        pooled.base_failures += s.failures;
        pooled.base_flakes += s.flakes;
        pooled.same_commit_flakes += s.same_commit_flakes;
        evidence += s.flakes + s.failures - s.broken_runs;
        counted += s.runs - s.broken_runs;
        flaky_anywhere |= s.class == Class::Flaky;
        for (col, status) in grid.row(row).iter().enumerate() {
            if !ctx.outages[col]
                && matches!(
                    coalesce(*status, true),
                    CellStatus::Flaky | CellStatus::Fail
                )
            {
                let c = &grid.columns[col];
                recent.push((
                    c.started,
                    BaseBuild {
                        job: grid.job.clone(),
                        build: c.build.clone(),
                        commit: c.commit.clone(),
                    },
                ));
            }
        }
    }
    let (low, high) = stats::wilson(evidence, counted);
    pooled.flake_rate = if counted == 0 {
        0.0
    } else {
        evidence as f64 / counted as f64
    };
    pooled.flake_rate_low = low;
    pooled.flake_rate_high = high;
    let chance = high.powi(attempts.min(64) as i32);
    if pooled.base_runs == 0 {
        return (
            FailureClass::New,
            Evidence::New {
                base: pooled,
                attempts,
                chance: 1.0,
                reason: format!(
                    "no history: no base job ran this test ({} checked)",
                    base.len()
                ),
            },
        );
    }
    if flaky_anywhere && chance >= UNLIKELY {
        recent.sort_by_key(|r| std::cmp::Reverse(r.0));
        recent.truncate(RECENT_FLAKES);
        // Enough retries that failing all of them rules the flake out, and that the
        // flake, if that is what it is, passes one of them almost surely: a single
        // retry that tips the total under UNLIKELY would still fail for a 15% flake
        // one time in seven, and block a PR for nothing.
        let decides = |m: &u32| {
            high.powi((attempts + m) as i32) < UNLIKELY && high.powi(*m as i32) < RETRY_MISS
        };
        let retries_to_decide = (1..=64).find(decides).unwrap_or(64);
        return (
            FailureClass::KnownFlake,
            Evidence::KnownFlake {
                base: pooled,
                attempts,
                chance,
                retries_to_decide,
                recent: recent.into_iter().map(|r| r.1).collect(),
            },
        );
    }
    let reason = if flaky_anywhere {
        format!(
            "flaky on the base (at most {:.1}% of runs), but failing all {attempts} attempt{} \
             has a chance of at most {} at that rate: the flake does not explain it",
            high * 100.0,
            if attempts == 1 { "" } else { "s" },
            format_chance(chance)
        )
    } else if chance < UNLIKELY {
        format!(
            "passing on the base ({} of {} runs failed): failing here by chance is at most {}",
            evidence,
            counted,
            format_chance(chance)
        )
    } else {
        format!(
            "passing on the base, but only {counted} runs: failing by chance could be as likely as {} \
             (more base history would tell)",
            format_chance(chance)
        )
    };
    (
        FailureClass::New,
        Evidence::New {
            base: pooled,
            attempts,
            chance,
            reason,
        },
    )
}

/// `1 in 2,300` style for small chances, a percentage for larger ones.
pub fn format_chance(p: f64) -> String {
    if p >= 0.01 {
        format!("{:.0}%", p * 100.0)
    } else if p > 0.0 {
        format!("1 in {}", group_thousands((1.0 / p).round() as u64))
    } else {
        "0".into()
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Counted results of a row, newest first: (column, failed).
fn results(grid: &Grid, row: usize, ctx: &GridContext) -> Vec<(usize, bool)> {
    grid.row(row)
        .iter()
        .enumerate()
        .filter(|(col, _)| !ctx.outages[*col])
        .filter_map(|(col, s)| match coalesce(*s, true) {
            CellStatus::NoResult | CellStatus::Unknown => None,
            CellStatus::Pass | CellStatus::Flaky => Some((col, false)),
            _ if grid.message(row, col).is_some_and(flakes::is_infra_message) => None,
            _ => Some((col, true)),
        })
        .collect()
}

/// Consecutive failures at the newest end of the row.
fn failing_head(grid: &Grid, row: usize, ctx: &GridContext) -> u64 {
    results(grid, row, ctx)
        .iter()
        .take_while(|(_, failed)| *failed)
        .count() as u64
}

/// The oldest failure of the head streak and the pass before it.
fn head_range(grid: &Grid, row: usize, ctx: &GridContext) -> (BaseBuild, Option<BaseBuild>) {
    let r = results(grid, row, ctx);
    let streak = r.iter().take_while(|(_, failed)| *failed).count().max(1);
    let at = |col: usize| BaseBuild {
        job: grid.job.clone(),
        build: grid.columns[col].build.clone(),
        commit: grid.columns[col].commit.clone(),
    };
    let since = at(r.get(streak - 1).map(|x| x.0).unwrap_or(0));
    (since, r.get(streak).map(|x| at(x.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cell, Column};
    use CellStatus::{Fail as F, Flaky as K, Pass as P};

    const T: &str = "Kubernetes e2e suite.[sig-apps] Deployment should roll over";

    fn base(job: &str, row: &[CellStatus]) -> BaseHistory {
        let columns = (0..row.len())
            .map(|i| Column {
                build: format!("{}", 100_000 - i),
                started: Some(100_000_000 - i as i64 * 3600),
                commit: Some(format!("c{}", (100_000 - i) / 2)),
                ..Column::default()
            })
            .collect();
        let mut grid = Grid::new(job.into(), columns);
        let r = grid.add_row(T.into());
        for (c, s) in row.iter().enumerate() {
            grid.set(r, c, *s, (*s == F).then(|| "timed out".to_string()));
        }
        let counts = row
            .iter()
            .map(|_| Counts {
                pass: 100,
                ..Counts::default()
            })
            .collect();
        BaseHistory { grid, counts }
    }

    fn pr(cells: &[(&str, CellStatus, u32)]) -> Build {
        let mut cells: Vec<Cell> = cells
            .iter()
            .map(|(t, s, attempts)| Cell {
                test: t.to_string(),
                status: *s,
                duration: None,
                attempts: *attempts,
                message: (*s == F).then(|| "expected 3 replicas, got 2".to_string()),
            })
            .collect();
        for i in 0..20 {
            cells.push(Cell {
                test: format!("other {i}"),
                status: P,
                duration: None,
                attempts: 1,
                message: None,
            });
        }
        Build {
            job: "pull-kubernetes-e2e".into(),
            build: "1".into(),
            pr: Some(123),
            cells,
            ..Build::default()
        }
    }

    fn class_of(build: &Build, history: &[BaseHistory]) -> (FailureClass, Evidence) {
        let r = judge(build, history, &Excuses::none("2026-12-02"));
        (r.failures[0].class, r.failures[0].evidence.clone())
    }

    /// Every 5th run flaked, over 60 runs.
    fn flaky_row() -> Vec<CellStatus> {
        (0..60).map(|i| if i % 5 == 2 { K } else { P }).collect()
    }

    #[test]
    fn a_known_flake_failing_once_is_excused_with_its_rate() {
        let (class, evidence) = class_of(&pr(&[(T, F, 1)]), &[base("ci", &flaky_row())]);
        assert_eq!(class, FailureClass::KnownFlake);
        let Evidence::KnownFlake {
            base,
            chance,
            retries_to_decide,
            recent,
            ..
        } = evidence
        else {
            panic!("{evidence:?}")
        };
        assert_eq!(base.base_runs, 60);
        assert!((base.flake_rate - 0.2).abs() < 1e-9);
        assert!(base.flake_rate_low < 0.2 && base.flake_rate_high > 0.2);
        assert!(chance > 0.2, "{chance}");
        assert!(retries_to_decide >= 2, "{retries_to_decide}");
        assert_eq!(recent.len(), RECENT_FLAKES);
        assert_eq!(recent[0].build, "99998");
    }

    #[test]
    fn a_flaky_test_failing_every_one_of_many_attempts_is_new() {
        // The same 20% flake, but all eight attempts failed: at most 0.32^8.
        let (class, evidence) = class_of(&pr(&[(T, F, 8)]), &[base("ci", &flaky_row())]);
        assert_eq!(class, FailureClass::New, "{evidence:?}");
        let Evidence::New { chance, reason, .. } = evidence else {
            panic!()
        };
        assert!(chance < UNLIKELY);
        assert!(reason.contains("the flake does not explain it"), "{reason}");
    }

    #[test]
    fn a_failure_of_a_test_passing_on_the_base_is_new_and_says_how_unlikely() {
        let (class, evidence) = class_of(&pr(&[(T, F, 1)]), &[base("ci", &[P; 5000])]);
        assert_eq!(class, FailureClass::New);
        let Evidence::New { chance, reason, .. } = evidence else {
            panic!()
        };
        assert!(chance < 0.001, "{chance}");
        assert!(reason.contains("1 in"), "{reason}");
    }

    #[test]
    fn broken_on_the_base_names_the_range_to_bisect() {
        let mut row = vec![F, F, F, F];
        row.extend([P; 30]);
        let (class, evidence) = class_of(&pr(&[(T, F, 1)]), &[base("ci", &row)]);
        assert_eq!(class, FailureClass::BrokenOnBase);
        let Evidence::BrokenOnBase {
            since,
            last_pass,
            failing_runs,
            ..
        } = evidence
        else {
            panic!()
        };
        assert_eq!((since.build.as_str(), failing_runs), ("99997", 4));
        assert_eq!(last_pass.unwrap().build, "99996");
    }

    #[test]
    fn a_failure_in_a_cluster_labelled_infra_is_infra() {
        let mut build = pr(&[(T, F, 1)]);
        build.cells[0].message = Some(
            "Get \"https://10.96.0.1:443/api/v1/namespaces/e2e-3941/pods\": dial tcp 10.96.0.1:443: connect: connection refused".into(),
        );
        let history = [base("ci", &[P; 40])];
        let judge_with = |yaml: &str| {
            let labels = InfraLabels::parse(yaml).unwrap();
            let excuses = Excuses::new(Quarantine::default(), &labels, "2026-12-02".into());
            let r = judge(&build, &history, &excuses);
            (r.failures[0].class, r.failures[0].evidence.clone())
        };
        // The label was taken from another build's failure: other namespace, other IP.
        let cluster = "infra:\n  - cluster: 'Get \"https://10.0.0.1:443/api/v1/namespaces/e2e-77/pods\": dial tcp 10.0.0.1:443: connect: connection refused'\n    reason: API server restarts under the CI cluster\n";
        let (class, evidence) = judge_with(cluster);
        assert_eq!(class, FailureClass::Infra);
        let Evidence::Infra { reason } = evidence else {
            panic!()
        };
        assert!(
            reason.contains("triage cluster labelled infra: API server restarts"),
            "{reason}"
        );
        let (class, _) = judge_with(
            "infra:\n  - pattern: 'connect: connection refused$'\n    reason: api down\n",
        );
        assert_eq!(class, FailureClass::Infra);
        // A different failure is not excused by either.
        let (class, _) = judge_with(
            "infra:\n  - cluster: 'expected 3 replicas, got 2 in deployment webserver'\n    reason: r\n  - pattern: '^timeout'\n    reason: r\n",
        );
        assert_eq!(class, FailureClass::New);
    }

    #[test]
    fn no_history_is_new_and_says_so() {
        let (class, evidence) = class_of(&pr(&[(T, F, 1)]), &[base("ci", &[])]);
        assert_eq!(class, FailureClass::New);
        let Evidence::New { reason, chance, .. } = evidence else {
            panic!()
        };
        assert_eq!(chance, 1.0);
        assert!(reason.contains("no history"), "{reason}");
    }

    #[test]
    fn an_outage_build_is_infra_and_does_not_block() {
        let cells: Vec<(String, CellStatus, u32)> =
            (0..30).map(|i| (format!("t{i}"), F, 1)).collect();
        let refs: Vec<(&str, CellStatus, u32)> =
            cells.iter().map(|(t, s, a)| (t.as_str(), *s, *a)).collect();
        let r = judge(
            &pr(&refs),
            &[base("ci", &[P; 30])],
            &Excuses::none("2026-12-02"),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        assert!(r.failures.iter().all(|f| f.class == FailureClass::Infra));
    }

    #[test]
    fn a_build_with_no_failures_passes_and_counts_what_it_checked() {
        let r = judge(
            &pr(&[(T, P, 1)]),
            &[base("ci", &[P; 3])],
            &Excuses::none("2026-12-02"),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(r.checked, 21);
        assert!(r.failures.is_empty());
    }

    #[test]
    fn chances_read_as_people_say_them() {
        assert_eq!(format_chance(0.25), "25%");
        assert_eq!(format_chance(1.0 / 2345.0), "1 in 2,345");
        assert_eq!(format_chance(1e-7), "1 in 10,000,000");
    }
}
