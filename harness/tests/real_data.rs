//! Every real junit_01.xml under ../shared/data/conformance ingests, and what is stored
//! agrees with the run's own e2e.log summary and with the conformance test count.

mod common;

use common::{shared_data, trellis};
use serde_json::Value;
use std::path::PathBuf;

fn submissions() -> Vec<PathBuf> {
    let root = shared_data().join("conformance/submissions");
    let mut dirs = Vec::new();
    for version in std::fs::read_dir(&root).expect("shared data present") {
        let version = version.unwrap().path();
        if !version.is_dir() {
            continue;
        }
        for product in std::fs::read_dir(&version).unwrap() {
            dirs.push(product.unwrap().path());
        }
    }
    dirs.sort();
    dirs
}

/// Conformance specs that ran (not skipped), counted from the stored cells.
fn conformance_ran(detail: &Value) -> usize {
    detail["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["test"].as_str().unwrap().contains("[Conformance]"))
        .filter(|c| c["status"] != "PASS_WITH_SKIPS")
        .count()
}

#[test]
fn submissions_match_their_e2e_log_summaries() {
    let dirs = submissions();
    assert_eq!(dirs.len(), 12, "the 12 real submissions");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let args: Vec<&str> = std::iter::once("ingest")
        .chain(dirs.iter().map(|d| d.to_str().unwrap()))
        .collect();
    let out = trellis(&db, &args);
    assert!(out.status.success(), "{}", common::stderr(&out));

    for dir in &dirs {
        let product = dir.file_name().unwrap().to_str().unwrap();
        let version = dir.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let detail = common::show(&db, product, version);
        let log = &detail["metadata"]["e2e_log"];
        let junit = &detail["metadata"]["junit"];
        let what = format!("{version}/{product}");
        assert_eq!(log["passed"], junit["passed"], "{what}: passed");
        assert_eq!(log["failed"], junit["failed"], "{what}: failed");
        let skipped = log["skipped"].as_u64().unwrap() + log["pending"].as_u64().unwrap();
        assert_eq!(
            junit["skipped"].as_u64().unwrap(),
            skipped,
            "{what}: skipped"
        );
        // Stored skip count (cells plus dropped focus skips) is the summary's too, less
        // specs whose names repeat (TestGrid merges those into one cell).
        let stored_skip = detail["counts"]["skip"].as_u64().unwrap();
        assert!(
            stored_skip <= skipped && skipped - stored_skip < 10,
            "{what}: {stored_skip} vs {skipped}"
        );
        // Conformance runs focus on [Conformance]: every spec that ran is one.
        assert_eq!(
            conformance_ran(&detail) as u64,
            log["ran"].as_u64().unwrap(),
            "{what}: conformance count"
        );
        let verdict = log["result"] == "SUCCESS";
        assert_eq!(detail["passed"], verdict, "{what}: verdict");
    }
    // The one log that ends FAIL!: two failed conformance specs plus the Overall row.
    let osd = common::show(&db, "openshift-dedicated", "v1.24");
    assert_eq!(osd["counts"]["fail"], 3);
    assert_eq!(common::cell(&osd, "Overall")["status"], "FAIL");
}

#[test]
fn verify_conformance_testdata_ingests_with_the_right_counts() {
    let dir = shared_data().join("conformance/verify-conformance-testdata");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    // (file suffix, conformance specs that ran, of them failed)
    let expected = [
        ("v1-33-junit_01.xml", 419, 0),
        ("v1-35-junit_01.xml", 441, 0),
        ("v1-35-junit_01-with-1-extra-test.xml", 442, 0),
        ("v1-35-junit_01-with-1-test-failed.xml", 441, 1),
        ("v1-35-junit_01-with-1-test-missing.xml", 440, 0),
    ];
    for (suffix, ran, failed) in expected {
        let file = dir.join(format!(
            "TestGetJunitSubmittedConformanceTests-coolkube-{suffix}"
        ));
        let job = format!("coolkube-{suffix}");
        let out = trellis(
            &db,
            &[
                "ingest",
                "--job",
                &job,
                "--build",
                "1",
                file.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{suffix}: {}", common::stderr(&out));
        let detail = common::show(&db, &job, "1");
        assert_eq!(conformance_ran(&detail), ran, "{suffix}");
        assert_eq!(detail["counts"]["fail"], failed, "{suffix}");
        assert_eq!(detail["metadata"]["junit"]["failed"], failed, "{suffix}");
    }
}
