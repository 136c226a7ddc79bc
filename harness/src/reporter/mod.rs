//! The run reporter: typed lifecycle [`Event`]s handed to every [`Sink`], after
//! nextest's reporter. Producers (the run lifecycle, suites, the test runner) never
//! format or write output; sinks never decide what happened.
//!
//! Sinks: [`terminal`] (stderr lines, or a progress bar for `trellis test`),
//! [`build_log`] (build-log.txt), [`prow`] (started.json and finished.json),
//! [`junit`] (JUnit from test events) and [`store`] (ingests the finished build).
//! [`text`] is the one wording the terminal and the build log share.

pub mod build_log;
mod events;
pub mod junit;
pub mod prow;
pub mod store;
pub mod terminal;
pub mod text;

pub use events::{Event, EventKind, RunResult, SpecProgress, SuiteSummary};

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// A sink could not record an event.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl SinkError {
    pub fn hint(&self) -> &'static str {
        match self {
            SinkError::Io { .. } => "check that the output directory is writable and has space",
            SinkError::Ingest(e) => e.hint(),
            SinkError::Store(e) => e.hint(),
        }
    }
}

/// Something that records events: it decides for itself which ones matter, and must
/// name every kind it ignores (so a new kind makes each sink decide).
pub trait Sink: Send {
    fn event(&mut self, event: &Event) -> Result<(), SinkError>;
}

/// Hands each event to every sink, in the order they were added. Shared by reference
/// between the run, its suites and their threads.
pub struct Reporter {
    start: Instant,
    sinks: Mutex<Vec<Box<dyn Sink>>>,
    /// Applied to every event before any sink sees it.
    redactor: crate::secrets::Redactor,
}

impl Reporter {
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Reporter {
        Reporter {
            start: Instant::now(),
            sinks: Mutex::new(sinks),
            redactor: crate::secrets::Redactor::default(),
        }
    }

    /// Credentials `redactor` knows never reach a sink.
    pub fn redacting(mut self, redactor: crate::secrets::Redactor) -> Reporter {
        self.redactor = redactor;
        self
    }

    /// Reports `kind` to every sink (all of them, even after one fails) and returns
    /// the first failure.
    pub fn report(&self, mut kind: EventKind) -> Result<(), SinkError> {
        kind.redact(&self.redactor);
        let event = Event {
            at: chrono::Utc::now(),
            elapsed: self.start.elapsed(),
            kind,
        };
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        let mut first = None;
        for sink in sinks.iter_mut() {
            if let Err(e) = sink.event(&event) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// A suite's progress line. A sink that cannot write it has nothing better to do
    /// with the failure than the next event will: that one reports it.
    pub fn note(&self, text: impl Into<String>) {
        let _ = self.report(EventKind::Note { text: text.into() });
    }
}

/// Records every event: for tests of the lifecycle.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct Recording(pub std::sync::Arc<Mutex<Vec<EventKind>>>);

#[cfg(test)]
impl Recording {
    pub fn kinds(&self) -> Vec<EventKind> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
impl Sink for Recording {
    fn event(&mut self, event: &Event) -> Result<(), SinkError> {
        if let Ok(mut v) = self.0.lock() {
            v.push(event.kind.clone());
        }
        Ok(())
    }
}
