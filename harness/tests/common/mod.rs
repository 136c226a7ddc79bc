//! Helpers shared by the integration tests: run the real binary against a temp store.
#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    // The parent, not `harness/..`: paths trellis prints are compared with it.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

pub fn fixtures() -> PathBuf {
    repo_root().join("fixtures")
}

/// `../shared/data` beside the checkout.
pub fn shared_data() -> PathBuf {
    repo_root().join("../shared/data")
}

pub fn trellis_cmd(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trellis"));
    cmd.arg("--db")
        .arg(db)
        .env_remove("TRELLIS_DB")
        .env_remove("RUST_LOG");
    cmd
}

pub fn trellis(db: &Path, args: &[&str]) -> Output {
    trellis_cmd(db).args(args).output().expect("run trellis")
}

/// Runs `cmd` to its end: its output, and its peak resident memory in KiB (the
/// child's own high-water mark, from wait4's rusage).
// The child is reaped by wait4 (to read its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn output_with_peak_rss(mut cmd: Command) -> (Output, i64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run trellis");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child; status and usage are valid out-pointers.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(rc, child.id() as i32, "wait4");
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, usage.ru_maxrss)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `trellis runs --json`, parsed.
pub fn runs(db: &Path) -> Vec<Value> {
    let o = trellis(db, &["runs", "--json"]);
    assert!(o.status.success(), "runs failed: {}", stderr(&o));
    match serde_json::from_slice(&o.stdout).expect("runs --json is JSON") {
        Value::Array(a) => a,
        other => panic!("expected an array, got {other}"),
    }
}

/// `trellis show JOB BUILD --json`, parsed.
pub fn show(db: &Path, job: &str, build: &str) -> Value {
    let o = trellis(db, &["show", job, build, "--json"]);
    assert!(o.status.success(), "show failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("show --json is JSON")
}

/// The status of one row in `show --json` output.
pub fn cell<'a>(detail: &'a Value, test: &str) -> &'a Value {
    detail["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["test"] == test)
        .unwrap_or_else(|| panic!("no cell {test}"))
}

/// `trellis simulate --out OUT --builds B --tests T [extra…]`, then `trellis ingest OUT`.
pub fn simulate_and_ingest(db: &Path, out: &Path, builds: u32, tests: u32, extra: &[&str]) {
    let (builds, tests) = (builds.to_string(), tests.to_string());
    let mut args = vec![
        "simulate",
        "--out",
        out.to_str().unwrap(),
        "--builds",
        &builds,
        "--tests",
        &tests,
    ];
    args.extend_from_slice(extra);
    let o = trellis(db, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = trellis(db, &["ingest", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `trellis report --out SITE --dashboards DASHBOARDS`, which must succeed.
pub fn write_report(db: &Path, site: &Path, dashboards: &Path) {
    let o = trellis(
        db,
        &[
            "report",
            "--out",
            site.to_str().unwrap(),
            "--dashboards",
            dashboards.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Writes an executable script (a stand-in for a tool) and returns its path.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The command ended with `code` and said `says` on stderr.
pub fn assert_ended(o: &Output, code: i32, says: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    assert!(stderr(o).contains(says), "{}", stderr(o));
}

/// The smoke binary, built next to trellis (cargo builds it for `cargo test
/// --workspace`; a lone `cargo test -p trellis` builds it here).
pub fn smoke_bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_trellis"))
        .parent()
        .unwrap()
        .to_path_buf();
    if !dir.join("trellis-smoke").is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "trellis-suites", "--bin", "trellis-smoke"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building trellis-smoke failed");
    }
    dir
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The one build directory under OUT/JOB.
pub fn build_dir(out: &Path, job: &str) -> PathBuf {
    let builds: Vec<PathBuf> = std::fs::read_dir(out.join(job))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(builds.len(), 1, "{builds:?}");
    builds[0].clone()
}

/// Where `k8s/build.sh` puts the Kubernetes programs (as trellis finds them).
pub fn k8s_cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRELLIS_K8S_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache"));
    base.join("trellis/k8s")
}

/// `trellis certify` on a run's build directory with a CNCF submission's PRODUCT.yaml,
/// reviewed as when v1.35 was the newest release (so v1.33 results are still accepted).
pub fn certify_v133(db: &Path, build: &Path, submission: &Path, out: &Path) -> Output {
    trellis_cmd(db)
        .args([
            "certify",
            "--k8s-version",
            "v1.33",
            "--stable",
            "v1.35",
            "--results",
        ])
        .arg(build)
        .arg("--product")
        .arg(submission.join("PRODUCT.yaml"))
        .arg("--out")
        .arg(out)
        .output()
        .expect("trellis runs")
}

/// Simulates two jobs with flakes and infra outages into `store`, then checks that
/// `rows_of` (a few tests read by test) matches the whole grid for those tests: every
/// status and retry count in the same columns, and the infra marker exactly where a
/// failure's message is one word.
pub fn rows_of_match_the_whole_grid(store: &mut trellis::store::Store) {
    use trellis::model::Span;
    let mut opts =
        trellis::simulate::SimOptions::new(vec!["a".into(), "b".into()], 60, 80, 1_790_000_000);
    opts.flaky_share = 0.3;
    opts.outage_probability = 0.1;
    let truth = trellis::simulate::simulate(&opts, |b| store.insert_build(&b).map(|_| ())).unwrap();
    // Job a has outage builds inside the window (seed 1): infra cells to compare.
    assert!(truth
        .outages
        .iter()
        .any(|(job, build)| job == "a" && build.as_str() > "1700000000040"));
    let names = store.test_names().unwrap();
    let span = Span {
        since: Some(1_790_000_000 - 30 * 7200),
        until: Some(1_790_000_000),
    };
    let full = store.grid("a", span, &names).unwrap();
    let wanted: Vec<String> = full.rows.iter().step_by(7).cloned().collect();
    let (part, counts) = store.rows_of("a", span, &wanted).unwrap();
    assert_eq!(part.columns, full.columns);
    assert_eq!(counts.len(), full.columns.len());
    let mut infra = 0;
    for (r, name) in part.rows.iter().enumerate() {
        let f = full.rows.iter().position(|n| n == name).unwrap();
        assert_eq!(part.row(r), full.row(f), "{name}");
        for c in 0..full.columns.len() {
            assert_eq!(part.attempts(r, c), full.attempts(f, c));
            let one_word = full
                .message(f, c)
                .is_some_and(trellis::analysis::flakes::is_infra_message);
            assert_eq!(part.message(r, c).is_some(), one_word, "{name} column {c}");
            infra += usize::from(one_word);
        }
    }
    assert!(infra > 0, "no outage cells among the rows read");
}

/// Stand-in for kind (no Docker engine exists on these machines): records every
/// call in `$KIND_LOG`; "creates" a cluster by handing out `$FAKE_KUBECONFIG` (a
/// fake API server's, context `KIND_CONTEXT`) under kind's context name.
pub const KIND_STANDIN: &str = r#"#!/bin/sh
# Stand-in for kind: records every call; "creates" a cluster by handing out the
# fake API server's kubeconfig. `kind version` (trellis's preflight) is not a call
# the cluster's life is checked by.
if [ "$1" = version ]; then echo "kind v0.33.0 stand-in"; exit 0; fi
printf '%s\n' "$*" >> "$KIND_LOG"
case "$1 $2" in
  "create cluster")
    name="$4"
    while [ $# -gt 0 ]; do
      if [ "$1" = "--kubeconfig" ]; then sed "s/KIND_CONTEXT/kind-$name/" "$FAKE_KUBECONFIG" > "$2"; fi
      shift
    done ;;
  "export logs") mkdir -p "$3" && echo "kubelet log" > "$3/kubelet.log" ;;
esac
exit 0
"#;
