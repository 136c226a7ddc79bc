//! How lifecycle events read to a person: one wording, shared by the terminal and the
//! build log, so the two say the same thing.

use super::{EventKind, RunResult, SpecProgress};
use crate::runner::{TestEvent, TestOutcome, TestRun};

/// The text an event is told as, or `None` for events that add nothing to a log.
pub fn line(kind: &EventKind) -> Option<String> {
    match kind {
        EventKind::RunStarted {
            job,
            build_dir,
            cluster,
            ..
        } => Some(format!(
            "build {} of job {job}\ncluster: {cluster}",
            build_dir.display()
        )),
        EventKind::Provisioning => Some("provisioning".into()),
        EventKind::ClusterReady { version } => Some(format!(
            "cluster ready: server {}",
            version.as_deref().unwrap_or("(unknown)")
        )),
        EventKind::SuiteStarted { name, kind } => Some(format!("suite {name} ({kind})")),
        EventKind::Note { text } => Some(text.clone()),
        EventKind::Test(e) => test_line(e),
        EventKind::Specs(p) => Some(specs_line(p)),
        EventKind::SuiteFinished(s) => Some(format!(
            "suite {}: {} — {}",
            s.name,
            if s.passed { "PASSED" } else { "FAILED" },
            s.summary
        )),
        EventKind::TeardownStarted => Some("exporting cluster logs, then tearing down".into()),
        EventKind::LogsExported { warning } => Some(match warning {
            Some(w) => format!("warning: could not export logs: {w}"),
            None => "cluster logs exported".into(),
        }),
        EventKind::TeardownFinished { error } => Some(match error {
            Some(e) => format!("error: teardown failed: {e}"),
            None => "torn down".into(),
        }),
        EventKind::RunFinished(r) => Some(run_finished(r)),
    }
}

/// `conformance: 120 of 419 specs, 0 failed, 35m12s elapsed, about 1h27m left`
pub fn specs_line(p: &SpecProgress) -> String {
    let of = p.total.map(|t| format!(" of {t}")).unwrap_or_default();
    let left = p
        .eta()
        .map(|eta| format!(", about {} left", minutes(eta)))
        .unwrap_or_default();
    format!(
        "{}: {}{of} specs, {} failed, {} elapsed{left}",
        p.suite,
        p.done,
        p.failed,
        minutes(p.elapsed)
    )
}

/// `1h27m`, `35m12s`, `42s`.
fn minutes(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

fn run_finished(r: &RunResult) -> String {
    let mut text = format!("{}: {}", r.result, r.build_dir.display());
    if let Some(e) = &r.error {
        text = format!("error: {e}\n{text}");
    }
    text
}

/// A test's line in a run's log: every finished test, retries, and the output of a
/// test that failed for good.
fn test_line(e: &TestEvent) -> Option<String> {
    match e {
        TestEvent::RunStarted { .. } | TestEvent::TestStarted { .. } => None,
        TestEvent::RunFinished { .. } => None,
        TestEvent::AttemptFailed {
            name,
            attempt,
            will_retry: true,
        } => Some(format!("  RETRY attempt {attempt} of {name} failed")),
        TestEvent::AttemptFailed { .. } => None,
        TestEvent::TestFinished { run, .. } if run.never_ran() => None,
        TestEvent::TestFinished { run, .. } => {
            let mut text = format!(
                "  {:<5} [{:>7.2}s] {}",
                run.outcome.word(),
                run.duration().as_secs_f64(),
                run.case.name
            );
            if let Some(output) = failed_output(run) {
                text.push('\n');
                text.push_str(&output);
            }
            Some(text)
        }
    }
}

/// The last attempt's output of a test that failed for good, headed by its name.
pub fn failed_output(run: &TestRun) -> Option<String> {
    if run.outcome != TestOutcome::Failed {
        return None;
    }
    let last = run.attempts.last()?;
    Some(format!(
        "--- {} ({} attempt(s)) ---\n{}",
        run.case.name,
        run.attempts.len(),
        last.output.trim_end()
    ))
}
