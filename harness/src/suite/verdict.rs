//! A suite's verdict as JUnit testcases: what the upgrade and perf suites write, one
//! testcase per check, the failure message saying what was measured.

use super::SuiteError;
use std::fmt::Write as _;
use std::time::Duration;

/// One JUnit testcase of the verdict.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub failure: Option<String>,
}

pub fn case(name: impl Into<String>, failure: Option<String>) -> Case {
    Case {
        name: name.into(),
        failure,
    }
}

pub fn write_junit(
    path: &std::path::Path,
    suite: &str,
    cases: &[Case],
    took: Duration,
) -> Result<(), SuiteError> {
    let x = crate::xml::escape;
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
        x(suite),
        cases.len(),
        took.as_secs_f64()
    );
    for c in cases {
        let _ = write!(
            out,
            "  <testcase name=\"{}\" classname=\"{}\">",
            x(&c.name),
            x(suite)
        );
        if let Some(f) = &c.failure {
            let first = f.lines().next().unwrap_or_default();
            let _ = write!(
                out,
                "\n    <failure message=\"{}\">{}</failure>\n  ",
                x(first),
                x(f)
            );
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    std::fs::write(path, out).map_err(super::io_error(path))
}

/// Tells the failed testcases, each with its message, and sums the verdict up:
/// `N passed, M failed; <what>`.
pub fn summarise(
    suite: &str,
    cases: &[Case],
    what: &str,
    reporter: &crate::reporter::Reporter,
) -> super::SuiteSummary {
    let failed = cases.iter().filter(|c| c.failure.is_some()).count();
    for c in cases.iter().filter(|c| c.failure.is_some()) {
        reporter.note(format!(
            "  FAIL {}: {}",
            c.name,
            c.failure.as_deref().unwrap_or_default()
        ));
    }
    super::SuiteSummary {
        name: suite.to_string(),
        passed: failed == 0,
        summary: format!("{} passed, {failed} failed; {what}", cases.len() - failed),
    }
}
