//! Prow's per-build metadata, `started.json` and `finished.json`: one set of types
//! that trellis writes (for its own runs, `trellis test --build-dir` and the
//! simulator) and that ingest reads back (`ingest::prow`), so the two cannot drift.

use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

/// started.json: written when the build starts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Started {
    pub timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull: Option<String>,
    #[serde(rename = "repo-version", skip_serializing_if = "Option::is_none")]
    pub repo_version: Option<String>,
    /// `repos: {"org/repo": "master:sha,123:sha"}`
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub repos: Map<String, Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

/// finished.json: written when the build ends.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Finished {
    pub timestamp: Option<i64>,
    pub passed: Option<bool>,
    pub result: Option<ProwResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(rename = "job-version", skip_serializing_if = "Option::is_none")]
    pub job_version: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

/// A build's result word. Prow writes SUCCESS, FAILURE, ABORTED or ERROR; other
/// tools write other words, which are kept as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProwResult {
    Success,
    Failure,
    Aborted,
    Error,
    Other(String),
}

impl ProwResult {
    pub fn as_str(&self) -> &str {
        match self {
            ProwResult::Success => "SUCCESS",
            ProwResult::Failure => "FAILURE",
            ProwResult::Aborted => "ABORTED",
            ProwResult::Error => "ERROR",
            ProwResult::Other(s) => s,
        }
    }

    pub fn parse(word: &str) -> ProwResult {
        match word {
            "SUCCESS" => ProwResult::Success,
            "FAILURE" => ProwResult::Failure,
            "ABORTED" => ProwResult::Aborted,
            "ERROR" => ProwResult::Error,
            other => ProwResult::Other(other.to_string()),
        }
    }

    /// Passed or failed, for a result with no `passed` beside it.
    pub fn passed(&self) -> bool {
        *self == ProwResult::Success
    }
}

impl std::fmt::Display for ProwResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProwResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Writes `value` as pretty JSON (what Prow's own files look like).
pub fn write(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What trellis writes, ingest reads back field for field.
    #[test]
    fn written_metadata_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut metadata = Map::new();
        metadata.insert("repo-commit".into(), "abc123".into());
        let started = Started {
            timestamp: 1_700_000_000,
            metadata: metadata.clone(),
            ..Started::default()
        };
        let finished = Finished {
            timestamp: Some(1_700_000_100),
            passed: Some(false),
            result: Some(ProwResult::Aborted),
            job_version: Some("v1.37.2".into()),
            metadata,
            ..Finished::default()
        };
        write(&dir.path().join("started.json"), &started).unwrap();
        write(&dir.path().join("finished.json"), &finished).unwrap();
        let s = crate::ingest::prow::read_started(&dir.path().join("started.json")).unwrap();
        let f = crate::ingest::prow::read_finished(&dir.path().join("finished.json")).unwrap();
        assert_eq!(s.timestamp, started.timestamp);
        assert_eq!(s.metadata, started.metadata);
        assert_eq!(f.timestamp, finished.timestamp);
        assert_eq!(f.passed, finished.passed);
        assert_eq!(f.result, finished.result);
        assert_eq!(f.job_version, finished.job_version);
        assert_eq!(f.metadata, finished.metadata);
    }

    #[test]
    fn unknown_result_words_are_kept() {
        assert_eq!(ProwResult::parse("PENDING").as_str(), "PENDING");
        assert!(ProwResult::parse("SUCCESS").passed());
    }
}
