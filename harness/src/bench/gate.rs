//! `trellis bench gate`: the time `trellis gate` takes to judge one PR build against a
//! long base history in the store, as a pre-submit job would wait for it.

use crate::analysis::gate::{self, BaseHistory};
use crate::model::{Build, Span};
use crate::store::{Store, StoreError};
use std::path::Path;
use std::time::{Duration, Instant};

/// One judged PR build.
pub struct GateRound {
    pub build: String,
    pub failing: usize,
    /// Open the store and read the failing tests' base rows…
    pub read: Duration,
    /// …then judge.
    pub judge: Duration,
}

impl GateRound {
    pub fn elapsed(&self) -> Duration {
        self.read + self.judge
    }
}

pub struct GateFigures {
    /// Time to fill the store (zero when it was kept from an earlier run).
    pub generated: Option<Duration>,
    pub base_builds: usize,
    pub tests: usize,
    pub rounds: Vec<GateRound>,
}

/// Fills `db` (unless it already holds data) with one base job of `builds` × `tests`
/// and `prs` PR builds, then judges every PR build from a freshly opened store: open,
/// read the failing tests' base rows, judge.
pub fn gate(db: &Path, builds: usize, tests: usize, prs: usize) -> Result<GateFigures, StoreError> {
    let mut pr_builds: Vec<Build> = Vec::new();
    let fresh = !db.exists();
    let generated = if fresh {
        let mut opts = crate::simulate::SimOptions::new(
            vec!["bench-base".into()],
            builds,
            tests,
            chrono::Utc::now().timestamp(),
        );
        opts.pr_builds = prs;
        opts.seed = 7;
        let mut store = Store::open(db)?;
        let start = Instant::now();
        crate::simulate::simulate(&opts, |b| store.insert_build(&b).map(|_| ()))?;
        Some(start.elapsed())
    } else {
        None
    };
    let store = Store::open(db)?;
    for run in store.runs(Some("pull-bench-base"))? {
        if let Some(detail) = store.build_detail(&run.job, &run.build)? {
            pr_builds.push(detail.into_build());
        }
    }
    let base_builds = store.runs(Some("bench-base"))?.len();
    drop(store);
    let mut rounds = Vec::new();
    for build in &pr_builds {
        let start = Instant::now();
        let store = Store::open(db)?;
        let failing = gate::failing_tests(build);
        let (grid, counts) = store.rows_of("bench-base", Span::ALL, &failing)?;
        let read = start.elapsed();
        let start = Instant::now();
        let report = gate::judge(
            build,
            &[BaseHistory { grid, counts }],
            &gate::Excuses::none(&crate::config::quarantine::day(
                chrono::Utc::now().timestamp(),
            )),
        );
        std::hint::black_box(&report);
        rounds.push(GateRound {
            build: build.build.clone(),
            failing: failing.len(),
            read,
            judge: start.elapsed(),
        });
    }
    Ok(GateFigures {
        generated,
        base_builds,
        tests,
        rounds,
    })
}
