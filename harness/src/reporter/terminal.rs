//! The terminal: a run's event lines on stderr, stamped like the build log; or, for
//! `trellis test`, a progress bar on a terminal (a line per test that did not pass
//! otherwise) with failed tests' output once the tests are done.

use super::{text, Event, EventKind, Sink, SinkError};
use crate::runner::{TestEvent, TestOutcome};
use std::io::{IsTerminal, Write};

pub enum Terminal {
    /// Every event's text, as the build log has it; a Ginkgo suite's progress as a
    /// live bar on a terminal (its periodic lines otherwise).
    Lines {
        tty: bool,
        bar: Option<indicatif::ProgressBar>,
    },
    /// `trellis test`: a progress bar (or a line per test that did not pass).
    Progress { tty: bool, failed: Vec<String> },
}

impl Terminal {
    pub fn lines() -> Terminal {
        Terminal::Lines {
            tty: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

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
            Terminal::Lines { tty, bar } => {
                match &event.kind {
                    EventKind::Specs(p) if *tty => {
                        let bar = bar.get_or_insert_with(|| spec_bar(&p.suite));
                        bar.set_length(p.total.unwrap_or(0));
                        bar.set_position(p.done);
                        bar.set_message(format!("{} failed", p.failed));
                        return Ok(());
                    }
                    EventKind::SuiteFinished(_) => {
                        if let Some(bar) = bar.take() {
                            bar.finish_and_clear();
                        }
                    }
                    _ => {}
                }
                if let Some(text) = text::line(&event.kind) {
                    let text = format!("{} {text}", event.at.format("%H:%M:%S"));
                    match bar {
                        Some(bar) => bar.println(text),
                        None => {
                            let _ = writeln!(err, "{text}");
                        }
                    }
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

/// `conformance [=====>     ] 120/419 specs · 0 failed · 35:12 elapsed · ~1:27:00 left`
fn spec_bar(suite: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} specs · {msg} · {elapsed} elapsed · ~{eta} left",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(suite.to_string());
    bar
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
