//! Sippy's numbers: pass rates per job and per test over the current window and the
//! one before it, with the change, and the Fisher regressions grouped by component
//! (the `[sig-xxx]` of a Kubernetes test name) for a component-readiness table.
//!
//! A job's pass rate is its finished builds that passed; a test's counts every result
//! it had, a FLAKY one (passed on retry) as a pass that is also counted as a flake,
//! as Sippy does. Windows are by build start time: `[previous, current)` and
//! `[current, until)`.

use super::regressions::{self, Regression};
use super::testgrid::coalesce;
use crate::config::components::Components;
use crate::model::{is_test_row, CellStatus, Grid};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The two windows compared, as Unix start times.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Windows {
    /// Start of the previous window (and of the regression basis, which may reach
    /// further back: `basis`).
    pub previous: i64,
    pub current: i64,
    pub until: i64,
    /// Start of the regression basis (`trellis regressions`' --basis-days back from
    /// `current`).
    pub basis: i64,
}

impl Windows {
    fn which(&self, started: Option<i64>) -> Option<Window> {
        let t = started?;
        if t >= self.current && t < self.until {
            Some(Window::Current)
        } else if t >= self.previous && t < self.current {
            Some(Window::Previous)
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Window {
    Previous,
    Current,
}

/// Results counted in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub runs: u64,
    /// Passed, counting passes on retry.
    pub passes: u64,
    /// Passed only on retry.
    pub flakes: u64,
}

impl Counts {
    /// Passes / runs as a fraction; `None` with no runs.
    pub fn pass_rate(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.passes as f64 / self.runs as f64)
    }

    fn add(&mut self, other: Counts) {
        self.runs += other.runs;
        self.passes += other.passes;
        self.flakes += other.flakes;
    }
}

/// A job or test in both windows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Compared {
    pub current: Counts,
    pub previous: Counts,
}

impl Compared {
    /// Current pass rate minus previous, in percentage points; `None` unless both
    /// windows have runs.
    pub fn delta_points(&self) -> Option<f64> {
        Some((self.current.pass_rate()? - self.previous.pass_rate()?) * 100.0)
    }

    fn add(&mut self, other: &Compared) {
        self.current.add(other.current);
        self.previous.add(other.previous);
    }
}

/// Worst drop first; rows without a previous window after every compared one.
fn by_worst_drop(a: &Compared, b: &Compared) -> std::cmp::Ordering {
    match (a.delta_points(), b.delta_points()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRates {
    pub job: String,
    #[serde(flatten)]
    pub rates: Compared,
}

/// One test across every job that ran it, and per job.
#[derive(Debug, Clone, Serialize)]
pub struct TestRates {
    pub test: String,
    pub component: String,
    #[serde(flatten)]
    pub rates: Compared,
    pub jobs: Vec<JobRates>,
}

/// Every job's build pass rates, worst drop first.
pub fn jobs(grids: &[&Grid], w: &Windows) -> Vec<JobRates> {
    let mut out: Vec<JobRates> = grids
        .iter()
        .map(|g| {
            let mut rates = Compared::default();
            for col in &g.columns {
                let (Some(window), Some(passed)) = (w.which(col.started), col.passed) else {
                    continue;
                };
                let counts = match window {
                    Window::Current => &mut rates.current,
                    Window::Previous => &mut rates.previous,
                };
                counts.runs += 1;
                counts.passes += u64::from(passed);
            }
            JobRates {
                job: g.job.clone(),
                rates,
            }
        })
        .collect();
    out.sort_by(|a, b| by_worst_drop(&a.rates, &b.rates).then_with(|| a.job.cmp(&b.job)));
    out
}

/// Every test's result pass rates across jobs (and per job), worst drop first.
pub fn tests(grids: &[&Grid], w: &Windows, components: &Components) -> Vec<TestRates> {
    let mut by_test: HashMap<&str, Vec<JobRates>> = HashMap::new();
    for g in grids {
        let windows: Vec<Option<Window>> = g.columns.iter().map(|c| w.which(c.started)).collect();
        for (r, name) in g.rows.iter().enumerate() {
            if !is_test_row(name) {
                // The build itself (its pass rate is the job's) or a suite node.
                continue;
            }
            let mut rates = Compared::default();
            for (status, window) in g.row(r).iter().zip(&windows) {
                let Some(window) = window else { continue };
                let (passed, flaked) = match coalesce(*status, true) {
                    CellStatus::Pass => (true, false),
                    CellStatus::Flaky => (true, true),
                    CellStatus::Fail => (false, false),
                    _ => continue,
                };
                let counts = match window {
                    Window::Current => &mut rates.current,
                    Window::Previous => &mut rates.previous,
                };
                counts.runs += 1;
                counts.passes += u64::from(passed);
                counts.flakes += u64::from(flaked);
            }
            if rates.current.runs + rates.previous.runs > 0 {
                by_test.entry(name).or_default().push(JobRates {
                    job: g.job.clone(),
                    rates,
                });
            }
        }
    }
    let mut out: Vec<TestRates> = by_test
        .into_iter()
        .map(|(test, mut jobs)| {
            jobs.sort_by(|a, b| by_worst_drop(&a.rates, &b.rates).then_with(|| a.job.cmp(&b.job)));
            let mut rates = Compared::default();
            for j in &jobs {
                rates.add(&j.rates);
            }
            TestRates {
                test: test.to_string(),
                component: components.of(test),
                rates,
                jobs,
            }
        })
        .collect();
    out.sort_by(|a, b| by_worst_drop(&a.rates, &b.rates).then_with(|| a.test.cmp(&b.test)));
    out
}

/// Component readiness: per component and job, the tests that ran there and the
/// significant regressions (`trellis regressions`' Fisher test, basis `[basis,
/// current)`, sample `[current, until)`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Readiness {
    pub jobs: Vec<String>,
    /// Component → job → cell.
    pub components: BTreeMap<String, BTreeMap<String, ReadinessCell>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadinessCell {
    /// Tests of the component with results in the sample window.
    pub tests: usize,
    pub regressions: Vec<Regression>,
}

pub fn readiness(grids: &[&Grid], w: &Windows, components: &Components) -> Readiness {
    let mut out = Readiness {
        jobs: grids.iter().map(|g| g.job.clone()).collect(),
        ..Readiness::default()
    };
    out.jobs.sort();
    for g in grids {
        let sampled: Vec<bool> = g
            .columns
            .iter()
            .map(|c| c.started.is_some_and(|t| t >= w.current && t < w.until))
            .collect();
        for (r, name) in g.rows.iter().enumerate() {
            if !is_test_row(name) {
                continue;
            }
            let ran = g.row(r).iter().zip(&sampled).any(|(s, in_sample)| {
                *in_sample && !matches!(coalesce(*s, true), CellStatus::NoResult)
            });
            if ran {
                let cell = out
                    .components
                    .entry(components.of(name))
                    .or_default()
                    .entry(g.job.clone())
                    .or_default();
                cell.tests += 1;
            }
        }
        for found in regressions::find(g, w.basis, w.current)
            .into_iter()
            .filter(|r| is_test_row(&r.test))
        {
            out.components
                .entry(components.of(&found.test))
                .or_default()
                .entry(g.job.clone())
                .or_default()
                .regressions
                .push(found);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;

    fn grid(job: &str, rows: &[(&str, &[CellStatus])], starts: &[i64], passed: &[bool]) -> Grid {
        let columns = starts
            .iter()
            .zip(passed)
            .enumerate()
            .map(|(i, (s, p))| Column {
                build: format!("{}", 100 - i),
                started: Some(*s),
                finished: Some(*s + 60),
                passed: Some(*p),
                commit: None,
                pr: None,
            })
            .collect();
        let mut g = Grid::new(job.into(), columns);
        for (name, cells) in rows {
            let r = g.add_row(name.to_string());
            for (c, s) in cells.iter().enumerate() {
                g.set(r, c, *s, None);
            }
        }
        g
    }

    const W: Windows = Windows {
        previous: 0,
        current: 100,
        until: 200,
        basis: 0,
    };

    #[test]
    fn job_and_test_rates_compare_the_windows_and_sort_by_the_worst_drop() {
        use CellStatus::{Fail, Flaky, Pass};
        // Newest first: two builds in the current window, two in the previous.
        let a = grid(
            "a",
            &[
                ("[sig-node] t1", &[Fail, Flaky, Pass, Pass]),
                ("t2", &[Pass, Pass, Pass, Pass]),
            ],
            &[150, 120, 50, 10],
            &[false, true, true, true],
        );
        let b = grid(
            "b",
            &[("[sig-node] t1", &[Pass, Pass, Fail, Pass])],
            &[150, 120, 50, 10],
            &[true, true, true, true],
        );
        let jobs = jobs(&[&a, &b], &W);
        assert_eq!(jobs[0].job, "a");
        assert_eq!(jobs[0].rates.delta_points(), Some(-50.0));
        assert_eq!(jobs[1].rates.delta_points(), Some(0.0));
        let tests = tests(&[&a, &b], &W, &Components::default());
        assert_eq!(tests[0].test, "[sig-node] t1");
        assert_eq!(tests[0].component, "sig-node");
        // Current: a Fail, a Flaky (a pass and a flake), b two passes: 3 of 4.
        assert_eq!(
            tests[0].rates.current,
            Counts {
                runs: 4,
                passes: 3,
                flakes: 1
            }
        );
        assert_eq!(
            tests[0].rates.previous,
            Counts {
                runs: 4,
                passes: 3,
                flakes: 0
            }
        );
        assert_eq!(tests[0].jobs[0].job, "a", "the job that dropped first");
        assert_eq!(tests[1].component, "other");
    }
}
