//! The component mapping for component readiness: which component a test belongs to,
//! by regular expressions on its name, for tests whose names carry no `[sig-…]` or
//! when a release team groups differently (Sippy's component mapping).
//!
//! ```yaml
//! components:
//!   - name: Networking
//!     match: '\[sig-network\]|Services|DNS'
//!   - name: Storage
//!     match: 'CSI|[Vv]olume'
//! ```
//!
//! The first rule whose `match` finds the test name wins; a test no rule matches
//! belongs to the first `[sig-…]` in its name, else `other`.

use super::FileError;
use regex::Regex;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Components {
    rules: Vec<(String, Regex)>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    components: Vec<Rule>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    #[serde(rename = "match")]
    pattern: String,
}

impl Components {
    pub fn load(path: &Path) -> Result<Components, FileError> {
        super::load_file(
            path,
            "--components",
            "components: a list of {name, match}, match a regular expression on the test name",
            Components::parse,
        )
    }

    pub fn parse(text: &str) -> Result<Components, String> {
        if text.trim().is_empty() {
            return Ok(Components::default());
        }
        let file: File = crate::yaml::from_str(text)?;
        let mut rules = Vec::with_capacity(file.components.len());
        for (i, r) in file.components.into_iter().enumerate() {
            if r.name.trim().is_empty() {
                return Err(format!("entry {}: `name` must not be empty", i + 1));
            }
            let re = regex::RegexBuilder::new(&r.pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("entry {} ({}): match: {e}", i + 1, r.name))?;
            rules.push((r.name, re));
        }
        Ok(Components { rules })
    }

    /// The component of `test`.
    pub fn of(&self, test: &str) -> String {
        self.rules
            .iter()
            .find(|(_, re)| re.is_match(test))
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| sig_of(test))
    }
}

/// The first `[sig-xxx]` tag of a test name, else "other".
pub fn sig_of(test: &str) -> String {
    let mut rest = test;
    while let Some(at) = rest.find("[sig-") {
        let tail = &rest[at + 1..];
        match tail.find(']') {
            Some(end)
                if end > 4
                    && tail[..end]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                return tail[..end].to_string();
            }
            _ => rest = tail,
        }
    }
    "other".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_first_then_the_sig_tag_then_other() {
        let c = Components::parse(
            "components:\n  - name: Networking\n    match: 'Services|DNS'\n  - name: Storage\n    match: CSI\n",
        )
        .unwrap();
        assert_eq!(c.of("[sig-apps] Services should work"), "Networking");
        assert_eq!(c.of("[sig-storage] CSI mock"), "Storage");
        assert_eq!(c.of("[sig-node] Pods"), "sig-node");
        assert_eq!(c.of("TestFoo"), "other");
        assert_eq!(sig_of("[It] [sig-] odd [sig-storage] x"), "sig-storage");
        let bad = Components::parse("components:\n  - name: X\n    match: '('\n").unwrap_err();
        assert!(bad.contains("entry 1 (X): match:"), "{bad}");
        assert!(Components::parse("components:\n  - name: X\n    regex: a\n").is_err());
    }
}
