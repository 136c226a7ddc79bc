//! Per (job, test) flake statistics: counts, a flake rate with its Wilson interval,
//! TestGrid's flip flakiness, same-commit disagreements, and a class — failing (an open
//! alert: broken, not flaky, with the range to bisect), flaky, or passing.
//!
//! Breakage is told from flakiness statistically. A streak of failures is breakage
//! (set aside, not counted in the flake rate) only when it is at least TestGrid's
//! three in a row *and* a streak that long is unlikely (under [`BREAKAGE_ALPHA`])
//! anywhere in the row if the test failed independently at its own rate, estimated
//! without the streak. A test that flakes a third of the time makes three-failure
//! streaks by chance; they stay in its rate, so the rate is not biased low.

use super::stats;
use super::testgrid::{alert, coalesce, flip_flakiness, Flip, IGNORE_FAILURES_IN_A_ROW};
use crate::model::CellStatus;
use crate::model::{BuildRef, Grid};
use serde::Serialize;
use std::collections::HashMap;

/// A column where more than this share of the filled cells fail is an infra outage
/// (the cluster never came up, the build broke): its cells say nothing about tests.
pub const OUTAGE_COLUMN_SHARE: f64 = 0.5;

/// A failure streak less likely than this under the test's own flake rate is breakage.
pub const BREAKAGE_ALPHA: f64 = 0.01;

/// Flake evidence needed to call a test flaky: two flakes (or isolated failures), or
/// one plus a same-commit disagreement. One lone failure is not a pattern.
pub const FLAKY_MIN_EVIDENCE: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Failing,
    Flaky,
    Passing,
}

/// SIG Release priority for a flake on a release-blocking dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    /// Flake rate over 20%.
    CriticalUrgent,
    /// Flake rate over 2%.
    ImportantSoon,
}

impl Priority {
    pub fn for_rate(rate: f64) -> Option<Priority> {
        if rate > 0.20 {
            Some(Priority::CriticalUrgent)
        } else if rate > 0.02 {
            Some(Priority::ImportantSoon)
        } else {
            None
        }
    }
}

/// One row of `trellis flakes --json`.
#[derive(Debug, Clone, Serialize)]
pub struct FlakeStats {
    pub job: String,
    pub test: String,
    pub class: Class,
    /// Results considered (empty cells, infra failures and outage columns excluded).
    pub runs: u64,
    pub passes: u64,
    pub failures: u64,
    /// FLAKY cells (passed on retry).
    pub flakes: u64,
    /// Runs in failure streaks judged breakage (see the module docs): not flake
    /// evidence, and not in the flake rate's denominator either.
    pub broken_runs: u64,
    /// (FLAKY cells + failures outside breakage) / (runs − broken_runs).
    pub flake_rate: f64,
    pub flake_rate_low: f64,
    pub flake_rate_high: f64,
    /// TestGrid's flip flakiness, 0-100; None where TestGrid does not list the test
    /// (no pass and no non-infra failure in the window: only FLAKY results or infra
    /// failures, `calculateNaiveFlakiness`).
    pub flip_flakiness: Option<f64>,
    /// Commits on which this test both passed and failed.
    pub same_commit_flakes: u64,
    /// For a failing test: the newest passing build before the breakage…
    pub last_pass: Option<BuildRef>,
    /// …and the first failing build (the range to bisect).
    pub first_fail: Option<BuildRef>,
    /// Set by the caller for tests on release-blocking dashboards.
    pub priority: Option<Priority>,
}

/// Alert thresholds used for the `failing` class.
#[derive(Debug, Clone, Copy)]
pub struct AlertRule {
    pub failures_to_open: u32,
    pub passes_to_close: u32,
}

impl Default for AlertRule {
    fn default() -> Self {
        AlertRule {
            failures_to_open: 3,
            passes_to_close: 1,
        }
    }
}

/// Columns judged infra outages (see [`OUTAGE_COLUMN_SHARE`]).
pub fn outage_columns(grid: &Grid) -> Vec<bool> {
    let mut fails = vec![0u64; grid.columns.len()];
    let mut filled = vec![0u64; grid.columns.len()];
    for r in 0..grid.rows.len() {
        for (c, s) in grid.row(r).iter().enumerate() {
            match coalesce(*s, true) {
                CellStatus::NoResult => {}
                CellStatus::Fail => {
                    fails[c] += 1;
                    filled[c] += 1;
                }
                _ => filled[c] += 1,
            }
        }
    }
    // A single-row grid cannot tell an outage from a failure.
    let enough_rows = grid.rows.len() >= 4;
    fails
        .iter()
        .zip(&filled)
        .map(|(f, n)| enough_rows && *n > 0 && *f as f64 / *n as f64 > OUTAGE_COLUMN_SHARE)
        .collect()
}

/// Columns TestGrid's flakiness leaves out (`failingColumns`): more than one row, and
/// none of them passed or flaked there.
fn testgrid_outage_columns(grid: &Grid) -> Vec<bool> {
    let mut good = vec![false; grid.columns.len()];
    for r in 0..grid.rows.len() {
        for (c, s) in grid.row(r).iter().enumerate() {
            if matches!(coalesce(*s, true), CellStatus::Pass | CellStatus::Flaky) {
                good[c] = true;
            }
        }
    }
    good.iter().map(|g| grid.rows.len() > 1 && !g).collect()
}

/// Build ids of the outage columns of `grid`, newest first.
pub fn outage_builds(grid: &Grid) -> Vec<String> {
    grid.columns
        .iter()
        .zip(outage_columns(grid))
        .filter(|(_, outage)| *outage)
        .map(|(c, _)| c.build.clone())
        .collect()
}

/// TestGrid treats a one-word failure message ("Timeout", "ClusterSetupFailed") as an
/// infra failure, not a test result: its summarizer's `^\w+$` on the cell's message,
/// untrimmed, where `\w` is ASCII letters, digits and `_` ("Error!" is a test failure;
/// so is "InfraError" followed by a body, and a merged "0/2 runs passed: Timeout").
pub fn is_infra_message(message: &str) -> bool {
    !message.is_empty()
        && message
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What every row of one grid shares: outage columns and commits as small integers.
pub struct GridContext {
    pub outages: Vec<bool>,
    /// TestGrid's own outage rule for flip flakiness (`failingColumns`): no row passed
    /// or flaked, in a grid of more than one row. Only its FAIL cells are dropped.
    testgrid_outages: Vec<bool>,
    /// Per column: an index into the grid's distinct commits, or `u32::MAX`.
    commit_of: Vec<u32>,
    commits: usize,
}

impl GridContext {
    pub fn new(grid: &Grid) -> GridContext {
        GridContext::with(grid, outage_columns(grid), testgrid_outage_columns(grid))
    }

    /// For a grid holding only some rows (see `Store::rows_of`), where the rows cannot
    /// tell an outage column: the caller says which columns are outages, e.g. from each
    /// build's stored counts ([`is_outage`]).
    pub fn with_outages(grid: &Grid, outages: Vec<bool>) -> GridContext {
        GridContext::with(grid, outages.clone(), outages)
    }

    fn with(grid: &Grid, outages: Vec<bool>, testgrid_outages: Vec<bool>) -> GridContext {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let commit_of = grid
            .columns
            .iter()
            .map(|c| match c.commit.as_deref() {
                Some(commit) => {
                    let next = ids.len() as u32;
                    *ids.entry(commit).or_insert(next)
                }
                None => u32::MAX,
            })
            .collect();
        GridContext {
            outages,
            testgrid_outages,
            commit_of,
            commits: ids.len(),
        }
    }
}

/// Whether a build with these counts is an infra outage, by [`outage_columns`]' rule:
/// more than [`OUTAGE_COLUMN_SHARE`] of at least four results failed.
pub fn is_outage(counts: &crate::model::Counts) -> bool {
    let filled = counts.pass + counts.fail + counts.flaky;
    filled >= 4 && counts.fail as f64 > OUTAGE_COLUMN_SHARE * filled as f64
}

/// Buffers reused from row to row.
#[derive(Default)]
pub struct Scratch {
    results: Vec<(usize, Flip)>,
    flips: Vec<Flip>,
    kept: Vec<CellStatus>,
    seen: Vec<u8>,
}

/// Statistics of one row of `grid`.
pub fn row_stats(
    grid: &Grid,
    row: usize,
    ctx: &GridContext,
    rule: AlertRule,
    scratch: &mut Scratch,
) -> FlakeStats {
    row_stats_in(grid, row, 0..grid.columns.len(), ctx, rule, scratch)
}

/// [`row_stats`] over the columns in `cols` only (e.g. an older part of the window).
pub fn row_stats_in(
    grid: &Grid,
    row: usize,
    cols: std::ops::Range<usize>,
    ctx: &GridContext,
    rule: AlertRule,
    scratch: &mut Scratch,
) -> FlakeStats {
    let cells = grid.row(row);
    let results = &mut scratch.results;
    results.clear();
    for (col, status) in cells.iter().enumerate().take(cols.end).skip(cols.start) {
        if ctx.outages[col] {
            continue;
        }
        let flip = match coalesce(*status, true) {
            CellStatus::NoResult | CellStatus::Unknown => continue,
            CellStatus::Pass => Flip::Pass,
            CellStatus::Flaky => Flip::Flaky,
            _ => {
                if grid.message(row, col).is_some_and(is_infra_message) {
                    continue;
                }
                Flip::Fail
            }
        };
        results.push((col, flip));
    }
    // Flip flakiness is TestGrid's number, over TestGrid's own exclusions. TestGrid
    // lists a test only with a pass or a non-infra failure (an outage column's
    // failures included: they are dropped from the flips, not from that count).
    let flip = {
        let tg = &mut scratch.flips;
        tg.clear();
        let mut listed = false;
        for (col, status) in cells.iter().enumerate().take(cols.end).skip(cols.start) {
            tg.push(match coalesce(*status, true) {
                CellStatus::NoResult | CellStatus::Unknown => continue,
                CellStatus::Pass => {
                    listed = true;
                    Flip::Pass
                }
                CellStatus::Flaky => Flip::Flaky,
                _ if grid.message(row, col).is_some_and(is_infra_message) => continue,
                _ if ctx.testgrid_outages[col] => {
                    listed = true;
                    continue;
                }
                _ => {
                    listed = true;
                    Flip::Fail
                }
            });
        }
        listed.then(|| flip_flakiness(tg))
    };
    scratch.flips.clear();
    scratch.flips.extend(results.iter().map(|r| r.1));
    let flips = &scratch.flips;
    let count = |f: Flip| flips.iter().filter(|x| **x == f).count() as u64;
    let (passes, failures, flakes) = (count(Flip::Pass), count(Flip::Fail), count(Flip::Flaky));
    let runs = flips.len() as u64;
    let streaks = breakage_streaks(flips);
    let broken_runs: u64 = streaks.iter().filter(|s| s.breakage).map(|s| s.len).sum();
    let evidence = flakes + failures - broken_runs;
    let counted = runs - broken_runs;
    let rate = if counted == 0 {
        0.0
    } else {
        evidence as f64 / counted as f64
    };
    let (low, high) = stats::wilson(evidence, counted);
    let same_commit = same_commit_disagreements(ctx, results, &mut scratch.seen);
    let kept = &mut scratch.kept;
    kept.clear();
    kept.resize(cells.len(), CellStatus::NoResult);
    for (col, flip) in results.iter() {
        kept[*col] = match flip {
            Flip::Pass => CellStatus::Pass,
            Flip::Flaky => CellStatus::Flaky,
            Flip::Fail => CellStatus::Fail,
        };
    }
    let open = alert(kept, rule.failures_to_open, rule.passes_to_close);
    // An open streak this test's flakiness explains is a flake, not breakage.
    let chance = streaks
        .first()
        .is_some_and(|s| s.start == 0 && s.len >= IGNORE_FAILURES_IN_A_ROW as u64 && !s.breakage);
    let class = if open.is_some() && !chance {
        Class::Failing
    } else if evidence >= FLAKY_MIN_EVIDENCE || (evidence >= 1 && same_commit >= 1) {
        Class::Flaky
    } else {
        Class::Passing
    };
    let build_ref = |col: usize| BuildRef {
        build: grid.columns[col].build.clone(),
        commit: grid.columns[col].commit.clone(),
    };
    FlakeStats {
        job: grid.job.clone(),
        test: grid.rows[row].clone(),
        class,
        runs,
        passes,
        failures,
        flakes,
        broken_runs,
        flake_rate: rate,
        flake_rate_low: low,
        flake_rate_high: high,
        flip_flakiness: flip,
        same_commit_flakes: same_commit,
        last_pass: open.as_ref().and_then(|a| a.last_pass).map(build_ref),
        first_fail: open.as_ref().map(|a| build_ref(a.first_fail)),
        priority: None,
    }
}

/// A run of consecutive failures in a row's results (newest first).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Streak {
    start: usize,
    len: u64,
    breakage: bool,
}

/// Every failure streak of `flips`, each judged breakage or chance: a streak of at
/// least [`IGNORE_FAILURES_IN_A_ROW`] is breakage when one that long anywhere in the
/// row is less likely than [`BREAKAGE_ALPHA`] at the rate the rest of the row shows
/// (streaks already judged breakage left out). Judging repeats until nothing changes:
/// setting one breakage aside lowers the rate the others are judged by.
fn breakage_streaks(flips: &[Flip]) -> Vec<Streak> {
    let mut streaks = Vec::new();
    let mut i = 0;
    while i < flips.len() {
        if flips[i] != Flip::Fail {
            i += 1;
            continue;
        }
        let len = flips[i..].iter().take_while(|f| **f == Flip::Fail).count();
        streaks.push(Streak {
            start: i,
            len: len as u64,
            breakage: false,
        });
        i += len;
    }
    let runs = flips.len() as u64;
    let evidence = flips.iter().filter(|f| **f != Flip::Pass).count() as u64;
    // Bounded: each pass marks at least one more streak, or stops.
    for _ in 0..streaks.len() {
        let aside: u64 = streaks.iter().filter(|s| s.breakage).map(|s| s.len).sum();
        let mut changed = false;
        for s in streaks.iter_mut() {
            if s.breakage || s.len < IGNORE_FAILURES_IN_A_ROW as u64 {
                continue;
            }
            // The rate without this streak, with half a failure of prior so a row
            // that never failed otherwise still has a (small) rate to judge by.
            let others = runs - aside - s.len;
            let rate = ((evidence - aside - s.len) as f64 + 0.5) / (others as f64 + 1.0);
            if chance_of_streak(s.len, runs - aside, rate) < BREAKAGE_ALPHA {
                s.breakage = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    streaks
}

/// Probability that `n` independent runs failing with probability `p` hold a streak
/// of at least `len` failures somewhere: 1 − e^(−λ), λ the expected number of such
/// streaks (one may start the row, or follow any of its passes).
fn chance_of_streak(len: u64, n: u64, p: f64) -> f64 {
    if len > n {
        return 0.0;
    }
    let p = p.clamp(0.0, 1.0);
    let starts = 1.0 + (n - len) as f64 * (1.0 - p);
    let lambda = starts * p.powi(len.min(i32::MAX as u64) as i32);
    1.0 - (-lambda).exp()
}

/// Commits where the test both passed and failed (a FLAKY cell is both at once).
fn same_commit_disagreements(
    ctx: &GridContext,
    results: &[(usize, Flip)],
    seen: &mut Vec<u8>,
) -> u64 {
    const PASSED: u8 = 1;
    const FAILED: u8 = 2;
    seen.clear();
    seen.resize(ctx.commits, 0);
    for (col, flip) in results {
        let Some(slot) = seen.get_mut(ctx.commit_of[*col] as usize) else {
            continue;
        };
        *slot |= match flip {
            Flip::Pass => PASSED,
            Flip::Fail => FAILED,
            Flip::Flaky => PASSED | FAILED,
        };
    }
    seen.iter().filter(|s| **s == PASSED | FAILED).count() as u64
}

/// Statistics for every row of a grid.
pub fn grid_stats(grid: &Grid, rule: AlertRule) -> Vec<FlakeStats> {
    let ctx = GridContext::new(grid);
    let mut scratch = Scratch::default();
    (0..grid.rows.len())
        .map(|r| row_stats(grid, r, &ctx, rule, &mut scratch))
        .collect()
}

/// TestGrid's healthiness analysis of a tab (`health_analysis_options`): each test's
/// flip flakiness over the last `days` days before `now` and over the `days` before
/// those, and their means over the tests TestGrid lists.
#[derive(Debug, Clone, Serialize)]
pub struct Healthiness {
    /// The interval analysed, Unix seconds.
    pub start: i64,
    pub end: i64,
    pub average_flakiness: f64,
    /// The same mean over the interval before; None without a listed test there.
    pub previous_flakiness: Option<f64>,
    /// Most flaky first.
    pub tests: Vec<TestHealth>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestHealth {
    pub test: String,
    pub flakiness: f64,
    pub previous_flakiness: Option<f64>,
    pub change: Change,
}

/// How a test's flakiness moved from the interval before (TestGrid's trend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Change {
    Up,
    Down,
    NoChange,
    /// Not listed in the interval before.
    Unknown,
}

/// [`Healthiness`] of the test rows `rows` of `grid` at `now`.
pub fn healthiness(grid: &Grid, rows: &[usize], now: i64, days: u32) -> Healthiness {
    let span = i64::from(days) * 86_400;
    let ctx = GridContext::new(grid);
    let mut scratch = Scratch::default();
    // Columns are newest first: each interval is a contiguous range of them.
    let columns_in = |from: i64, to: i64| {
        let started = |c: &crate::model::Column| c.started.unwrap_or(i64::MIN);
        let first = grid.columns.iter().take_while(|c| started(c) >= to).count();
        let end = first
            + grid.columns[first..]
                .iter()
                .take_while(|c| started(c) >= from)
                .count();
        first..end
    };
    let (now_cols, before_cols) = (
        columns_in(now - span, now),
        columns_in(now - 2 * span, now - span),
    );
    let rule = AlertRule::default();
    let mut tests = Vec::new();
    let mut previous_sum = (0.0, 0u32);
    for &r in rows
        .iter()
        .filter(|r| crate::model::is_test_row(&grid.rows[**r]))
    {
        let before =
            row_stats_in(grid, r, before_cols.clone(), &ctx, rule, &mut scratch).flip_flakiness;
        if let Some(b) = before {
            previous_sum = (previous_sum.0 + b, previous_sum.1 + 1);
        }
        let Some(flakiness) =
            row_stats_in(grid, r, now_cols.clone(), &ctx, rule, &mut scratch).flip_flakiness
        else {
            continue;
        };
        let change = match before {
            None => Change::Unknown,
            Some(b) if flakiness > b => Change::Up,
            Some(b) if flakiness < b => Change::Down,
            Some(_) => Change::NoChange,
        };
        tests.push(TestHealth {
            test: grid.rows[r].clone(),
            flakiness,
            previous_flakiness: before,
            change,
        });
    }
    tests.sort_by(|a, b| {
        b.flakiness
            .total_cmp(&a.flakiness)
            .then_with(|| a.test.cmp(&b.test))
    });
    let average_flakiness = if tests.is_empty() {
        0.0
    } else {
        tests.iter().map(|t| t.flakiness).sum::<f64>() / tests.len() as f64
    };
    Healthiness {
        start: now - span,
        end: now,
        average_flakiness,
        previous_flakiness: (previous_sum.1 > 0)
            .then(|| previous_sum.0 / f64::from(previous_sum.1)),
        tests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;
    use CellStatus::{Fail as F, Flaky as K, Pass as P};

    fn grid(rows: &[&[CellStatus]], commits: &[&str]) -> Grid {
        let columns = commits
            .iter()
            .enumerate()
            .map(|(i, c)| Column {
                build: format!("{}", 100 - i),
                commit: Some(c.to_string()),
                ..Column::default()
            })
            .collect();
        let mut g = Grid::new("job".into(), columns);
        for (i, cells) in rows.iter().enumerate() {
            let r = g.add_row(format!("t{i}"));
            for (c, s) in cells.iter().enumerate() {
                g.set(r, c, *s, (*s == F).then(|| "expected 1 got 2".to_string()));
            }
        }
        g
    }

    #[test]
    fn flaky_test_with_same_commit_disagreement() {
        let g = grid(&[&[P, F, P, K, P, P]], &["a", "b", "b", "c", "d", "e"]);
        let s = &grid_stats(&g, AlertRule::default())[0];
        assert_eq!((s.runs, s.passes, s.failures, s.flakes), (6, 4, 1, 1));
        assert_eq!(s.class, Class::Flaky);
        assert!((s.flake_rate - 2.0 / 6.0).abs() < 1e-9);
        assert!(s.flake_rate_low < s.flake_rate && s.flake_rate < s.flake_rate_high);
        // commit b: pass and fail; commit c: a FLAKY cell.
        assert_eq!(s.same_commit_flakes, 2);
    }

    #[test]
    fn broken_test_is_failing_with_the_range_to_bisect() {
        let g = grid(&[&[F, F, F, P, P, P]], &["f", "e", "d", "c", "b", "a"]);
        let s = &grid_stats(&g, AlertRule::default())[0];
        assert_eq!(s.class, Class::Failing);
        assert_eq!(s.flake_rate, 0.0, "a streak is breakage, not flakiness");
        assert_eq!((s.broken_runs, s.runs), (3, 6));
        assert_eq!(s.first_fail.as_ref().unwrap().build, "98");
        assert_eq!(s.first_fail.as_ref().unwrap().commit.as_deref(), Some("d"));
        assert_eq!(s.last_pass.as_ref().unwrap().build, "97");
    }

    #[test]
    fn a_streak_the_tests_own_rate_explains_stays_flakiness() {
        // Fails about 40% of the time: three in a row happens by chance, and those
        // three are counted, not set aside as breakage.
        let row: &[CellStatus] = &[
            P, F, F, F, P, F, P, P, F, P, F, P, P, F, P, F, F, P, P, F, P, P, F, P,
        ];
        let commits: Vec<String> = (0..row.len()).map(|i| format!("c{i}")).collect();
        let commits: Vec<&str> = commits.iter().map(String::as_str).collect();
        let s = &grid_stats(&grid(&[row], &commits), AlertRule::default())[0];
        assert_eq!(s.broken_runs, 0);
        assert_eq!(s.class, Class::Flaky);
        assert!(
            (s.flake_rate - 11.0 / 24.0).abs() < 1e-9,
            "{}",
            s.flake_rate
        );
        // The same three failures in a test that otherwise never fails: breakage.
        let mut quiet = vec![P; 24];
        quiet[1..4].copy_from_slice(&[F, F, F]);
        let s = &grid_stats(&grid(&[&quiet], &commits), AlertRule::default())[0];
        assert_eq!((s.broken_runs, s.flake_rate), (3, 0.0));
    }

    #[test]
    fn streak_chances() {
        // p = 0.35 over 100 runs: a streak of 3 is near certain, 10 is not.
        assert!(chance_of_streak(3, 100, 0.35) > 0.9);
        assert!(chance_of_streak(10, 100, 0.35) < BREAKAGE_ALPHA);
        assert_eq!(chance_of_streak(5, 4, 0.5), 0.0);
    }

    #[test]
    fn outage_columns_and_infra_messages_are_excluded() {
        // Column 1 fails everywhere: an outage, not four flakes.
        let rows: Vec<&[CellStatus]> = vec![&[P, F, P, P]; 4];
        let g = grid(&rows, &["a", "b", "c", "d"]);
        assert_eq!(outage_columns(&g), [false, true, false, false]);
        let s = grid_stats(&g, AlertRule::default());
        assert!(s.iter().all(|s| s.class == Class::Passing && s.runs == 3));
        assert!(is_infra_message("ClusterSetupFailed"));
        assert!(!is_infra_message("expected 1 got 2"));
    }

    /// #15 rule 8: TestGrid's infra test is `^\w+$` on the composed message. Of these
    /// one-failure rows only the bare word is infra; the others are counted, so their
    /// flip flakiness is 100 as in TestGrid.
    #[test]
    fn only_a_bare_word_is_an_infra_failure() {
        let messages = [
            ("InfraError\ntrace", 100.0),
            ("Error!", 100.0),
            ("0/2 runs passed: Timeout", 100.0),
            ("Timeout", 0.0),
            (" Timeout", 100.0),
        ];
        for (message, want) in messages {
            let mut g = Grid::new(
                "job".into(),
                vec![Column {
                    build: "1".into(),
                    ..Column::default()
                }],
            );
            let r = g.add_row("t".into());
            g.set(r, 0, F, Some(message.to_string()));
            let s = &grid_stats(&g, AlertRule::default())[0];
            // An infra failure alone: TestGrid does not list the test at all.
            let want = (want > 0.0).then_some(want);
            assert_eq!(s.flip_flakiness, want, "{message:?}");
        }
    }

    /// #15 rule 10: a test with only FLAKY results is not in TestGrid's flakiness.
    #[test]
    fn a_test_with_only_flaky_results_has_no_flip_flakiness() {
        let g = grid(&[&[K, K, K], &[K, P, K]], &["a", "b", "c"]);
        let s = grid_stats(&g, AlertRule::default());
        assert_eq!(s[0].flip_flakiness, None);
        assert!(s[1]
            .flip_flakiness
            .is_some_and(|f| (f - 200.0 / 3.0).abs() < 1e-9));
    }

    #[test]
    fn flip_flakiness_drops_only_testgrids_outage_columns() {
        // Column 1: every row fails (TestGrid's outage: its FAILs are dropped).
        // Column 3: three of four rows fail, one passes: trellis's outage for the flake
        // rate, but TestGrid counts it, so row 0's flip flakiness sees that failure.
        let rows: Vec<&[CellStatus]> = vec![
            &[P, F, P, F, P],
            &[P, F, P, F, P],
            &[P, F, P, F, P],
            &[P, F, P, P, P],
        ];
        let g = grid(&rows, &["a", "b", "c", "d", "e"]);
        assert_eq!(
            testgrid_outage_columns(&g),
            [false, true, false, false, false]
        );
        let s = &grid_stats(&g, AlertRule::default())[0];
        // Four results (one FAIL dropped); one flip: the failure after a pass.
        assert!(
            s.flip_flakiness.is_some_and(|f| (f - 25.0).abs() < 1e-9),
            "{:?}",
            s.flip_flakiness
        );
        // The flake rate leaves out both columns.
        assert_eq!(s.runs, 3);
    }

    #[test]
    fn priorities() {
        assert_eq!(Priority::for_rate(0.25), Some(Priority::CriticalUrgent));
        assert_eq!(Priority::for_rate(0.05), Some(Priority::ImportantSoon));
        assert_eq!(Priority::for_rate(0.01), None);
    }
}
