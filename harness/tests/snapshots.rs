//! Whole-output snapshots (insta): what `status`, `flakes`, `show` and
//! `verify-submission` print, and how errors read, compared in full. A change to any
//! of them shows up as a snapshot diff to review (`cargo insta review`), never as a
//! loose `contains` that still passes.
//!
//! The history is simulated with a fixed seed and a fixed "now", and every command
//! gets the same `--at`, so the output is the same on every machine. Temporary paths
//! are replaced by `[TMP]`.

mod common;

use common::{repo_root, shared_data, trellis};
use std::path::Path;
use trellis::simulate::{self, SimOptions};
use trellis::store::Store;

/// 2026-01-01 00:00 UTC: the simulated history ends here, and every verdict is as of it.
const NOW: i64 = 1_767_225_600;

struct History {
    dir: tempfile::TempDir,
}

impl History {
    fn new() -> History {
        let dir = tempfile::tempdir().unwrap();
        let jobs: Vec<String> = (1..=3).map(|i| format!("sim-job-{i:02}")).collect();
        let mut opts = SimOptions::new(jobs, 40, 30, NOW);
        opts.seed = 11;
        opts.flaky_share = 0.15;
        opts.broken_share = 0.07;
        let mut store = Store::open(dir.path().join("db")).unwrap();
        simulate::simulate(&opts, |b| store.insert_build(&b).map(|_| ())).unwrap();
        simulate::dashboards::write(&dir.path().join("dashboards"), &opts.jobs).unwrap();
        History { dir }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("db")
    }

    /// `trellis COMMAND --dashboards DIR --at NOW EXTRA…`, which must print nothing on
    /// stderr; returns the exit code and the text to snapshot.
    fn analyse(&self, command: &str, dashboards: &Path, extra: &[&str]) -> (Option<i32>, String) {
        let mut args = vec![
            command,
            "--dashboards",
            dashboards.to_str().unwrap(),
            "--at",
        ];
        let now = at();
        args.push(&now);
        args.extend_from_slice(extra);
        let (code, out, err) = self.run(&args);
        assert_eq!(err, "");
        (code, format!("exit {code:?}\n{out}"))
    }

    /// Runs trellis; returns exit code, stdout and stderr with temporary paths redacted.
    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        run(&self.db(), self.dir.path(), args)
    }
}

fn run(db: &Path, tmp: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = trellis(db, args);
    let redact = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(&tmp.display().to_string(), "[TMP]")
            .replace(&repo_root().display().to_string(), "[REPO]")
    };
    (o.status.code(), redact(&o.stdout), redact(&o.stderr))
}

fn at() -> String {
    NOW.to_string()
}

#[test]
fn status_on_simulated_history() {
    let h = History::new();
    let (_, text) = h.analyse("status", &h.dir.path().join("dashboards"), &[]);
    insta::assert_snapshot!("status", text);
}

/// What a newcomer sees: no dashboards config at all, and every stored job shown on
/// the unconfigured dashboard, nothing release-blocking.
#[test]
fn status_without_any_config_shows_every_stored_job() {
    let h = History::new();
    let none = h.dir.path().join("no-config");
    std::fs::create_dir_all(&none).unwrap();
    std::fs::write(
        none.join("default.yaml"),
        "default_test_group:\n  days_of_results: 15\n",
    )
    .unwrap();
    let (code, text) = h.analyse("status", &none, &[]);
    assert_eq!(code, Some(0), "{text}");
    insta::assert_snapshot!("status_unconfigured", text);
}

#[test]
fn flakes_on_simulated_history() {
    let h = History::new();
    let (_, text) = h.analyse(
        "flakes",
        &h.dir.path().join("dashboards"),
        &["--days", "30"],
    );
    insta::assert_snapshot!("flakes", text);
}

#[test]
fn show_one_simulated_build() {
    let h = History::new();
    let runs = common::runs(&h.db());
    let last = runs
        .iter()
        .filter(|r| r["job"] == "sim-job-02")
        .max_by_key(|r| r["started"].as_i64())
        .expect("sim-job-02 has builds");
    let build = last["build"].as_str().unwrap().to_string();
    let (code, out, err) = h.run(&["show", "sim-job-02", &build]);
    assert_eq!(err, "");
    insta::assert_snapshot!("show", format!("exit {code:?}\n{out}"));
}

#[test]
fn verify_submission_of_a_real_submission() {
    let root = shared_data().join("conformance/submissions/v1.33");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let dir = dirs.first().expect("a v1.33 submission");
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &tmp.path().join("db"),
        tmp.path(),
        &["verify-submission", dir.to_str().unwrap()],
    );
    let out = out.replace(&shared_data().display().to_string(), "[DATA]");
    assert_eq!(err, "");
    insta::assert_snapshot!("verify_submission", format!("exit {code:?}\n{out}"));
}

/// How failures read: the error, its cause where it adds one, and the fix.
#[test]
fn error_messages() {
    let h = History::new();
    let tmp = h.dir.path();
    std::fs::write(tmp.join("broken.xml"), "<testsuite><testcase name=").unwrap();
    std::fs::create_dir_all(tmp.join("bad-dashboards")).unwrap();
    std::fs::write(
        tmp.join("bad-dashboards/x.yaml"),
        "dashboards:\n- name: d\n  dashboard_tab: 7\n",
    )
    .unwrap();
    let mut all = String::new();
    for args in [
        vec!["show", "sim-job-01", "no-such-build"],
        vec!["runs", "--job", "sim-jbo-01"],
        vec!["flakes", "--job", "sim-job-1"],
        vec!["triage", "--job", "nothing-like-it"],
        vec!["status", "--db", "[TMP]/mistyped.db"],
        vec!["ingest", "[TMP]/broken.xml"],
        vec!["ingest", "[TMP]/missing.xml"],
        vec!["status", "--dashboards", "[TMP]/bad-dashboards"],
        vec!["test", "--partition", "3/2", "/bin/true"],
        vec!["test", "--filter", "no-such-test", "/bin/true"],
        vec!["run", "no-such-suite", "--kubeconfig", "[TMP]/kubeconfig"],
        vec!["simulate", "--out", "[TMP]/sim-bad", "--flaky-share", "1.5"],
        vec!["simulate", "--out", "[TMP]/sim-bad", "--builds", "0"],
        vec!["regressions", "--job", "sim-job-1"],
        vec!["test", "--timeout", "inf", "/bin/true"],
        vec!["test", "-j", "100000", "/bin/true"],
        vec!["janitor", "--older-than", "nan"],
        vec![
            "run",
            "smoke",
            "--suites-dir",
            "[REPO]/suites",
            "--cluster",
            "nowhere",
        ],
        vec![
            "run",
            "smoke",
            "--suites-dir",
            "[REPO]/suites",
            "--cluster",
            "local",
            "--mode",
            "certified",
            "--out",
            "[TMP]/out",
        ],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("[TMP]", &tmp.display().to_string())
                    .replace("[REPO]", &repo_root().display().to_string())
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = h.run(&args);
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace(&tmp.display().to_string(), "[TMP]")
                    .replace(&repo_root().display().to_string(), "[REPO]")
            })
            .collect();
        all.push_str(&format!(
            "$ trellis {}\nexit {code:?}\n{out}{err}\n",
            shown.join(" ")
        ));
    }
    insta::assert_snapshot!("errors", all);
    assert!(
        !tmp.join("mistyped.db").exists(),
        "a read-only command created a store"
    );
}
