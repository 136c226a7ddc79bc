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
    // `up` itself waits until every node is Ready (kube-rs), so the cluster is usable.
    let name = stdout(&o).trim().to_string();
    let nodes = Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "get",
            "nodes",
            "--no-headers",
        ])
        .output()
        .unwrap();
    let nodes = String::from_utf8_lossy(&nodes.stdout).to_string();
    assert!(
        nodes
            .lines()
            .all(|l| l.split_whitespace().nth(1) == Some("Ready")),
        "{nodes}"
    );
    // An existing cluster: trellis runs the smoke suite on it and never deletes it.
    let out = tmp.path().join("runs");
    let db = tmp.path().join("db.sqlite");
    let o = trellis(&[
        "--db",
        db.to_str().unwrap(),
        "run",
        "smoke",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--suites-dir",
        common::repo_root().join("suites").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--job",
        "real-smoke",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let logs = tmp.path().join("logs");
    let down = trellis(&["down", &name, "--logs", logs.to_str().unwrap()]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(logs.is_dir(), "kind export logs wrote nothing");
    let left = trellis(&["janitor", "--older-than", "0", "--dry-run"]);
    assert!(!stdout(&left).contains(&name), "{name} survived down");
}

#[test]
#[ignore = "needs docker and kind"]
fn run_smoke_and_a_conformance_dry_run_on_a_kind_cluster_made_for_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db.sqlite");
    let root = common::repo_root();
    let o = trellis(&[
        "--db",
        db.to_str().unwrap(),
        "run",
        "smoke",
        "conformance",
        "--dry-run",
        "--cluster",
        "kind:single-node",
        "--configs",
        root.join("kind-configs").to_str().unwrap(),
        "--suites-dir",
        root.join("suites").to_str().unwrap(),
        "--out",
        tmp.path().join("runs").to_str().unwrap(),
        "--job",
        "real-kind",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let left = trellis(&["janitor", "--older-than", "0", "--dry-run"]);
    assert!(
        !stdout(&left).contains("would delete"),
        "the run's cluster survived: {}",
        stdout(&left)
    );
}
