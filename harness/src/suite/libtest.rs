//! libtest suites: trellis's own runner runs the binary test by test, the cluster
//! given by KUBECONFIG; the JUnit goes to `artifacts/junit_<suite>.xml`.

use super::manifest::find_binary;
use super::{io_error, Manifest, SuiteContext, SuiteError, SuiteOutcome};
use crate::runner::{self, Event, RunOptions, TestOutcome};

pub fn run(m: &Manifest, ctx: &SuiteContext) -> Result<SuiteOutcome, SuiteError> {
    let binary = find_binary(m.binary.as_deref().unwrap_or_default(), ctx.bin_dirs)?;
    let mut cases = runner::list_tests(&binary, false)?;
    let (focus, skip) = (ctx.overrides.focus(m), ctx.overrides.skip(m));
    let regex = |field: &str, re: &str| {
        regex::Regex::new(re).map_err(|e| SuiteError::Manifest {
            path: m.path.clone(),
            reason: format!("{field} `{re}`: {e}"),
        })
    };
    let (focus, skip) = (regex("focus", focus)?, regex("skip", skip)?);
    cases.retain(|c| {
        focus.is_match(&c.name) && (skip.as_str().is_empty() || !skip.is_match(&c.name))
    });
    (ctx.log)(&format!(
        "{}: {} test(s) from {}",
        m.name,
        cases.len(),
        binary.display()
    ));
    let opts = RunOptions {
        jobs: ctx.overrides.parallel(m),
        timeout: m.test_timeout.unwrap_or(m.timeout),
        retries: m.retries,
        fail_fast: false,
        output_dir: None,
        env: vec![("KUBECONFIG".into(), ctx.kubeconfig.display().to_string())],
        interrupt: Some(ctx.interrupt.clone()),
    };
    let report = runner::run(cases, &opts, |e| {
        if let Event::TestFinished {
            name,
            outcome,
            duration,
            ..
        } = e
        {
            (ctx.log)(&format!(
                "  {:<5} [{:>7.2}s] {name}",
                outcome.word(),
                duration.as_secs_f64()
            ));
        }
    })?;
    for t in report
        .tests
        .iter()
        .filter(|t| t.outcome == TestOutcome::Failed)
    {
        if let Some(last) = t.attempts.last() {
            (ctx.log)(&format!(
                "--- {} ---\n{}",
                t.case.name,
                last.output.trim_end()
            ));
        }
    }
    let junit = ctx.artifacts.join(format!("junit_{}.xml", m.name));
    runner::write_junit(&report, &junit).map_err(io_error(&junit))?;
    let count = |o| report.count(o);
    let failed = count(TestOutcome::Failed);
    let summary = format!(
        "{} passed, {} flaky, {failed} failed, {} not run in {:.1} s",
        count(TestOutcome::Passed),
        count(TestOutcome::Flaky),
        count(TestOutcome::Skipped),
        report.elapsed.as_secs_f64()
    );
    Ok(SuiteOutcome {
        name: m.name.clone(),
        passed: failed == 0 && !ctx.interrupt.is_set(),
        summary,
    })
}
