//! Against a real kind cluster. Never run on the development machines (no Docker
//! engine, no kind); `.github/workflows/real-cluster.yml` runs them on a hosted runner:
//! `cargo test -p trellis --test real_cluster -- --ignored`.

mod common;

use common::{stderr, stdout};
use std::process::Command;

fn trellis(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs docker and kind"]
fn preflight_up_nodes_ready_down() {
    let configs = common::repo_root().join("kind-configs");
    let configs = configs.to_str().unwrap();
    let o = trellis(&["preflight", "--configs", configs, "--config", "single-node"]);
    eprintln!("{}", stdout(&o));
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    let o = trellis(&[
        "up",
        "--configs",
        configs,
        "--config",
        "single-node",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let name = stdout(&o).trim().to_string();
    // kind's --wait returns 0 even on timeout, so wait for Ready ourselves.
    let ready = Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "wait",
            "--for=condition=Ready",
            "nodes",
            "--all",
            "--timeout=300s",
        ])
        .output()
        .unwrap();
    let logs = tmp.path().join("logs");
    let down = trellis(&["down", &name, "--logs", logs.to_str().unwrap()]);
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(logs.is_dir(), "kind export logs wrote nothing");
    let left = trellis(&["janitor", "--older-than", "0", "--dry-run"]);
    assert!(!stdout(&left).contains(&name), "{name} survived down");
}
