//! Prow build trees, Hydrophone output and Sonobuoy tarballs, through the CLI.

mod common;

use common::{cell, fixtures, runs, show, stderr, stdout, trellis};
use std::path::Path;

fn tmp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    (dir, db)
}

#[test]
fn prow_tree_with_ci_and_pr_builds() {
    let (_t, db) = tmp_db();
    let out = trellis(&db, &["ingest", fixtures().join("prow").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = runs(&db);
    let ids: Vec<(String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap().into(),
                r["build"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("ci-kubernetes-kind-conformance".into(), "1002".into()),
            ("ci-kubernetes-kind-conformance".into(), "1001".into()),
            ("pull-kubernetes-e2e-kind".into(), "2001".into()),
        ]
    );
    let good = show(&db, "ci-kubernetes-kind-conformance", "1001");
    assert_eq!(good["started"], 1_717_000_000);
    assert_eq!(good["finished"], 1_717_003_600);
    assert_eq!(good["passed"], true);
    assert_eq!(good["commit"], "0a1b2c3d4e5f");
    assert_eq!(
        good["metadata"]["job-version"],
        "v1.31.0-alpha.0.100+0a1b2c3d4e5f"
    );
    assert_eq!(good["metadata"]["node"], "gke-prow-pool-1-x7k2");
    assert_eq!(cell(&good, "Overall")["duration"], 3600.0);

    // A failure in artifacts/junit_01.xml and a pass of the same spec in
    // artifacts/nested/junit_02.xml: one FLAKY cell.
    let bad = show(&db, "ci-kubernetes-kind-conformance", "1002");
    let svc = cell(
        &bad,
        "Kubernetes e2e suite.[sig-network] Services should serve a basic endpoint [Conformance]",
    );
    assert_eq!(svc["status"], "FLAKY");
    assert_eq!(svc["attempts"], 2);
    assert_eq!(cell(&bad, "Overall")["status"], "FAIL");
    assert_eq!(bad["passed"], false);

    let pr = show(&db, "pull-kubernetes-e2e-kind", "2001");
    assert_eq!(pr["pr"], 12345);
    assert_eq!(pr["metadata"]["org_repo"], "kubernetes_kubernetes");
    assert_eq!(pr["commit"], "2c3d4e5f6071");

    // Human output lists failures first.
    let text = stdout(&trellis(
        &db,
        &["show", "ci-kubernetes-kind-conformance", "1002"],
    ));
    let first = text
        .lines()
        .find(|l| l.starts_with("FAIL") || l.starts_with("FLAKY"))
        .unwrap();
    assert!(
        first.starts_with("FAIL") && first.contains("Overall"),
        "{text}"
    );
}

#[test]
fn job_and_build_flags_override_the_path() {
    let (_t, db) = tmp_db();
    let build = fixtures().join("prow/logs/ci-kubernetes-kind-conformance/1001");
    let out = trellis(
        &db,
        &[
            "ingest",
            "--job",
            "my-job",
            "--build",
            "b7",
            build.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(runs(&db)[0]["job"], "my-job");
    assert_eq!(runs(&db)[0]["build"], "b7");
    // --build cannot name the three builds of a tree.
    let out = trellis(
        &db,
        &[
            "ingest",
            "--build",
            "x",
            fixtures().join("prow").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("holds 3"), "{}", stderr(&out));
}

#[test]
fn hydrophone_output_directory() {
    let (_t, db) = tmp_db();
    let dir = fixtures().join("hydrophone");
    let out = trellis(&db, &["ingest", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = &runs(&db)[0];
    assert_eq!(run["job"], "hydrophone");
    let detail = show(&db, "hydrophone", run["build"].as_str().unwrap());
    assert_eq!(detail["passed"], false);
    assert_eq!(
        detail["metadata"]["e2e_log"]["apiserver_version"],
        "v1.30.2"
    );
    assert_eq!(detail["metadata"]["e2e_log"]["ran"], 2);
    let overall = cell(&detail, "Overall");
    assert_eq!(overall["status"], "FAIL");
    assert_eq!(overall["duration"], 301.2);
    // finished = started + the log's run time
    assert_eq!(
        detail["finished"].as_i64().unwrap() - detail["started"].as_i64().unwrap(),
        301
    );
}

/// Writes a Sonobuoy-shaped results tarball with the real v1.25/kind results.
fn sonobuoy_tarball(to: &Path) {
    let kind = common::shared_data().join("conformance/submissions/v1.25/kind");
    let file = std::fs::File::create(to).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_path_with_name(
        kind.join("junit_01.xml"),
        "plugins/e2e/results/global/junit_01.xml",
    )
    .unwrap();
    tar.append_path_with_name(kind.join("e2e.log"), "plugins/e2e/results/global/e2e.log")
        .unwrap();
    tar.append_path_with_name(kind.join("PRODUCT.yaml"), "meta/config.json")
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn sonobuoy_tarball_is_extracted_and_read() {
    let (t, db) = tmp_db();
    let tarball = t.path().join("202209032038_sonobuoy_0f1e2d3c.tar.gz");
    sonobuoy_tarball(&tarball);
    let out = trellis(&db, &["ingest", tarball.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = &runs(&db)[0];
    assert_eq!(run["job"], "202209032038_sonobuoy_0f1e2d3c");
    assert_eq!(run["passed"], true);
    let detail = show(
        &db,
        run["job"].as_str().unwrap(),
        run["build"].as_str().unwrap(),
    );
    assert_eq!(detail["metadata"]["junit"]["passed"], 362);
    assert_eq!(detail["metadata"]["e2e_log"]["passed"], 362);
    // Ingesting it again is a no-op.
    let again = trellis(&db, &["ingest", tarball.to_str().unwrap()]);
    assert!(
        stdout(&again).contains("already stored"),
        "{}",
        stdout(&again)
    );
    assert_eq!(runs(&db).len(), 1);
}

#[test]
fn a_finished_json_without_a_verdict_is_a_failure() {
    // TestGrid: finished.json with neither `passed` nor `result` is FAIL, not UNKNOWN.
    let (t, db) = tmp_db();
    let build = t.path().join("logs/some-job/7");
    std::fs::create_dir_all(&build).unwrap();
    std::fs::write(build.join("started.json"), r#"{"timestamp": 1700000000}"#).unwrap();
    std::fs::write(build.join("finished.json"), r#"{"timestamp": 1700000600}"#).unwrap();
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let detail = show(&db, "some-job", "7");
    assert_eq!(detail["passed"], false);
    assert_eq!(cell(&detail, "Overall")["status"], "FAIL");
}

#[test]
fn an_e2e_log_claiming_an_endless_run_does_not_overflow() {
    // "in 1e308 seconds" once stored finished = -9223372035090775809.
    let (t, db) = tmp_db();
    let log = t.path().join("e2e.log");
    std::fs::write(
        &log,
        "I0527 01:21:16.477120 1 e2e.go:129] Starting\nRandom Seed: 1653614476\n\
         Ran 1 of 2 Specs in 1e308 seconds\nSUCCESS! -- 1 Passed | 0 Failed | 0 Pending | 1 Skipped\n",
    )
    .unwrap();
    let out = trellis(
        &db,
        &[
            "ingest",
            "--job",
            "j",
            "--build",
            "1",
            log.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let detail = show(&db, "j", "1");
    assert_eq!(detail["started"], 1_653_614_476);
    assert!(detail["finished"].is_null(), "{detail}");
}

/// A tarball whose JUnit is a type-7 ("contiguous file") entry is read like a
/// regular file, and a link in it is not followed but said.
#[test]
fn contiguous_entries_are_files_and_links_are_said() {
    let (t, db) = tmp_db();
    let kind = common::shared_data().join("conformance/submissions/v1.25/kind");
    let tarball = t.path().join("202209032038_sonobuoy_0f1e2d3c.tar.gz");
    {
        let file = std::fs::File::create(&tarball).unwrap();
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let junit = std::fs::read(kind.join("junit_01.xml")).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Continuous);
        header.set_size(junit.len() as u64);
        header.set_mode(0o644);
        tar.append_data(
            &mut header,
            "plugins/e2e/results/global/junit_01.xml",
            &junit[..],
        )
        .unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(
            &mut link,
            "plugins/e2e/results/global/latest.xml",
            "junit_01.xml",
        )
        .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
    }
    let out = trellis(&db, &["ingest", tarball.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("link plugins/e2e/results/global/latest.xml not extracted"),
        "{}",
        stderr(&out)
    );
    let run = &runs(&db)[0];
    let detail = show(
        &db,
        run["job"].as_str().unwrap(),
        run["build"].as_str().unwrap(),
    );
    assert_eq!(detail["metadata"]["junit"]["passed"], 362);
}
