//! Property-based tests of the readers that take input from people trellis does not
//! control: JUnit (both the in-memory and the streamed path), the reader that cuts long
//! runs of text, e2e.log and YAML. Inputs are generated documents and real files
//! mutated (bytes flipped, inserted, deleted, duplicated, cut short). The readers must
//! never panic, must agree with each other, and must finish each input quickly.

mod common;

use proptest::prelude::*;
use std::io::Read;
use std::time::{Duration, Instant};
use trellis::ingest::{e2e_log, junit};

/// What any one input may take, far above what it does: a reader that goes
/// quadratic or loops shows up here, not as a slow CI.
const PER_INPUT: Duration = Duration::from_secs(5);

fn seeds(paths: &[std::path::PathBuf]) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn junit_seeds() -> Vec<Vec<u8>> {
    let dir = common::fixtures().join("junit");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.push(common::fixtures().join("hydrophone/junit_01.xml"));
    seeds(&paths)
}

/// One edit of a byte string, positions as fractions of its length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(f64, u8),
    Insert(f64, Vec<u8>),
    Delete(f64, f64),
    Duplicate(f64, f64, f64),
    Truncate(f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    // Bytes that matter to XML and YAML, and anything at all.
    let interesting = prop_oneof![
        Just(b"<".to_vec()),
        Just(b">".to_vec()),
        Just(b"&".to_vec()),
        Just(b"&amp;".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"]]>".to_vec()),
        Just(b"<![CDATA[".to_vec()),
        Just(b"<!--".to_vec()),
        Just(b"</testcase>".to_vec()),
        Just(b"<testcase name=\"x\">".to_vec()),
        Just(b"<failure message=\"m\">".to_vec()),
        Just(b"&x;".to_vec()),
        Just(b"&#0;".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"*a".to_vec()),
        Just(b"&a [".to_vec()),
        Just(b": ".to_vec()),
        Just(b"\n- ".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..16),
    ];
    prop_oneof![
        (at.clone(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (at.clone(), interesting).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (at.clone(), 0.0..0.2f64).prop_map(|(a, l)| Mutation::Delete(a, l)),
        (at.clone(), 0.0..0.2f64, at.clone()).prop_map(|(a, l, to)| Mutation::Duplicate(a, l, to)),
        at.prop_map(Mutation::Truncate),
    ]
}

fn apply(mut doc: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    let pos = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
    for m in edits {
        let len = doc.len();
        match m {
            Mutation::Flip(a, b) if len > 0 => {
                let i = pos(*a, len - 1);
                doc[i] = *b;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(a, bytes) => {
                let i = pos(*a, len);
                doc.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete(a, l) => {
                let i = pos(*a, len);
                let end = (i + pos(*l, len)).min(len);
                doc.drain(i..end);
            }
            Mutation::Duplicate(a, l, to) => {
                let i = pos(*a, len);
                let end = (i + pos(*l, len)).min(len);
                let piece = doc[i..end].to_vec();
                let at = pos(*to, len);
                doc.splice(at..at, piece);
            }
            Mutation::Truncate(a) => doc.truncate(pos(*a, len)),
        }
    }
    doc
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    assert!(
        start.elapsed() < PER_INPUT,
        "{what} took {:?}",
        start.elapsed()
    );
    out
}

/// A JUnit report as the grid sees it.
fn rows(r: &junit::JunitReport) -> Vec<(String, trellis::model::Observation)> {
    r.cases
        .iter()
        .map(|c| (c.row.clone(), c.result.clone()))
        .collect()
}

/// A generated XML document with every construct the cutting reader tracks: nested
/// elements, attributes in both quotes holding `>` and references, text with
/// references and multi-byte characters, CDATA holding markup, comments, a PI.
fn xml_document() -> impl Strategy<Value = String> {
    let text = proptest::collection::vec(
        prop_oneof![
            Just("a".to_string()),
            Just("é".to_string()),
            Just("€".to_string()),
            Just("&amp;".to_string()),
            Just("&lt;".to_string()),
            Just("&#233;".to_string()),
            Just(" > ".to_string()),
            Just("\n".to_string()),
            "[a-z ]{1,40}",
        ],
        0..400,
    )
    .prop_map(|parts| parts.concat());
    let leaf = prop_oneof![
        text.clone(),
        text.clone()
            .prop_map(|t| format!("<![CDATA[<b>{}]]>", t.replace("]]>", ""))),
        text.clone()
            .prop_map(|t| format!("<!--{}-->", t.replace('-', "_"))),
        (text.clone(), text.clone()).prop_map(|(a, b)| format!(
            "<e x=\"{}\" y='{}'/>",
            a.replace('"', ""),
            b.replace('\'', "")
        )),
    ];
    let tree = leaf.prop_recursive(4, 64, 6, |inner| {
        proptest::collection::vec(inner, 0..6)
            .prop_map(|children| format!("<n k=\"v&gt;\">{}</n>", children.concat()))
    });
    tree.prop_map(|body| format!("<?xml version=\"1.0\"?><!-- top --><root>{body}</root>"))
}

/// Every event name in order, and whether the document reads to the end.
fn skeleton(doc: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = quick_xml::Reader::from_reader(doc);
    reader.config_mut().check_end_names = true;
    let mut names = Vec::new();
    let mut buf = Vec::new();
    loop {
        use quick_xml::events::Event;
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| e.to_string())?
        {
            Event::Eof => return Ok(names),
            Event::Start(e) | Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Event::End(e) => names.push(format!("/{}", String::from_utf8_lossy(e.name().as_ref()))),
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                if r.resolve_char_ref().map_err(|e| e.to_string())?.is_none()
                    && quick_xml::escape::resolve_predefined_entity(&name).is_none()
                {
                    return Err(format!("reference &{name}; broken"));
                }
            }
            _ => {}
        }
        buf.clear();
    }
}

thread_local! {
    /// Generated documents the cutting property cut, on this thread (proptest runs
    /// the cases on the calling thread).
    static CUT_DOCUMENTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutated real JUnit: neither path panics, and where both read it they read the
    /// same rows (the streamed path cuts nothing this small).
    #[test]
    fn junit_readers_never_panic_and_agree(
        seed in 0usize..10,
        edits in proptest::collection::vec(mutation(), 0..8),
    ) {
        let seeds = junit_seeds();
        let doc = apply(seeds[seed % seeds.len()].clone(), &edits);
        let whole = timed("parse_slice", || junit::parse_slice("fuzz.xml", &doc));
        let streamed = timed("parse_reader", || junit::parse_reader("fuzz.xml", &doc[..]));
        if let (Ok(a), Ok(b)) = (&whole, &streamed) {
            prop_assert_eq!(rows(a), rows(b));
        }
        // Valid UTF-8 throughout: the two paths see the same document and must both
        // take it or both refuse it.
        if std::str::from_utf8(&doc).is_ok() {
            prop_assert_eq!(whole.is_ok(), streamed.is_ok(), "{:?} vs {:?}", whole.err(), streamed.err());
        }
    }

    /// The cutting reader: the identity on documents whose runs are short; on any
    /// well-formed document, cut hard, still well-formed, with the same elements, and
    /// never longer than the runs it kept.
    #[test]
    fn cutting_text_keeps_documents_well_formed(doc in xml_document(), keep in 40usize..400) {
        prop_assume!(skeleton(doc.as_bytes()).is_ok());
        let read = |keep: usize| {
            let mut out = Vec::new();
            let mut reader = trellis::ingest::bounded_text::BoundedText::new(doc.as_bytes(), keep);
            reader.read_to_end(&mut out).unwrap();
            (out, reader.runs_cut)
        };
        prop_assert_eq!(read(1 << 30), (doc.as_bytes().to_vec(), 0));
        let (cut, runs_cut) = read(keep);
        CUT_DOCUMENTS.with(|n| n.set(n.get() + usize::from(runs_cut > 0)));
        prop_assert_eq!(skeleton(&cut), skeleton(doc.as_bytes()), "{}", String::from_utf8_lossy(&cut));
        prop_assert!(std::str::from_utf8(&cut).is_ok());
        prop_assert!(cut.len() <= doc.len() + 64 * doc.matches('<').count().max(1));
    }

    /// Mutated e2e.log: read without panicking, whatever its lines say.
    #[test]
    fn e2e_log_reader_never_panics(edits in proptest::collection::vec(mutation(), 0..12)) {
        let seed = std::fs::read(common::fixtures().join("hydrophone/e2e.log")).unwrap();
        let log = apply(seed, &edits);
        let summary = timed("e2e.log", || e2e_log::parse_reader(&log[..]));
        prop_assert!(summary.is_ok());
    }

    /// Mutated PRODUCT.yaml, dashboards and Prow job files: parsed or refused, never a
    /// panic, never slow.
    #[test]
    fn yaml_reader_never_panics(seed in 0usize..4, edits in proptest::collection::vec(mutation(), 0..8)) {
        let data = common::shared_data();
        let seeds = seeds(&[
            data.join("conformance/submissions/v1.24/gke/PRODUCT.yaml"),
            data.join("testgrid/default.yaml"),
            data.join("testgrid/prowjob-testgrid-annotations-excerpt.yaml"),
            common::repo_root().join("suites/conformance.yaml"),
        ]);
        let doc = apply(seeds[seed % seeds.len()].clone(), &edits);
        let text = String::from_utf8_lossy(&doc);
        let _ = timed("yaml", || trellis::yaml::from_str::<serde_json::Value>(&text));
    }
}

/// The cutting property is worth something only if most documents were cut.
#[test]
fn most_generated_documents_are_cut() {
    cutting_text_keeps_documents_well_formed();
    let cut = CUT_DOCUMENTS.with(|n| n.get());
    eprintln!("{cut} generated documents were cut");
    assert!(cut >= 150, "only {cut} of 300 generated documents were cut");
}
