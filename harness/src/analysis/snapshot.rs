//! The whole picture at one decision time: every tab's status, the release verdict,
//! flake statistics and their trend basis, computed once from loaded grids.
//!
//! `trellis status` and the report both read a [`Snapshot`]; neither repeats the
//! recipe.

use super::flakes::{row_stats_in, AlertRule, FlakeStats, GridContext, Scratch};
use super::{flake_table, status, StatusReport};
use crate::config::DashboardConfig;
use crate::model::Grid;
use std::collections::HashMap;

/// Analysis threads: the machines trellis targets have two cores.
const THREADS: usize = 2;

pub struct Snapshot {
    pub grids: HashMap<String, Grid>,
    /// Per job, one entry per grid row.
    pub flakes: HashMap<String, Vec<FlakeStats>>,
    pub status: StatusReport,
    pub now: i64,
}

impl Snapshot {
    /// Analyses `grids` as `config` shows them, at decision time `now`.
    pub fn compute(config: &DashboardConfig, grids: Vec<Grid>, now: i64) -> Snapshot {
        let flakes = flake_table(config, &grids, THREADS);
        let grids: HashMap<String, Grid> = grids.into_iter().map(|g| (g.job.clone(), g)).collect();
        let status = status(config, &grids, &flakes, now);
        Snapshot {
            grids,
            flakes,
            status,
            now,
        }
    }
}

impl Snapshot {
    /// Flake rate over the older half of the window, by (job, test): the trend basis
    /// the report shows (computed on demand: `status` has no use for it).
    pub fn previous_rates(&self) -> HashMap<(String, String), f64> {
        previous_rates(self.grids.values())
    }
}

/// Flake rates over the older half of each grid's columns.
fn previous_rates<'a>(grids: impl Iterator<Item = &'a Grid>) -> HashMap<(String, String), f64> {
    let mut out = HashMap::new();
    for g in grids {
        let ctx = GridContext::new(g);
        let mut scratch = Scratch::default();
        let older = g.columns.len() / 2..g.columns.len();
        for r in 0..g.rows.len() {
            let s = row_stats_in(
                g,
                r,
                older.clone(),
                &ctx,
                AlertRule::default(),
                &mut scratch,
            );
            if s.runs > 0 {
                out.insert((s.job, s.test), s.flake_rate);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// analysis/ is pure: the store loads, analysis computes. A `use` of the store
    /// here would bring back the cycle the module tree must not have.
    #[test]
    fn analysis_never_names_the_store() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/analysis");
        let mut checked = 0;
        let mut pending = vec![dir.clone()];
        let mut files = Vec::new();
        // Bounded: the module tree is two levels deep.
        for _ in 0..100 {
            let Some(d) = pending.pop() else { break };
            for entry in std::fs::read_dir(&d).expect("src/analysis") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        for path in files {
            let text = std::fs::read_to_string(&path).expect("read");
            // Split so this file's own text does not match.
            let needle = ["crate::", "store"].concat();
            assert!(
                !text.contains(&needle),
                "{} names {needle}: analysis must not read the store",
                path.display()
            );
            checked += 1;
        }
        assert!(checked >= 7, "only {checked} files under {}", dir.display());
    }
}
