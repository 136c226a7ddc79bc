//! Streaming JUnit XML reader for every dialect Kubernetes CI meets: Ginkgo v1/v2,
//! go-junit-report and gotestsum, cargo-nextest and Maven Surefire (flaky and rerun
//! elements), pytest, Bazel `test.xml`, ClusterLoader2.
//!
//! The file is read once, event by event, through a fixed-size buffer: memory grows with
//! the number of testcases (name and a clipped message each), never with the bulk of
//! `<system-out>` text, which is skipped without being decoded. Entities are never
//! expanded: a DOCTYPE that declares any is refused outright.

use super::bounded_text::BoundedText;
use super::IngestError;
use crate::model::{clip_message, is_suite_node, CellStatus, Observation, MAX_MESSAGE_BYTES};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What one JUnit file says, before repeated testcases are merged.
#[derive(Debug, Default)]
pub struct JunitReport {
    /// Every testcase kept for the grid, in file order.
    pub cases: Vec<JunitCase>,
    /// Testcases skipped without a reason (no value, message empty or Ginkgo's stock
    /// "skipped"): dropped from the grid, but counted.
    pub dropped_skips: u64,
    /// The first `<testsuite timestamp=…>`, when present.
    pub timestamp: Option<String>,
    /// Bytes read.
    pub bytes: u64,
    pub tally: JunitTally,
}

/// One `<testcase>`: its row name and result.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitCase {
    /// Row name: every enclosing suite's name + "." + testcase name.
    pub row: String,
    /// Where the testcase's own name starts in `row`.
    name_at: usize,
    pub result: Observation,
}

impl JunitCase {
    /// The testcase's `name` attribute, without the suite prefix.
    pub fn name(&self) -> &str {
        &self.row[self.name_at..]
    }
}

/// Testcases as the file lists them, before merging: what a run's own summary
/// (`Ran N of M Specs`, `N Passed | F Failed | … | K Skipped`) counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JunitTally {
    pub testcases: u64,
    pub passed: u64,
    pub failed: u64,
    pub flaky: u64,
    pub skipped: u64,
    /// Ginkgo v2's setup/report nodes (`[SynchronizedBeforeSuite]`, `[ReportAfterSuite] …`),
    /// which are testcases in the file but not specs in the summary.
    pub suite_nodes: u64,
}

impl JunitTally {
    pub fn add(&mut self, other: &JunitTally) {
        self.testcases += other.testcases;
        self.passed += other.passed;
        self.failed += other.failed;
        self.flaky += other.flaky;
        self.skipped += other.skipped;
        self.suite_nodes += other.suite_nodes;
    }
}

/// The longest row name kept: TestGrid-scale names are a few hundred bytes; a
/// megabyte-long suite name repeated into every row must not become gigabytes.
pub const MAX_ROW_NAME_BYTES: usize = 1024;

/// Every open suite's name joined with dots (TestGrid's dotName; unnamed levels add
/// nothing), kept to [`MAX_ROW_NAME_BYTES`], with a digest of all of it.
struct RowPrefix {
    text: String,
    full_len: usize,
    hash: u64,
}

impl RowPrefix {
    fn new(suites: &[String]) -> RowPrefix {
        let mut p = RowPrefix {
            text: String::new(),
            full_len: 0,
            hash: crate::model::FNV1A_START,
        };
        for suite in suites.iter().filter(|s| !s.is_empty()) {
            for part in [suite.as_str(), "."] {
                p.hash = crate::model::fnv1a_continue(p.hash, part.as_bytes());
                p.full_len += part.len();
                let room = MAX_ROW_NAME_BYTES.saturating_sub(p.text.len());
                p.text.push_str(clip(part, room));
            }
        }
        p
    }

    /// The row name for testcase `name` and where the name starts in it. A name
    /// longer than [`MAX_ROW_NAME_BYTES`] is cut and ends with a digest of the whole,
    /// so different long names stay different rows.
    fn row(&self, name: &str) -> (String, usize) {
        if self.full_len + name.len() <= MAX_ROW_NAME_BYTES {
            return (format!("{}{name}", self.text), self.text.len());
        }
        let tail = format!(
            "…#{:016x}",
            crate::model::fnv1a_continue(self.hash, name.as_bytes())
        );
        let room = MAX_ROW_NAME_BYTES - tail.len();
        let mut row = String::with_capacity(MAX_ROW_NAME_BYTES);
        row.push_str(clip(&self.text, room));
        let name_at = row.len();
        row.push_str(clip(name, room - row.len()));
        row.push_str(&tail);
        (row, name_at)
    }
}

/// The longest prefix of `text` of at most `max` bytes, on a character boundary.
fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Bytes kept of any one run of text, attribute value, comment or CDATA in a
/// streamed document: its first and last half (trellis keeps at most
/// [`MAX_MESSAGE_BYTES`] of a message, and nothing of outputs).
const TEXT_KEPT: usize = super::bounded_text::DEFAULT_KEEP;

/// Files up to this size are read whole and parsed without copying; larger ones are
/// streamed through a fixed buffer so memory stays bounded.
const WHOLE_FILE_LIMIT: u64 = 64 << 20;

/// Reads a JUnit file from disk.
pub fn parse_file(path: &Path) -> Result<JunitReport, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let name = path.display().to_string();
    if file.metadata().map_err(io)?.len() <= WHOLE_FILE_LIMIT {
        let mut bytes = Vec::new();
        BufReader::new(file).read_to_end(&mut bytes).map_err(io)?;
        return parse_slice(&name, &bytes);
    }
    parse_reader(&name, BufReader::with_capacity(1 << 16, file))
}

/// Reads a JUnit document held in memory, without copying it.
pub fn parse_slice(input: &str, doc: &[u8]) -> Result<JunitReport, IngestError> {
    // One validation pass over the whole document is cheaper than one per event.
    if simdutf8::basic::from_utf8(doc).is_err() {
        // The fast check says only "invalid"; the slow one says where.
        let offset = std::str::from_utf8(doc)
            .err()
            .map_or(0, |e| e.valid_up_to());
        return Err(IngestError::NotUtf8 {
            input: input.to_string(),
            offset: offset as u64,
        });
    }
    let mut reader = Reader::from_reader(doc);
    configure(&mut reader);
    let mut parser = Parser::new(input);
    parser.prevalidated = true;
    loop {
        reader.config_mut().trim_text(!parser.capturing());
        let event = reader
            .read_event()
            .map_err(|e| parser.xml_error(reader.error_position(), e))?;
        if let Event::Eof = event {
            break;
        }
        parser.handle(event, reader.buffer_position())?;
    }
    parser.finish(reader.buffer_position())
}

/// Reads a JUnit document from any buffered reader; `input` names it in errors. Long
/// runs of text are cut to their ends first ([`BoundedText`]), so memory stays
/// bounded whatever the document holds.
pub fn parse_reader<R: BufRead>(input: &str, source: R) -> Result<JunitReport, IngestError> {
    let source = BufReader::with_capacity(1 << 16, BoundedText::new(source, TEXT_KEPT));
    let mut reader = Reader::from_reader(source);
    configure(&mut reader);
    let mut parser = Parser::new(input);
    let mut buf = Vec::with_capacity(1 << 12);
    loop {
        reader.config_mut().trim_text(!parser.capturing());
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| parser.xml_error(reader.error_position(), e))?;
        if let Event::Eof = event {
            break;
        }
        parser.handle(event, reader.buffer_position())?;
        buf.clear();
    }
    parser.finish(reader.buffer_position())
}

fn configure<R>(reader: &mut Reader<R>) {
    reader.config_mut().check_end_names = true;
}

/// Checks every `&…;` reference of `text` without decoding it: predefined entities
/// and character references only.
fn check_refs(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'&', &bytes[from..]) {
        let start = from + at + 1;
        let window = &text[start..text.len().min(start + 32)];
        let Some(semi) = window.find(';') else {
            return Err(format!(
                "a reference at byte {} is not closed by `;`",
                start - 1
            ));
        };
        let name = &window[..semi];
        let known = match name.strip_prefix('#') {
            Some(num) => {
                let value = match num.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                };
                value.and_then(char::from_u32).is_some()
            }
            None => quick_xml::escape::resolve_predefined_entity(name).is_some(),
        };
        if !known {
            return Err(format!("undefined entity `&{name};`"));
        }
        from = start + semi + 1;
    }
    Ok(())
}

/// Which element a failure-like child is, for attempts and status.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// `<failure>` / `<error>`: the test failed.
    Failed,
    /// `<flakyFailure>` / `<flakyError>`: an earlier attempt failed, the test passed.
    Flaky,
    /// `<rerunFailure>` / `<rerunError>`: a retry that failed too.
    Rerun,
    /// `<skipped>`.
    Skipped,
}

#[derive(Debug, Default)]
struct CaseState {
    /// Row name: every enclosing suite's name + "." + testcase name.
    row: String,
    /// Where the testcase's own name starts in `row`.
    name_at: usize,
    duration: Option<f64>,
    failed: bool,
    flaky: u32,
    reruns: u32,
    skipped: Option<String>,
    /// The `<skipped>` element had text of its own (not only a `message` attribute).
    skip_value: bool,
    message: Option<String>,
}

/// Text being gathered: a failure's message when its attribute was empty, or a skip's
/// value.
struct Capture {
    outcome: Outcome,
    depth: usize,
    text: String,
    /// Inside `<system-out>`/`<system-err>` of a flaky element: not part of the message.
    muted: usize,
    /// The element's `message` attribute, when it had one: the message is then the
    /// attribute, a newline and the body (what the pipeline feeding Kubernetes triage
    /// does with Ginkgo v2's `<failure message="[FAILED] …">full text</failure>`).
    attribute: Option<String>,
}

struct Parser<'a> {
    input: &'a str,
    report: JunitReport,
    /// Names of open elements (for the truncation message); slots are reused so a
    /// deep document does not allocate per element.
    open: Vec<String>,
    depth: usize,
    /// Name of each open `<testsuite>`, innermost last.
    suites: Vec<String>,
    /// The open suites' row prefix, built once per suite rather than per testcase.
    prefix: Option<RowPrefix>,
    case: Option<CaseState>,
    capture: Option<Capture>,
    saw_root: bool,
    /// The whole document is known to be UTF-8: skip per-event checks.
    prevalidated: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            report: JunitReport::default(),
            open: Vec::new(),
            depth: 0,
            suites: Vec::new(),
            prefix: None,
            case: None,
            capture: None,
            saw_root: false,
            prevalidated: false,
        }
    }

    /// While a message is being gathered its text must stay exactly as written
    /// (entity references split it into pieces); elsewhere whitespace-only text between
    /// elements is skipped, which saves events.
    fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    fn innermost_open(&self) -> Option<&str> {
        self.depth.checked_sub(1).map(|i| self.open[i].as_str())
    }

    fn push_open(&mut self, name: &str) {
        if self.depth == self.open.len() {
            self.open.push(String::new());
        }
        let slot = &mut self.open[self.depth];
        slot.clear();
        slot.push_str(name);
        self.depth += 1;
    }

    fn handle(&mut self, event: Event<'_>, offset: u64) -> Result<(), IngestError> {
        match event {
            Event::Start(e) => {
                self.start(&e, offset, false)?;
                let name = e.name();
                self.check(name.as_ref(), offset)?;
                self.push_open(&String::from_utf8_lossy(name.as_ref()));
            }
            Event::Empty(e) => self.start(&e, offset, true)?,
            Event::End(e) => {
                self.depth = self.depth.saturating_sub(1);
                self.end(e.local_name().as_ref());
            }
            Event::Text(t) => self.text(&t, offset)?,
            Event::CData(t) => self.text(&t, offset)?,
            Event::GeneralRef(r) => {
                if self.capture.is_some() {
                    let resolved = self.resolve_ref(&r, offset)?;
                    self.push_text(&resolved);
                }
            }
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = String::from_utf8_lossy(&enc).to_string();
                    if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                        return Err(IngestError::Encoding {
                            input: self.input.to_string(),
                            encoding: enc,
                        });
                    }
                }
            }
            Event::DocType(d) => {
                if memchr::memmem::find(&d, b"<!ENTITY").is_some() {
                    return Err(IngestError::EntityDeclaration {
                        input: self.input.to_string(),
                    });
                }
            }
            Event::Comment(t) => self.check(&t, offset)?,
            Event::PI(_) | Event::Eof => {}
        }
        Ok(())
    }

    fn start(&mut self, e: &BytesStart<'_>, offset: u64, empty: bool) -> Result<(), IngestError> {
        let name = e.local_name();
        let name = name.as_ref();
        if self.saw_root && self.depth == 0 {
            return Err(self.bad(
                offset,
                format!(
                    "a second root element `<{}>`: a JUnit file has one <testsuites> or <testsuite>",
                    String::from_utf8_lossy(name)
                ),
            ));
        }
        if !self.saw_root {
            self.saw_root = true;
            if name != b"testsuites" && name != b"testsuite" {
                return Err(IngestError::NotJunit {
                    input: self.input.to_string(),
                    root: String::from_utf8_lossy(name).into_owned(),
                });
            }
        }
        if let Some(cap) = &mut self.capture {
            if name == b"system-out" || name == b"system-err" {
                cap.muted += usize::from(!empty);
            }
            return Ok(());
        }
        match name {
            b"testsuite" => {
                let suite_name = self.attr(e, b"name", offset)?.unwrap_or_default();
                if self.report.timestamp.is_none() {
                    self.report.timestamp = self.attr(e, b"timestamp", offset)?;
                }
                if !empty {
                    self.suites.push(suite_name);
                    self.prefix = None;
                }
            }
            b"testcase" => {
                let mut case = CaseState::default();
                for attr in RawAttrs::new(e.attributes_raw()) {
                    let (key, value) = attr.map_err(|reason| self.bad(offset, reason))?;
                    match key {
                        b"name" => {
                            let name = self.unescape(value, offset)?;
                            let suites = &self.suites;
                            let prefix = self.prefix.get_or_insert_with(|| RowPrefix::new(suites));
                            // Ginkgo v2 names a spec "[It] <text>" where v1 wrote
                            // "<text>": one row for the same spec in both.
                            let name = name.strip_prefix("[It] ").unwrap_or(&name);
                            (case.row, case.name_at) = prefix.row(name);
                        }
                        b"time" => case.duration = parse_seconds(self.utf8(value, offset)?),
                        _ => {}
                    }
                }
                if case.row.len() == case.name_at {
                    return Err(self.bad(
                        offset,
                        "a <testcase> without a name (or with an empty one): every result needs a name to be a row".into(),
                    ));
                }
                self.case = Some(case);
                if empty {
                    self.finish_case();
                }
            }
            _ => {
                let Some(outcome) = outcome_of(name) else {
                    return Ok(());
                };
                if self.case.is_none() {
                    return Ok(());
                }
                let message = self.message_attr(e, offset)?.filter(|m| !m.is_empty());
                let attribute = match outcome {
                    Outcome::Skipped => None,
                    _ => message.clone(),
                };
                self.record(outcome, message);
                if !empty {
                    self.capture = Some(Capture {
                        outcome,
                        depth: self.depth,
                        text: String::new(),
                        muted: 0,
                        attribute,
                    });
                }
            }
        }
        Ok(())
    }

    fn end(&mut self, name: &[u8]) {
        if let Some(cap) = &mut self.capture {
            if self.depth > cap.depth {
                if name == b"system-out" || name == b"system-err" {
                    cap.muted = cap.muted.saturating_sub(1);
                }
                return;
            }
            let cap = self.capture.take().expect("checked above");
            let text = cap.text.trim();
            if text.is_empty() {
                return;
            }
            if cap.outcome == Outcome::Skipped {
                if let Some(case) = &mut self.case {
                    case.skip_value = true;
                    if case.skipped.as_deref().is_none_or(str::is_empty) {
                        case.skipped = Some(clip_message(text.to_string()));
                    }
                }
            } else {
                let message = match cap.attribute {
                    Some(attribute) => format!("{attribute}\n{text}"),
                    None => text.to_string(),
                };
                self.set_message(cap.outcome, clip_message(message));
            }
            return;
        }
        match name {
            b"testsuite" => {
                self.suites.pop();
                self.prefix = None;
            }
            b"testcase" => self.finish_case(),
            _ => {}
        }
    }

    /// Text is only decoded where it becomes part of a message; elsewhere it is only
    /// checked to be UTF-8 (unless the whole document already was). Of a message, no
    /// more than it can hold is copied.
    fn text(&mut self, bytes: &[u8], offset: u64) -> Result<(), IngestError> {
        let room = match &self.capture {
            Some(cap) if cap.muted == 0 => (MAX_MESSAGE_BYTES + 1).saturating_sub(cap.text.len()),
            _ => 0,
        };
        if room == 0 {
            return self.check(bytes, offset);
        }
        let text = self.utf8(bytes, offset)?;
        let mut end = room.min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let piece = text[..end].to_owned();
        self.push_text(&piece);
        Ok(())
    }

    fn check(&self, bytes: &[u8], offset: u64) -> Result<(), IngestError> {
        if self.prevalidated {
            return Ok(());
        }
        self.utf8(bytes, offset).map(|_| ())
    }

    fn push_text(&mut self, text: &str) {
        if let Some(cap) = &mut self.capture {
            if cap.muted == 0 && cap.text.len() < MAX_MESSAGE_BYTES + 1 {
                cap.text.push_str(text);
            }
        }
    }

    /// Notes that the open testcase has a failure/flaky/rerun/skipped child.
    fn record(&mut self, outcome: Outcome, message: Option<String>) {
        let Some(case) = &mut self.case else { return };
        match outcome {
            Outcome::Failed => case.failed = true,
            Outcome::Flaky => case.flaky += 1,
            Outcome::Rerun => case.reruns += 1,
            Outcome::Skipped => {
                case.skipped.get_or_insert_with(String::new);
            }
        }
        if let Some(m) = message {
            self.set_message(outcome, clip_message(m));
        }
    }

    fn set_message(&mut self, outcome: Outcome, message: String) {
        let Some(case) = &mut self.case else { return };
        match outcome {
            Outcome::Skipped => case.skipped = Some(message),
            // The final failure's message is the one to show; an earlier flaky or rerun
            // message only stands in until (unless) a real one comes.
            Outcome::Failed => case.message = Some(message),
            Outcome::Flaky | Outcome::Rerun => {
                case.message.get_or_insert(message);
            }
        }
    }

    fn finish_case(&mut self) {
        let Some(case) = self.case.take() else { return };
        let tally = &mut self.report.tally;
        tally.testcases += 1;
        if is_suite_node(&case.row[case.name_at..]) {
            tally.suite_nodes += 1;
        } else if case.failed {
            tally.failed += 1;
        } else if case.flaky > 0 || case.reruns > 0 {
            tally.flaky += 1;
        } else if case.skipped.is_some() {
            tally.skipped += 1;
        } else {
            tally.passed += 1;
        }
        let (status, attempts, message) = if case.failed {
            (CellStatus::Fail, 1 + case.reruns, case.message)
        } else if case.flaky > 0 {
            (CellStatus::Flaky, 1 + case.flaky, case.message)
        } else if case.reruns > 0 {
            // Rerun failures without a final <failure>: the last attempt passed.
            (CellStatus::Flaky, 1 + case.reruns, case.message)
        } else if let Some(skip) = case.skipped {
            // TestGrid's updater drops a skip with no value whose message is empty
            // (Ginkgo v1, focus skips) or Ginkgo v2's stock "skipped": specs the run
            // never meant to run are not rows.
            if !case.skip_value && (skip.is_empty() || skip == "skipped") {
                self.report.dropped_skips += 1;
                return;
            }
            (CellStatus::PassWithSkips, 1, Some(skip))
        } else {
            (CellStatus::Pass, 1, None)
        };
        self.report.cases.push(JunitCase {
            row: case.row,
            name_at: case.name_at,
            result: Observation {
                status,
                duration: case.duration,
                attempts,
                message,
            },
        });
    }

    fn finish(mut self, offset: u64) -> Result<JunitReport, IngestError> {
        if let Some(open) = self.innermost_open() {
            return Err(IngestError::Truncated {
                input: self.input.to_string(),
                open: open.to_string(),
                offset,
            });
        }
        if !self.saw_root {
            return Err(IngestError::EmptyXml {
                input: self.input.to_string(),
                bytes: offset,
            });
        }
        self.report.bytes = offset;
        Ok(self.report)
    }

    fn attr(
        &self,
        e: &BytesStart<'_>,
        key: &[u8],
        offset: u64,
    ) -> Result<Option<String>, IngestError> {
        // Every attribute is read, so a repeated one is refused wherever it is.
        let mut found = None;
        for attr in RawAttrs::new(e.attributes_raw()) {
            let (k, value) = attr.map_err(|reason| self.bad(offset, reason))?;
            if k == key {
                found = Some(value);
            }
        }
        found
            .map(|value| self.unescape(value, offset).map(Cow::into_owned))
            .transpose()
    }

    /// A failure's `message` attribute, of which only what a message holds is copied
    /// and decoded (the whole is still checked: UTF-8 and its references).
    fn message_attr(&self, e: &BytesStart<'_>, offset: u64) -> Result<Option<String>, IngestError> {
        let mut found = None;
        for attr in RawAttrs::new(e.attributes_raw()) {
            let (k, value) = attr.map_err(|reason| self.bad(offset, reason))?;
            if k == b"message" {
                found = Some(value);
            }
        }
        let Some(raw) = found else { return Ok(None) };
        if raw.len() <= MAX_MESSAGE_BYTES {
            return Ok(Some(self.unescape(raw, offset)?.into_owned()));
        }
        let text = self.utf8(raw, offset)?;
        check_refs(text).map_err(|reason| self.bad(offset, reason))?;
        // Escaped text is never shorter than what it decodes to: this prefix holds
        // every byte a message keeps.
        let mut end = MAX_MESSAGE_BYTES + 1;
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let head = &text[..end];
        let head = match head.rfind('&') {
            Some(amp) if !head[amp..].contains(';') => &head[..amp],
            _ => head,
        };
        let mut message = self.unescape(head.as_bytes(), offset)?.into_owned();
        if message.len() > MAX_MESSAGE_BYTES {
            message = clip_message(message);
        } else {
            message.push_str(" […truncated]");
        }
        Ok(Some(message))
    }

    fn unescape<'v>(&self, value: &'v [u8], offset: u64) -> Result<Cow<'v, str>, IngestError> {
        let text = self.utf8(value, offset)?;
        quick_xml::escape::unescape(text).map_err(|e| self.bad(offset, e.to_string()))
    }

    fn bad(&self, offset: u64, reason: String) -> IngestError {
        IngestError::Xml {
            input: self.input.to_string(),
            offset,
            reason,
        }
    }

    fn resolve_ref(
        &self,
        r: &quick_xml::events::BytesRef<'_>,
        offset: u64,
    ) -> Result<String, IngestError> {
        if let Some(ch) = r
            .resolve_char_ref()
            .map_err(|e| self.xml_error(offset, e))?
        {
            return Ok(ch.to_string());
        }
        let name = self.utf8(r, offset)?;
        quick_xml::escape::resolve_predefined_entity(name)
            .map(str::to_string)
            .ok_or_else(|| IngestError::Xml {
                input: self.input.to_string(),
                offset,
                reason: format!("undefined entity `&{name};`"),
            })
    }

    fn utf8<'b>(&self, bytes: &'b [u8], offset: u64) -> Result<&'b str, IngestError> {
        simdutf8::compat::from_utf8(bytes).map_err(|e| IngestError::NotUtf8 {
            input: self.input.to_string(),
            offset: offset.saturating_sub(bytes.len() as u64) + e.valid_up_to() as u64,
        })
    }

    fn xml_error(&self, offset: u64, err: quick_xml::Error) -> IngestError {
        match err {
            quick_xml::Error::Encoding(_) => IngestError::NotUtf8 {
                input: self.input.to_string(),
                offset,
            },
            // Every syntax error but a bad `<!` is "input ended inside a construct".
            quick_xml::Error::Syntax(e)
                if e != quick_xml::errors::SyntaxError::InvalidBangMarkup =>
            {
                IngestError::Truncated {
                    input: self.input.to_string(),
                    open: self.innermost_open().unwrap_or("document").to_string(),
                    offset,
                }
            }
            quick_xml::Error::Io(e) => IngestError::Io {
                path: self.input.into(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            },
            other => IngestError::Xml {
                input: self.input.to_string(),
                offset,
                reason: other.to_string(),
            },
        }
    }
}

/// Attributes of a start tag, straight from its raw bytes: `key="value"` pairs with
/// either quote. Prefixes are dropped from keys (`xsi:type` → `type`). Faster than a
/// general attribute iterator because JUnit tags are short and well-formed; anything
/// else is a clear error.
struct RawAttrs<'a> {
    rest: &'a [u8],
    /// Keys seen so far in this element: XML forbids a repeated attribute, and a
    /// second `name` must not silently replace the first.
    seen: smallvec_keys::Keys<'a>,
}

impl<'a> RawAttrs<'a> {
    fn new(raw: &'a [u8]) -> Self {
        RawAttrs {
            rest: raw,
            seen: smallvec_keys::Keys::default(),
        }
    }
}

/// The keys of one element's attributes, without allocating for the usual few.
mod smallvec_keys {
    const INLINE: usize = 8;

    #[derive(Default)]
    pub struct Keys<'a> {
        inline: [&'a [u8]; INLINE],
        len: usize,
        more: Vec<&'a [u8]>,
    }

    impl<'a> Keys<'a> {
        /// Adds `key`; false when it was already there.
        pub fn insert(&mut self, key: &'a [u8]) -> bool {
            if self.inline[..self.len.min(INLINE)].contains(&key) || self.more.contains(&key) {
                return false;
            }
            if self.len < INLINE {
                self.inline[self.len] = key;
            } else {
                self.more.push(key);
            }
            self.len += 1;
            true
        }
    }
}

impl<'a> Iterator for RawAttrs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let rest = &self.rest[start..];
        let Some(eq) = memchr::memchr(b'=', rest) else {
            self.rest = &[];
            return Some(Err(format!(
                "attribute `{}` has no value",
                String::from_utf8_lossy(rest).trim()
            )));
        };
        // The whole qualified name: `evil:name` is another attribute than `name`.
        let key = rest[..eq].trim_ascii_end();
        let after = rest[eq + 1..].trim_ascii_start();
        let (quote, body) = match after.split_first() {
            Some((q @ (b'"' | b'\''), body)) => (*q, body),
            _ => {
                self.rest = &[];
                return Some(Err(format!(
                    "attribute `{}` value is not quoted",
                    String::from_utf8_lossy(key)
                )));
            }
        };
        let Some(end) = memchr::memchr(quote, body) else {
            self.rest = &[];
            return Some(Err(format!(
                "attribute `{}` value is not closed",
                String::from_utf8_lossy(key)
            )));
        };
        self.rest = &body[end + 1..];
        if !self.seen.insert(key) {
            self.rest = &[];
            return Some(Err(format!(
                "attribute `{}` appears twice in one element",
                String::from_utf8_lossy(key)
            )));
        }
        Some(Ok((key, &body[..end])))
    }
}

fn outcome_of(name: &[u8]) -> Option<Outcome> {
    Some(match name {
        b"failure" | b"error" => Outcome::Failed,
        b"flakyFailure" | b"flakyError" => Outcome::Flaky,
        b"rerunFailure" | b"rerunError" => Outcome::Rerun,
        b"skipped" => Outcome::Skipped,
        _ => return None,
    })
}

/// `time="1.5"`; Surefire in some locales writes `1,234.5`. Anything else: unknown.
fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    t.parse::<f64>()
        .ok()
        .or_else(|| t.replace(',', "").parse().ok())
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<JunitReport, IngestError> {
        parse_reader("test.xml", xml.as_bytes())
    }

    /// Malformed JUnit is refused, naming the file and what is wrong, never read as
    /// something it does not say (#11 item 17).
    #[test]
    fn malformed_junit_is_refused_naming_what_is_wrong() {
        for (xml, says) in [
            (
                r#"<testsuite name="s"><testcase name="a" name="b"/></testsuite>"#,
                "attribute `name` appears twice",
            ),
            (
                r#"<testsuite name="s"><testcase name="a"><failure message="x" message="y"/></testcase></testsuite>"#,
                "attribute `message` appears twice",
            ),
            (
                r#"<testsuite name="s"></testsuite><testsuite name="t"></testsuite>"#,
                "a second root element `<testsuite>`",
            ),
            (
                r#"<testsuite name="s"><testcase time="1"/></testsuite>"#,
                "a <testcase> without a name",
            ),
            (
                r#"<testsuite name="s"><testcase name=""/></testsuite>"#,
                "a <testcase> without a name",
            ),
        ] {
            let e = parse(xml).map(|r| r.cases.len()).unwrap_err().to_string();
            assert!(e.contains("test.xml") && e.contains(says), "{xml}: {e}");
        }
        // A namespaced attribute is another attribute: it does not rename the test.
        let r =
            parse(r#"<testsuite name="s"><testcase name="a" evil:name="b"/></testsuite>"#).unwrap();
        assert_eq!(r.cases[0].name(), "a");
    }

    #[test]
    fn statuses_and_rows() {
        let r = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <testsuites><testsuite name="s">
              <testcase name="ok" time="1.5"/>
              <testcase name="bad"><failure message="boom &amp; bust">trace</failure></testcase>
              <testcase name="err"><error>only text &lt;here&gt;</error></testcase>
              <testcase name="focus"><skipped/></testcase>
              <testcase name="skip"><skipped message="no db"/></testcase>
            </testsuite></testsuites>"#,
        )
        .unwrap();
        let rows: Vec<_> = r
            .cases
            .iter()
            .map(|c| (c.row.as_str(), c.result.status, c.result.message.as_deref()))
            .collect();
        assert_eq!(
            rows,
            [
                ("s.ok", CellStatus::Pass, None),
                // The attribute, a newline and the body (#16 item 6).
                ("s.bad", CellStatus::Fail, Some("boom & bust\ntrace")),
                ("s.err", CellStatus::Fail, Some("only text <here>")),
                ("s.skip", CellStatus::PassWithSkips, Some("no db")),
            ]
        );
        assert_eq!(r.dropped_skips, 1);
        assert_eq!(r.cases[0].result.duration, Some(1.5));
        assert_eq!(r.cases[0].name(), "ok");
    }

    /// Ginkgo v2 writes a short `message` and the full failure as the body: both are
    /// kept, as the pipeline feeding Kubernetes triage keeps them (#16 item 6).
    #[test]
    fn a_ginkgo_failure_keeps_its_message_and_its_body() {
        let r = parse(
            r#"<testsuites><testsuite name="s"><testcase name="t">
              <failure message="[FAILED] Timed out after 300.001s." type="failed">[FAILED] Timed out after 300.001s.
Expected pod to be running
In [It] at: test/e2e/common/node/pods.go:575 @ 12/05/23 10:04:41.2</failure>
            </testcase></testsuite></testsuites>"#,
        )
        .unwrap();
        let message = r.cases[0].result.message.as_deref().unwrap_or("");
        assert!(
            message.starts_with("[FAILED] Timed out after 300.001s.\n[FAILED] Timed out"),
            "{message}"
        );
        assert!(
            message.ends_with("pods.go:575 @ 12/05/23 10:04:41.2"),
            "{message}"
        );
    }

    #[test]
    fn huge_names_are_cut_with_a_digest_and_stay_distinct() {
        let suite = "s".repeat(100_000);
        let r = parse(&format!(
            r#"<testsuite name="{suite}"><testcase name="a"/><testcase name="b"/></testsuite>"#
        ))
        .unwrap();
        let rows: Vec<&str> = r.cases.iter().map(|c| c.row.as_str()).collect();
        assert!(
            rows.iter().all(|r| r.len() <= MAX_ROW_NAME_BYTES),
            "{:?}",
            rows[0].len()
        );
        assert_ne!(rows[0], rows[1]);
        assert!(rows[0].contains("…#"));
    }

    #[test]
    fn nested_suites_join_every_level() {
        let r = parse(
            r#"<testsuites><testsuite name="outer"><testsuite name="inner">
               <testcase name="a"/></testsuite><testcase name="b"/></testsuite></testsuites>"#,
        )
        .unwrap();
        let names: Vec<_> = r.cases.iter().map(|c| c.row.as_str()).collect();
        // TestGrid's dotName over every level.
        assert_eq!(names, ["outer.inner.a", "outer.b"]);
    }

    #[test]
    fn flaky_and_rerun_elements() {
        let r = parse(
            r#"<testsuite name="com.example.FooTest">
              <testcase name="flaky"><flakyFailure message="first try"><stackTrace>at Foo</stackTrace></flakyFailure></testcase>
              <testcase name="flakyerr"><flakyError><stackTrace>NPE at Bar</stackTrace><system-out>noise</system-out></flakyError></testcase>
              <testcase name="broken"><failure message="final"/><rerunFailure message="again"/><rerunFailure message="again"/></testcase>
            </testsuite>"#,
        )
        .unwrap();
        let got: Vec<_> = r
            .cases
            .iter()
            .map(|c| {
                let o = &c.result;
                (c.row.as_str(), o.status, o.attempts, o.message.as_deref())
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "com.example.FooTest.flaky",
                    CellStatus::Flaky,
                    2,
                    Some("first try")
                ),
                (
                    "com.example.FooTest.flakyerr",
                    CellStatus::Flaky,
                    2,
                    Some("NPE at Bar")
                ),
                (
                    "com.example.FooTest.broken",
                    CellStatus::Fail,
                    3,
                    Some("final")
                ),
            ]
        );
    }

    #[test]
    fn refuses_entity_declarations() {
        let err = parse(
            r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
            <testsuite name="x"><testcase name="&lol2;"/></testsuite>"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, IngestError::EntityDeclaration { .. }),
            "{err}"
        );
    }

    #[test]
    fn undefined_entity_is_an_error_not_an_expansion() {
        let err = parse(r#"<testsuite name="x"><testcase name="a"><failure>&lol;</failure></testcase></testsuite>"#)
            .unwrap_err();
        assert!(err.to_string().contains("lol"), "{err}");
    }

    #[test]
    fn truncation_names_the_open_element() {
        let err = parse(r#"<testsuites><testsuite name="x"><testcase name="a">"#).unwrap_err();
        match err {
            IngestError::Truncated { open, .. } => assert_eq!(open, "testcase"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn wrong_root_and_empty() {
        assert!(matches!(
            parse("<html/>").unwrap_err(),
            IngestError::NotJunit { .. }
        ));
        assert!(matches!(
            parse("").unwrap_err(),
            IngestError::EmptyXml { .. }
        ));
        let blank = parse("   \n").unwrap_err();
        assert!(matches!(blank, IngestError::EmptyXml { bytes: 4, .. }));
        assert!(
            blank.to_string().contains("no XML element in 4 bytes"),
            "{blank}"
        );
        let nul = parse("\0\0\0").unwrap_err();
        assert!(nul.to_string().contains("NUL bytes"), "{nul}");
    }

    #[test]
    fn non_utf8_is_reported_with_offset() {
        let mut bytes = br#"<testsuite name="x"><testcase name="a"><system-out>"#.to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'z']);
        bytes.extend_from_slice(b"</system-out></testcase></testsuite>");
        let err = parse_reader("bad.xml", &bytes[..]).unwrap_err();
        match err {
            IngestError::NotUtf8 { offset, .. } => assert_eq!(offset, 51),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn latin1_declaration_is_refused() {
        let err = parse(r#"<?xml version="1.0" encoding="ISO-8859-1"?><testsuite/>"#).unwrap_err();
        assert!(matches!(err, IngestError::Encoding { .. }), "{err}");
    }

    #[test]
    fn mismatched_tags_are_malformed() {
        let err = parse(r#"<testsuite><testcase name="a"></testsuite>"#).unwrap_err();
        assert!(matches!(err, IngestError::Xml { .. }), "{err}");
    }
}
