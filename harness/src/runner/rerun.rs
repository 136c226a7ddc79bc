//! Running a stored build's failing tests again: what `trellis test --build-dir` and
//! `trellis run --kubeconfig` record in finished.json so the build can be re-run, and
//! the re-run itself (`trellis gate --retry N`).

use super::{list_tests, run, RunOptions, RunnerError, TestCase, TestOutcome};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The finished.json metadata key under which a run says how to re-run it.
pub const METADATA_KEY: &str = "trellis-rerun";

/// How a build's libtest tests ran: enough to run any of them again.
#[derive(Debug, Clone, PartialEq)]
pub struct RerunSpec {
    /// The test binaries, as absolute paths.
    pub binaries: Vec<PathBuf>,
    /// The run took the binaries' ignored tests (`--ignored`).
    pub ignored: bool,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// The cluster the tests ran against (`trellis run --kubeconfig`: a cluster that
    /// outlives the run), and the kubeconfig context.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// One failing test run again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Retried {
    /// The build's row name for the test.
    pub test: String,
    /// Attempts made now (the re-run stops at the first pass).
    pub attempts: u32,
    /// How many of them failed.
    pub failed: u32,
}

impl RerunSpec {
    /// The metadata value `trellis test` writes.
    pub fn to_metadata(&self) -> Value {
        serde_json::json!({
            "binaries": self.binaries,
            "ignored": self.ignored,
            "timeout_seconds": self.timeout.as_secs_f64(),
            "kubeconfig": self.kubeconfig,
            "context": self.context,
        })
    }

    /// Reads the spec back from a build's metadata; `None` when the build was not
    /// made by `trellis test --build-dir` or the entry is not one trellis wrote.
    pub fn from_metadata(metadata: &Map<String, Value>) -> Option<RerunSpec> {
        let spec = metadata.get(METADATA_KEY)?.as_object()?;
        let binaries = spec
            .get("binaries")?
            .as_array()?
            .iter()
            .map(|b| b.as_str().map(PathBuf::from))
            .collect::<Option<Vec<_>>>()?;
        let timeout = spec.get("timeout_seconds")?.as_f64()?;
        if binaries.is_empty() || !(timeout > 0.0 && timeout <= 7.0 * 86_400.0) {
            return None;
        }
        let text = |key: &str| spec.get(key).and_then(Value::as_str).map(str::to_string);
        Some(RerunSpec {
            binaries,
            ignored: spec.get("ignored")?.as_bool()?,
            timeout: Duration::from_secs_f64(timeout),
            kubeconfig: text("kubeconfig").map(PathBuf::from),
            context: text("context"),
        })
    }

    /// Runs each of `rows` (row names of the build: a test case's name, or
    /// `suite.name`) up to `attempts` times, stopping at its first pass, with `env`
    /// added to each test's environment (the cluster's KUBECONFIG). Rows no binary
    /// lists any more are left out of the answer (the caller says so).
    pub fn retry(
        &self,
        rows: &[String],
        attempts: u32,
        env: Vec<(String, String)>,
    ) -> Result<Vec<Retried>, RunnerError> {
        let mut cases: Vec<(String, TestCase)> = Vec::new();
        for binary in &self.binaries {
            for case in list_tests(binary, self.ignored)? {
                if let Some(row) = rows.iter().find(|r| names_case(r, &case)) {
                    cases.push((row.clone(), case));
                }
            }
        }
        let opts = RunOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            timeout: self.timeout,
            retries: attempts.saturating_sub(1),
            fail_fast: false,
            output_dir: None,
            env,
            interrupt: None,
            skip: Default::default(),
        };
        let report = run(
            cases.iter().map(|(_, c)| c.clone()).collect(),
            &opts,
            |_| {},
        )?;
        Ok(report
            .tests
            .iter()
            .filter(|t| t.outcome != TestOutcome::Skipped)
            .filter_map(|t| {
                let (row, _) = cases.iter().find(|(_, c)| *c == t.case)?;
                Some(Retried {
                    test: row.clone(),
                    attempts: t.attempts.len() as u32,
                    failed: t.attempts.iter().filter(|a| !a.passed).count() as u32,
                })
            })
            .collect())
    }
}

/// Whether a row of a `trellis test` build is `case`: the JUnit names it by the test
/// case, in a suite named after the binary's file.
fn names_case(row: &str, case: &TestCase) -> bool {
    let suite = std::path::Path::new(&case.binary)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    row == case.name
        || row
            .strip_suffix(case.name.as_str())
            .and_then(|prefix| prefix.strip_suffix(['.', ' ']))
            .is_some_and(|prefix| prefix == suite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_reads_back_and_foreign_entries_are_refused() {
        let spec = RerunSpec {
            binaries: vec![PathBuf::from("/x/tests-1a2b")],
            ignored: true,
            timeout: Duration::from_secs(30),
            kubeconfig: Some(PathBuf::from("/home/ci/.kube/config")),
            context: Some("kind-ci".into()),
        };
        let mut metadata = Map::new();
        metadata.insert(METADATA_KEY.into(), spec.to_metadata());
        assert_eq!(RerunSpec::from_metadata(&metadata), Some(spec));
        for bad in [
            serde_json::json!({"binaries": [], "ignored": false, "timeout_seconds": 1}),
            serde_json::json!({"binaries": ["/x"], "ignored": false, "timeout_seconds": 0}),
            serde_json::json!({"binaries": [1], "ignored": false, "timeout_seconds": 1}),
            serde_json::json!("trellis test"),
        ] {
            metadata.insert(METADATA_KEY.into(), bad.clone());
            assert_eq!(RerunSpec::from_metadata(&metadata), None, "{bad}");
        }
    }

    #[test]
    fn rows_name_cases_by_name_or_suite_and_name() {
        let case = TestCase {
            binary: "/t/runner-0f1e".into(),
            name: "fixture_fail".into(),
            ignored: true,
        };
        assert!(names_case("fixture_fail", &case));
        assert!(names_case("runner-0f1e.fixture_fail", &case));
        assert!(!names_case("other.fixture_fail", &case));
        assert!(!names_case("runner-0f1e.not_fixture_fail", &case));
    }
}
