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
    // The one log that ends FAIL!: two failed conformance specs, as its summary says
    // (the failing Overall row is a row, not a test).
    let osd = common::show(&db, "openshift-dedicated", "v1.24");
    assert_eq!(osd["counts"]["fail"], 2);
    assert_eq!(osd["counts"]["pass"], 354);
    assert_eq!(common::cell(&osd, "Overall")["status"], "FAIL");
    // No Ginkgo v2 stock skip is a row, and v1 and v2 name a spec the same way.
    let gke = common::show(&db, "gke", "v1.33");
    let cells = gke["cells"].as_array().unwrap();
    assert!(cells.iter().all(|c| c["status"] != "PASS_WITH_SKIPS"));
    let lifecycle =
        "Kubernetes e2e suite.[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]";
    assert_eq!(common::cell(&gke, lifecycle)["status"], "PASS");
    assert_eq!(
        common::cell(&common::show(&db, "gke", "v1.24"), lifecycle)["status"],
        "PASS"
    );
}

/// The README's quick start: ingest the real submissions, then every analysis command
/// shows them, however old they are, and sees only what existed at `--at`.
#[test]
fn the_quick_start_shows_every_ingested_job() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let data = shared_data().join("conformance");
    let out = trellis(&db, &["ingest", "--quiet", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    // --quiet: the summary, no line per build.
    let said = common::stdout(&out);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("12 builds stored"), "{said}");
    // Ginkgo v1 submissions have no JUnit timestamp: the start comes from e2e.log.
    let v124 = common::show(&db, "gke", "v1.24");
    assert_eq!(v124["started"], 1_653_614_476, "2022-05-27 01:21:16 UTC");
    assert!(v124["metadata"]["started_from"]
        .as_str()
        .unwrap()
        .contains("random seed"));

    let o = trellis(&db, &["status", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["window"]["days"].as_u64().unwrap() > 0);
    let tabs = report["dashboards"][0]["tabs"].as_array().unwrap();
    assert_eq!(report["dashboards"][0]["name"], "unconfigured-jobs");
    assert_eq!(tabs.len(), 10, "every stored job: {tabs:?}");
    for t in tabs {
        let want = if t["name"] == "openshift-dedicated" {
            "FAILING"
        } else {
            "PASSING"
        };
        assert_eq!(t["status"], want, "{t}");
        assert!(t["last_run"].as_i64().is_some(), "{t}");
    }
    // A one-column failure is a failure, with its failed tests listed.
    let osd = tabs
        .iter()
        .find(|t| t["name"] == "openshift-dedicated")
        .unwrap();
    let failing: Vec<&str> = osd["failing_tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["test"].as_str().unwrap())
        .collect();
    assert!(failing
        .iter()
        .any(|t| t.contains("session affinity timeout work for NodePort")));
    let text = common::stdout(&trellis(&db, &["status"]));
    assert!(text.starts_with("window: builds started "), "{text}");
    // The report sees what status sees, and says so in --json.
    let o = trellis(&db, &["report", "--json"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let site: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(site["dashboards"], report["dashboards"]);
    assert_eq!(site["window"]["days"], report["window"]["days"]);

    // As of 2023-01-01 only the 2022 runs existed: gke's newest is v1.24, and jobs
    // first run later are not seen at all.
    let o = trellis(&db, &["status", "--json", "--at", "1672531200"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let tabs = report["dashboards"][0]["tabs"].as_array().unwrap();
    let gke = tabs.iter().find(|t| t["name"] == "gke").unwrap();
    assert_eq!(gke["latest_green"], "v1.24", "{gke}");
    let aks = tabs.iter().find(|t| t["name"] == "aks").unwrap();
    assert_eq!(aks["last_run"], Value::Null, "{aks}");
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
