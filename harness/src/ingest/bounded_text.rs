//! A reader that keeps an XML document's long runs of text short, so a streaming
//! parse holds a bounded amount whatever the input.
//!
//! quick-xml hands over a text node, an attribute-laden start tag, a comment or a
//! CDATA section whole: a 300 MB `<system-out>` is a 300 MB buffer (and a copy or two
//! after it). trellis keeps at most [`MAX_MESSAGE_BYTES`](crate::model::MAX_MESSAGE_BYTES)
//! of any of them, so nothing is lost by cutting them first: this reader passes the
//! markup through untouched and, of every run of character data, attribute value,
//! comment, CDATA or processing instruction longer than `keep` bytes, passes the first
//! and last `keep / 2` bytes with a marker saying how much was cut between them.
//!
//! A cut never splits a UTF-8 character or an entity reference (`&amp;`): the bytes
//! around the cut are trimmed back to whole ones, and counted as cut. The marker holds
//! no `<`, `&`, quote or `]]>`, so it is valid wherever it lands. Memory: `keep / 2`
//! bytes of tail, whatever the input.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

/// Bytes of any one run kept by default: 64 KiB of head and 64 KiB of tail.
pub const DEFAULT_KEEP: usize = 128 * 1024;

/// Held back from the head while it is written, so a cut can trim a partial character
/// or entity reference from its end.
const LOOKBEHIND: usize = 16;

/// Where the reader is in the document's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Character data between tags (cuttable).
    Text,
    /// Just read `<`.
    Open,
    /// Read `<!` and this many bytes of it since.
    Bang(u8),
    /// Inside a tag, outside quotes.
    Tag,
    /// Inside an attribute value quoted by this byte (cuttable).
    Value(u8),
    /// Inside `<!--`, with the run of `-` just read (cuttable).
    Comment(u8),
    /// Inside `<![CDATA[`, with the run of `]` just read (cuttable).
    CData(u8),
    /// Inside `<?`, after a `?` or not (cuttable).
    Pi(bool),
    /// Inside `<!DOCTYPE …` or another declaration.
    Decl,
}

impl State {
    fn cuttable(self) -> bool {
        matches!(
            self,
            State::Text | State::Value(_) | State::Comment(_) | State::CData(_) | State::Pi(_)
        )
    }
}

pub struct BoundedText<R> {
    inner: R,
    state: State,
    head_keep: usize,
    tail_keep: usize,
    /// Bytes of the current run seen so far.
    run: usize,
    /// Head bytes not yet passed on (at most [`LOOKBEHIND`]).
    held: Vec<u8>,
    /// The newest bytes of a run being cut.
    tail: VecDeque<u8>,
    /// Bytes of the current run dropped so far.
    cut: u64,
    /// Ready to be read.
    out: Vec<u8>,
    out_at: usize,
    /// Runs cut so far, over the whole document.
    pub runs_cut: u64,
}

impl<R: BufRead> BoundedText<R> {
    pub fn new(inner: R, keep: usize) -> BoundedText<R> {
        let keep = keep.max(2 * LOOKBEHIND + 2);
        BoundedText {
            inner,
            state: State::Text,
            head_keep: keep / 2,
            tail_keep: keep - keep / 2,
            run: 0,
            held: Vec::with_capacity(LOOKBEHIND),
            tail: VecDeque::new(),
            cut: 0,
            out: Vec::with_capacity(1 << 16),
            out_at: 0,
            runs_cut: 0,
        }
    }

    /// Feeds one input byte through the syntax and the cut.
    fn feed(&mut self, b: u8) {
        let before = self.state;
        let (next, ends_run) = step(before, b);
        if before.cuttable() && !ends_run {
            self.run_bytes(&[b]);
        } else {
            if before.cuttable() {
                self.end_run();
            }
            self.out.push(b);
        }
        self.state = next;
    }

    /// Bytes inside a cuttable run: passed on while the head lasts (the last few held
    /// back), then kept in the tail ring, whose oldest bytes fall out as cut.
    fn run_bytes(&mut self, bytes: &[u8]) {
        let room = self.head_keep.saturating_sub(self.run);
        let (head, rest) = bytes.split_at(room.min(bytes.len()));
        if !head.is_empty() {
            self.run += head.len();
            self.held.extend_from_slice(head);
            if self.held.len() > LOOKBEHIND {
                let pass = self.held.len() - LOOKBEHIND;
                self.out.extend_from_slice(&self.held[..pass]);
                self.held.drain(..pass);
            }
        }
        if rest.is_empty() {
            return;
        }
        if self.run == self.head_keep {
            // The head ends here: pass on what is held, less a partial character or
            // entity reference at its end.
            let keep = whole_prefix(&self.held);
            self.cut += (self.held.len() - keep) as u64;
            self.out.extend_from_slice(&self.held[..keep]);
            self.held.clear();
        }
        self.run += rest.len();
        let overflow = (self.tail.len() + rest.len()).saturating_sub(self.tail_keep);
        let from_ring = overflow.min(self.tail.len());
        self.tail.drain(..from_ring);
        let from_rest = overflow - from_ring;
        self.tail.extend(&rest[from_rest..]);
        self.cut += overflow as u64;
    }

    /// Feeds a chunk: runs of text and attribute values up to their delimiter in bulk,
    /// everything else byte by byte.
    fn feed_chunk(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            let delimiter = match self.state {
                State::Text => Some(b'<'),
                State::Value(q) => Some(q),
                _ => None,
            };
            if let Some(d) = delimiter {
                let end = memchr::memchr(d, &chunk[i..]).map_or(chunk.len(), |at| i + at);
                self.run_bytes(&chunk[i..end]);
                i = end;
                if i == chunk.len() {
                    break;
                }
            }
            self.feed(chunk[i]);
            i += 1;
        }
    }

    /// The run ended: pass on the held head bytes, or the marker and the tail.
    fn end_run(&mut self) {
        if self.run <= self.head_keep {
            self.out.append(&mut self.held);
        } else if self.cut == 0 {
            // Longer than the head, but the tail ring never overflowed.
            self.out.append(&mut self.held);
            self.out.extend(self.tail.drain(..));
        } else {
            let tail: Vec<u8> = self.tail.drain(..).collect();
            let skip = partial_start(&tail);
            self.cut += skip as u64;
            self.runs_cut += 1;
            self.out
                .extend_from_slice(format!(" …[trellis cut {} bytes]… ", self.cut).as_bytes());
            self.out.extend_from_slice(&tail[skip..]);
        }
        self.run = 0;
        self.cut = 0;
    }
}

/// The syntax state after byte `b`, and whether `b` ends the cuttable run it follows
/// (a quote, or a markup opener that is not part of the run's text).
fn step(state: State, b: u8) -> (State, bool) {
    match state {
        State::Text => match b {
            b'<' => (State::Open, true),
            _ => (State::Text, false),
        },
        State::Open => match b {
            b'!' => (State::Bang(0), false),
            b'?' => (State::Pi(false), false),
            b'>' => (State::Text, false),
            b'"' | b'\'' => (State::Value(b), false),
            _ => (State::Tag, false),
        },
        State::Bang(n) => {
            // `<!--` or `<![CDATA[`; anything else is a declaration.
            const CDATA: &[u8] = b"[CDATA[";
            match (n, b) {
                (0, b'-') => (State::Bang(100), false),
                (100, b'-') => (State::Comment(0), false),
                (n, b) if n < 7 && CDATA[n as usize] == b => {
                    if n == 6 {
                        (State::CData(0), false)
                    } else {
                        (State::Bang(n + 1), false)
                    }
                }
                (_, b'>') => (State::Text, false),
                _ => (State::Decl, false),
            }
        }
        State::Tag => match b {
            b'"' | b'\'' => (State::Value(b), false),
            b'>' => (State::Text, false),
            _ => (State::Tag, false),
        },
        State::Value(q) if b == q => (State::Tag, true),
        State::Value(q) => (State::Value(q), false),
        State::Comment(dashes) => match b {
            b'-' => (State::Comment(dashes.saturating_add(1)), false),
            b'>' if dashes >= 2 => (State::Text, true),
            _ => (State::Comment(0), false),
        },
        State::CData(brackets) => match b {
            b']' => (State::CData(brackets.saturating_add(1)), false),
            b'>' if brackets >= 2 => (State::Text, true),
            _ => (State::CData(0), false),
        },
        State::Pi(question) => match b {
            b'?' => (State::Pi(true), false),
            b'>' if question => (State::Text, true),
            _ => (State::Pi(false), false),
        },
        State::Decl => match b {
            b'>' => (State::Text, false),
            _ => (State::Decl, false),
        },
    }
}

/// The length of `head` without a partial UTF-8 character or entity reference at its
/// end.
fn whole_prefix(head: &[u8]) -> usize {
    let mut end = head.len();
    // Back over continuation bytes to the lead byte; drop the character if incomplete.
    let mut i = end;
    while i > 0 && head[i - 1] & 0xC0 == 0x80 {
        i -= 1;
    }
    if i > 0 {
        let lead = head[i - 1];
        let width = match lead {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        if end - (i - 1) < width {
            end = i - 1;
        }
    }
    // An `&` with no `;` after it starts a reference the cut would break.
    if let Some(amp) = head[..end].iter().rposition(|&c| c == b'&') {
        if !head[amp..end].contains(&b';') {
            end = amp;
        }
    }
    end
}

/// How many bytes at the start of `tail` belong to a character or entity reference
/// whose start was cut.
fn partial_start(tail: &[u8]) -> usize {
    let mut start = 0;
    while start < tail.len() && tail[start] & 0xC0 == 0x80 {
        start += 1;
    }
    // A `;` before any `&` within reference length ends a reference cut in two.
    let window = &tail[start..tail.len().min(start + LOOKBEHIND)];
    if let Some(semi) = window.iter().position(|&c| c == b';') {
        if !window[..semi].contains(&b'&') {
            start += semi + 1;
        }
    }
    start
}

impl<R: BufRead> Read for BoundedText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                // End of input: whatever run was open is passed on as it stands.
                if self.state.cuttable() && self.run > 0 {
                    self.end_run();
                }
                if self.out.is_empty() {
                    return Ok(0);
                }
                break;
            }
            let n = chunk.len();
            let chunk = chunk.to_vec();
            self.inner.consume(n);
            self.feed_chunk(&chunk);
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded(input: &[u8], keep: usize) -> (String, u64) {
        let mut r = BoundedText::new(input, keep);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), r.runs_cut)
    }

    #[test]
    fn short_documents_pass_through_byte_for_byte() {
        let doc =
            "<?xml version=\"1.0\"?><!-- c --><a x='1 > 2' y=\"&amp;\"><![CDATA[<b>]]>t&lt;é</a>";
        assert_eq!(bounded(doc.as_bytes(), 1024), (doc.to_string(), 0));
    }

    #[test]
    fn long_runs_keep_their_ends_and_say_what_was_cut() {
        let body = "x".repeat(10_000);
        let doc = format!("<a m=\"{body}\">{body}<![CDATA[{body}]]><!--{body}--></a>");
        let (out, cut) = bounded(doc.as_bytes(), 100);
        assert_eq!(cut, 4);
        // A comment's and a CDATA's run holds their closing `--`/`]]` (kept in the tail).
        assert_eq!(out.matches("[trellis cut 9900 bytes]").count(), 2, "{out}");
        assert_eq!(out.matches("[trellis cut 9902 bytes]").count(), 2, "{out}");
        assert!(
            out.starts_with("<a m=\"xxx") && out.ends_with("xx--></a>"),
            "{out}"
        );
        assert!(out.contains("]]><!--"), "{out}");
        assert!(out.len() < 1000);
    }

    #[test]
    fn a_cut_never_splits_a_character_or_an_entity() {
        // 47 bytes of head, then "é" and "&amp;" straddling each end of the cut.
        for shift in 0..8 {
            let text = format!(
                "{}é&amp;{}&amp;é{}",
                "a".repeat(40 + shift),
                "b".repeat(5000),
                "c".repeat(40)
            );
            let doc = format!("<a>{text}</a>");
            let (out, cut) = bounded(doc.as_bytes(), 100);
            assert_eq!(cut, 1);
            let inner = &out[3..out.len() - 4];
            let (head, tail) = inner.split_once(" …[trellis cut ").unwrap();
            let tail = tail.split_once(" bytes]… ").unwrap().1;
            for part in [head, tail] {
                let stray = part.replace("&amp;", "");
                assert!(
                    !stray.contains('&') && !stray.contains(';'),
                    "{shift}: {part}"
                );
            }
            // …and the result is still well-formed XML whose references all resolve.
            let mut reader = quick_xml::Reader::from_str(&out);
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(quick_xml::events::Event::GeneralRef(r)) => {
                        let name = std::str::from_utf8(&r).unwrap();
                        assert!(quick_xml::escape::resolve_predefined_entity(name).is_some());
                    }
                    Ok(_) => {}
                    Err(e) => panic!("{shift}: {e}: {out}"),
                }
            }
        }
    }
}
