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
