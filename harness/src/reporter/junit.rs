//! JUnit from test events: per suite into the run's `artifacts/junit_<suite>.xml`, or
//! into one file for `trellis test --junit`.

use super::{Event, EventKind, Sink, SinkError};
use crate::runner::{self, RunReport, TestEvent, TestRun};
use std::path::PathBuf;

pub struct Junit {
    target: Target,
    /// Where the current tests' report goes.
    path: Option<PathBuf>,
    /// The run's artifacts directory (per-suite reports).
    artifacts: Option<PathBuf>,
    tests: Vec<(usize, TestRun)>,
    /// When the current tests started (Unix seconds).
    started: i64,
}

enum Target {
    /// One file for the whole run.
    File,
    /// `junit_<suite>.xml` in the artifacts of the build the run started.
    PerSuite,
}

impl Junit {
    pub fn to_file(path: PathBuf) -> Junit {
        Junit {
            path: Some(path.clone()),
            target: Target::File,
            artifacts: None,
            tests: Vec::new(),
            started: 0,
        }
    }

    pub fn per_suite() -> Junit {
        Junit {
            target: Target::PerSuite,
            path: None,
            artifacts: None,
            tests: Vec::new(),
            started: 0,
        }
    }
}

impl Sink for Junit {
    fn event(&mut self, event: &Event) -> Result<(), SinkError> {
        match (&event.kind, &self.target) {
            (EventKind::RunStarted { build_dir, .. }, Target::PerSuite) => {
                self.artifacts = Some(build_dir.join("artifacts"));
            }
            (EventKind::SuiteStarted { name, .. }, Target::PerSuite) => {
                self.path = self
                    .artifacts
                    .as_ref()
                    .map(|dir| dir.join(format!("junit_{name}.xml")));
                self.tests.clear();
            }
            (EventKind::Test(TestEvent::RunStarted { .. }), _) => {
                self.tests.clear();
                self.started = event.at.timestamp();
            }
            (EventKind::Test(TestEvent::TestFinished { index, run, .. }), _) => {
                self.tests.push((*index, run.clone()));
            }
            (EventKind::Test(TestEvent::RunFinished { elapsed }), _) => {
                let Some(path) = &self.path else {
                    return Ok(());
                };
                let mut tests = std::mem::take(&mut self.tests);
                tests.sort_by_key(|t| t.0);
                let report = RunReport {
                    tests: tests.into_iter().map(|t| t.1).collect(),
                    started: self.started,
                    elapsed: *elapsed,
                };
                runner::write_junit(&report, path).map_err(|source| SinkError::Io {
                    path: path.clone(),
                    source,
                })?;
            }
            (EventKind::Test(TestEvent::TestStarted { .. }), _)
            | (EventKind::Test(TestEvent::AttemptFailed { .. }), _)
            | (EventKind::RunStarted { .. }, Target::File)
            | (EventKind::SuiteStarted { .. }, Target::File)
            | (EventKind::Provisioning, _)
            | (EventKind::ClusterReady { .. }, _)
            | (EventKind::Note { .. }, _)
            | (EventKind::Specs(_), _)
            | (EventKind::SuiteFinished(_), _)
            | (EventKind::TeardownStarted, _)
            | (EventKind::LogsExported { .. }, _)
            | (EventKind::TeardownFinished { .. }, _)
            | (EventKind::RunFinished(_), _) => {}
        }
        Ok(())
    }
}
