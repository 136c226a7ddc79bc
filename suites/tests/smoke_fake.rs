//! The smoke suite against fakekube, over real HTTP: the tests that need a real
//! container (DNS from a pod, logs and exec) pass against the fake's simulated kubelet
//! — the real control plane here has kwok nodes, where they report themselves
//! skipped — and fail at their deadline when no node is Ready. The rest of the suite
//! runs against the real API server (`harness/tests/local_cluster.rs`).

use std::process::Command;
use trellis_fakekube::{FakeCluster, Options};

fn run_smoke(opts: Options, timeout: &str, filter: &[&str]) -> (bool, String) {
    let cluster = FakeCluster::start(opts).expect("fake cluster starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig, "fake").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trellis-smoke"))
        .args(filter)
        .env("KUBECONFIG", &kubeconfig)
        .env("TRELLIS_SMOKE_TIMEOUT", timeout)
        .output()
        .expect("smoke binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_container_tests_pass_against_the_fake_kubelet() {
    let others = [
        "api::",
        "namespaces::",
        "configmaps::",
        "secrets::",
        "deployments::",
        "services::",
        "rbac::",
    ];
    let skips: Vec<&str> = others.iter().flat_map(|t| ["--skip", *t]).collect();
    let (ok, out) = run_smoke(Options::default(), "30", &skips);
    assert!(ok, "{out}");
    assert!(out.contains("2 passed; 0 failed"), "{out}");
    assert!(
        !out.contains("trellis-skip"),
        "the fake's nodes are not simulated ones: {out}"
    );
}

#[test]
fn workload_tests_fail_when_no_node_becomes_ready() {
    let opts = Options {
        nodes_never_ready: true,
        ..Options::default()
    };
    let (ok, out) = run_smoke(opts, "2", &["pods::logs_and_exec"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "timed out waiting for pod chatty to reach [\"Running\"]: not done after 2.0 s"
        ),
        "{out}"
    );
}

#[test]
fn list_shows_every_test_for_the_runner() {
    let out = Command::new(env!("CARGO_BIN_EXE_trellis-smoke"))
        .args(["--list", "--format", "terse"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.ends_with(": test")).count(),
        9,
        "{text}"
    );
}
