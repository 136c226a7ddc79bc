//! What happens during a run, as typed, timestamped events. Every output about a run
//! (terminal, build log, Prow metadata, JUnit, the store) is a sink that matches on
//! these, so no two outputs can tell different stories.

use crate::prow::ProwResult;
use crate::runner::TestEvent;
use std::path::PathBuf;
use std::time::Duration;

/// One step of a run.
#[derive(Debug, Clone)]
pub struct Event {
    /// Wall-clock time the step happened.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Time since the reporter was made (the run's start).
    pub elapsed: Duration,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    /// A build directory was made for the run.
    RunStarted {
        job: String,
        build_dir: PathBuf,
        /// What cluster the run uses, in words.
        cluster: String,
        suites: Vec<String>,
        /// Unix seconds.
        started: i64,
    },
    /// The provider is making (or checking) the cluster.
    Provisioning,
    /// The cluster answers; `version` is the server's, when it could be read.
    ClusterReady {
        version: Option<String>,
    },
    SuiteStarted {
        name: String,
        kind: String,
    },
    /// A suite's own progress: a pod's phase, a followed log line, an upgrade step.
    Note {
        text: String,
    },
    /// A test of a libtest suite (or of `trellis test`).
    Test(TestEvent),
    /// How far a Ginkgo suite (conformance, e2e) has got.
    Specs(SpecProgress),
    SuiteFinished(SuiteSummary),
    /// The suites are over: logs are exported, then the cluster torn down.
    TeardownStarted,
    /// Cluster logs were exported (`warning` says why not, when they were not).
    LogsExported {
        warning: Option<String>,
    },
    /// The cluster is gone (or was handed to the run and left alone).
    TeardownFinished {
        error: Option<String>,
    },
    /// The run is over; this is what finished.json records.
    RunFinished(RunResult),
}

/// Specs done of those a Ginkgo run will run, and failures so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecProgress {
    pub suite: String,
    pub done: u64,
    /// `None` until the run has said how many it will run.
    pub total: Option<u64>,
    pub failed: u64,
    /// Since the suite started.
    pub elapsed: Duration,
}

impl SpecProgress {
    /// Time left at the pace so far, once there is a pace to go by.
    pub fn eta(&self) -> Option<Duration> {
        let total = self.total?;
        if self.done == 0 || self.done > total {
            return None;
        }
        Some(
            self.elapsed
                .mul_f64((total - self.done) as f64 / self.done as f64),
        )
    }
}

/// How a suite ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteSummary {
    pub name: String,
    pub passed: bool,
    /// One line: counts or the reason.
    pub summary: String,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub build_dir: PathBuf,
    pub result: ProwResult,
    pub passed: bool,
    /// Unix seconds.
    pub finished: i64,
    /// The server's version (finished.json's job-version).
    pub version: Option<String>,
    pub suites: Vec<SuiteSummary>,
    /// Why the run stopped early, with its hint.
    pub error: Option<String>,
    /// How to run its tests again (`trellis gate --retry`), when it can be.
    pub rerun: Option<serde_json::Value>,
}

impl EventKind {
    /// Replaces credentials in every text the event carries, before any sink sees it.
    pub fn redact(&mut self, r: &crate::secrets::Redactor) {
        let text = |s: &mut String| r.redact_owned(s);
        let opt = |s: &mut Option<String>| {
            if let Some(s) = s {
                r.redact_owned(s);
            }
        };
        match self {
            EventKind::RunStarted { cluster, .. } => text(cluster),
            EventKind::ClusterReady { version } => opt(version),
            EventKind::Note { text: t } => text(t),
            EventKind::Test(TestEvent::TestFinished { run, .. }) => {
                opt(&mut run.skip_reason);
                for a in &mut run.attempts {
                    text(&mut a.output);
                }
            }
            EventKind::SuiteFinished(s) => text(&mut s.summary),
            EventKind::LogsExported { warning } => opt(warning),
            EventKind::TeardownFinished { error } => opt(error),
            EventKind::RunFinished(result) => {
                opt(&mut result.error);
                for s in &mut result.suites {
                    text(&mut s.summary);
                }
            }
            EventKind::Provisioning
            | EventKind::SuiteStarted { .. }
            | EventKind::Test(_)
            | EventKind::Specs(_)
            | EventKind::TeardownStarted => {}
        }
    }
}
