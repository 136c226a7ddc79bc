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

/// One Prow build of job `j` under `logs`: started at `started`, finished (with
/// `passed`) `took` seconds later unless `passed` is `None` (still running), with
/// test `t` failing or passing when `t_passed` says, and podinfo.json when `pod`.
fn prow_build(
    logs: &Path,
    id: u32,
    started: i64,
    passed: Option<bool>,
    t_passed: Option<bool>,
    pod: bool,
) {
    let dir = logs.join(id.to_string());
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(
        dir.join("started.json"),
        format!(r#"{{"timestamp": {started}}}"#),
    )
    .unwrap();
    if let Some(p) = passed {
        std::fs::write(
            dir.join("finished.json"),
            format!(r#"{{"timestamp": {}, "passed": {p}}}"#, started + 600),
        )
        .unwrap();
    }
    if pod {
        std::fs::write(
            dir.join("podinfo.json"),
            r#"{"pod": {"metadata": {"name": "p"}, "status": {"phase": "Succeeded"}}}"#,
        )
        .unwrap();
    }
    if let Some(ok) = t_passed {
        let failure = if ok {
            ""
        } else {
            r#"<failure message="expected 1, got 2"/>"#
        };
        std::fs::write(
            dir.join("artifacts/junit_01.xml"),
            format!(r#"<testsuite name="s"><testcase name="t">{failure}</testcase></testsuite>"#),
        )
        .unwrap();
    }
}

/// A dashboard with one tab on job `j`: 10 recent columns, alerts at 4 failures.
fn one_tab_dashboards(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("dashboards");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("j.yaml"),
        "test_groups:\n- name: j\n  num_failures_to_alert: 4\n\
         dashboards:\n- name: d\n  dashboard_tab:\n  - name: t\n    test_group_name: j\n    num_columns_recent: 10\n",
    )
    .unwrap();
    path
}

fn only_tab(db: &Path, dashboards: &Path) -> serde_json::Value {
    let o = trellis(
        db,
        &[
            "status",
            "--json",
            "--dashboards",
            dashboards.to_str().unwrap(),
        ],
    );
    assert!(o.status.code().is_some_and(|c| c != 2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["dashboards"][0]["tabs"][0].clone()
}

/// Ten finished builds of `j`, the newest nine 5 green and 4 red (t failing in the
/// newest three), each with podinfo.json; build `n` started `n` hours ago.
fn ten_finished_builds(logs: &Path, now: i64) {
    let t_passes = [
        true, true, true, true, false, true, true, false, false, false,
    ];
    for (i, ok) in t_passes.iter().enumerate() {
        let id = i as u32 + 1;
        let started = now - i64::from(12 - id) * 3600;
        prow_build(logs, id, started, Some(*ok), Some(*ok), true);
    }
}

/// #15 rule 3: a build without finished.json, younger than a day, is a RUNNING column:
/// counted in the recent window, skipped by the status, replaced when it finishes.
#[test]
fn a_running_build_is_a_column_until_it_finishes() {
    let (t, db) = tmp_db();
    let now = chrono::Utc::now().timestamp();
    let logs = t.path().join("logs/j");
    ten_finished_builds(&logs, now);
    prow_build(&logs, 11, now - 60, None, None, false);
    let dashboards = one_tab_dashboards(t.path());
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("still running"), "{}", stdout(&out));
    let running = show(&db, "j", "11");
    assert_eq!(cell(&running, "Overall")["status"], "RUNNING");
    assert!(running["passed"].is_null(), "{running}");
    // No podinfo.json from a pod still running: no Pod row yet.
    assert!(running["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["test"] != "Pod"));
    let tab = only_tab(&db, &dashboards);
    // The window is the running column and the newest nine finished ones; 3 rows
    // (Overall, Pod, t) in each finished column, the Pod row green in all.
    assert_eq!(
        tab["message"],
        "Tab stats: 5 of 9 (55.6%) recent columns passed (19 of 27 or 70.4% cells)"
    );
    assert_eq!(tab["status"], "FLAKY");

    // Finished and green now: ingesting again replaces the running build.
    prow_build(&logs, 11, now - 60 - 600, Some(true), Some(true), true);
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("updated    j/11"), "{}", stdout(&out));
    let done = show(&db, "j", "11");
    assert_eq!(cell(&done, "Overall")["status"], "PASS");
    assert_eq!(done["passed"], true);
    let tab = only_tab(&db, &dashboards);
    assert!(
        tab["message"]
            .as_str()
            .unwrap()
            .starts_with("Tab stats: 6 of 10 (60.0%)"),
        "{tab}"
    );
    // A finished build is stored for good: a third ingest changes nothing.
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(stdout(&out).contains("unchanged  j/11"), "{}", stdout(&out));
}

/// #15 rule 3: a running build's test results count toward alerts. `t` failed in the
/// newest three finished builds (under the 4 that alert); failing again in the
/// running build, it alerts.
#[test]
fn a_running_builds_results_count_toward_alerts() {
    let (t, db) = tmp_db();
    let now = chrono::Utc::now().timestamp();
    let logs = t.path().join("logs/j");
    ten_finished_builds(&logs, now);
    let dashboards = one_tab_dashboards(t.path());
    let ingest = || {
        let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    ingest();
    let tab = only_tab(&db, &dashboards);
    assert_eq!(tab["status"], "FLAKY", "{tab}");
    prow_build(&logs, 11, now - 60, None, Some(false), false);
    ingest();
    let tab = only_tab(&db, &dashboards);
    assert_eq!(tab["status"], "FAILING", "{tab}");
    let failing = &tab["failing_tests"][0];
    assert_eq!(failing["test"], "s.t", "{tab}");
    assert_eq!(failing["fail_count"], 4, "{tab}");
}

/// A build given up on: still no finished.json a day after it started, whether it was
/// never stored or stored while running.
#[test]
fn a_build_unfinished_after_a_day_failed() {
    let (t, db) = tmp_db();
    let now = chrono::Utc::now().timestamp();
    let logs = t.path().join("logs/j");
    prow_build(&logs, 1, now - 48 * 3600, None, None, false);
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let overall = cell(&show(&db, "j", "1"), "Overall").clone();
    assert_eq!(overall["status"], "FAIL");
    assert_eq!(overall["message"], "Build did not complete within 24 hours");
    // Stored running 23 hours in, never ingested again: analysis a day on reads
    // it as TestGrid's updater would then.
    prow_build(&logs, 2, now - 23 * 3600, None, None, false);
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(cell(&show(&db, "j", "2"), "Overall")["status"], "RUNNING");
    let o = trellis(
        &db,
        &["flakes", "--json", "--at", &(now + 2 * 3600).to_string()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let flakes: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let overall = flakes["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["test"] == "Overall")
        .unwrap_or_else(|| panic!("{flakes}"));
    assert_eq!(overall["failures"], 2, "{overall}");
}

/// #15 rule 4: TestGrid's `Pod` row. Without podinfo.json it is RUNNING for an hour
/// after the build finished (so that build is not yet a latest green), then
/// PASS_WITH_SKIPS; with one, the pod's own verdict.
#[test]
fn the_pod_row_waits_an_hour_for_podinfo() {
    let (t, db) = tmp_db();
    let now = chrono::Utc::now().timestamp();
    let logs = t.path().join("logs/j");
    // Finished 3 h and 30 min ago, green, neither with podinfo.json.
    prow_build(
        &logs,
        1,
        now - 3 * 3600 - 600,
        Some(true),
        Some(true),
        false,
    );
    prow_build(&logs, 2, now - 1800 - 600, Some(true), Some(true), false);
    let dashboards = one_tab_dashboards(t.path());
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let old = cell(&show(&db, "j", "1"), "Pod").clone();
    assert_eq!(old["status"], "PASS_WITH_SKIPS");
    assert_eq!(
        old["message"],
        "podinfo.json not found, please install prow's GCS reporter"
    );
    assert_eq!(cell(&show(&db, "j", "2"), "Pod")["status"], "RUNNING");
    assert_eq!(only_tab(&db, &dashboards)["latest_green"], "1");
    // The podinfo.json arrives: the next ingest reads it and build 2 is green.
    prow_build(&logs, 2, now - 1800 - 600, Some(true), Some(true), true);
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(stdout(&out).contains("updated    j/2"), "{}", stdout(&out));
    assert_eq!(cell(&show(&db, "j", "2"), "Pod")["status"], "PASS");
    assert_eq!(only_tab(&db, &dashboards)["latest_green"], "2");
}

/// #15 "Also": the summary API carries TestGrid's failing-test fields (first, newest
/// failing and last passing build, fail and pass times, links) and, where the tab's
/// `health_analysis_options` enable it, the healthiness block.
#[test]
fn the_summary_api_has_testgrids_failing_tests_and_healthiness() {
    let (t, db) = tmp_db();
    let now = chrono::Utc::now().timestamp();
    let logs = t.path().join("logs/j");
    ten_finished_builds(&logs, now);
    let dashboards = t.path().join("dashboards");
    std::fs::create_dir_all(&dashboards).unwrap();
    std::fs::write(
        dashboards.join("j.yaml"),
        "test_groups:\n- name: j\n  num_failures_to_alert: 3\n\
         dashboards:\n- name: d\n  dashboard_tab:\n  - name: t\n    test_group_name: j\n    \
         health_analysis_options:\n      enable: true\n      days_of_analysis: 1\n",
    )
    .unwrap();
    let out = trellis(&db, &["ingest", t.path().join("logs").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let site = t.path().join("site");
    common::write_report(&db, &site, &dashboards);
    let text = std::fs::read_to_string(site.join("api/v1/dashboards/d/tab-summaries")).unwrap();
    let tab = &serde_json::from_str::<serde_json::Value>(&text).unwrap()["tab_summaries"][0];
    let failures = &tab["failures_summary"];
    // The job's own Overall row alerts beside t, named as TestGrid names it.
    assert_eq!(failures["failure_stats"]["num_failing_tests"], 2, "{tab}");
    assert_eq!(
        failures["top_failing_tests"][0]["display_name"],
        "j.Overall"
    );
    let failing = &failures["top_failing_tests"][1];
    assert_eq!(failing["display_name"], "s.t");
    assert_eq!(failing["fail_count"], 3);
    // t failed in builds 8, 9 and 10 and passed in 7; build n started 12 - n hours ago.
    assert_eq!(failing["fail_build_id"], "8");
    assert_eq!(failing["latest_fail_build_id"], "10");
    assert_eq!(failing["pass_build_id"], "7");
    let at = |hours_ago: i64| {
        chrono::DateTime::from_timestamp(now - hours_ago * 3600, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    assert_eq!(failing["fail_timestamp"], at(4));
    assert_eq!(failing["pass_timestamp"], at(5));
    assert_eq!(failing["failure_message"], "expected 1, got 2");
    let link = failing["build_link"].as_str().unwrap();
    assert!(site.join(link).is_file(), "{link} is a page of the site");
    let health = &tab["healthiness_summary"];
    assert_eq!(health["healthiness_stats"]["num_flaky_tests"], 1, "{tab}");
    let flaky = &health["top_flaky_tests"][0];
    assert_eq!(flaky["display_name"], "s.t");
    // Newest first F F F P P F P P P P: the run of three is breakage, not flips; of
    // the 7 results left, one failure follows a pass.
    let f = flaky["flakiness"].as_f64().unwrap();
    assert!((f - 100.0 / 7.0).abs() < 1e-9, "{flaky}");
    // Nothing ran in the day before: no trend to give.
    assert_eq!(flaky["change"], "UNKNOWN");
    assert!(health["healthiness_stats"]["previous_flakiness"].is_null());
}
