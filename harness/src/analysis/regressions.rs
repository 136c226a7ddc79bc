//! Regressions between two windows, the way Sippy's component readiness judges them:
//! a one-sided Fisher exact test of the sample window's failures against the basis
//! window's, significant at p < 0.05 with at least 3 sample failures and a pass-rate
//! drop of more than 5 points; more than 15 points is extreme.

use super::flakes::{is_infra_message, outage_columns};
use super::stats::fisher_greater;
use super::testgrid::coalesce;
use crate::model::CellStatus;
use crate::model::Grid;
use serde::Serialize;

pub const SIGNIFICANCE: f64 = 0.05;
pub const MIN_SAMPLE_FAILURES: u64 = 3;
pub const MIN_DROP_POINTS: f64 = 5.0;
pub const EXTREME_DROP_POINTS: f64 = 15.0;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct WindowCounts {
    pub runs: u64,
    pub failures: u64,
    pub pass_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub job: String,
    pub test: String,
    pub basis: WindowCounts,
    pub sample: WindowCounts,
    /// Basis pass rate minus sample pass rate, as a fraction (0.12 is 12 points).
    pub drop: f64,
    pub p_value: f64,
    pub extreme: bool,
}

/// Regressions in `grid` where columns started at or after `sample_start` form the
/// sample and those in `[basis_start, sample_start)` the basis.
pub fn find(grid: &Grid, basis_start: i64, sample_start: i64) -> Vec<Regression> {
    let outages = outage_columns(grid);
    let mut out = Vec::new();
    for row in 0..grid.rows.len() {
        let mut basis = (0u64, 0u64);
        let mut sample = (0u64, 0u64);
        for (col, status) in grid.row(row).iter().enumerate() {
            let Some(started) = grid.columns[col].started else {
                continue;
            };
            if started < basis_start || outages[col] {
                continue;
            }
            let failed = match coalesce(*status, true) {
                CellStatus::NoResult | CellStatus::Unknown => continue,
                CellStatus::Fail => {
                    if grid.message(row, col).is_some_and(is_infra_message) {
                        continue;
                    }
                    true
                }
                _ => false,
            };
            let w = if started >= sample_start {
                &mut sample
            } else {
                &mut basis
            };
            w.0 += 1;
            w.1 += u64::from(failed);
        }
        let (Some(b), Some(s)) = (counts(basis), counts(sample)) else {
            continue;
        };
        let drop = (b.pass_rate - s.pass_rate) * 100.0;
        if s.failures < MIN_SAMPLE_FAILURES || drop <= MIN_DROP_POINTS {
            continue;
        }
        let p = fisher_greater(
            s.failures,
            s.runs - s.failures,
            b.failures,
            b.runs - b.failures,
        );
        if p >= SIGNIFICANCE {
            continue;
        }
        out.push(Regression {
            job: grid.job.clone(),
            test: grid.rows[row].clone(),
            basis: b,
            sample: s,
            drop: b.pass_rate - s.pass_rate,
            p_value: p,
            extreme: drop > EXTREME_DROP_POINTS,
        });
    }
    out
}

fn counts((runs, failures): (u64, u64)) -> Option<WindowCounts> {
    (runs > 0).then(|| WindowCounts {
        runs,
        failures,
        pass_rate: (runs - failures) as f64 / runs as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;

    fn grid(cells: &[CellStatus]) -> Grid {
        // Newest first, one run per hour; the newest 20 are the sample.
        let columns = (0..cells.len())
            .map(|i| Column {
                build: format!("{i}"),
                started: Some(100_000 - i as i64 * 3600),
                ..Column::default()
            })
            .collect();
        let mut g = Grid::new("job".into(), columns);
        let r = g.add_row("t".into());
        for (c, s) in cells.iter().enumerate() {
            g.set(
                r,
                c,
                *s,
                (*s == CellStatus::Fail).then(|| "assertion failed: x".to_string()),
            );
        }
        g
    }

    #[test]
    fn a_real_drop_is_significant_and_noise_is_not() {
        use CellStatus::{Fail as F, Pass as P};
        let sample_start = 100_000 - 19 * 3600;
        // Sample: 6 of 20 fail; basis: 1 of 40.
        let mut cells = vec![P; 60];
        for i in [0, 3, 6, 9, 12, 15] {
            cells[i] = F;
        }
        cells[30] = F;
        let r = find(&grid(&cells), i64::MIN, sample_start);
        assert_eq!(r.len(), 1);
        assert!(r[0].p_value < 0.05 && r[0].extreme, "{:?}", r[0]);
        assert_eq!((r[0].sample.failures, r[0].basis.failures), (6, 1));
        // Sample 2 of 20: under the 3-failure floor.
        let mut quiet = vec![P; 60];
        quiet[0] = F;
        quiet[5] = F;
        assert!(find(&grid(&quiet), i64::MIN, sample_start).is_empty());
    }
}
