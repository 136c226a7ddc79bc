//! `trellis test` runs libtest binaries nextest-style. The binary under test is this
//! very test executable: its `fixture_*` tests are ignored in normal runs and, when
//! the runner sets TRELLIS_RUNNER_FIXTURE, pass, fail, flake or hang on purpose.

mod common;

use common::{stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;
use trellis::ingest::junit;
use trellis::model::CellStatus;

const FIXTURE: &str = "TRELLIS_RUNNER_FIXTURE";

fn armed() -> Option<PathBuf> {
    std::env::var_os(FIXTURE).map(PathBuf::from)
}

#[test]
#[ignore = "fixture for trellis test"]
fn fixture_pass() {}

#[test]
#[ignore = "fixture for trellis test"]
fn fixture_fail() {
    if armed().is_some() {
        panic!("fixture failure: expected 1, got 2");
    }
}

#[test]
#[ignore = "fixture for trellis test"]
fn fixture_flaky() {
    // Fails on the first attempt, passes on the next (a marker file remembers).
    if let Some(dir) = armed() {
        let marker = dir.join("flaky-attempted");
        if !marker.exists() {
            std::fs::write(&marker, "1").unwrap();
            panic!("fixture flake: first attempt fails");
        }
    }
}

#[test]
#[ignore = "fixture for trellis test"]
fn fixture_slow() {
    if armed().is_some() {
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
}

fn trellis_test(dir: &Path, args: &[&str]) -> std::process::Output {
    let me = std::env::current_exe().unwrap();
    Command::new(env!("CARGO_BIN_EXE_trellis"))
        .arg("test")
        .arg(&me)
        .args(["--ignored", "--filter", "fixture_"])
        .args(args)
        .env(FIXTURE, dir)
        .output()
        .unwrap()
}

#[test]
fn runs_each_test_in_its_own_process_with_retries_and_deadlines() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("junit.xml");
    let o = trellis_test(
        tmp.path(),
        &[
            "-j",
            "4",
            "--retries",
            "1",
            "--timeout",
            "2",
            "--junit",
            report.to_str().unwrap(),
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(7), "{out}{}", stderr(&o));
    assert!(
        out.contains("4 tests run") && out.contains("1 passed, 1 flaky, 2 failed"),
        "{out}"
    );
    assert!(stderr(&o).contains("fixture failure: expected 1, got 2"));

    // The JUnit it writes reads back, through trellis's own reader, as the run went,
    // with the run's start as its timestamp.
    let parsed = junit::parse_file(&report).unwrap();
    let stamp = trellis::ingest::parse_timestamp(parsed.timestamp.as_deref().unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - 120..=now).contains(&stamp), "{stamp} vs {now}");
    let cell = |name: &str| {
        parsed
            .cases
            .iter()
            .find(|c| c.name() == format!("runner::{name}") || c.name() == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} in {:?}",
                    parsed
                        .cases
                        .iter()
                        .map(|c| c.row.clone())
                        .collect::<Vec<_>>()
                )
            })
            .result
            .clone()
    };
    assert_eq!(cell("fixture_pass").status, CellStatus::Pass);
    let flaky = cell("fixture_flaky");
    assert_eq!((flaky.status, flaky.attempts), (CellStatus::Flaky, 2));
    assert!(flaky.message.unwrap().contains("first attempt fails"));
    let failed = cell("fixture_fail");
    assert_eq!((failed.status, failed.attempts), (CellStatus::Fail, 2));
    let slow = cell("fixture_slow");
    assert_eq!(slow.status, CellStatus::Fail);
    assert!(
        slow.message.unwrap().starts_with("timed out after"),
        "deadline reported"
    );
}

#[test]
fn partitions_and_fail_fast() {
    let tmp = tempfile::tempdir().unwrap();
    // Four fixtures, sorted: fail, flaky, pass, slow. Shard 2/2 is flaky and slow.
    let o = trellis_test(tmp.path(), &["--partition", "2/2", "--timeout", "1"]);
    assert!(stdout(&o).contains("2 tests run"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("0 passed, 0 flaky, 2 failed"),
        "{}",
        stdout(&o)
    );

    // One worker, fail-fast: the first failure stops the rest.
    let tmp = tempfile::tempdir().unwrap();
    let o = trellis_test(tmp.path(), &["-j", "1", "--fail-fast", "--timeout", "1"]);
    assert!(stdout(&o).contains("1 failed, 3 skipped"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(7));

    let o = trellis_test(tmp.path(), &["--partition", "3/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a partition"));
}

#[test]
fn a_missing_binary_is_a_clear_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["test", "/nonexistent/test-binary"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/test-binary: cannot run"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_leaves_a_prow_build_and_lands_in_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let builds = tmp.path().join("builds");
    let o = trellis_test(
        tmp.path(),
        &[
            "--retries",
            "1",
            "--timeout",
            "1",
            "--build-dir",
            builds.to_str().unwrap(),
            "--job",
            "selftest",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let runs = common::runs(&db);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["job"], "selftest");
    assert_eq!(runs[0]["passed"], false);
    // 1 pass, 1 flaky, 2 failures; the Overall row from finished.json is not a test.
    assert_eq!(runs[0]["counts"]["flaky"], 1);
    assert_eq!(runs[0]["counts"]["fail"], 2);
    let build_dir = std::fs::read_dir(&builds)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for f in ["started.json", "finished.json", "artifacts/junit_01.xml"] {
        assert!(build_dir.join(f).is_file(), "{f}");
    }
}

/// A test that forks: at its deadline the whole process group goes, and what a
/// passing test left running is gone too, so nothing writes into the next test's log.
#[test]
fn a_tests_children_do_not_outlive_it() {
    let tmp = tempfile::tempdir().unwrap();
    // The grandchildren are `sleep` under a name no other process has.
    let marker = format!("trellis-orphan-{}", std::process::id());
    let sleeper = tmp.path().join(&marker);
    std::fs::copy("/bin/sleep", &sleeper).unwrap();
    let sleeper = sleeper.display();
    let bin = common::script(
        tmp.path(),
        "forking-suite",
        &format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --list ]; then echo 'leaves_a_child: test'; echo 'hangs_with_a_child: test'; exit 0; fi\n\
             case \"$2\" in\n\
               leaves_a_child) {sleeper} 300 & exit 0 ;;\n\
               hangs_with_a_child) {sleeper} 300 & sleep 300 ;;\n\
             esac\n"
        ),
    );
    let o = common::trellis_cmd(&tmp.path().join("t.db"))
        .args(["test", "--timeout", "2"])
        .arg(&bin)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// `--skip-quarantined`: tests an unexpired entry names (bare, or as a row) are not run
/// but reported skipped with the entry's owner and reason; an expired entry runs its
/// test and says so.
#[test]
fn quarantined_tests_are_skipped_with_their_reason() {
    if armed().is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("quarantine.yaml");
    std::fs::write(
        &q,
        "quarantine:\n\
         - test: fixture_fail\n  owner: sig-testing\n  reason: fails on purpose\n  expires: 2100-01-01\n\
         - test: runner.fixture_slow\n  owner: sig-testing\n  reason: slow\n  expires: 2100-01-01\n\
         - test: fixture_pass\n  owner: sig-testing\n  reason: old\n  expires: 2020-01-01\n",
    )
    .unwrap();
    let report = tmp.path().join("junit.xml");
    let o = trellis_test(
        tmp.path(),
        &[
            "--retries",
            "1",
            "--skip-quarantined",
            q.to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("1 passed, 1 flaky, 0 failed, 2 skipped"),
        "{out}"
    );
    assert!(stderr(&o).contains("expired"), "{}", stderr(&o));
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.contains("quarantined until 2100-01-01 by sig-testing: fails on purpose"),
        "{xml}"
    );
}

/// Writes `builds` base builds of job `job` as Prow directories under `root/logs`,
/// hourly up to an hour ago: `fixture_fail` always passes; `fixture_flaky` flakes
/// (failed, then passed on retry) in every fourth build; with `broken`, `fixture_fail`
/// fails in every build instead. The suite is named as `trellis test` names it,
/// after the test binary's file.
fn write_base_history(root: &Path, job: &str, builds: i64, broken: bool) {
    let me = std::env::current_exe().unwrap();
    let suite = me.file_name().unwrap().to_string_lossy().into_owned();
    let now = chrono::Utc::now().timestamp();
    for i in 0..builds {
        let started = now - (builds - i + 1) * 3600;
        let dir = root.join("logs").join(job).join((1000 + i).to_string());
        std::fs::create_dir_all(dir.join("artifacts")).unwrap();
        std::fs::write(
            dir.join("started.json"),
            format!("{{\"timestamp\": {started}}}"),
        )
        .unwrap();
        std::fs::write(
            dir.join("finished.json"),
            format!(
                "{{\"timestamp\": {}, \"passed\": true, \"result\": \"SUCCESS\", \"metadata\": {{\"repo-commit\": \"c{i:039}\"}}}}",
                started + 60
            ),
        )
        .unwrap();
        let fail = if broken {
            "<failure message=\"fixture failure: expected 1, got 2\"/>"
        } else {
            ""
        };
        let flake = if i % 4 == 0 {
            "<flakyFailure message=\"fixture flake: first attempt fails\"/>"
        } else {
            ""
        };
        std::fs::write(
            dir.join("artifacts/junit_01.xml"),
            format!(
                "<testsuites><testsuite name=\"{suite}\" tests=\"2\">\
                 <testcase name=\"fixture_fail\" classname=\"{suite}\">{fail}</testcase>\
                 <testcase name=\"fixture_flaky\" classname=\"{suite}\">{flake}</testcase>\
                 </testsuite></testsuites>"
            ),
        )
        .unwrap();
    }
}

/// A PR build of job `pull-fixtures`: `trellis test --build-dir BUILDS` of the
/// fixtures `filter` picks (armed with `markers`), failing; its directory.
fn pr_build(db: &Path, filter: &str, builds: &Path, markers: &Path) -> PathBuf {
    let o = common::trellis_cmd(db)
        .arg("test")
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--filter", filter, "--job", "pull-fixtures"])
        .arg("--build-dir")
        .arg(builds)
        .env(FIXTURE, markers)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let mut dirs = std::fs::read_dir(builds).unwrap();
    dirs.next().unwrap().unwrap().path()
}

/// `trellis gate --retry` runs a `trellis test` build's failures again: the known
/// flake passes on retry and no longer counts against the PR; the real failure fails
/// every retry and still blocks, with the extra attempts in its evidence. A build
/// that does not say how to re-run its tests is refused with the way to fix it.
#[test]
fn gate_retry_reruns_the_failures_of_a_trellis_test_build() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    write_base_history(tmp.path(), "ci-fixtures", 40, false);
    let o = common::trellis(&db, &["ingest", tmp.path().join("logs").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let marker_dir = tmp.path().join("markers");
    std::fs::create_dir(&marker_dir).unwrap();
    let build = pr_build(&db, "fixture_f", &tmp.path().join("pr"), &marker_dir);
    let gate = |extra: &[&str]| {
        let mut cmd = common::trellis_cmd(&db);
        cmd.arg("gate")
            .arg(&build)
            .args(["--job", "pull-fixtures", "--base", "ci-fixtures", "--json"])
            .args(extra)
            .env(FIXTURE, &marker_dir);
        let o = cmd.output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        (o, report)
    };
    let class = |report: &serde_json::Value, test: &str| {
        report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["test"].as_str().unwrap().ends_with(test))
            .map(|f| f["class"].as_str().unwrap().to_string())
    };

    // As it ran: the flake is excused by its history, the other failure blocks.
    let (o, report) = gate(&[]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert_eq!(
        class(&report, "fixture_flaky").as_deref(),
        Some("known-flake")
    );
    assert_eq!(class(&report, "fixture_fail").as_deref(), Some("new"));

    // Retried: the flake passes and is listed as a known flake of this build; the
    // real failure fails all three retries, four attempts in all.
    let (o, report) = gate(&["--retry", "3"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert_eq!(class(&report, "fixture_flaky"), None, "{report:#}");
    let flaked = &report["flaked_here"][0];
    assert!(flaked["test"].as_str().unwrap().ends_with("fixture_flaky"));
    assert_eq!(flaked["known_flake"], true, "{flaked}");
    let fail = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["test"].as_str().unwrap().ends_with("fixture_fail"))
        .unwrap();
    assert_eq!(fail["class"], "new");
    assert_eq!(fail["evidence"]["attempts"], 4);
    let retried = report["retried"].as_array().unwrap();
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(retried
        .iter()
        .any(|r| r["attempts"] == 3 && r["failed"] == 3));
    assert!(retried
        .iter()
        .any(|r| r["attempts"] == 1 && r["failed"] == 0));

    // A base build was not made by `trellis test`: nothing says how to re-run it.
    let o = common::trellis_cmd(&db)
        .arg("gate")
        .arg(tmp.path().join("logs/ci-fixtures/1001"))
        .args(["--retry", "2", "--base", "ci-fixtures"])
        .output()
        .unwrap();
    // Nothing failed in it: no retry is needed, and it passes.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(
        tmp.path().join("logs/ci-fixtures/1001/artifacts/junit_01.xml"),
        format!(
            "<testsuite name=\"s\">{}<testcase name=\"broken\"><failure message=\"expected 1, got 2\"/></testcase></testsuite>",
            (0..9)
                .map(|i| format!("<testcase name=\"fine{i}\"/>"))
                .collect::<String>()
        ),
    )
    .unwrap();
    let o = common::trellis_cmd(&db)
        .arg("gate")
        .arg(tmp.path().join("logs/ci-fixtures/1001"))
        .args(["--job", "other", "--retry", "2", "--base", "ci-fixtures"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not say how to run its tests again")
            && stderr(&o).contains("`trellis test --build-dir` made it"),
        "{}",
        stderr(&o)
    );
}

/// Which base jobs `trellis gate` reads without --base: a test group's
/// `trellis_base_jobs` in the dashboards config; else every stored job but the
/// build's own, leaving out the config's Prow `presubmits`.
#[test]
fn gate_takes_its_base_jobs_from_the_dashboards_config() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    write_base_history(tmp.path(), "ci-fixtures", 40, false);
    // Another job, where fixture_fail is broken: a base that excuses the failure.
    write_base_history(tmp.path(), "pull-other", 40, true);
    let o = common::trellis(&db, &["ingest", tmp.path().join("logs").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let build = pr_build(&db, "fixture_fail", &tmp.path().join("pr"), tmp.path());
    let dashboards = tmp.path().join("dashboards");
    std::fs::create_dir(&dashboards).unwrap();
    let gate_with = |config: Option<&str>| {
        if let Some(yaml) = config {
            std::fs::write(dashboards.join("config.yaml"), yaml).unwrap();
        }
        let mut cmd = common::trellis_cmd(&db);
        cmd.arg("gate")
            .arg(&build)
            .args(["--job", "pull-fixtures", "--json"]);
        if config.is_some() {
            cmd.arg("--dashboards").arg(&dashboards);
        }
        let o = cmd.output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        let base: Vec<String> = report["base"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[0].as_str().unwrap().to_string())
            .collect();
        (
            o.status.code(),
            base,
            report["failures"][0]["class"].clone(),
        )
    };
    // No config: both stored jobs are the base, and the broken one excuses it.
    assert_eq!(
        gate_with(None),
        (
            Some(0),
            vec!["ci-fixtures".to_string(), "pull-other".to_string()],
            "broken-on-base".into()
        )
    );
    // The test group names its base: only ci-fixtures, where the test passes.
    let named = "test_groups:\n- name: pull-fixtures\n  trellis_base_jobs: [ci-fixtures]\n";
    assert_eq!(
        gate_with(Some(named)),
        (Some(8), vec!["ci-fixtures".to_string()], "new".into())
    );
    // A Prow job file that lists pull-other as a pre-submit: not a base.
    let prow = "presubmits:\n  kubernetes/kubernetes:\n  - name: pull-other\n";
    assert_eq!(
        gate_with(Some(prow)),
        (Some(8), vec!["ci-fixtures".to_string()], "new".into())
    );
    // A named base job that is not stored: said, with the field that names it.
    let o = {
        std::fs::write(
            dashboards.join("config.yaml"),
            "test_groups:\n- name: pull-fixtures\n  trellis_base_jobs: [ci-missing]\n",
        )
        .unwrap();
        common::trellis_cmd(&db)
            .arg("gate")
            .arg(&build)
            .args(["--job", "pull-fixtures", "--dashboards"])
            .arg(&dashboards)
            .output()
            .unwrap()
    };
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("base job ci-missing (trellis_base_jobs)"),
        "{}",
        stderr(&o)
    );

    // Its failure text labelled infra (from a triage cluster's text, another build's
    // numbers): infra, not blocking; triage marks the cluster the same way.
    let labels = tmp.path().join("infra.yaml");
    std::fs::write(
        &labels,
        "infra:\n  - cluster: \"thread 'fixture_fail' (31337) panicked at harness/tests/runner.rs:27:9: fixture failure: expected 1, got 2\"\n    reason: the fixture host\n",
    )
    .unwrap();
    let o = common::trellis_cmd(&db)
        .arg("gate")
        .arg(&build)
        .args(["--job", "pull-fixtures", "--base", "ci-fixtures", "--infra"])
        .arg(&labels)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("triage cluster labelled infra: the fixture host"),
        "{}",
        stdout(&o)
    );
    let o = common::trellis_cmd(&db)
        .args(["triage", "--days", "30", "--json", "--infra"])
        .arg(&labels)
        .output()
        .unwrap();
    let triage: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let clusters = triage["clusters"].as_array().unwrap();
    let labelled: Vec<&serde_json::Value> = clusters
        .iter()
        .filter(|c| c.get("infra").is_some())
        .collect();
    assert_eq!(labelled.len(), 1, "{clusters:#?}");
    assert!(
        labelled[0]["representative"]
            .as_str()
            .unwrap()
            .starts_with("thread 'fixture_fail'"),
        "{:#}",
        labelled[0]
    );
    assert!(labelled[0]["infra"]
        .as_str()
        .unwrap()
        .ends_with("the fixture host"));
}
