//! The kind provider against a scripted stand-in for the `kind` CLI that records the
//! exact arguments it receives (no Docker engine exists on these machines).

mod common;

use common::{assert_ended, script, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;
use trellis_fakekube::{FakeCluster, Options};

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
    fi
    # "Creates" the cluster by handing out the fake API server's kubeconfig, with
    # the context kind would name: kind-<cluster name>.
    name="$4"
    while [ $# -gt 0 ]; do
      if [ "$1" = "--kubeconfig" ] && [ -n "$FAKE_KUBECONFIG" ]; then
        sed "s/KIND_CONTEXT/kind-$name/" "$FAKE_KUBECONFIG" > "$2"
      fi
      shift
    done ;;
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
    let program = script(dir.path(), "kind", STANDIN);
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

/// A fake API server with `nodes` nodes, and a kubeconfig template for the stand-in.
fn fake_cluster(k: &Standin, nodes: usize, never_ready: bool) -> (FakeCluster, PathBuf) {
    let cluster = FakeCluster::start(Options {
        control_planes: 1,
        workers: nodes - 1,
        nodes_never_ready: never_ready,
        ..Options::default()
    })
    .unwrap();
    let template = k._dir.path().join("fake-kubeconfig");
    cluster.write_kubeconfig(&template, "KIND_CONTEXT").unwrap();
    (cluster, template)
}

#[test]
fn up_passes_config_image_and_kubeconfig_and_waits_for_ready_nodes() {
    let k = standin();
    let (_cluster, template) = fake_cluster(&k, 1, false);
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
        &[("FAKE_KUBECONFIG", s(&template))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("all nodes Ready"), "{}", stderr(&o));
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

/// `trellis up --config CONFIG --ready-timeout 1` against a fake cluster of `nodes`.
fn up_with_one_second_to_ready(
    k: &Standin,
    config: &str,
    nodes: usize,
    never_ready: bool,
) -> std::process::Output {
    let (_cluster, template) = fake_cluster(k, nodes, never_ready);
    let kc = k._dir.path().join("kubeconfig");
    let configs = configs();
    let args = [
        "up",
        "--config",
        config,
        "--configs",
        s(&configs),
        "--kubeconfig",
        s(&kc),
        "--ready-timeout",
        "1",
    ];
    k.trellis(&args, &[("FAKE_KUBECONFIG", s(&template))])
}

#[test]
fn up_deletes_a_cluster_whose_nodes_never_become_ready() {
    let k = standin();
    let o = up_with_one_second_to_ready(&k, "single-node", 1, true);
    assert_ended(
        &o,
        1,
        "nodes not Ready within 1 s: fakekube-control-plane: Ready=False",
    );
    let calls = k.calls();
    let name = calls[0].split_whitespace().nth(3).unwrap();
    assert_eq!(calls[1..], [format!("delete cluster --name {name}")]);
}

#[test]
fn up_counts_nodes_against_the_kind_config() {
    let k = standin();
    // multi-node asks for 1 control plane and 2 workers; only one node registers.
    let o = up_with_one_second_to_ready(&k, "multi-node", 1, false);
    assert_ended(&o, 1, "1 of 3 nodes registered");
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

/// A stand-in that records `NAME ARGS` and answers like the real tool.
fn tool(dir: &Path, name: &str, log: &Path, answer: &str, code: i32) -> PathBuf {
    let body = format!(
        "#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> '{}'\nprintf '%s\\n' '{answer}'\n[ {code} -eq 0 ] || echo 'failed' >&2\nexit {code}\n",
        log.display()
    );
    script(dir, name, &body)
}

/// `trellis preflight --json --config CONFIG` with the given tools; its checks by name.
fn preflight_checks(
    config: &Path,
    docker: &Path,
    kubectl: &Path,
    kind: &Path,
) -> (Option<i32>, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["preflight", "--json", "--config", s(config)])
        .arg("--docker")
        .arg(docker)
        .arg("--kubectl")
        .arg(kubectl)
        .arg("--kind")
        .arg(kind)
        .output()
        .unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let by_name = list
        .into_iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c))
        .collect();
    (o.status.code(), serde_json::Value::Object(by_name))
}

#[test]
fn preflight_asks_docker_kind_and_kubectl_and_checks_ports() {
    let k = standin();
    let dir = k._dir.path();
    let log = dir.join("tools.log");
    let docker_down = tool(
        dir,
        "docker",
        &log,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
        1,
    );
    let kubectl = tool(dir, "kubectl", &log, "Client Version: v1.34.1", 0);
    let kind = tool(dir, "kind", &log, "kind v0.30.0 go1.24.6 linux/amd64", 0);
    // A config whose extraPortMappings ask for a port something already listens on.
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let config = dir.join("ports.yaml");
    std::fs::write(&config, format!(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: {port}\n"
    )).unwrap();
    let (code, checks) = preflight_checks(&config, &docker_down, &kubectl, &kind);
    assert_eq!(code, Some(1));
    assert_eq!(checks["docker"]["ok"], false);
    assert!(checks["docker"]["fix"]
        .as_str()
        .unwrap()
        .contains("start the Docker daemon"));
    assert_eq!(
        checks["kind"]["detail"],
        "kind v0.30.0 go1.24.6 linux/amd64"
    );
    assert_eq!(checks["kubectl"]["detail"], "Client Version: v1.34.1");
    assert_eq!(checks["host port"]["ok"], false);
    assert_eq!(
        checks["host port"]["detail"],
        format!("port {port} (extraPortMappings) is in use")
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "docker info --format {{.ServerVersion}}",
            "kind version",
            "kubectl version --client"
        ]
    );

    // With the engine up, the docker check passes and says which engine.
    let docker_up = tool(dir, "docker-up", &log, "28.2.2", 0);
    let (_, checks) = preflight_checks(&config, &docker_up, &kubectl, &kind);
    assert_eq!(checks["docker"]["ok"], true);
    assert_eq!(checks["docker"]["detail"], "engine 28.2.2 reachable");
}
