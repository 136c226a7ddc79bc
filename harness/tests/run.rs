//! `trellis run` end to end against fakekube (an in-process fake API server over real
//! HTTP) and scripted stand-ins for `kind` and `e2e.test` that record their exact
//! arguments: the Hydrophone-style conformance flow copies real result files out
//! (through a log stream that drops mid-way) and cleans up, and teardown runs on
//! error, on Ctrl-C and on SIGTERM. The smoke suite's run into the store is tested
//! against the real control plane in `local_cluster.rs`.

mod common;

use common::{
    assert_ended, build_dir, read_json, repo_root, runs, script, shared_data, stderr, trellis_cmd,
};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use trellis_fakekube::{FakeCluster, Options};

struct Env {
    dir: tempfile::TempDir,
    cluster: FakeCluster,
    kubeconfig: PathBuf,
}

impl Env {
    fn new(opts: Options) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let cluster = FakeCluster::start(opts).expect("fake cluster starts");
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.write_kubeconfig(&kubeconfig, "fake").unwrap();
        Env {
            dir,
            cluster,
            kubeconfig,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes a suite manifest into the test's directory.
    fn manifest(&self, file: &str, yaml: String) -> PathBuf {
        let path = self.path(file);
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// A libtest suite NAME whose binary is the script `body` (NAME-tests): the
    /// manifest's path.
    fn libtest_suite(&self, name: &str, body: &str) -> PathBuf {
        let binary = script(self.dir.path(), &format!("{name}-tests"), body);
        self.manifest(
            &format!("{name}.yaml"),
            format!(
                "name: {name}\nkind: libtest\nbinary: {}\nparallel: 1\ntimeout: 1m\n",
                binary.display()
            ),
        )
    }

    /// An e2e suite run by the e2e.test stand-in, focus `[sig-network]`, skip
    /// `[Slow]`: the manifest's path.
    fn e2e_standin_suite(&self) -> PathBuf {
        let e2e = script(self.dir.path(), "e2e.test", E2E_STANDIN);
        self.manifest(
            "e2e.yaml",
            format!(
                "name: e2e\nkind: e2e\nbinary: {}\nfocus: '\\[sig-network\\]'\nskip: '\\[Slow\\]'\nparallel: 1\ntimeout: 10m\n",
                e2e.display()
            ),
        )
    }

    fn run(&self, args: &[&str]) -> Command {
        let mut cmd = trellis_cmd(&self.path("db.sqlite"));
        cmd.arg("run")
            .args(args)
            .arg("--out")
            .arg(self.path("out"))
            .arg("--suites-dir")
            .arg(repo_root().join("suites"))
            .env("TRELLIS_SMOKE_TIMEOUT", "30");
        cmd
    }
}

fn output(mut cmd: Command) -> Output {
    cmd.output().expect("trellis runs")
}

impl Env {
    /// `trellis run ARGS --kubeconfig <the fake cluster's>`, to completion.
    /// Whether the fake cluster has namespace `name`.
    fn has_namespace(&self, name: &str) -> bool {
        self.cluster
            .objects("Namespace")
            .iter()
            .any(|n| n["metadata"]["name"] == name)
    }

    fn run_on_fake(&self, args: &[&str]) -> Output {
        let mut cmd = self.run(args);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        output(cmd)
    }
}

#[test]
fn certified_conformance_run_copies_real_results_out_and_cleans_up() {
    let submission = shared_data().join("conformance/submissions/v1.33/gke");
    let env = Env::new(Options {
        version: "v1.33.2-gke.1240000".into(),
        conformance_results: Some(submission.clone()),
        // The first follow stream breaks part-way: the log must still arrive whole.
        drop_first_log_follow_after: Some(1500),
        ..Options::default()
    });
    let o = env.run_on_fake(&["conformance", "--job", "conf", "--mode", "certified"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let build = build_dir(&env.path("out"), "conf");
    let artifacts = build.join("artifacts");
    for file in ["e2e.log", "junit_01.xml"] {
        assert!(
            std::fs::read(artifacts.join(file)).unwrap()
                == std::fs::read(submission.join(file)).unwrap(),
            "{file} differs from what the container wrote"
        );
    }
    let followed = std::fs::read_to_string(artifacts.join("conformance-pod.log")).unwrap();
    let original = std::fs::read_to_string(submission.join("e2e.log")).unwrap();
    assert!(
        followed.ends_with(&original) && followed.len() < original.len() + 200,
        "the followed log has gaps or repeats"
    );
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap();
    assert!(log.contains("reconnecting"), "{log}");
    assert!(
        log.contains("registry.k8s.io/conformance:v1.33.2-gke.1240000"),
        "{log}"
    );

    // What was asked of the API server, exactly.
    let audit = env.cluster.audit();
    let pod = audit
        .iter()
        .find(|a| a.method == "POST" && a.path == "/api/v1/namespaces/trellis-conformance/pods")
        .and_then(|a| a.body.clone())
        .expect("the pod was created");
    let env_of = |name: &str| {
        pod["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(env_of("E2E_FOCUS"), Some(Value::from(r"\[Conformance\]")));
    assert_eq!(
        env_of("E2E_SKIP"),
        Some(Value::from("")),
        "certified runs skip nothing"
    );
    assert_eq!(env_of("E2E_PARALLEL"), Some(Value::from("false")));
    assert_eq!(pod["spec"]["containers"][1]["name"], "output-container");
    let copies: Vec<&Vec<String>> = audit
        .iter()
        .filter(|a| a.path.ends_with("/exec"))
        .map(|a| a.query.get("command").unwrap())
        .collect();
    assert_eq!(
        copies,
        [
            &vec!["cat".to_string(), "/tmp/results/e2e.log".into()],
            &vec!["cat".to_string(), "/tmp/results/junit_01.xml".into()]
        ]
    );
    assert!(audit.iter().any(|a| a.method == "DELETE"
        && a.path
            == "/apis/rbac.authorization.k8s.io/v1/clusterroles/trellis-conformance-conformance"));
    assert!(!env.has_namespace("trellis-conformance"));
    assert!(env.cluster.objects("ClusterRoleBinding").is_empty());

    // The run feeds `trellis certify`: the packaged submission passes verification
    // (reviewed as when v1.35 was the newest release, so v1.33 is still accepted).
    let o = common::certify_v133(
        &env.path("db.sqlite"),
        &build,
        &submission,
        &env.path("submission"),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

#[test]
fn a_failing_conformance_container_fails_the_run_and_still_cleans_up() {
    let env = Env::new(Options {
        conformance_results: Some(repo_root().join("fixtures/hydrophone")),
        ..Options::default()
    });
    let o = env.run_on_fake(&["conformance", "--job", "conf-fail"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let build = build_dir(&env.path("out"), "conf-fail");
    assert_eq!(read_json(&build.join("finished.json"))["result"], "FAILURE");
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap();
    assert!(
        log.contains("conformance-container exited with code 1"),
        "{log}"
    );
    assert!(!env.has_namespace("trellis-conformance"));
}

/// #18 item 1: an air-gapped run: the conformance and helper images from the
/// mirror, and the e2e framework's KUBE_TEST_REPO_LIST mounted from a ConfigMap into
/// the test container, which sees it in its environment.
#[test]
fn an_air_gapped_conformance_run_takes_every_image_from_the_mirror() {
    let env = Env::new(Options {
        conformance_results: Some(repo_root().join("fixtures/hydrophone")),
        ..Options::default()
    });
    let list = env.path("repo-list.yaml");
    let yaml = "promoterE2eRegistry: mirror.example.com/e2e-test-images\n";
    std::fs::write(&list, yaml).unwrap();
    let o = env.run_on_fake(&[
        "conformance",
        "--job",
        "air-gapped",
        "--conformance-image",
        "mirror.example.com/conformance:v1.33.2",
        "--busybox-image",
        "mirror.example.com/busybox:1.37.0-1",
        "--test-repo-list",
        list.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let audit = env.cluster.audit();
    let posted = |path: &str| {
        audit
            .iter()
            .find(|a| a.method == "POST" && a.path == path)
            .and_then(|a| a.body.clone())
            .unwrap_or_else(|| panic!("no POST {path}"))
    };
    let pod = posted("/api/v1/namespaces/trellis-conformance/pods");
    let containers = &pod["spec"]["containers"];
    assert_eq!(
        containers[0]["image"],
        "mirror.example.com/conformance:v1.33.2"
    );
    assert_eq!(
        containers[1]["image"],
        "mirror.example.com/busybox:1.37.0-1"
    );
    let test_env: Vec<&Value> = containers[0]["env"].as_array().unwrap().iter().collect();
    assert!(
        test_env.iter().any(|e| e["name"] == "KUBE_TEST_REPO_LIST"
            && e["value"] == "/tmp/test-repo-list/repo-list.yaml"),
        "{pod}"
    );
    assert!(
        containers[0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/tmp/test-repo-list"),
        "{pod}"
    );
    let map = posted("/api/v1/namespaces/trellis-conformance/configmaps");
    assert_eq!(map["data"]["repo-list.yaml"], yaml);
    // Deleted with the namespace: nothing of the run is left.
    assert!(!env.has_namespace("trellis-conformance"));

    // A bare registry is refused before anything starts.
    let o = env.run_on_fake(&["conformance", "--test-repo", "mirror.example.com"]);
    common::assert_ended(
        &o,
        3,
        "--test-repo \"mirror.example.com\": must be REGISTRY/REPOSITORY",
    );
}

/// #18 item 4: `--config FILE` holds the options (and the suites); a flag on the
/// command line wins; an unknown key is refused, named, before anything starts.
#[test]
fn a_config_file_holds_the_options_and_flags_win() {
    let env = Env::new(Options {
        conformance_results: Some(repo_root().join("fixtures/hydrophone")),
        ..Options::default()
    });
    let config = env.path("run.yaml");
    std::fs::write(
        &config,
        "suites: [conformance]\njob: from-file\nconformance_image: mirror.example.com/conformance:v1\n\
         busybox-image: mirror.example.com/busybox:1\n",
    )
    .unwrap();
    let o = env.run_on_fake(&["--config", config.to_str().unwrap(), "--job", "from-flag"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(build_dir(&env.path("out"), "from-flag").is_dir());
    assert!(!env.path("out/from-file").exists());
    let pod = env
        .cluster
        .audit()
        .iter()
        .find(|a| a.method == "POST" && a.path.ends_with("/pods"))
        .and_then(|a| a.body.clone())
        .unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "mirror.example.com/conformance:v1"
    );
    assert_eq!(
        pod["spec"]["containers"][1]["image"],
        "mirror.example.com/busybox:1"
    );

    std::fs::write(&config, "suites: [conformance]\nconformance-imag: x\n").unwrap();
    let o = env.run_on_fake(&["--config", config.to_str().unwrap()]);
    common::assert_ended(
        &o,
        2,
        "unknown key `conformance-imag`: `trellis run` has no --conformance-imag",
    );
}

/// Starts a conformance run of job `job` and kills it (SIGKILL: no cleanup) once the
/// pod is running and its log has begun to arrive.
fn kill_mid_conformance(env: &Env, job: &str) {
    let mut cmd = env.run(&["conformance", "--job", job]);
    cmd.arg("--kubeconfig").arg(&env.kubeconfig);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let followed = || {
        let dir = env.path("out").join(job);
        std::fs::read_dir(&dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read(e.path().join("artifacts/conformance-pod.log")).ok())
            .is_some_and(|log| !log.is_empty())
    };
    while !followed() {
        assert!(
            Instant::now() < deadline,
            "the run never followed the pod's log"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// #18 item 2: a run killed half-way (its pod still running) is finished by
/// `--continue`, which yields the e2e.log and JUnit an uninterrupted run collects and
/// cleans up; `--cleanup` removes what another killed run left, saying what.
#[test]
fn a_killed_conformance_run_is_continued_or_cleaned_up() {
    let submission = shared_data().join("conformance/submissions/v1.33/gke");
    let env = Env::new(Options {
        version: "v1.33.2-gke.1240000".into(),
        conformance_results: Some(submission.clone()),
        // The container prints its log, then "runs" a while before it ends.
        conformance_chunk_pause: Duration::from_secs(6),
        ..Options::default()
    });
    kill_mid_conformance(&env, "killed");
    assert!(env.has_namespace("trellis-conformance"));
    // A new run would collide with the pod still running: it says what to do.
    let o = env.run_on_fake(&["conformance", "--job", "again"]);
    assert_ended(&o, 1, "namespace trellis-conformance already exists");
    assert!(stderr(&o).contains("--continue"), "{}", stderr(&o));

    let o = env.run_on_fake(&["conformance", "--job", "continued", "--continue"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let build = build_dir(&env.path("out"), "continued");
    for file in ["e2e.log", "junit_01.xml"] {
        assert!(
            std::fs::read(build.join("artifacts").join(file)).unwrap()
                == std::fs::read(submission.join(file)).unwrap(),
            "{file} differs from what the container wrote"
        );
    }
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap();
    assert!(
        log.contains("re-attached to pod e2e-conformance-test"),
        "{log}"
    );
    assert!(!env.has_namespace("trellis-conformance"));
    // Nothing left to continue now.
    let o = env.run_on_fake(&["conformance", "--job", "late", "--continue"]);
    assert_ended(
        &o,
        1,
        "--continue: no conformance pod in namespace trellis-conformance",
    );

    kill_mid_conformance(&env, "killed-again");
    let o = env.run_on_fake(&["conformance", "--cleanup"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    for what in [
        "removed cluster role binding trellis-conformance-conformance",
        "removed cluster role trellis-conformance-conformance",
        "removed namespace trellis-conformance",
    ] {
        assert!(said.contains(what), "{said}");
    }
    assert!(!env.has_namespace("trellis-conformance"));
    assert!(env
        .cluster
        .objects("ClusterRole")
        .iter()
        .all(|r| r["metadata"]["name"] != "trellis-conformance-conformance"));
    assert!(env.cluster.objects("ClusterRoleBinding").is_empty());
    let o = env.run_on_fake(&["conformance", "--cleanup"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nothing left"),
        "{}",
        stderr(&o)
    );
}

/// #18 item 2: a pod whose image cannot be pulled (a mirror that lacks it) fails the
/// run at `--startup-timeout`, saying why, and is cleaned up.
#[test]
fn a_conformance_pod_that_never_starts_fails_at_the_startup_timeout() {
    let env = Env::new(Options {
        conformance_results: Some(repo_root().join("fixtures/hydrophone")),
        ..Options::default()
    });
    let started = Instant::now();
    let o = env.run_on_fake(&[
        "conformance",
        "--job",
        "stuck",
        "--conformance-image",
        "mirror.invalid/conformance:v1.34.1",
        "--startup-timeout",
        "2",
    ]);
    assert_ended(
        &o,
        1,
        "the conformance pod to start its test container (--startup-timeout) (conformance-container waiting: ImagePullBackOff Back-off pulling image \"mirror.invalid/conformance:v1.34.1\"",
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!env.has_namespace("trellis-conformance"));
}

/// #21 bad input: a load larger than the nodes' allocatable pods (quantities read
/// exactly) is refused before anything is created.
#[test]
fn a_perf_load_the_nodes_cannot_hold_is_refused() {
    let env = Env::new(Options::default());
    // Three nodes of the kubelet's default 110 pods; the load ends at 4 × 10 × 10.
    let manifest = env.manifest(
        "huge.yaml",
        "name: huge\nkind: perf\ntimeout: 5m\nperf:\n  namespaces: 4\n  deployments: 10\n  replicas: 5\n  scale_to: 10\n".into(),
    );
    let o = env.run_on_fake(&[manifest.to_str().unwrap(), "--job", "huge"]);
    assert_ended(
        &o,
        1,
        "the perf load cannot run here: the load asks for 400 pods and the 3 schedulable node(s) allow 330",
    );
    assert!(env
        .cluster
        .audit()
        .iter()
        .all(|a| a.method != "POST" || !a.path.contains("namespaces")));
}

#[test]
fn nodes_that_never_become_ready_fail_the_run_naming_them() {
    let env = Env::new(Options {
        nodes_never_ready: true,
        workers: 0,
        ..Options::default()
    });
    let o = env.run_on_fake(&["smoke", "--ready-timeout", "1"]);
    assert_ended(&o, 1, "nodes not Ready within 1 s: fakekube-control-plane: Ready=False (container runtime network not ready)");
}

#[test]
fn bad_manifests_are_rejected_before_anything_starts() {
    let env = Env::new(Options::default());
    let bad = env.path("bad.yaml");
    std::fs::write(&bad, "name: bad\nkind: libtest\nbinary: x\ntimeout: soon\n").unwrap();
    let o = env.run_on_fake(&[bad.to_str().unwrap()]);
    assert_ended(&o, 3, "bad.yaml: timeout: `soon` is not a duration");
    assert!(
        !env.path("out").exists(),
        "nothing may be created for a rejected run"
    );
}

#[test]
fn an_unknown_context_is_rejected_before_anything_starts() {
    let env = Env::new(Options::default());
    let o = env.run_on_fake(&["smoke", "--context", "prod"]);
    assert_ended(&o, 3, "no context `prod` (it has: fake)");
    assert!(!env.path("out").exists());
}

const E2E_STANDIN: &str = r#"#!/bin/sh
# Stand-in for e2e.test / ginkgo: records its arguments, writes a real JUnit report.
printf '%s\n' "$0 $*" >> "$E2E_LOG"
for a in "$@"; do
  case "$a" in --report-dir=*) cp "$E2E_JUNIT" "${a#--report-dir=}/junit_01.xml" ;; esac
done
echo "Ran 1 of 7000 Specs"
exit 0
"#;

#[test]
fn e2e_suites_run_e2e_test_with_ginkgo_filters() {
    let env = Env::new(Options::default());
    let e2e = script(env.dir.path(), "e2e.test", E2E_STANDIN);
    let ginkgo = script(env.dir.path(), "ginkgo", E2E_STANDIN);
    let manifest = env.path("e2e.yaml");
    std::fs::write(&manifest, format!(
        "name: e2e\nkind: e2e\nbinary: {}\nginkgo: {}\nfocus: '\\[sig-network\\]'\nskip: '\\[Slow\\]'\nflake_attempts: 2\nparallel: 1\ntimeout: 10m\n",
        e2e.display(), ginkgo.display()
    )).unwrap();
    let calls = env.path("calls.log");
    let kubeconfig = env.kubeconfig.to_str().unwrap();
    for parallel in ["1", "3"] {
        let mut cmd = env.run(&[
            manifest.to_str().unwrap(),
            "--kubeconfig",
            kubeconfig,
            "--job",
            &format!("e2e-{parallel}"),
            "-j",
            parallel,
        ]);
        cmd.env("E2E_LOG", &calls).env(
            "E2E_JUNIT",
            repo_root().join("fixtures/hydrophone/junit_01.xml"),
        );
        let o = output(cmd);
        // The fixture's JUnit has a failure, but e2e.test's exit code (0 here) decides.
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let calls = std::fs::read_to_string(&calls).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    let report = |job: &str| {
        build_dir(&env.path("out"), job)
            .join("artifacts")
            .display()
            .to_string()
    };
    assert_eq!(lines[0], format!(
        "{} --ginkgo.focus=\\[sig-network\\] --ginkgo.skip=\\[Slow\\] --ginkgo.flake-attempts=2 --ginkgo.timeout=600s --kubeconfig={kubeconfig} --provider=skeleton --report-dir={}",
        e2e.display(), report("e2e-1")
    ));
    assert_eq!(lines[1], format!(
        "{} --procs=3 --focus=\\[sig-network\\] --skip=\\[Slow\\] --flake-attempts=2 --timeout=600s {} -- --kubeconfig={kubeconfig} --provider=skeleton --report-dir={}",
        ginkgo.display(), e2e.display(), report("e2e-3")
    ));
    let stored = runs(&env.path("db.sqlite"));
    assert!(stored.iter().any(|r| r["job"] == "e2e-3"), "{stored:?}");
}

// ---- kind provider: teardown on error, Ctrl-C and SIGTERM ----

const HANGING_SUITE: &str = r#"#!/bin/sh
# A libtest-compatible suite whose one test hangs (until killed).
case "$*" in
  *--list*) echo "hangs: test" ;;
  *) touch "$HANG_MARKER"; sleep 120 ;;
esac
"#;

struct KindEnv {
    env: Env,
    kind: PathBuf,
    calls: PathBuf,
}

fn kind_env(suite_binary: &str) -> KindEnv {
    let env = Env::new(Options {
        workers: 0,
        ..Options::default()
    });
    // kind names the context kind-<cluster name>; the stand-in fills it in.
    env.cluster
        .write_kubeconfig(&env.kubeconfig, "KIND_CONTEXT")
        .unwrap();
    let kind = script(env.dir.path(), "kind", common::KIND_STANDIN);
    // No container engine here: preflight asks this one, which says it runs.
    script(
        env.dir.path(),
        "docker",
        "#!/bin/sh\necho 29.0.0-stand-in\n",
    );
    let hang = script(env.dir.path(), "hang-suite", HANGING_SUITE);
    let binary = if suite_binary.is_empty() {
        hang.display().to_string()
    } else {
        suite_binary.to_string()
    };
    std::fs::write(
        env.path("hang.yaml"),
        format!("name: hang\nkind: libtest\nbinary: {binary}\ntimeout: 10m\n"),
    )
    .unwrap();
    let calls = env.path("kind-calls.log");
    KindEnv { env, kind, calls }
}

impl KindEnv {
    fn command(&self, job: &str) -> Command {
        let mut cmd = self.env.run(&[
            self.env.path("hang.yaml").to_str().unwrap(),
            "--cluster",
            "kind:single-node",
            "--job",
            job,
        ]);
        cmd.arg("--kind")
            .arg(&self.kind)
            .arg("--configs")
            .arg(repo_root().join("kind-configs"))
            .env("KIND_LOG", &self.calls)
            .env("TRELLIS_DOCKER", self.env.path("docker"))
            .env("FAKE_KUBECONFIG", &self.env.kubeconfig)
            .env("HANG_MARKER", self.env.path("hanging"));
        cmd
    }

    /// kind's calls: create, then export logs into the build's artifacts, then delete.
    fn assert_torn_down(&self, job: &str) {
        let calls = std::fs::read_to_string(&self.calls).unwrap();
        let lines: Vec<&str> = calls.lines().collect();
        assert_eq!(lines.len(), 3, "{calls}");
        let name = lines[0].split_whitespace().nth(3).unwrap();
        assert!(name.starts_with("trellis-"), "{calls}");
        assert!(
            lines[0].starts_with(&format!(
                "create cluster --name {name} --config {}",
                repo_root().join("kind-configs/single-node.yaml").display()
            )),
            "{calls}"
        );
        assert!(lines[0].ends_with("--retain"), "{calls}");
        let build = build_dir(&self.env.path("out"), job);
        assert_eq!(
            lines[1],
            format!(
                "export logs {} --name {name}",
                build.join("artifacts/logs").display()
            )
        );
        assert_eq!(lines[2], format!("delete cluster --name {name}"));
        assert!(build.join("artifacts/logs/kubelet.log").is_file());
        assert!(
            build.join("artifacts/kind-config.yaml").is_file(),
            "the kind config used is kept"
        );
    }
}

fn interrupt_run(signal: i32, job: &str) {
    let k = kind_env("");
    let log = k.env.path("trellis.err");
    let mut child = k
        .command(job)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !k.env.path("hanging").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the suite never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "trellis ended before the suite started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "trellis did not stop after the signal"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(128 + signal), "{said}");
    assert!(said.contains("tearing down"), "{said}");
    k.assert_torn_down(job);
    let kubeconfig = std::env::temp_dir().join(format!("trellis-kubeconfig-{}", child.id()));
    assert!(
        !kubeconfig.exists(),
        "the cluster's credentials outlived the run"
    );
    let build = build_dir(&k.env.path("out"), job);
    assert_eq!(read_json(&build.join("finished.json"))["result"], "ABORTED");
    let stored = runs(&k.env.path("db.sqlite"));
    assert!(
        stored.iter().any(|r| r["job"] == job),
        "the aborted run is stored too"
    );
}

#[test]
fn ctrl_c_tears_the_kind_cluster_down() {
    interrupt_run(libc::SIGINT, "sigint");
}

#[test]
fn sigterm_tears_the_kind_cluster_down() {
    interrupt_run(libc::SIGTERM, "sigterm");
}

#[test]
fn a_suite_that_cannot_run_still_tears_the_kind_cluster_down() {
    let k = kind_env("/nonexistent/suite-binary");
    let o = output(k.command("broken"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("suite binary `/nonexistent/suite-binary` not found"),
        "{}",
        stderr(&o)
    );
    k.assert_torn_down("broken");
    let build = build_dir(&k.env.path("out"), "broken");
    assert_eq!(read_json(&build.join("finished.json"))["result"], "FAILURE");
}

#[test]
fn without_a_container_engine_nothing_starts_and_nothing_is_left() {
    let k = kind_env("");
    let mut cmd = k.command("no-engine");
    cmd.env("TRELLIS_DOCKER", "/nonexistent/docker");
    let o = output(cmd);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot create the cluster") && err.contains("docker"),
        "{err}"
    );
    assert!(err.contains("hint: start the Docker daemon"), "{err}");
    // No cluster was created, so none was "torn down"; no build, nothing stored.
    assert!(!k.calls.exists(), "kind was called");
    assert!(!k.env.path("out").join("no-engine").exists());
    assert!(
        !common::stdout(&o).contains("stored"),
        "{}",
        common::stdout(&o)
    );
}

/// Credentials never reach an artifact, a log or the store: a kubeconfig whose exec
/// plugin fails (kube-rs quotes its command line and environment in the error) and
/// whose server URL carries a password.
#[test]
fn a_failing_exec_plugin_leaks_no_credential() {
    let tmp = tempfile::tempdir().unwrap();
    let canaries = ["c4n4ry-env-s3cret", "c4n4ry-arg-t0ken", "c4n4ry-passw0rd"];
    let plugin = common::script(
        tmp.path(),
        "plugin",
        "#!/bin/sh\necho \"plugin failed; args: $* env: $PLUGIN_SECRET\" >&2\nexit 1\n",
    );
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    \
             server: https://alice:{}@127.0.0.1:1\ncontexts:\n- name: x\n  context: \
             {{cluster: c, user: u}}\ncurrent-context: x\nusers:\n- name: u\n  user:\n    \
             exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      \
             args: [\"--token\", \"{}\"]\n      env:\n      - name: PLUGIN_SECRET\n        \
             value: {}\n      interactiveMode: Never\n",
            canaries[2],
            plugin.display(),
            canaries[1],
            canaries[0]
        ),
    )
    .unwrap();
    let db = tmp.path().join("db.sqlite");
    let out_dir = tmp.path().join("out");
    let o = common::trellis_cmd(&db)
        .args(["-vv", "run", "smoke", "--job", "leak"])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    let mut seen = vec![
        ("stdout".to_string(), o.stdout.clone()),
        ("stderr".to_string(), o.stderr.clone()),
    ];
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[redacted]"),
        "{}",
        stderr(&o)
    );
    let mut stack = vec![out_dir.clone(), tmp.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p != out_dir {
                    stack.push(p);
                }
            } else if p != kubeconfig && p != plugin {
                seen.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    for (name, bytes) in &seen {
        let text = String::from_utf8_lossy(bytes);
        for c in canaries {
            assert!(!text.contains(c), "{c} in {name}");
        }
    }
}

const TWO_TEST_SUITE: &str = r#"#!/bin/sh
# A libtest-compatible suite: `works` passes, `broken` fails.
case "$*" in
  *--list*) echo "works: test"; echo "broken: test" ;;
  *broken*) echo "expected 1, got 2"; exit 101 ;;
  *) exit 0 ;;
esac
"#;

/// `trellis run --skip-quarantined`: a libtest suite reports a quarantined test
/// skipped with its owner and reason (and the run passes without it); an e2e suite
/// hands the quarantined specs to Ginkgo's skip, beside the manifest's.
#[test]
fn quarantined_tests_are_skipped_by_a_run() {
    let env = Env::new(Options::default());
    let manifest = env.libtest_suite("two", TWO_TEST_SUITE);
    let quarantine = env.path("quarantine.yaml");
    std::fs::write(
        &quarantine,
        "quarantine:\n  - test: two-tests.broken\n    owner: sig-testing\n    reason: fails on purpose\n    expires: 2100-01-01\n  - test: \"Kubernetes e2e suite.[sig-network] DNS should work (IPv4)\"\n    owner: sig-network\n    reason: flakes\n    expires: 2100-01-01\n",
    )
    .unwrap();
    let o = env.run_on_fake(&[manifest.to_str().unwrap(), "--job", "plain"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let o = env.run_on_fake(&[
        manifest.to_str().unwrap(),
        "--job",
        "quarantined",
        "--skip-quarantined",
        quarantine.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let junit = std::fs::read_to_string(
        build_dir(&env.path("out"), "quarantined").join("artifacts/junit_two.xml"),
    )
    .unwrap();
    assert!(
        junit.contains("quarantined until 2100-01-01 by sig-testing: fails on purpose"),
        "{junit}"
    );

    // e2e: the quarantined specs join the manifest's skip.
    let e2e_manifest = env.e2e_standin_suite();
    let calls = env.path("calls.log");
    let mut cmd = env.run(&[
        e2e_manifest.to_str().unwrap(),
        "--kubeconfig",
        env.kubeconfig.to_str().unwrap(),
        "--job",
        "e2e-q",
        "--skip-quarantined",
        quarantine.to_str().unwrap(),
    ]);
    cmd.env("E2E_LOG", &calls).env(
        "E2E_JUNIT",
        repo_root().join("fixtures/hydrophone/junit_01.xml"),
    );
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.contains(r"--ginkgo.skip=(?:\[Slow\])|two\-tests\.broken|Kubernetes e2e suite\.\[sig\-network\] DNS should work \(IPv4\)|\[sig\-network\] DNS should work \(IPv4\) "),
        "{calls}"
    );
    // A certified run skips nothing: the two do not go together.
    let o = env.run_on_fake(&[
        "conformance",
        "--mode",
        "certified",
        "--skip-quarantined",
        quarantine.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

const THREE_TEST_SUITE: &str = r#"#!/bin/sh
# A libtest-compatible suite: `works` passes, `broken` fails, `flaky` fails until
# $FLAKY_MARKER exists, and fails without a KUBECONFIG.
case "$*" in
  *--list*) echo "works: test"; echo "broken: test"; echo "flaky: test" ;;
  *broken*) echo "expected 1, got 2"; exit 101 ;;
  *flaky*)
    [ -n "$KUBECONFIG" ] || { echo "no KUBECONFIG"; exit 101; }
    [ -e "$FLAKY_MARKER" ] && exit 0
    touch "$FLAKY_MARKER"; echo "first attempt fails"; exit 101 ;;
  *) exit 0 ;;
esac
"#;

/// `trellis run --kubeconfig` records how to run its libtest suites again, and
/// `trellis gate --retry` does, against the same cluster: the flake passes on retry,
/// the real failure fails every retry and still blocks.
#[test]
fn gate_retries_a_runs_libtest_failures_on_the_same_cluster() {
    let env = Env::new(Options::default());
    let manifest = env.libtest_suite("three", THREE_TEST_SUITE);
    let marker = env.path("flaky-marker");
    let mut cmd = env.run(&[manifest.to_str().unwrap(), "--job", "pull-three"]);
    cmd.arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .env("FLAKY_MARKER", &marker);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let build = build_dir(&env.path("out"), "pull-three");
    let finished = read_json(&build.join("finished.json"));
    let rerun = &finished["metadata"]["trellis-rerun"];
    assert_eq!(
        rerun["kubeconfig"],
        env.kubeconfig.display().to_string(),
        "{rerun}"
    );

    // The gate's own environment has no KUBECONFIG: the retried test gets the run's.
    let o = trellis_cmd(&env.path("db.sqlite"))
        .arg("gate")
        .arg(&build)
        .args(["--retry", "2", "--json"])
        .env("FLAKY_MARKER", &marker)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let flaked = report["flaked_here"].as_array().unwrap();
    assert!(
        flaked.len() == 1 && flaked[0]["test"].as_str().unwrap().ends_with("flaky"),
        "{report:#}"
    );
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    assert!(failures[0]["test"].as_str().unwrap().ends_with("broken"));
    assert_eq!(failures[0]["evidence"]["attempts"], 3);
}

/// `trellis run --rerun-failed BUILD` focuses exactly the specs that failed in an
/// earlier build (two here, one a prefix of a passing spec's name), keeps the
/// manifest's skip, and says each spec's verdict at the end; both builds are stored.
#[test]
fn rerun_failed_runs_exactly_the_failed_specs() {
    let env = Env::new(Options::default());
    let manifest = env.e2e_standin_suite();
    let earlier = env.path("earlier/junit_01.xml");
    std::fs::create_dir_all(earlier.parent().unwrap()).unwrap();
    std::fs::write(
        &earlier,
        r#"<testsuite name="Kubernetes e2e suite">
  <testcase name="[sig-network] DNS should resolve (a.b)"><failure message="timed out"/></testcase>
  <testcase name="[sig-apps] Deployment should roll over"><failure message="expected 3, got 2"/></testcase>
  <testcase name="[sig-apps] Deployment should roll over and back"/>
</testsuite>"#,
    )
    .unwrap();
    // The second run's report: one of the two passes now.
    let second = env.path("second.xml");
    std::fs::write(
        &second,
        r#"<testsuite name="Kubernetes e2e suite">
  <testcase name="[sig-network] DNS should resolve (a.b)"/>
  <testcase name="[sig-apps] Deployment should roll over"><failure message="expected 3, got 2"/></testcase>
</testsuite>"#,
    )
    .unwrap();
    let calls = env.path("calls.log");
    let mut cmd = env.run(&[
        manifest.to_str().unwrap(),
        "--kubeconfig",
        env.kubeconfig.to_str().unwrap(),
        "--job",
        "rerun",
        "--rerun-failed",
        earlier.to_str().unwrap(),
    ]);
    cmd.env("E2E_LOG", &calls).env("E2E_JUNIT", &second);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.contains(r"--ginkgo.focus=(?:^|\s)(?:\[sig\-apps\] Deployment should roll over|\[sig\-network\] DNS should resolve \(a\.b\))$ --ginkgo.skip=\[Slow\]"),
        "{calls}"
    );
    let out = common::stdout(&o);
    assert!(
        out.contains("re-run of 2 failed spec(s) from")
            && out.contains("1 passed now, 1 failed again, 0 not run")
            && out.contains("FAILED AGAIN [sig-apps] Deployment should roll over"),
        "{out}"
    );
    // A libtest suite has no specs to focus: refused before anything starts.
    let libtest = env.libtest_suite("two", TWO_TEST_SUITE);
    let o = env.run_on_fake(&[
        libtest.to_str().unwrap(),
        "--rerun-failed",
        earlier.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--retry"), "{}", stderr(&o));
}
