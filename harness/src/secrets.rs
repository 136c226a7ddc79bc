//! Credentials never reach an artifact, a log or a page. A kubeconfig's exec plugin
//! that fails makes kube-rs quote its command line and environment (tokens, secrets)
//! in the error; a URL may carry `user:password@`. The [`Redactor`] knows the secrets
//! of the kubeconfig a run uses and replaces them, and any URL's user info, wherever
//! text leaves trellis: run events (terminal, build log, finished.json, the store) and
//! the final error.

use std::borrow::Cow;
use std::path::Path;

/// What stands in for a secret.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not taken for secrets (an exec arg like `get` or `-o`).
const MIN_SECRET_LEN: usize = 6;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// The secrets in the kubeconfig at `path`: users' tokens, passwords, client keys,
    /// auth-provider settings, exec plugins' arguments and environment values, and the
    /// user info of server URLs. An unreadable file gives none (its error is reported
    /// elsewhere, and URL user info is still masked).
    pub fn for_kubeconfig(path: &Path) -> Redactor {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let doc: serde_json::Value = crate::yaml::from_str(&text).unwrap_or_default();
        let mut secrets = Vec::new();
        let users = doc["users"].as_array().cloned().unwrap_or_default();
        for u in &users {
            let user = &u["user"];
            for key in [
                "token",
                "password",
                "client-key-data",
                "client-certificate-data",
            ] {
                push(&mut secrets, &user[key]);
            }
            if let Some(config) = user["auth-provider"]["config"].as_object() {
                config.values().for_each(|v| push(&mut secrets, v));
            }
            let exec = &user["exec"];
            for arg in exec["args"].as_array().into_iter().flatten() {
                push(&mut secrets, arg);
            }
            for env in exec["env"].as_array().into_iter().flatten() {
                push(&mut secrets, &env["value"]);
            }
        }
        for c in doc["clusters"].as_array().into_iter().flatten() {
            if let Some(info) = c["cluster"]["server"].as_str().and_then(user_info) {
                secrets.push(info.to_string());
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known secret, and every URL's user info, replaced.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), REDACTED));
            }
        }
        match mask_user_info(&out) {
            Some(masked) => Cow::Owned(masked),
            None => out,
        }
    }

    pub fn redact_owned(&self, text: &mut String) {
        if let Cow::Owned(t) = self.redact(text) {
            *text = t;
        }
    }
}

fn push(secrets: &mut Vec<String>, v: &serde_json::Value) {
    if let Some(s) = v.as_str() {
        if s.len() >= MIN_SECRET_LEN {
            secrets.push(s.to_string());
        }
    }
}

/// `user:password` of `scheme://user:password@host/…`.
fn user_info(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..host_end].rfind('@')?;
    Some(&rest[..at])
}

/// Every `scheme://user:info@` in `text` written `scheme://[redacted]@`; `None` when
/// there is none.
fn mask_user_info(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find("://") {
        let (before, after) = rest.split_at(i + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&after[at..end]);
                changed = true;
            }
            None => out.push_str(&after[..end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_user_info_is_masked_anywhere() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("GET https://alice:s3cret@example.com/x failed"),
            "GET https://[redacted]@example.com/x failed"
        );
        assert_eq!(r.redact("no url here"), "no url here");
        assert_eq!(
            r.redact("https://example.com/a@b"),
            "https://example.com/a@b"
        );
    }
}
