//! libtest suites: trellis's own runner runs the binary test by test, the cluster
//! given by KUBECONFIG; its test events go to the run's reporter.

use super::manifest::find_binary;
use super::{Manifest, SuiteContext, SuiteError, SuiteSummary};
use crate::reporter::EventKind;
use crate::runner::{self, RunOptions, TestOutcome};

pub fn run(m: &Manifest, ctx: &SuiteContext) -> Result<SuiteSummary, SuiteError> {
    let binary = find_binary(m.binary.as_deref().unwrap_or_default(), ctx.bin_dirs)?;
    let mut cases = runner::list_tests(&binary, false)?;
    let (focus, skip) = (m.focus.as_str(), m.skip.as_str());
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
    ctx.reporter.note(format!(
        "{}: {} test(s) from {}",
        m.name,
        cases.len(),
        binary.display()
    ));
    let opts = RunOptions {
        jobs: m.parallel,
        timeout: m.test_timeout.unwrap_or(m.timeout),
        retries: m.retries,
        fail_fast: false,
        output_dir: None,
        env: vec![("KUBECONFIG".into(), ctx.kubeconfig.display().to_string())],
        interrupt: Some(ctx.interrupt.clone()),
        skip: std::sync::Arc::new(
            cases
                .iter()
                .filter_map(|c| {
                    let reason = ctx.overrides.quarantine.skip_reason(&c.name)?;
                    Some((c.name.clone(), reason))
                })
                .collect(),
        ),
    };
    // Test events go to the run's sinks as they happen (the JUnit sink writes
    // artifacts/junit_<suite>.xml when the tests are done).
    let mut sink_error = None;
    let report = runner::run(cases, &opts, |e| {
        if let Err(e) = ctx.reporter.report(EventKind::Test(e)) {
            sink_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = sink_error {
        return Err(e.into());
    }
    let count = |o| report.count(o);
    let failed = count(TestOutcome::Failed);
    let summary = format!(
        "{} passed, {} flaky, {failed} failed, {} not run in {:.1} s",
        count(TestOutcome::Passed),
        count(TestOutcome::Flaky),
        count(TestOutcome::Skipped),
        report.elapsed.as_secs_f64()
    );
    Ok(SuiteSummary {
        name: m.name.clone(),
        passed: failed == 0 && !ctx.interrupt.is_set(),
        summary,
    })
}
