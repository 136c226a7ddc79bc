//! The release-blocking verdict (kubernetes/sig-release `release-blocking-jobs.md`):
//! every job on a blocking dashboard needs at least three successive green runs at
//! decision time, else the release is blocked. The criteria for staying on a blocking
//! dashboard become review triggers: weekly pass rate under 75%, more than 10
//! consecutive failures, running less often than every 3 hours, and a weekly mean of
//! the daily p75 duration over 120 minutes.

use crate::model::{BuildRef, Grid};
use serde::Serialize;

pub const GREEN_RUNS_REQUIRED: usize = 3;
pub const WEEKLY_PASS_RATE_MIN: f64 = 0.75;
pub const CONSECUTIVE_FAILURES_MAX: usize = 10;
pub const RUN_INTERVAL_MAX_SECS: i64 = 3 * 3600;
pub const P75_DURATION_MAX_SECS: f64 = 120.0 * 60.0;
const WEEK: i64 = 7 * 24 * 3600;
const DAY: i64 = 24 * 3600;

/// Why the release is blocked, or why a job needs review.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// True: blocks the release. False: a review trigger.
    pub blocking: bool,
    pub dashboard: String,
    pub job: String,
    pub kind: &'static str,
    pub message: String,
    /// The test behind it, when one test is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Since which build and commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<BuildRef>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    pub blocked: bool,
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub fn push(&mut self, reason: Reason) {
        self.blocked |= reason.blocking;
        self.reasons.push(reason);
    }
}

/// Whether a column is a green run: finished.json says passed, or (no verdict) no
/// failing cell.
fn green(grid: &Grid, col: usize) -> bool {
    grid.columns[col].passed.unwrap_or_else(|| {
        (0..grid.rows.len()).all(|r| {
            !super::testgrid::is_failing(grid.row(r)[col])
                && grid.row(r)[col] != crate::model::CellStatus::Flaky
        })
    })
}

/// Whether column `col` is a build still running (its `Overall` cell RUNNING).
fn is_running(grid: &Grid, col: usize) -> bool {
    grid.rows
        .iter()
        .position(|r| r == crate::model::OVERALL_ROW)
        .is_some_and(|r| grid.row(r)[col] == crate::model::CellStatus::Running)
}

/// Checks one job of a release-blocking dashboard.
pub fn check_job(grid: &Grid, dashboard: &str, now: i64, verdict: &mut Verdict) {
    let reason = |blocking, kind, message: String, since: Option<BuildRef>| Reason {
        blocking,
        dashboard: dashboard.to_string(),
        job: grid.job.clone(),
        kind,
        message,
        test: None,
        since,
    };
    // A build still running is neither a green run nor a red one yet.
    let done: Vec<usize> = (0..grid.columns.len())
        .filter(|c| !is_running(grid, *c))
        .collect();
    let cols = done.len();
    if cols == 0 {
        verdict.push(reason(
            true,
            "no-runs",
            "no runs stored for this job".into(),
            None,
        ));
        return;
    }
    let greens = done.iter().take_while(|c| green(grid, **c)).count();
    if greens < GREEN_RUNS_REQUIRED {
        let reds = done[greens..]
            .iter()
            .take_while(|c| !green(grid, **c))
            .count();
        let first_red = done[greens + reds - 1];
        let since = BuildRef {
            build: grid.columns[first_red].build.clone(),
            commit: grid.columns[first_red].commit.clone(),
        };
        let message =
            format!(
            "{greens} successive green run(s), {GREEN_RUNS_REQUIRED} needed; red since build {}{}",
            since.build,
            since.commit.as_deref().map(|c| format!(" (commit {c})")).unwrap_or_default()
        );
        verdict.push(reason(true, "not-enough-green-runs", message, Some(since)));
    }
    let failures = done.iter().take_while(|c| !green(grid, **c)).count();
    if failures > CONSECUTIVE_FAILURES_MAX {
        verdict.push(reason(
            false,
            "consecutive-failures",
            format!("{failures} consecutive failed runs (more than {CONSECUTIVE_FAILURES_MAX})"),
            None,
        ));
    }
    let week: Vec<usize> = done
        .iter()
        .copied()
        .filter(|c| grid.columns[*c].started.is_some_and(|s| now - s <= WEEK))
        .collect();
    if !week.is_empty() {
        let passed = week.iter().filter(|c| green(grid, **c)).count();
        let rate = passed as f64 / week.len() as f64;
        if rate < WEEKLY_PASS_RATE_MIN {
            verdict.push(reason(
                false,
                "weekly-pass-rate",
                format!(
                    "{passed} of {} runs passed this week ({:.0}%, under 75%)",
                    week.len(),
                    rate * 100.0
                ),
                None,
            ));
        }
    }
    let interval = mean_interval(grid, &week, now);
    if interval.is_none_or(|i| i > RUN_INTERVAL_MAX_SECS) {
        let message = match interval {
            Some(i) => format!(
                "runs every {:.1} h on average this week (more than 3 h)",
                i as f64 / 3600.0
            ),
            None => "fewer than two runs this week (should run at least every 3 h)".to_string(),
        };
        verdict.push(reason(false, "run-frequency", message, None));
    }
    if let Some(p75) = weekly_mean_p75_duration(grid, &week, now) {
        if p75 > P75_DURATION_MAX_SECS {
            verdict.push(reason(
                false,
                "duration",
                format!(
                    "weekly mean of daily p75 duration is {:.0} min (over 120)",
                    p75 / 60.0
                ),
                None,
            ));
        }
    }
}

fn mean_interval(grid: &Grid, week: &[usize], now: i64) -> Option<i64> {
    let mut starts: Vec<i64> = week
        .iter()
        .filter_map(|c| grid.columns[*c].started)
        .collect();
    if starts.len() < 2 {
        return None;
    }
    starts.sort_unstable();
    // Count the quiet time since the newest run too: a job that stopped is not frequent.
    let span = now.max(starts[starts.len() - 1]) - starts[0];
    Some(span / (starts.len() as i64 - 1).max(1))
}

fn weekly_mean_p75_duration(grid: &Grid, week: &[usize], now: i64) -> Option<f64> {
    let mut by_day: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for c in week {
        let col = &grid.columns[*c];
        if let (Some(start), Some(d)) = (col.started, col.duration_secs()) {
            by_day.entry((now - start) / DAY).or_default().push(d);
        }
    }
    if by_day.is_empty() {
        return None;
    }
    let p75s: Vec<f64> = by_day
        .into_values()
        .map(|mut d| {
            d.sort_unstable();
            let idx = ((d.len() as f64) * 0.75).ceil() as usize;
            d[idx.clamp(1, d.len()) - 1] as f64
        })
        .collect();
    Some(p75s.iter().sum::<f64>() / p75s.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;

    fn grid(passed: &[bool], every: i64, duration: i64, now: i64) -> Grid {
        let columns = passed
            .iter()
            .enumerate()
            .map(|(i, p)| Column {
                build: format!("{}", 100 - i),
                started: Some(now - 600 - i as i64 * every),
                finished: Some(now - 600 - i as i64 * every + duration),
                passed: Some(*p),
                commit: Some(format!("c{}", 100 - i)),
                pr: None,
            })
            .collect();
        Grid::new("ci-job".into(), columns)
    }

    /// A build still running, whatever its results so far, is not a green run: two
    /// greens and a running build do not make three.
    #[test]
    fn a_running_build_is_not_a_green_run() {
        let now = 10_000_000;
        let mut g = grid(&[true, true, true, false], 3600, 1800, now);
        g.columns[0].passed = None;
        g.columns[0].finished = None;
        let overall = g.add_row(crate::model::OVERALL_ROW.into());
        g.set(overall, 0, crate::model::CellStatus::Running, None);
        let mut v = Verdict::default();
        check_job(&g, "d-blocking", now, &mut v);
        assert!(v.blocked, "{:?}", v.reasons);
        assert!(v.reasons[0]
            .message
            .starts_with("2 successive green run(s)"));
        assert_eq!(v.reasons[0].since.as_ref().unwrap().build, "97");
    }

    #[test]
    fn three_greens_needed() {
        let now = 10_000_000;
        let mut v = Verdict::default();
        check_job(
            &grid(&[true, true, true, false], 3600, 1800, now),
            "d-blocking",
            now,
            &mut v,
        );
        assert!(!v.blocked, "{:?}", v.reasons);

        let mut v = Verdict::default();
        check_job(
            &grid(&[true, true, false, false, true], 3600, 1800, now),
            "d-blocking",
            now,
            &mut v,
        );
        assert!(v.blocked);
        let r = &v.reasons[0];
        assert_eq!(r.kind, "not-enough-green-runs");
        assert_eq!(r.since.as_ref().unwrap().build, "97");
        assert!(
            r.message.contains("2 successive green run(s)"),
            "{}",
            r.message
        );
    }

    #[test]
    fn review_triggers() {
        let now = 10_000_000;
        let mut v = Verdict::default();
        let mut runs = vec![false; 12];
        runs.extend([true; 3]);
        check_job(
            &grid(&runs, 4 * 3600, 3 * 3600, now),
            "d-blocking",
            now,
            &mut v,
        );
        let kinds: Vec<_> = v.reasons.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                "not-enough-green-runs",
                "consecutive-failures",
                "weekly-pass-rate",
                "run-frequency",
                "duration"
            ]
        );
        assert!(v.reasons[1..].iter().all(|r| !r.blocking));
    }
}
