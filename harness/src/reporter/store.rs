//! Stores the finished build: when the run is over (finished.json written, the build
//! log complete), the build directory is ingested under the run's job.

use super::{Event, EventKind, Sink, SinkError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the store sink stored: job, build and cell count.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub job: String,
    pub build: String,
    pub cells: usize,
}

pub struct StoreBuild {
    db: crate::store::Location,
    job: String,
    build_dir: Option<PathBuf>,
    stored: Arc<Mutex<Vec<Stored>>>,
}

impl StoreBuild {
    /// A sink storing into `db` under `job`, and the list it fills in.
    pub fn new(db: crate::store::Location, job: String) -> (StoreBuild, Arc<Mutex<Vec<Stored>>>) {
        let stored = Arc::new(Mutex::new(Vec::new()));
        let sink = StoreBuild {
            db,
            job,
            build_dir: None,
            stored: stored.clone(),
        };
        (sink, stored)
    }
}

impl Sink for StoreBuild {
    fn event(&mut self, event: &Event) -> Result<(), SinkError> {
        match &event.kind {
            EventKind::RunStarted { build_dir, .. } => {
                self.build_dir = Some(build_dir.clone());
                Ok(())
            }
            EventKind::RunFinished(r) => {
                let Some(dir) = &self.build_dir else {
                    return Ok(());
                };
                let stored = store_build_dir(dir, &self.job, r.finished, &self.db)?;
                if let Ok(mut s) = self.stored.lock() {
                    s.extend(stored);
                }
                Ok(())
            }
            EventKind::Provisioning
            | EventKind::ClusterReady { .. }
            | EventKind::SuiteStarted { .. }
            | EventKind::Note { .. }
            | EventKind::Specs(_)
            | EventKind::Test(_)
            | EventKind::SuiteFinished(_)
            | EventKind::TeardownStarted
            | EventKind::LogsExported { .. }
            | EventKind::TeardownFinished { .. } => Ok(()),
        }
    }
}

/// Ingests one Prow build directory trellis wrote into the store under `job`.
pub fn store_build_dir(
    build: &std::path::Path,
    job: &str,
    now: i64,
    db: &crate::store::Location,
) -> Result<Vec<Stored>, SinkError> {
    let opts = crate::ingest::IngestOptions {
        job: Some(job.to_string()),
        ..Default::default()
    };
    let builds = crate::ingest::read_all(&build.display().to_string(), &opts, now)?;
    let mut store = crate::store::Store::open(db)?;
    let mut stored = Vec::new();
    for b in &builds {
        store.insert_build(b)?;
        stored.push(Stored {
            job: b.job.clone(),
            build: b.build.clone(),
            cells: b.cells.len(),
        });
    }
    Ok(stored)
}
