//! The smoke suite against fakekube, over real HTTP: all of it passes on a healthy
//! fake cluster, and the workload tests fail (at their deadline) when no node is Ready.

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
fn every_smoke_test_passes_against_a_healthy_fake_cluster() {
    let (ok, out) = run_smoke(Options::default(), "30", &[]);
    assert!(ok, "{out}");
    assert!(out.contains("9 passed; 0 failed"), "{out}");
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
        out.contains("timed out after 2s waiting for pod chatty to reach [\"Running\"]"),
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
