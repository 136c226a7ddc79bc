//! The required conformance tests of each Kubernetes minor (`conformance.yaml`).
//!
//! The lists for v1.24-v1.36 ship inside trellis (from the Kubernetes release branches,
//! as the CNCF verify-conformance bot uses them; see `harness/conformance/SOURCES.txt`);
//! `--conformance-yaml FILE` reads another. A list can change inside a minor: v1.24 and
//! v1.25 dropped two session-affinity tests in December 2022, so runs from before then
//! carry (and may fail) tests the shipped lists no longer require.

use super::Minor;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

/// (minor, list) for every shipped version, oldest first.
const EMBEDDED: &[(u32, &str)] = &[
    (24, include_str!("../../conformance/v1.24-conformance.yaml")),
    (25, include_str!("../../conformance/v1.25-conformance.yaml")),
    (26, include_str!("../../conformance/v1.26-conformance.yaml")),
    (27, include_str!("../../conformance/v1.27-conformance.yaml")),
    (28, include_str!("../../conformance/v1.28-conformance.yaml")),
    (29, include_str!("../../conformance/v1.29-conformance.yaml")),
    (30, include_str!("../../conformance/v1.30-conformance.yaml")),
    (31, include_str!("../../conformance/v1.31-conformance.yaml")),
    (32, include_str!("../../conformance/v1.32-conformance.yaml")),
    (33, include_str!("../../conformance/v1.33-conformance.yaml")),
    (34, include_str!("../../conformance/v1.34-conformance.yaml")),
    (35, include_str!("../../conformance/v1.35-conformance.yaml")),
    (36, include_str!("../../conformance/v1.36-conformance.yaml")),
];

/// The newest minor trellis ships a list for: the default "stable" release.
pub fn newest_embedded() -> Minor {
    let newest = EMBEDDED.last().map(|e| e.0).unwrap_or(0);
    Minor::new(1, newest)
}

/// One entry of conformance.yaml.
#[derive(Debug, Clone, Deserialize)]
struct Entry {
    codename: String,
    #[serde(default)]
    release: Option<String>,
}

/// The tests a submission of one version must pass.
#[derive(Debug, Clone)]
pub struct RequiredTests {
    pub version: Minor,
    /// Where the list came from: `built-in v1.24` or a file path.
    pub source: String,
    /// Normalised codenames (see [`normalize`]).
    pub names: BTreeSet<String>,
}

/// Loads the list for `version`: from `file` when given, else the built-in one.
pub fn load(version: Minor, file: Option<&Path>) -> Result<RequiredTests, String> {
    let (text, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None => {
            let text = EMBEDDED
                .iter()
                .find(|(minor, _)| version.major == 1 && *minor == version.minor)
                .map(|(_, text)| *text)
                .ok_or_else(|| {
                    format!(
                        "trellis ships no required-test list for {version} (it has v1.24-{})",
                        newest_embedded()
                    )
                })?;
            (text.to_string(), format!("built-in {version} list"))
        }
    };
    let entries: Vec<Entry> = crate::yaml::from_str(&text)
        .map_err(|e| format!("{source}: not a conformance.yaml list: {e}"))?;
    let mut names = BTreeSet::new();
    for entry in entries {
        if required_at(&entry, version).map_err(|e| format!("{source}: {e}"))? {
            names.insert(normalize(&entry.codename));
        }
    }
    Ok(RequiredTests {
        version,
        source,
        names,
    })
}

/// A test is required when its `release` field lists a version at or below `version`.
fn required_at(entry: &Entry, version: Minor) -> Result<bool, String> {
    let Some(release) = entry.release.as_deref().filter(|r| !r.trim().is_empty()) else {
        return Ok(true);
    };
    let mut any = false;
    for r in release.split(',') {
        let v = Minor::parse(r).ok_or_else(|| {
            format!(
                "test `{}` has a release `{release}` that is not a version",
                entry.codename
            )
        })?;
        any |= v <= version;
    }
    Ok(any)
}

/// The form test names are compared in: Ginkgo v2's `[It] ` dropped, and the
/// entity-escaped quotes some reporters leave in names turned back into quotes.
pub fn normalize(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_prefix("[It] ").unwrap_or(name);
    name.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&gt;", ">")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_lists_have_the_published_counts() {
        let counts = [
            (24, 354),
            (25, 360),
            (26, 368),
            (27, 378),
            (28, 380),
            (29, 388),
            (30, 402),
            (31, 404),
            (32, 411),
            (33, 417),
            (34, 424),
            (35, 441),
            (36, 446),
        ];
        for (minor, n) in counts {
            let list = load(Minor::new(1, minor), None).unwrap();
            assert_eq!(list.names.len(), n, "v1.{minor}");
        }
        // v1.33's list has 419 entries, but two (the ServiceCIDR and IPAddress API
        // tests) say `release: v1.34`: not required of a v1.33 submission.
        let v133 = load(Minor::new(1, 33), None).unwrap();
        assert!(!v133
            .names
            .iter()
            .any(|n| n.contains("ServiceCIDR and IPAddress API")));
        assert_eq!(newest_embedded(), Minor::new(1, 36));
        assert!(load(Minor::new(1, 20), None).is_err());
    }

    #[test]
    fn release_field_decides() {
        let e = |r: &str| Entry {
            codename: "x".into(),
            release: Some(r.into()),
        };
        assert!(required_at(&e("v1.9"), Minor::new(1, 24)).unwrap());
        assert!(!required_at(&e("v1.29"), Minor::new(1, 28)).unwrap());
        assert!(required_at(&e("v1.30, v1.21"), Minor::new(1, 24)).unwrap());
        assert!(required_at(&e("soon"), Minor::new(1, 24)).is_err());
    }

    #[test]
    fn names_normalise() {
        assert_eq!(
            normalize("[It] [sig-x] a &#39;b&#39; [Conformance]"),
            "[sig-x] a 'b' [Conformance]"
        );
    }
}
