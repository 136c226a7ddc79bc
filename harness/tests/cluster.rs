//! The kind provider against a scripted stand-in for the `kind` CLI that records the
//! exact arguments it receives (no Docker engine exists on these machines).

mod common;

use common::{stderr, stdout};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const STANDIN: &str = r#"#!/bin/sh
# Stand-in for kind: records every call, behaves as the test asks.
printf '%s\n' "$*" >> "$KIND_LOG"
case "$1 $2" in
  "create cluster")
    if [ -n "$KIND_SLEEP" ]; then sleep "$KIND_SLEEP"; fi
    if [ -n "$KIND_FAIL_CREATE" ]; then
      echo "Creating cluster ..." >&2
      echo "ERROR: failed to create cluster: failed to init node with kubeadm" >&2
      echo "Command Output: [kubelet-check] The kubelet is not healthy" >&2
      echo "" >&2
      echo "Stack Trace: goroutine 1" >&2
      exit 1
    fi ;;
  "get clusters") printf '%b' "$KIND_CLUSTERS" ;;
  "export logs") mkdir -p "$3" ;;
esac
exit 0
"#;

struct Standin {
    _dir: tempfile::TempDir,
    program: PathBuf,
    log: PathBuf,
}

fn standin() -> Standin {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("kind");
    std::fs::write(&program, STANDIN).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("calls.log");
    std::fs::write(&log, "").unwrap();
    Standin {
        program,
        log,
        _dir: dir,
    }
}

impl Standin {
    fn trellis(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trellis"));
        cmd.args(args)
            .arg("--kind")
            .arg(&self.program)
            .env("KIND_LOG", &self.log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn configs() -> PathBuf {
    common::repo_root().join("kind-configs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn up_passes_config_image_and_kubeconfig() {
    let k = standin();
    let kc = k._dir.path().join("kubeconfig");
    let o = k.trellis(
        &[
            "up",
            "--config",
            "single-node",
            "--configs",
            s(&configs()),
            "--k8s-version",
            "1.31.0",
            "--kubeconfig",
            s(&kc),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let name = stdout(&o).trim().to_string();
    assert!(name.starts_with("trellis-"), "{name}");
    let config = configs().join("single-node.yaml");
    assert_eq!(
        k.calls(),
        [format!(
            "create cluster --name {name} --config {} --kubeconfig {} --retain --image kindest/node:v1.31.0",
            config.display(),
            kc.display()
        )]
    );
}

#[test]
fn a_failed_create_reports_kinds_error_and_deletes_the_cluster() {
    let k = standin();
    let o = k.trellis(
        &["up", "--configs", s(&configs())],
        &[("KIND_FAIL_CREATE", "1")],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("ERROR: failed to create cluster: failed to init node with kubeadm"),
        "{err}"
    );
    assert!(
        err.contains("Command Output: [kubelet-check] The kubelet is not healthy"),
        "{err}"
    );
    assert!(!err.contains("Stack Trace"), "{err}");
    let calls = k.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let name = calls[0].split_whitespace().nth(3).unwrap();
    assert_eq!(calls[1], format!("delete cluster --name {name}"));
}

#[test]
fn kind_past_its_deadline_is_killed() {
    let k = standin();
    let start = std::time::Instant::now();
    let o = k.trellis(
        &["up", "--configs", s(&configs()), "--kind-timeout", "1"],
        &[("KIND_SLEEP", "20")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("did not finish within 1 s"),
        "{}",
        stderr(&o)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(15));
}

#[test]
fn a_bad_config_fails_before_kind_runs() {
    let k = standin();
    let bad = k._dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: wrker\n").unwrap();
    let o = k.trellis(&["up", "--config", s(&bad)], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nodes[1].role must be control-plane or worker"),
        "{}",
        stderr(&o)
    );
    assert!(k.calls().is_empty());
}

#[test]
fn down_exports_logs_then_deletes() {
    let k = standin();
    let logs = k._dir.path().join("logs");
    let o = k.trellis(&["down", "trellis-1-abcd", "--logs", s(&logs)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        k.calls(),
        [
            format!("export logs {} --name trellis-1-abcd", logs.display()),
            "delete cluster --name trellis-1-abcd".to_string()
        ]
    );
}

#[test]
fn janitor_deletes_only_old_trellis_clusters() {
    let k = standin();
    let now = chrono::Utc::now().timestamp();
    let clusters = format!(
        "kind\\ntrellis-{}-aaaa\\ntrellis-{}-bbbb\\nmy-trellis-thing\\n",
        now - 10 * 3600,
        now - 600
    );
    let env = [("KIND_CLUSTERS", clusters.as_str())];
    let o = k.trellis(&["janitor", "--older-than", "6", "--dry-run"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!("would delete trellis-{}-aaaa", now - 10 * 3600)
    );
    assert_eq!(k.calls(), ["get clusters"]);
    let o = k.trellis(&["janitor", "--older-than", "6"], &env);
    assert!(o.status.success());
    assert_eq!(
        k.calls().last().unwrap(),
        &format!("delete cluster --name trellis-{}-aaaa", now - 10 * 3600)
    );
    assert_eq!(k.calls().len(), 3);
}
