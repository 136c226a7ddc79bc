//! The terminal: a run's event lines on stderr, stamped like the build log; or, for
//! `trellis test`, a progress bar on a terminal (a line per test that did not pass
//! otherwise) with failed tests' output once the tests are done.

use super::{text, Event, EventKind, Sink, SinkError};
use crate::runner::{TestEvent, TestOutcome};
use std::io::{IsTerminal, Write};

pub enum Terminal {
    /// Every event's text, as the build log has it.
    Lines,
    /// `trellis test`: a progress bar (or a line per test that did not pass).
    Progress { tty: bool, failed: Vec<String> },
}

impl Terminal {
    pub fn progress() -> Terminal {
        Terminal::Progress {
            tty: std::io::stderr().is_terminal(),
            failed: Vec::new(),
        }
    }
}

impl Sink for Terminal {
    fn event(&mut self, event: &Event) -> Result<(), SinkError> {
        let mut err = std::io::stderr().lock();
        match self {
            Terminal::Lines => {
                if let Some(text) = text::line(&event.kind) {
                    let _ = writeln!(err, "{} {text}", event.at.format("%H:%M:%S"));
                }
            }
            Terminal::Progress { tty, failed } => {
                if let EventKind::Test(e) = &event.kind {
                    progress(&mut err, *tty, failed, e);
                }
            }
        }
        // A closed stderr is no reason to stop a run.
        Ok(())
    }
}

fn progress(err: &mut impl Write, tty: bool, failed: &mut Vec<String>, e: &TestEvent) {
    match e {
        TestEvent::RunStarted { total } => {
            let _ = writeln!(err, "running {total} tests");
        }
        TestEvent::TestStarted { .. } => {}
        TestEvent::AttemptFailed {
            name,
            attempt,
            will_retry: true,
        } if !tty => {
            let _ = writeln!(err, "RETRY  attempt {attempt} of {name} failed");
        }
        TestEvent::AttemptFailed { .. } => {}
        TestEvent::TestFinished {
            run, done, total, ..
        } => {
            failed.extend(text::failed_output(run));
            if run.never_ran() {
                return;
            }
            let word = run.outcome.word();
            let name = &run.case.name;
            if tty {
                let width = 30;
                let filled = done * width / (*total).max(1);
                let _ = write!(
                    err,
                    "\r[{}{}] {done}/{total} {word:<5} {}\x1b[K",
                    "=".repeat(filled),
                    " ".repeat(width - filled),
                    name.chars().take(60).collect::<String>()
                );
            } else if run.outcome != TestOutcome::Passed {
                let _ = writeln!(
                    err,
                    "{word:<5} [{:>8.3}s] {name}",
                    run.duration().as_secs_f64()
                );
            }
        }
        TestEvent::RunFinished { .. } => {
            if tty {
                let _ = writeln!(err);
            }
            for f in failed.drain(..) {
                let _ = writeln!(err, "{f}");
            }
        }
    }
}
