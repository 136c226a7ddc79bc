//! Text from CI artifacts, made safe to show a person. A test's name or message is
//! written by whoever wrote the test: an escape sequence in it could repaint a
//! terminal ("FAIL" shown as "ok"), a newline could forge a line of trellis's own
//! output, and a right-to-left override could reverse what a reader sees. Every such
//! character is shown as a visible escape instead.

use std::borrow::Cow;

/// Characters that change how text is displayed rather than being displayed: C0 and
/// C1 controls, DEL, and the Unicode bidirectional controls.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hidden(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_hidden(c) || keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// One line: every hidden character escaped, newlines included.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// A block (a failure message): newlines and tabs kept, everything else escaped.
pub fn block(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_would_repaint_or_forge_output() {
        assert_eq!(super::line("plain [sig-x] name"), "plain [sig-x] name");
        assert_eq!(
            super::line("t\u{1b}[32mPASS\u{1b}[0m\nstored x"),
            "t\\u{1b}[32mPASS\\u{1b}[0m\\nstored x"
        );
        assert_eq!(super::line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(super::block("a\nb\u{7}"), "a\nb\\u{7}");
    }
}
