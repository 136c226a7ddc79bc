//! The quarantine file: known flaky tests that may fail without blocking a PR, each
//! with an owner, a reason, an issue and an expiry date, so quarantine is a loan and not
//! a graveyard.
//!
//! ```yaml
//! quarantine:
//!   - test: "Kubernetes e2e suite.[sig-network] Services should serve endpoints on same port and different protocols"
//!     job: pull-kubernetes-e2e-kind      # optional: every job when absent
//!     owner: sig-network
//!     reason: times out under load on two-core runners
//!     issue: https://github.com/kubernetes/kubernetes/issues/123456
//!     expires: 2027-01-31
//! ```
//!
//! `test` is the exact row name (suite + "." + test case, as `trellis show` prints it).
//! An entry is in force up to and including its `expires` day (UTC); after that it
//! excuses nothing and is reported as expired.

use super::FileError;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quarantine {
    pub entries: Vec<QuarantineEntry>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineEntry {
    pub test: String,
    #[serde(default)]
    pub job: Option<String>,
    pub owner: String,
    pub reason: String,
    #[serde(default)]
    pub issue: Option<String>,
    /// `YYYY-MM-DD`, checked when read.
    #[serde(deserialize_with = "date")]
    pub expires: String,
}

impl QuarantineEntry {
    /// Whether the entry covers `job` on `today` (`YYYY-MM-DD`; its expiry day included).
    fn in_force(&self, job: &str, today: &str) -> bool {
        self.job.as_deref().is_none_or(|j| j == job) && self.expires.as_str() >= today
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    quarantine: Vec<QuarantineEntry>,
}

/// The UTC day of a Unix time as `YYYY-MM-DD`: how entries' `expires` is compared.
pub fn day(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// A calendar date as `YYYY-MM-DD`; anything else is refused where it stands.
fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text: String = serde::Deserialize::deserialize(d)?;
    match chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(day) if day.format("%Y-%m-%d").to_string() == text => Ok(text),
        _ => Err(serde::de::Error::custom(format!(
            "expires: `{text}` is not a date as YYYY-MM-DD (e.g. 2027-01-31)"
        ))),
    }
}

impl Quarantine {
    pub fn load(path: &Path) -> Result<Quarantine, FileError> {
        super::load_file(
            path,
            "--quarantine",
            "each entry has test, owner, reason and expires (YYYY-MM-DD), optionally job and issue",
            Quarantine::parse,
        )
    }

    pub fn parse(text: &str) -> Result<Quarantine, String> {
        if text.trim().is_empty() {
            return Ok(Quarantine::default());
        }
        let file: File = crate::yaml::from_str(text)?;
        for (i, e) in file.quarantine.iter().enumerate() {
            if e.test.trim().is_empty() || e.owner.trim().is_empty() {
                return Err(format!(
                    "entry {}: `test` and `owner` must not be empty",
                    i + 1
                ));
            }
        }
        Ok(Quarantine {
            entries: file.quarantine,
        })
    }

    /// The entry in force on `today` (`YYYY-MM-DD`) for `test` in `job`.
    pub fn find(&self, job: &str, test: &str, today: &str) -> Option<&QuarantineEntry> {
        self.entries
            .iter()
            .find(|e| e.test == test && e.in_force(job, today))
    }

    /// The entries in force for `job` on `today`: what a run of that job skips.
    pub fn applied(&self, job: &str, today: &str) -> AppliedQuarantine {
        AppliedQuarantine {
            entries: self
                .entries
                .iter()
                .filter(|e| e.in_force(job, today))
                .cloned()
                .collect(),
        }
    }

    /// Tests whose entries expired before `today`, as `test (expired DATE, owner)`.
    pub fn expired(&self, today: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.expires.as_str() < today)
            .map(|e| format!("{} (expired {}, owner {})", e.test, e.expires, e.owner))
            .collect()
    }
}

/// A quarantine as one run applies it (`--skip-quarantined`): the entries in force for
/// the run's job on the day it starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppliedQuarantine {
    entries: Vec<QuarantineEntry>,
}

impl AppliedQuarantine {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Why a run skips the test case `name` (its bare name; an entry may name it or its
    /// row, `suite.` + name), if it does.
    pub fn skip_reason(&self, name: &str) -> Option<String> {
        let e = self.entries.iter().find(|e| {
            e.test == name
                || e.test
                    .strip_suffix(name)
                    .is_some_and(|suite| suite.ends_with('.'))
        })?;
        Some(format!(
            "quarantined until {} by {}: {}",
            e.expires, e.owner, e.reason
        ))
    }

    /// A regular expression for Ginkgo's `--ginkgo.skip` that matches the quarantined
    /// specs, literally: each entry's test as written, and without its suite when it
    /// is a Kubernetes spec row (`Kubernetes e2e suite.[sig-…] …`: the spec's text
    /// starts at the `[`). None when nothing is quarantined.
    pub fn spec_regex(&self) -> Option<String> {
        let mut alternatives: Vec<String> = Vec::new();
        for e in &self.entries {
            alternatives.push(regex::escape(&e.test));
            let spec = crate::model::spec_text(&e.test);
            if spec != e.test {
                alternatives.push(regex::escape(spec));
            }
        }
        (!alternatives.is_empty()).then(|| alternatives.join("|"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "quarantine:\n  - test: a.b\n    owner: sig-node\n    reason: flakes\n    issue: https://example.invalid/1\n    expires: 2027-01-31\n  - test: c.d\n    job: pull\n    owner: sig-apps\n    reason: slow\n    expires: 2026-11-30\n";

    #[test]
    fn entries_are_in_force_until_their_day_and_for_their_job() {
        let q = Quarantine::parse(GOOD).unwrap();
        assert!(q.find("any", "a.b", "2027-01-31").is_some());
        assert!(q.find("any", "a.b", "2027-02-01").is_none());
        assert!(q.find("pull", "c.d", "2026-11-30").is_some());
        assert!(q.find("other", "c.d", "2026-11-30").is_none());
        assert_eq!(
            q.expired("2026-12-02"),
            vec!["c.d (expired 2026-11-30, owner sig-apps)"]
        );
    }

    #[test]
    fn a_run_skips_what_is_in_force_for_its_job() {
        let q = Quarantine::parse(GOOD).unwrap();
        let applied = q.applied("pull", "2026-11-30");
        assert!(applied
            .skip_reason("b")
            .unwrap()
            .starts_with("quarantined until 2027-01-31 by sig-node"));
        assert!(applied.skip_reason("d").is_some());
        assert!(applied.skip_reason("x.b").is_none());
        assert!(q.applied("other", "2026-11-30").skip_reason("d").is_none());
        let re = regex::Regex::new(&applied.spec_regex().unwrap()).unwrap();
        // Rows are skipped as written; only a spec row's suite is left off.
        assert!(re.is_match("a.b") && !re.is_match("aXb") && !re.is_match("b"));
        let spec =
            Quarantine::parse(&GOOD.replace("a.b", "\"Kubernetes e2e suite.[sig-x] y (z)\""))
                .unwrap()
                .applied("any", "2026-12-02");
        let re = regex::Regex::new(&spec.spec_regex().unwrap()).unwrap();
        assert!(re.is_match("[sig-x] y (z) [Conformance]") && !re.is_match("[sig-x] y z"));
        assert_eq!(
            Quarantine::default()
                .applied("j", "2026-01-01")
                .spec_regex(),
            None
        );
    }

    #[test]
    fn a_bad_date_names_its_line() {
        let text = GOOD.replace("2027-01-31", "2027-02-30");
        let e = Quarantine::parse(&text).unwrap_err();
        assert!(e.contains("2027-02-30") && e.contains("YYYY-MM-DD"), "{e}");
        assert!(e.contains("line 6"), "{e}");
    }

    #[test]
    fn an_unknown_field_names_its_line() {
        let text = GOOD.replace(
            "    reason: slow\n",
            "    reason: slow\n    expiry: 2027-01-01\n",
        );
        let e = Quarantine::parse(&text).unwrap_err();
        assert!(e.contains("expiry"), "{e}");
        assert!(e.contains("line 11"), "{e}");
    }
}
