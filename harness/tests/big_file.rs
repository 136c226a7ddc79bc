//! A 200 MB JUnit file is streamed: the ingesting process's peak memory stays far
//! below the file's size.

mod common;

use common::{runs, trellis_cmd};
use std::io::{BufWriter, Write};

const TARGET_BYTES: u64 = 200 * 1000 * 1000;
/// Peak resident memory allowed for ingesting it (the file is 200 MB).
const RSS_LIMIT_KB: i64 = 120 * 1024;

fn write_big_junit(path: &std::path::Path) -> u64 {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    let output =
        "I0101 00:00:00.000000 1 log line with some words about pods and nodes &amp; more\n"
            .repeat(100);
    out.write_all(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"big\">\n",
    )
    .unwrap();
    let mut written = 0u64;
    let mut i = 0u64;
    while written < TARGET_BYTES {
        let case = if i.is_multiple_of(97) {
            format!("<testcase name=\"spec {i}\" time=\"0.5\"><failure message=\"spec {i} failed\">trace</failure><system-out>{output}</system-out></testcase>\n")
        } else {
            format!("<testcase name=\"spec {i}\" time=\"0.5\"><system-out>{output}</system-out></testcase>\n")
        };
        out.write_all(case.as_bytes()).unwrap();
        written += case.len() as u64;
        i += 1;
    }
    out.write_all(b"</testsuite></testsuites>\n").unwrap();
    out.flush().unwrap();
    i
}

#[test]
fn two_hundred_megabytes_streams_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("junit_big.xml");
    let cases = write_big_junit(&file);
    assert!(std::fs::metadata(&file).unwrap().len() >= TARGET_BYTES);
    let db = tmp.path().join("t.db");
    let mut cmd = trellis_cmd(&db);
    cmd.args([
        "ingest",
        "--job",
        "big",
        "--build",
        "1",
        file.to_str().unwrap(),
    ]);
    let (out, peak_kb) = common::output_with_peak_rss(cmd);
    assert_eq!(out.status.code(), Some(0));
    eprintln!(
        "200 MB JUnit ({cases} testcases): peak RSS {} MiB",
        peak_kb / 1024
    );
    assert!(
        peak_kb < RSS_LIMIT_KB,
        "peak RSS {peak_kb} KiB for a 200 MB file"
    );
    let stored = runs(&db);
    assert_eq!(
        stored[0]["counts"]["fail"].as_u64().unwrap(),
        cases.div_ceil(97)
    );
    assert_eq!(
        stored[0]["counts"]["pass"].as_u64().unwrap()
            + stored[0]["counts"]["fail"].as_u64().unwrap(),
        cases
    );
}

/// One document with a single giant run of the kind `what` names, just over the size
/// read whole, so it is streamed.
fn write_one_giant_run(path: &std::path::Path, what: &str) {
    const RUN: usize = 70 << 20;
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    // No entity reference: quick-xml would hand over the text between two of them
    // as one event, and the run would never be long.
    let chunk = "log line and more é\n".repeat(4096);
    let giant = |out: &mut BufWriter<std::fs::File>| {
        let mut written = 0;
        while written < RUN {
            out.write_all(chunk.as_bytes()).unwrap();
            written += chunk.len();
        }
    };
    let head = "<testsuites><testsuite name=\"s\"><testcase name=\"t\">";
    match what {
        "system-out" => {
            write!(out, "{head}<system-out>").unwrap();
            giant(&mut out);
            write!(out, "</system-out></testcase>").unwrap();
        }
        "failure body" => {
            write!(out, "{head}<failure>").unwrap();
            giant(&mut out);
            write!(out, "</failure></testcase>").unwrap();
        }
        "message attribute" => {
            write!(out, "{head}<failure message=\"").unwrap();
            giant(&mut out);
            write!(out, "\">trace</failure></testcase>").unwrap();
        }
        _ => unreachable!(),
    }
    write!(out, "<testcase name=\"u\"/></testsuite></testsuites>").unwrap();
    out.flush().unwrap();
}

/// A 70 MB text node, failure body or message attribute is cut to its ends as it is
/// read (it was held whole: a 300 MB `<system-out>` cost 315 MB): the ingest's peak
/// memory stays far below the run's size, and what is stored is the message's head.
#[test]
fn a_giant_text_node_is_cut_as_it_streams() {
    const LIMIT_KB: i64 = 48 * 1024;
    let tmp = tempfile::tempdir().unwrap();
    for (i, what) in ["system-out", "failure body", "message attribute"]
        .into_iter()
        .enumerate()
    {
        let file = tmp.path().join("junit_giant.xml");
        write_one_giant_run(&file, what);
        let db = tmp.path().join(format!("giant-{i}.db"));
        let mut cmd = trellis_cmd(&db);
        cmd.args(["ingest", "--job", "giant", "--build", "1"])
            .arg(&file);
        let (out, peak_kb) = common::output_with_peak_rss(cmd);
        assert_eq!(out.status.code(), Some(0), "{what}");
        eprintln!("70 MB {what}: peak RSS {} MiB", peak_kb / 1024);
        assert!(peak_kb < LIMIT_KB, "{what}: peak RSS {peak_kb} KiB");
        let detail = common::show(&db, "giant", "1");
        let t = common::cell(&detail, "s.t");
        if what == "system-out" {
            assert_eq!(t["status"], "PASS", "{t}");
        } else {
            assert_eq!(t["status"], "FAIL", "{t}");
            let message = t["message"].as_str().unwrap();
            assert!(
                message.starts_with("log line and more é\n"),
                "{what}: {message:.80}"
            );
            // The attribute is the message's first part; the body ("trace") follows it.
            assert!(message.contains(" […truncated]"), "{what}");
        }
        std::fs::remove_file(&file).unwrap();
    }
}
