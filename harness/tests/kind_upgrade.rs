//! The upgrade suite on kind (`--cluster kind:CONFIG --upgrade-to vX.Y.Z`), kinder's
//! way: kubeadm upgrades each node container in turn. No Docker engine exists on
//! these machines, so `kind` and `docker` are stand-ins that record every call, and
//! the cluster's API server is the fake: the docker stand-in's `kubeadm upgrade
//! apply` restarts it (fault injection: its connections close for 3 s, and it comes
//! back at the new version), and a kubelet restart makes the node report the new
//! version. What is real: trellis's commands, their order and arguments, the monitor
//! sampling over HTTP throughout, the checks and the verdict.

mod common;

use common::{build_dir, read_json, script, stderr, trellis_cmd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use trellis_fakekube::{FakeCluster, Options};

const TOKEN: &str = "kind-upgrade-token";

const DOCKER_STANDIN: &str = r#"#!/bin/sh
# Stand-in for docker: the node containers of a kind cluster whose API server is the
# fake. Records every call except preflight's (`docker version`, `docker info`).
case "$1" in version|info) echo "29.0.0-stand-in"; exit 0 ;; esac
printf '%s\n' "$*" >> "$DOCKER_LOG"
api() {
  curl -sf -X POST -H "Authorization: Bearer $FAKE_TOKEN" "$FAKE_URL/fakekube/$1" > /dev/null || exit 97
}
case "$1" in
  ps) printf 'fakekube-worker2\tworker\nfakekube-control-plane\tcontrol-plane\nfakekube-external-load-balancer\texternal-load-balancer\nfakekube-worker\tworker\n' ;;
  exec)
    node="$2"; shift 2
    case "$*" in
      "cat /kind/version") echo v1.36.3 ;;
      "kubeadm upgrade apply "*)
        if [ -n "$KUBEADM_FAILS" ]; then
          echo "[upgrade/apply] Upgrading your Static Pod-hosted control plane to version \"$4\"..."
          echo "[upgrade/apply] FATAL: couldn't upgrade control plane. kubeadm has tried to recover everything into the earlier state" >&2
          exit 1
        fi
        # The static pod is replaced: the API server is gone for 3 s, back at $4.
        api "restart?seconds=3&version=$4"; sleep 4 ;;
      "systemctl restart kubelet") api "kubelet?node=$node&version=$UPGRADE_TO" ;;
    esac ;;
esac
exit 0
"#;

const TO: &str = "v1.37.2";

struct KindUpgradeEnv {
    dir: tempfile::TempDir,
    cluster: FakeCluster,
    template: PathBuf,
    artifacts: PathBuf,
}

fn env() -> KindUpgradeEnv {
    let dir = tempfile::tempdir().unwrap();
    // multi-node.yaml: one control-plane node, two workers.
    let cluster = FakeCluster::start(Options {
        control_planes: 1,
        workers: 2,
        version: "v1.36.3".into(),
        admin_token: TOKEN.into(),
        ..Options::default()
    })
    .unwrap();
    let template = dir.path().join("fake-kubeconfig");
    cluster.write_kubeconfig(&template, "KIND_CONTEXT").unwrap();
    script(dir.path(), "kind", common::KIND_STANDIN);
    script(dir.path(), "docker", DOCKER_STANDIN);
    // The new version's programs: kubeadm says its version as the real one does.
    let artifacts = dir.path().join("v1.37.2-node");
    std::fs::create_dir(&artifacts).unwrap();
    script(
        &artifacts,
        "kubeadm",
        "#!/bin/sh\n[ \"$*\" = \"version -o short\" ] && echo v1.37.2\n",
    );
    script(&artifacts, "kubelet", "#!/bin/sh\n");
    script(&artifacts, "kubectl", "#!/bin/sh\n");
    KindUpgradeEnv {
        dir,
        cluster,
        template,
        artifacts,
    }
}

impl KindUpgradeEnv {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn manifest(&self, budget: &str) -> PathBuf {
        let path = self.path("upgrade.yaml");
        std::fs::write(
            &path,
            format!("name: upgrade\nkind: upgrade\ntimeout: 5m\nupgrade:\n  baseline_soak: 3s\n  step_soak: 2s\n  sample_interval: 1s\n  sample_timeout: 2s\n  budgets:\n    default: {budget}\n"),
        )
        .unwrap();
        path
    }

    fn command(&self, manifest: &Path, extra: &[&str]) -> Command {
        let mut cmd = trellis_cmd(&self.path("db.sqlite"));
        cmd.arg("run")
            .arg(manifest)
            .args(["--cluster", "kind:multi-node", "--upgrade-to", TO])
            .arg("--configs")
            .arg(common::repo_root().join("kind-configs"))
            .arg("--kind")
            .arg(self.path("kind"))
            .arg("--out")
            .arg(self.path("out"))
            .args(extra)
            .env("TRELLIS_DOCKER", self.path("docker"))
            .env("KIND_LOG", self.path("kind.log"))
            .env("DOCKER_LOG", self.path("docker.log"))
            .env("FAKE_KUBECONFIG", &self.template)
            .env("FAKE_URL", self.cluster.url())
            .env("FAKE_TOKEN", TOKEN)
            .env("UPGRADE_TO", TO);
        cmd
    }

    fn run(&self, manifest: &Path, extra: &[&str]) -> Output {
        self.command(manifest, extra).output().unwrap()
    }

    fn calls(&self, tool: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{tool}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// What trellis asks of one node, in order (kinder's steps, kubeadm's upgrade guide).
fn node_calls(node: &str, artifacts: &Path, first: bool) -> Vec<String> {
    let staging = format!("/kind/trellis-upgrade/{TO}");
    let install = |programs: &[&str]| {
        programs
            .iter()
            .map(|p| format!("cp {staging}/{p} /usr/bin/{p}.new && chmod 0755 /usr/bin/{p}.new && mv -f /usr/bin/{p}.new /usr/bin/{p}"))
            .collect::<Vec<_>>()
            .join(" && ")
    };
    let mut calls = vec![format!("exec {node} mkdir -p {staging}/images")];
    for p in ["kubeadm", "kubelet", "kubectl"] {
        calls.push(format!(
            "cp {} {node}:{staging}/{p}",
            artifacts.join(p).display()
        ));
    }
    calls.push(format!("exec {node} sh -c {}", install(&["kubeadm"])));
    calls.push(if first {
        format!("exec {node} kubeadm upgrade apply {TO} --yes --ignore-preflight-errors=all")
    } else {
        format!("exec {node} kubeadm upgrade node --ignore-preflight-errors=all")
    });
    calls.push(format!(
        "exec {node} sh -c {}",
        install(&["kubelet", "kubectl"])
    ));
    calls.push(format!("exec {node} systemctl daemon-reload"));
    calls.push(format!("exec {node} systemctl restart kubelet"));
    calls.push(format!("exec {node} sh -c echo {TO} > /kind/version"));
    calls
}

/// The real kubeadm, kubelet and kubectl of v1.37.2 where `k8s/build.sh
/// --node-binaries v1.37.2` built them (CI does): then the run takes them from their
/// default place and checks the real `kubeadm version`. Elsewhere the scripted ones.
fn real_artifacts() -> Option<PathBuf> {
    let dir = common::k8s_cache_root().join(TO).join("bin");
    if dir.join("kubeadm").is_file() && dir.join("kubelet").is_file() {
        return Some(dir);
    }
    let why = format!(
        "no real kubeadm and kubelet in {} (k8s/build.sh --node-binaries {TO})",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}: CI builds them");
    }
    eprintln!("{why}: the scripted stand-ins are copied instead");
    None
}

#[test]
fn kind_nodes_are_upgraded_with_kubeadm_in_order_while_the_monitor_measures() {
    let e = env();
    let real = real_artifacts();
    let artifacts = real.clone().unwrap_or_else(|| e.artifacts.clone());
    let given = e.artifacts.display().to_string();
    let mut args = vec!["--job", "kind-upgrade"];
    if real.is_none() {
        args.extend(["--upgrade-artifacts", &given]);
    }
    let o = e.run(&e.manifest("0s"), &args);
    // The lone API server was away 3 s: the monitor must see it and a zero budget
    // must fail (exit 7, tests failed) — the kind path can fail like the local one.
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));

    let kind = e.calls("kind");
    let name = kind[0].split_whitespace().nth(3).unwrap().to_string();
    assert!(
        kind[0].starts_with(&format!("create cluster --name {name} ")),
        "{kind:?}"
    );
    assert!(
        kind.last().unwrap() == &format!("delete cluster --name {name}"),
        "{kind:?}"
    );

    let mut expected = vec![
        format!("ps --all --filter label=io.x-k8s.kind.cluster={name} --format {{{{.Names}}}}\t{{{{.Label \"io.x-k8s.kind.role\"}}}}"),
        "exec fakekube-control-plane cat /kind/version".to_string(),
    ];
    expected.extend(node_calls("fakekube-control-plane", &artifacts, true));
    expected.extend(node_calls("fakekube-worker", &artifacts, false));
    expected.extend(node_calls("fakekube-worker2", &artifacts, false));
    assert_eq!(e.calls("docker"), expected);

    let build = build_dir(&e.path("out"), "kind-upgrade");
    let monitor = read_json(&build.join("artifacts/upgrade-monitor.json"));
    let steps: Vec<&str> = monitor["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"]["component"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "fakekube-control-plane",
            "fakekube-worker",
            "fakekube-worker2"
        ]
    );
    let new = monitor["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == "kube-api-new")
        .unwrap()["summary"]
        .clone();
    let seconds = new["disruption"].as_f64().unwrap();
    // 3 s away, sampled every second: at least 2 s of it must be seen.
    assert!((2.0..=5.0).contains(&seconds), "{new}");

    let junit = std::fs::read_to_string(build.join("artifacts/junit_upgrade.xml")).unwrap();
    for passed in [
        "the API server should report the new version after the upgrade",
        "upgraded in the version-skew policy&#39;s order",
        "objects created before the upgrade should read back intact",
        "nodes should stay Ready throughout the upgrade",
        "watch should lose no event",
    ] {
        let at = junit
            .find(passed)
            .unwrap_or_else(|| panic!("{passed}: {junit}"));
        let case_end = junit[at..]
            .find("</testcase>")
            .map_or(junit.len(), |i| at + i);
        let self_closing = junit[at..].find("/>").map(|i| at + i);
        let failed =
            junit[at..case_end].contains("<failure") && self_closing.is_none_or(|s| s > case_end);
        assert!(!failed, "{passed} failed: {junit}");
    }
    assert!(
        junit.contains("kube-api-new was unavailable for"),
        "{junit}"
    );
    // Every node's kubelet reports the new version.
    for node in e.cluster.objects("Node") {
        assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], TO, "{node}");
    }
}

#[test]
fn a_failed_kubeadm_upgrade_stops_the_run_with_its_output_and_tears_down() {
    let e = env();
    let artifacts = e.artifacts.display().to_string();
    let o = e
        .command(
            &e.manifest("60s"),
            &["--job", "kind-fails", "--upgrade-artifacts", &artifacts],
        )
        .env("KUBEADM_FAILS", "1")
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("kubeadm upgrade apply v1.37.2")
            && err.contains("FATAL: couldn't upgrade control plane"),
        "{err}"
    );
    // Nothing after the failed step; the cluster deleted; the samples so far kept.
    let docker = e.calls("docker");
    assert!(
        docker.last().unwrap().contains("kubeadm upgrade apply"),
        "{docker:?}"
    );
    assert!(e
        .calls("kind")
        .last()
        .unwrap()
        .starts_with("delete cluster"));
    let build = build_dir(&e.path("out"), "kind-fails");
    let monitor = read_json(&build.join("artifacts/upgrade-monitor.json"));
    assert!(
        monitor["backends"][0]["summary"]["samples"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn what_a_kind_upgrade_cannot_do_is_refused_before_anything_starts() {
    let e = env();
    let m = e.manifest("0s");
    let missing = e.path("empty");
    std::fs::create_dir(&missing).unwrap();
    let wrong = e.path("wrong");
    std::fs::create_dir(&wrong).unwrap();
    script(&wrong, "kubeadm", "#!/bin/sh\necho v1.36.9\n");
    script(&wrong, "kubelet", "#!/bin/sh\n");
    script(&wrong, "kubectl", "#!/bin/sh\n");
    let artifacts = e.artifacts.display().to_string();
    for (args, says) in [
        (
            vec!["--upgrade-artifacts", missing.to_str().unwrap()],
            "no upgrade to v1.37.2 from here: no kubeadm",
        ),
        (
            vec!["--upgrade-artifacts", wrong.to_str().unwrap()],
            "kubeadm version -o short says \"v1.36.9\"",
        ),
        (
            vec!["--upgrade-artifacts", &artifacts, "--k8s-version", "1.35.0"],
            "skips a minor version",
        ),
        (
            vec![
                "--upgrade-artifacts",
                &artifacts,
                "--emulated-version",
                "1.36",
            ],
            "--emulated-version is for --cluster local",
        ),
    ] {
        let o = e.run(&m, &args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert!(e.calls("kind").is_empty(), "nothing may start");
    assert!(e.calls("docker").is_empty(), "nothing may start");
}
