//! Escaping for every context test-result text lands in: HTML text, attribute values,
//! JSON embedded in a `<script>` element, and URLs. Names and messages come from CI
//! artifacts anyone can write, so nothing from them is ever emitted raw.

/// Text between tags; escape sequences and bidirectional overrides shown, not obeyed.
pub fn html(text: &str) -> String {
    crate::xml::escape(&crate::printable::block(text))
}

/// A quoted attribute value (always emitted inside double quotes).
pub fn attr(text: &str) -> String {
    crate::xml::escape(&crate::printable::line(text))
}

/// JSON for an inline `<script type="application/json">` block: `<`, `>`, `&` and the
/// line separators are written as \u escapes, so `</script>` or `<!--` in a test name
/// cannot end the block or open a comment.
pub fn script_json<T: serde::Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_string());
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A link target from result data: only absolute http(s) URLs pass, escaped for an
/// attribute; anything else (`javascript:`, `data:`, relative tricks) gives `None`.
pub fn url(text: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(text.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| attr(parsed.as_str()))
}

/// A file name for a page about `name`: lowercase ASCII, digits and dashes, plus a
/// short digest so different names never share a file.
/// `text` percent-encoded as JavaScript's `encodeURIComponent` does, for values in a
/// URL's query or #fragment (grid.js decodes them with `decodeURIComponent`).
pub fn uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    // 64 bits: two names sharing a page is then a one-in-2^64 chance per pair (and
    // the writer refuses it rather than losing a page).
    let h = crate::model::fnv1a(name.as_bytes());
    format!("{}-{h:016x}", out.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts() {
        assert_eq!(
            html("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        let js = script_json(&vec!["</script><script>alert(1)</script>", "a\u{2028}b"]);
        assert!(!js.contains('<') && !js.contains('>'), "{js}");
        assert!(js.contains("\\u003c/script\\u003e") && js.contains("\\u2028"));
        assert_eq!(url("javascript:alert(1)"), None);
        assert_eq!(url("data:text/html,<b>"), None);
        assert_eq!(
            url("https://prow.k8s.io/view/gs/x?a=1&b=\"2\"").unwrap(),
            "https://prow.k8s.io/view/gs/x?a=1&amp;b=%222%22"
        );
        assert_eq!(
            slug("sig-release-master-blocking").len(),
            "sig-release-master-blocking".len() + 17
        );
        // A name of any length gives a short page name (#11 item 15).
        assert!(slug(&"d".repeat(100_000)).len() <= 60 + 17);
        assert_ne!(slug("a b"), slug("a-b"));
        assert!(slug("<script>").starts_with("script-"));
    }
}
