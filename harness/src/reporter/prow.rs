//! `started.json` when the run starts, `finished.json` when it ends, written with
//! the types ingest reads them back with.

use super::{Event, EventKind, Sink, SinkError};
use crate::prow::{self, Finished, Started};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

#[derive(Default)]
pub struct ProwMetadata {
    build_dir: Option<PathBuf>,
}

impl Sink for ProwMetadata {
    fn event(&mut self, event: &Event) -> Result<(), SinkError> {
        match &event.kind {
            EventKind::RunStarted {
                build_dir,
                cluster,
                suites,
                started,
                ..
            } => {
                self.build_dir = Some(build_dir.clone());
                let mut metadata = Map::new();
                metadata.insert("cluster".into(), cluster.clone().into());
                metadata.insert("suites".into(), json!(suites));
                let started = Started {
                    timestamp: *started,
                    metadata,
                    ..Started::default()
                };
                write(build_dir.join("started.json"), &started)
            }
            EventKind::RunFinished(r) => {
                let Some(dir) = &self.build_dir else {
                    return Ok(());
                };
                let mut metadata = Map::new();
                metadata.insert("job-version".into(), json!(r.version));
                let suites: Vec<Value> = r
                    .suites
                    .iter()
                    .map(|s| json!({"name": s.name, "passed": s.passed, "summary": s.summary}))
                    .collect();
                metadata.insert("suites".into(), suites.into());
                metadata.insert("error".into(), json!(r.error));
                if let Some(rerun) = &r.rerun {
                    metadata.insert(crate::runner::RERUN_METADATA_KEY.into(), rerun.clone());
                }
                let finished = Finished {
                    timestamp: Some(r.finished),
                    passed: Some(r.passed),
                    result: Some(r.result.clone()),
                    metadata,
                    ..Finished::default()
                };
                write(dir.join("finished.json"), &finished)
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

fn write(path: PathBuf, value: &impl serde::Serialize) -> Result<(), SinkError> {
    prow::write(&path, value).map_err(|source| SinkError::Io { path, source })
}
