//! Failures known to be infrastructure: triage clusters a person has labelled infra,
//! so `trellis gate` does not blame a PR for them.
//!
//! ```yaml
//! infra:
//!   # A cluster's text, as `trellis triage` prints it: failures that triage would put
//!   # in the same cluster (the same normalised text within its edit distance) match.
//!   - cluster: "dial tcp: lookup storage.googleapis.com on 10.0.0.10:53: i/o timeout"
//!     reason: DNS in the build cluster
//!   # Or a regular expression searched in the failure message.
//!   - pattern: "^error during kind create cluster"
//!     reason: kind could not start the cluster
//! ```

use super::FileError;
use regex::Regex;
use std::path::Path;

/// One labelled signature.
#[derive(Debug, Clone)]
pub struct InfraLabel {
    pub reason: String,
    pub kind: InfraMatch,
}

#[derive(Debug, Clone)]
pub enum InfraMatch {
    /// A triage cluster's text: matched by triage's own rule.
    Cluster(String),
    /// Searched in the message.
    Pattern(Regex),
}

#[derive(Debug, Clone, Default)]
pub struct InfraLabels {
    pub labels: Vec<InfraLabel>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
    reason: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    infra: Vec<RawLabel>,
}

/// A pattern is compiled with this size limit: a label file is not a place for a
/// regular expression that takes memory without bound.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl InfraLabels {
    pub fn load(path: &Path) -> Result<InfraLabels, FileError> {
        super::load_file(
            path,
            "--infra",
            "each entry has a reason and either cluster (a triage cluster's text) or pattern (a regular expression)",
            InfraLabels::parse,
        )
    }

    pub fn parse(text: &str) -> Result<InfraLabels, String> {
        if text.trim().is_empty() {
            return Ok(InfraLabels::default());
        }
        let file: File = crate::yaml::from_str(text)?;
        let mut labels = Vec::with_capacity(file.infra.len());
        for (i, raw) in file.infra.into_iter().enumerate() {
            let entry = |why: String| format!("infra entry {}: {why}", i + 1);
            if raw.reason.trim().is_empty() {
                return Err(entry("`reason` must not be empty".into()));
            }
            let kind = match (raw.cluster, raw.pattern) {
                (Some(text), None) if !text.trim().is_empty() => InfraMatch::Cluster(text),
                (None, Some(p)) => InfraMatch::Pattern(
                    regex::RegexBuilder::new(&p)
                        .size_limit(PATTERN_SIZE_LIMIT)
                        .build()
                        .map_err(|e| entry(format!("pattern `{p}`: {e}")))?,
                ),
                (Some(_), Some(_)) => {
                    return Err(entry("has both `cluster` and `pattern`: keep one".into()))
                }
                _ => {
                    return Err(entry(
                        "needs `cluster` (a triage cluster's text) or `pattern`".into(),
                    ))
                }
            };
            labels.push(InfraLabel {
                reason: raw.reason,
                kind,
            });
        }
        Ok(InfraLabels { labels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_need_a_reason_and_one_way_to_match() {
        let good = "infra:\n  - cluster: \"dial tcp: i/o timeout\"\n    reason: dns\n  - pattern: \"^kind\"\n    reason: kind\n";
        let labels = InfraLabels::parse(good).unwrap();
        assert_eq!(labels.labels.len(), 2);
        for (bad, says) in [
            ("infra:\n  - reason: r\n", "needs `cluster`"),
            (
                "infra:\n  - cluster: a\n    pattern: b\n    reason: r\n",
                "both",
            ),
            ("infra:\n  - pattern: \"(\"\n    reason: r\n", "pattern `(`"),
            ("infra:\n  - cluster: a\n    reason: \" \"\n", "reason"),
            (
                "infra:\n  - cluster: a\n    reason: r\n    owner: me\n",
                "line 4",
            ),
        ] {
            let e = InfraLabels::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
