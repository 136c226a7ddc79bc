//! JUnit for a run, in the dialect Surefire and nextest share: a test that passed on a
//! retry carries a `<flakyFailure>` per failed attempt; one that never passed carries
//! `<failure>` for its last attempt and a `<rerunFailure>` per earlier one.

use super::{Attempt, RunReport, TestOutcome};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Output kept per attempt in the report (the tail, where the panic is).
const OUTPUT_BYTES: usize = 64 * 1024;

fn xml(text: &str) -> String {
    crate::xml::escape(text)
}

fn tail(text: &str) -> &str {
    if text.len() <= OUTPUT_BYTES {
        return text;
    }
    let mut start = text.len() - OUTPUT_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The line a reader wants first: the panic, or the deadline.
fn message(a: &Attempt) -> String {
    if a.timed_out {
        return format!("timed out after {:.1}s", a.duration.as_secs_f64());
    }
    let lines: Vec<&str> = a.output.lines().collect();
    // Rust prints `thread 'x' panicked at file:line:col:` and the message on the next line.
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        return format!("{} {next}", lines[i].trim()).trim().to_string();
    }
    // libtest-mimic (and libtest) put a failed test's own message under
    // `---- NAME ----` (`---- NAME stdout ----`), before the run's summary lines.
    if let Some(i) = lines
        .iter()
        .position(|l| l.starts_with("---- ") && l.ends_with(" ----"))
    {
        if let Some(first) = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
        {
            return first.to_string();
        }
    }
    // Otherwise the test's last words, never the runner's own summary.
    lines
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| {
            !l.is_empty() && !l.starts_with("test result:") && !l.starts_with("error: test failed")
        })
        .map(str::to_string)
        .unwrap_or_else(|| "test failed".to_string())
}

fn failure_element(out: &mut String, tag: &str, a: &Attempt) {
    let _ = writeln!(
        out,
        "      <{tag} message=\"{}\" type=\"{}\" time=\"{:.3}\"><system-out>{}</system-out></{tag}>",
        xml(&message(a)),
        if a.timed_out { "timeout" } else { "test failure" },
        a.duration.as_secs_f64(),
        xml(tail(&a.output))
    );
}

/// Writes `report` as JUnit XML to `path`, one `<testsuite>` per binary.
pub fn write_junit(report: &RunReport, path: &Path) -> std::io::Result<()> {
    let mut by_binary: BTreeMap<&str, Vec<&super::TestRun>> = BTreeMap::new();
    for t in &report.tests {
        by_binary.entry(t.case.binary.as_str()).or_default().push(t);
    }
    let failures = report.count(TestOutcome::Failed);
    // JUnit's timestamp: ISO 8601 without a zone, in UTC.
    let timestamp = chrono::DateTime::from_timestamp(report.started, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"trellis-run\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\" timestamp=\"{timestamp}\">",
        report.tests.len(),
        report.elapsed.as_secs_f64()
    );
    for (binary, tests) in by_binary {
        let suite = Path::new(binary)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| binary.to_string());
        let count = |o| tests.iter().filter(|t| t.outcome == o).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" timestamp=\"{timestamp}\">",
            xml(&suite),
            tests.len(),
            count(TestOutcome::Failed),
            count(TestOutcome::Skipped)
        );
        for t in tests {
            // Summed as a Duration: an empty f64 sum is -0.0, printed "-0.000".
            let time = t.duration().as_secs_f64();
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{time:.3}\">",
                xml(&t.case.name),
                xml(&suite)
            );
            match t.outcome {
                TestOutcome::Passed => {}
                TestOutcome::Flaky => {
                    for a in t.attempts.iter().filter(|a| !a.passed) {
                        failure_element(&mut out, "flakyFailure", a);
                    }
                }
                TestOutcome::Failed => {
                    if let Some((last, earlier)) = t.attempts.split_last() {
                        failure_element(&mut out, "failure", last);
                        for a in earlier {
                            failure_element(&mut out, "rerunFailure", a);
                        }
                    }
                }
                TestOutcome::Skipped => {
                    let _ = writeln!(
                        out,
                        "      <skipped message=\"{}\"/>",
                        xml(t.skip_reason.as_deref().unwrap_or("not run"))
                    );
                }
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{TestCase, TestRun};
    use std::time::Duration;

    fn run(name: &str, outcome: TestOutcome, skip_reason: Option<&str>) -> TestRun {
        TestRun {
            case: TestCase {
                binary: "/bin/trellis-smoke".into(),
                name: name.into(),
                ignored: false,
            },
            outcome,
            attempts: vec![Attempt {
                passed: true,
                timed_out: false,
                duration: Duration::from_millis(1500),
                output: String::new(),
            }],
            skip_reason: skip_reason.map(Into::into),
        }
    }

    #[test]
    fn a_skip_carries_its_reason_and_counts_as_skipped_not_passed() {
        let report = RunReport {
            tests: vec![
                run("api::version", TestOutcome::Passed, None),
                run(
                    "dns::resolve",
                    TestOutcome::Skipped,
                    Some("needs a real kubelet & <DNS>"),
                ),
            ],
            started: 1_700_000_000,
            elapsed: Duration::from_secs(3),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        write_junit(&report, &path).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="trellis-run" tests="2" failures="0" errors="0" time="3.000" timestamp="2023-11-14T22:13:20">
  <testsuite name="trellis-smoke" tests="2" failures="0" skipped="1" errors="0" timestamp="2023-11-14T22:13:20">
    <testcase name="api::version" classname="trellis-smoke" time="1.500">
    </testcase>
    <testcase name="dns::resolve" classname="trellis-smoke" time="1.500">
      <skipped message="needs a real kubelet &amp; &lt;DNS&gt;"/>
    </testcase>
  </testsuite>
</testsuites>
"#
        );
    }

    fn attempt(passed: bool, timed_out: bool, output: &str) -> Attempt {
        Attempt {
            passed,
            timed_out,
            duration: Duration::from_millis(250),
            output: output.into(),
        }
    }

    /// What libtest-mimic prints for a failed test: the message is the test's own, not
    /// the "test result: FAILED" summary.
    #[test]
    fn the_message_is_the_tests_own_words() {
        let out = "\nrunning 1 test\ntest configmaps::crud_and_watch ... FAILED\n\nfailures:\n\n---- configmaps::crud_and_watch ----\nexpected 409 on a stale write, got 200\n\n\nfailures:\n    configmaps::crud_and_watch\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 filtered out; finished in 0.41s\n\n";
        assert_eq!(
            message(&attempt(false, false, out)),
            "expected 409 on a stale write, got 200"
        );
        let bare = "something broke\ntest result: FAILED. 0 passed; 1 failed\n";
        assert_eq!(message(&attempt(false, false, bare)), "something broke");
    }

    /// Every outcome the runner records, as the JUnit a CI system reads.
    #[test]
    fn every_outcome_as_junit() {
        let mut flaky = run("net::retry", TestOutcome::Flaky, None);
        flaky.attempts = vec![
            attempt(false, false, "connection refused\n"),
            attempt(true, false, ""),
        ];
        let mut failed = run("apps::rollout", TestOutcome::Failed, None);
        failed.attempts = vec![
            attempt(false, false, "first try: 500\n"),
            attempt(false, true, "[trellis] killed after the 1s deadline\n"),
        ];
        let mut interrupted = run(
            "storage::pvc",
            TestOutcome::Skipped,
            Some("not run: the run was interrupted"),
        );
        interrupted.attempts.clear();
        let report = RunReport {
            tests: vec![
                run("api::version", TestOutcome::Passed, None),
                flaky,
                failed,
                interrupted,
            ],
            started: 1_700_000_000,
            elapsed: Duration::from_secs(2),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        write_junit(&report, &path).unwrap();
        insta::assert_snapshot!(std::fs::read_to_string(&path).unwrap());
    }
}
