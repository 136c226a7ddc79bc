//! Escaping text for XML and HTML (content and double- or single-quoted attributes).

/// Markup characters escaped, and the control characters XML 1.0 forbids (terminal
/// colour codes in test output…) dropped, so the result is always well-formed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            super::escape("<a href=\"x\">'&'\u{1b}[31m</a>\n"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;[31m&lt;/a&gt;\n"
        );
    }
}
