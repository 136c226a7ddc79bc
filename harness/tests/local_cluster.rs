//! `trellis run` against a real Kubernetes control plane: the `local` provider's
//! kube-apiserver, etcd, kube-controller-manager and kube-scheduler (built from the
//! official Go modules by `k8s/build.sh`), with kwok-simulated nodes, in a network
//! namespace of the run's own. The smoke suite, the Hydrophone-style conformance pod
//! and the real e2e.test on the pinned allowlist; teardown after success, failure,
//! SIGTERM and even `kill -9`, checked by looking for what could be left.
//!
//! Needs root (network namespaces) and the built binaries. Outside CI a machine
//! without them skips these tests saying so; in CI (`CI=true`) that is a failure.

mod common;

use common::{build_dir, read_json, shared_data, smoke_bin_dir, stderr, trellis_cmd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const VERSION: &str = "v1.37.2";

fn cache_root() -> PathBuf {
    common::k8s_cache_root()
}

/// Cluster tests run side by side, except the e2e one, which runs alone.
static CLUSTERS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Whether the real control plane can run here; in CI it must.
fn available() -> bool {
    let bin = cache_root().join(VERSION).join("bin/kube-apiserver");
    let root = unsafe { libc::geteuid() } == 0;
    let ok = bin.is_file() && cache_root().join("tools/bin/kwok").is_file() && root;
    if !ok {
        let why = format!(
            "needs root and `k8s/build.sh {VERSION}` (kube-apiserver at {}: {}; root: {root})",
            bin.display(),
            if bin.is_file() { "built" } else { "missing" }
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}: CI must run the real-cluster tests");
        }
        eprintln!("skipped: {why}");
    }
    ok
}

struct Run {
    dir: tempfile::TempDir,
    /// TRELLIS_LOCAL_DIR for this run's clusters, when not the default.
    state_root: Option<tempfile::TempDir>,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().unwrap(),
            state_root: None,
        }
    }

    /// A run whose clusters keep their state under a root of their own (not under
    /// /tmp: kwok's exec'd commands get a private /tmp).
    fn with_state_root() -> Run {
        std::fs::create_dir_all("/run/trellis-test").unwrap();
        Run {
            state_root: Some(tempfile::tempdir_in("/run/trellis-test").unwrap()),
            ..Run::new()
        }
    }

    fn state_root(&self) -> PathBuf {
        self.state_root
            .as_ref()
            .map_or_else(|| PathBuf::from("/run/trellis"), |d| d.path().to_path_buf())
    }

    /// trellis with this run's store and state root.
    fn trellis(&self) -> Command {
        let mut c = trellis_cmd(&self.path("db.sqlite"));
        if let Some(root) = &self.state_root {
            c.env("TRELLIS_LOCAL_DIR", root.path());
        }
        c
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.trellis();
        c.arg("run")
            .args(args)
            .arg("--out")
            .arg(self.path("out"))
            .arg("--bin-dir")
            .arg(smoke_bin_dir())
            .arg("--suites-dir")
            .arg(common::repo_root().join("suites"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// The cluster's name, from the build log's `cluster:` line.
fn cluster_name(build: &Path) -> String {
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap();
    log.lines()
        .find_map(|l| l.split("local cluster ").nth(1))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no cluster line in the build log:\n{log}"))
        .to_string()
}

/// Nothing of the cluster is left: no namespace, no state directory, no process
/// started from its state directory (every component's command line names it).
fn assert_nothing_left(name: &str) {
    assert_nothing_left_in(Path::new("/run/trellis"), name)
}

fn assert_nothing_left_in(root: &Path, name: &str) {
    let state = root.join(name);
    // Zombies of reparented processes may take a moment to be reaped by init.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ns = Path::new("/run/netns").join(name).exists();
        let procs: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&state.display().to_string()))
            .collect();
        if !ns && !state.exists() && procs.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "cluster {name} left behind: namespace {ns}, state dir {}, processes {procs:?}",
                state.exists()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn junit_counts(path: &Path) -> (usize, usize, usize) {
    let xml = std::fs::read_to_string(path).unwrap();
    let cases = xml.matches("<testcase").count();
    let failed = xml.matches("<failure").count();
    let skipped = xml.matches("<skipped").count();
    (cases - failed - skipped, failed, skipped)
}

#[test]
fn smoke_suite_passes_on_a_real_api_server_and_skips_what_needs_a_kubelet() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let o = run.run(&[
        "smoke",
        "--cluster",
        &format!("local:{VERSION}"),
        "--job",
        "smoke-local",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let build = build_dir(&run.path("out"), "smoke-local");
    let junit = build.join("artifacts/junit_smoke.xml");
    assert_eq!(
        junit_counts(&junit),
        (7, 0, 2),
        "{}",
        std::fs::read_to_string(&junit).unwrap()
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    for (test, reason) in [
        (
            "dns::resolve_from_pod",
            "needs a real kubelet and cluster DNS",
        ),
        ("pods::logs_and_exec", "needs a real container"),
    ] {
        let case = xml.split("<testcase").find(|c| c.contains(test)).unwrap();
        assert!(
            case.contains(reason),
            "{test} is not skipped with its reason:\n{case}"
        );
    }
    let finished = read_json(&build.join("finished.json"));
    assert_eq!(finished["result"], "SUCCESS");
    let stored = common::runs(&run.path("db.sqlite"));
    let row = stored
        .iter()
        .find(|r| r["job"] == "smoke-local")
        .expect("the run is stored");
    assert_eq!(row["passed"], true, "{row}");
    assert_eq!(finished["metadata"]["job-version"], VERSION);
    // The components' logs are exported; no key or kubeconfig reaches the artifacts.
    let logs = build.join("artifacts/logs");
    for c in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    ] {
        let log = logs.join(format!("{c}.log"));
        assert!(log.is_file(), "{} missing", log.display());
    }
    let apiserver = std::fs::read_to_string(logs.join("kube-apiserver.log")).unwrap();
    assert!(
        apiserver.contains("Version") || apiserver.contains("v1.37"),
        "not the real API server's log"
    );
    for entry in walk(&build) {
        let text = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains("client-key-data"),
            "{} holds a credential",
            entry.display()
        );
    }
    assert_nothing_left(&cluster_name(&build));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_conformance_pod_runs_on_a_kwok_node_and_its_results_pass_certify() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    // What the conformance image would have written: a real CNCF submission's files.
    let submission = shared_data().join("conformance/submissions/v1.33/gke");
    let files = run.path("container");
    std::fs::create_dir_all(files.join("results")).unwrap();
    std::fs::copy(submission.join("e2e.log"), files.join("log")).unwrap();
    for f in ["e2e.log", "junit_01.xml"] {
        std::fs::copy(submission.join(f), files.join("results").join(f)).unwrap();
    }
    let o = run.run(&[
        "conformance",
        "--cluster",
        &format!("local:{VERSION}"),
        "--job",
        "conf-local",
        "--mode",
        "certified",
        "--container-files",
        files.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let build = build_dir(&run.path("out"), "conf-local");
    let artifacts = build.join("artifacts");
    // Copied out through the real API server's exec, served by kwok.
    for f in ["e2e.log", "junit_01.xml"] {
        assert!(
            std::fs::read(artifacts.join(f)).unwrap() == std::fs::read(submission.join(f)).unwrap(),
            "{f} differs from what the container had"
        );
    }
    // Followed through the real API server's log endpoint.
    let followed = std::fs::read_to_string(artifacts.join("conformance-pod.log")).unwrap();
    let original = std::fs::read_to_string(submission.join("e2e.log")).unwrap();
    assert!(
        followed.contains(original.lines().last().unwrap()),
        "the followed log is not the container's"
    );
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap();
    assert!(
        log.contains(&format!("registry.k8s.io/conformance:{VERSION}")),
        "{log}"
    );

    let o = common::certify_v133(
        &run.path("db.sqlite"),
        &build,
        &submission,
        &run.path("submission"),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&o),
        stderr(&o)
    );
    assert_nothing_left(&cluster_name(&build));
}

#[test]
fn e2e_test_runs_the_pinned_conformance_allowlist_for_real() {
    if !available() {
        return;
    }
    // Ten minutes of e2e specs on two cores: alone, so no other cluster's start-up
    // competes with specs that have deadlines of their own.
    let _alone = CLUSTERS.write().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let o = run.run(&[
        "e2e",
        "--cluster",
        &format!("local:{VERSION}"),
        "--job",
        "e2e-local",
    ]);
    let build = build_dir(&run.path("out"), "e2e-local");
    let junit = build.join("artifacts/junit_01.xml");
    let (passed, failed, _skipped) = junit_counts(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    let failures: Vec<&str> = xml
        .split("<testcase")
        .filter(|c| c.contains("<failure"))
        .filter_map(|c| c.split('"').nth(1))
        .collect();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{failed} failed: {failures:#?}\n{}",
        stderr(&o)
    );
    let pinned = std::fs::read_to_string(common::repo_root().join("suites/e2e-allowlist.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert!(pinned >= 100, "only {pinned} specs pinned");
    // Ginkgo's JUnit has a case per spec of the whole suite (skipped ones too) plus
    // suite nodes; every pinned spec must be among the passes.
    assert!(passed >= pinned, "{passed} passed of {pinned} pinned");
    // Ten minutes are not ten minutes of silence: the run told its progress as it
    // went, ending with every spec it ran.
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap();
    let told: Vec<&str> = log.lines().filter(|l| l.contains(" specs, ")).collect();
    assert!(told.len() >= 2, "{log}");
    let last = told.last().unwrap();
    let counts: Vec<u64> = last
        .split_once("e2e: ")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .take(3)
        .collect();
    // done, of total, failed
    assert!(
        counts.len() == 3 && counts[0] == counts[1] && counts[0] >= pinned as u64 && counts[2] == 0,
        "{last}"
    );
    let detail = common::show(
        &run.path("db.sqlite"),
        "e2e-local",
        &build.file_name().unwrap().to_string_lossy(),
    );
    assert!(
        detail.to_string().contains("[Conformance]"),
        "the real Ginkgo JUnit was not stored"
    );
    assert_nothing_left(&cluster_name(&build));
}

fn wait_for_line(path: &Path, needle: &str, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("`{needle}` never appeared in {}", path.display());
}

/// The build directory a still-running `trellis run` made.
fn running_build(out: &Path, job: &str) -> PathBuf {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(mut dirs) = std::fs::read_dir(out.join(job)) {
            if let Some(Ok(d)) = dirs.next() {
                return d.path();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no build directory appeared");
}

/// `trellis run smoke --cluster local` in the background, once its suite has started:
/// the process, its build directory and the cluster's name.
fn started_smoke_run(run: &Run, job: &str) -> (std::process::Child, PathBuf, String) {
    let child = run
        .command(&["smoke", "--cluster", "local", "--job", job])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let build = running_build(&run.path("out"), job);
    wait_for_line(
        &build.join("build-log.txt"),
        "suite smoke",
        Duration::from_secs(120),
    );
    let name = cluster_name(&build);
    (child, build, name)
}

#[test]
fn sigterm_mid_suite_tears_the_local_cluster_down() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let (mut child, build, name) = started_smoke_run(&run, "term");
    assert!(Path::new("/run/netns").join(&name).exists());
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(read_json(&build.join("finished.json"))["result"], "ABORTED");
    assert_nothing_left(&name);
}

/// The run and the janitor use a state root of their own, so the janitor's
/// `--older-than 0` leaves every other cluster on the machine alone.
#[test]
fn kill_9_takes_the_components_along_and_the_janitor_removes_the_rest() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::with_state_root();
    let (mut child, _build, name) = started_smoke_run(&run, "kill");
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    // The components die with trellis (parent-death signal); the namespace's name
    // and the state directory stay until the janitor finds them.
    assert!(Path::new("/run/netns").join(&name).exists());
    let o = run
        .trellis()
        .args([
            "janitor",
            "--older-than",
            "0",
            "--kind",
            "/nonexistent/kind",
        ])
        .output()
        .unwrap();
    assert!(
        common::stdout(&o).contains(&format!("deleted local {name}")),
        "{}{}",
        common::stdout(&o),
        stderr(&o)
    );
    assert_nothing_left_in(&run.state_root(), &name);
}

#[test]
fn up_starts_two_api_servers_that_outlive_it_and_down_removes_them() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let kubeconfig = run.path("kubeconfig");
    let o = run
        .trellis()
        .args([
            "up",
            "--cluster",
            "local",
            "--control-planes",
            "2",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let name = common::stdout(&o).trim().to_string();
    assert!(stderr(&o).contains("kube-apiserver-2"), "{}", stderr(&o));
    // Both API servers serve, from inside the cluster's namespace, after `up` ended;
    // each writes its address into the `kubernetes` Service's endpoints.
    let kubectl = cache_root().join(VERSION).join("bin/kubectl");
    let endpoints = Command::new("ip")
        .args(["netns", "exec", &name])
        .arg(&kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "get",
            "endpointslices",
            "-n",
            "default",
            "-l",
            "kubernetes.io/service-name=kubernetes",
        ])
        .args(["-o", "jsonpath={.items[*].endpoints[*].addresses[*]}"])
        .output()
        .unwrap();
    let text = common::stdout(&endpoints);
    assert!(
        text.contains("10.250.0.1") && text.contains("10.250.0.2"),
        "{text}{}",
        stderr(&endpoints)
    );
    let o = run
        .trellis()
        .args(["down", "--cluster", "local", &name])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_nothing_left(&name);
    let o = run
        .trellis()
        .args(["down", "--cluster", "local", &name])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(4),
        "a second down finds nothing: {}",
        stderr(&o)
    );
}

#[test]
fn a_version_that_is_not_built_is_named_with_the_built_ones_and_nothing_starts() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let o = run.run(&["smoke", "--cluster", "local:v1.99.0", "--job", "nope"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("Kubernetes v1.99.0 is not built"), "{err}");
    assert!(
        err.contains("k8s/build.sh v1.99.0") && err.contains(VERSION),
        "{err}"
    );
    assert!(
        !run.path("out").join("nope").exists(),
        "a build directory was made"
    );
}

#[test]
fn a_component_that_dies_at_start_is_reported_with_its_log_and_all_is_torn_down() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    // A cache where kube-apiserver fails the way a bad flag makes it fail.
    let run = Run::new();
    let cache = run.path("cache");
    let real = cache_root();
    std::fs::create_dir_all(cache.join(VERSION).join("bin")).unwrap();
    std::os::unix::fs::symlink(real.join("tools"), cache.join("tools")).unwrap();
    for p in ["kube-controller-manager", "kube-scheduler", "kubectl"] {
        std::os::unix::fs::symlink(
            real.join(VERSION).join("bin").join(p),
            cache.join(VERSION).join("bin").join(p),
        )
        .unwrap();
    }
    common::script(
        &cache.join(VERSION).join("bin"),
        "kube-apiserver",
        "echo 'E1202 run.go:72] \"command failed\" err=\"invalid port value 6443: in use\"' >&2; exit 1",
    );
    let o = run
        .command(&["smoke", "--cluster", "local", "--job", "dies"])
        .env("TRELLIS_K8S_CACHE", &cache)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("kube-apiserver exited during start"), "{err}");
    assert!(
        err.contains("invalid port value 6443: in use"),
        "the log's tail is missing:\n{err}"
    );
    let build = build_dir(&run.path("out"), "dies");
    assert_eq!(read_json(&build.join("finished.json"))["result"], "FAILURE");
    assert_nothing_left(&cluster_name(&build));
}

#[test]
fn preflight_checks_the_local_binaries_and_namespaces() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let o = trellis_cmd(Path::new("/nonexistent/db"))
        .args(["preflight", "--cluster", &format!("local:{VERSION}")])
        .output()
        .unwrap();
    let out = common::stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("Kubernetes {VERSION}")), "{out}");
    assert!(out.contains("network namespace"), "{out}");
    let o = trellis_cmd(Path::new("/nonexistent/db"))
        .args(["preflight", "--cluster", "local:v1.99.0"])
        .output()
        .unwrap();
    let out = common::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("fix: run `k8s/build.sh v1.99.0`"), "{out}");
}

/// #18 item 1: `--list-images` names every image a conformance run on the local
/// provider's version pulls — the conformance and helper images and exactly what that
/// version's e2e.test lists — and `--test-repo-list` moves the test images to the
/// mirror, as e2e.test itself does with KUBE_TEST_REPO_LIST. No cluster is made.
#[test]
fn list_images_names_what_a_conformance_run_pulls() {
    if !available() {
        return;
    }
    let run = Run::new();
    let e2e_test = cache_root().join(VERSION).join("bin/e2e.test");
    let listed = |env: &[(&str, &Path)]| -> std::collections::BTreeSet<String> {
        let mut c = Command::new(&e2e_test);
        c.arg("--list-images");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let trellis_list = |extra: &[&str]| -> Vec<String> {
        let cluster = format!("local:{VERSION}");
        let mut args = vec![
            "conformance",
            "--cluster",
            cluster.as_str(),
            "--list-images",
        ];
        args.extend_from_slice(extra);
        let o = run.run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };

    let mut want = listed(&[]);
    want.insert(format!("registry.k8s.io/conformance:{VERSION}"));
    want.insert("registry.k8s.io/e2e-test-images/busybox:1.37.0-1".into());
    let got = trellis_list(&[]);
    assert_eq!(
        got.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        want
    );
    assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
    assert!(got.len() > 30, "{got:?}");

    let repo_list = run.path("repo-list.yaml");
    std::fs::write(
        &repo_list,
        "promoterE2eRegistry: mirror.example.com/e2e-test-images\n",
    )
    .unwrap();
    let mut want = listed(&[("KUBE_TEST_REPO_LIST", repo_list.as_path())]);
    want.insert("mirror.example.com/conformance:v1".into());
    want.insert("mirror.example.com/busybox:1".into());
    let got = trellis_list(&[
        "--test-repo-list",
        repo_list.to_str().unwrap(),
        "--conformance-image",
        "mirror.example.com/conformance:v1",
        "--busybox-image",
        "mirror.example.com/busybox:1",
    ]);
    assert_eq!(
        got.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        want
    );
    // e2e.test moves the promoter's test images (all but a busybox it pins under
    // another registry key): trellis lists exactly what it would pull.
    let mirrored = got
        .iter()
        .filter(|i| i.starts_with("mirror.example.com/e2e-test-images/"))
        .count();
    assert!(mirrored >= 20, "{got:?}");
    assert!(got
        .iter()
        .any(|i| i.starts_with("mirror.example.com/e2e-test-images/agnhost:")));
    // Nothing was made: no build directory.
    assert!(!run.path("out").exists());
}

/// #21: the perf suite on a real control plane (kwok nodes): pods created, scaled and
/// deleted; pod startup and API call latency judged against SIG Scalability's SLOs
/// as JUnit, ClusterLoader2 PerfData written, nothing left behind.
#[test]
fn the_perf_suite_measures_a_small_load_against_the_slos() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let cluster = format!("local:{VERSION}");
    let o = run.run(&["perf", "--cluster", &cluster, "--job", "perf"]);
    let build = build_dir(&run.path("out"), "perf");
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap_or_default();
    assert_eq!(o.status.code(), Some(0), "{}\n{log}", stderr(&o));
    let artifacts = build.join("artifacts");
    let junit = std::fs::read_to_string(artifacts.join("junit_perf.xml")).unwrap();
    assert!(
        junit.contains("pod startup latency p99 should be within 5 s"),
        "{junit}"
    );
    assert!(
        junit.contains(
            "API call latency POST deployments (resource scope) p99 should be within 1 s"
        ),
        "{junit}"
    );
    assert!(
        !junit.contains("( scope)"),
        "only calls on resources: {junit}"
    );
    assert!(
        junit.contains("API call latency LIST pods (cluster scope) p99 should be within 30 s"),
        "{junit}"
    );
    assert!(!junit.contains("<failure"), "{junit}");
    let files: Vec<String> = std::fs::read_dir(&artifacts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let file = |prefix: &str| {
        let name = files
            .iter()
            .find(|f| f.starts_with(prefix) && f.ends_with(".json"))
            .unwrap_or_else(|| panic!("no {prefix}* in {files:?}"));
        read_json(&artifacts.join(name))
    };
    let startup = file("PodStartupLatency_PodStartupLatency_perf_");
    assert_eq!(startup["version"], "v1");
    let items = startup["dataItems"].as_array().unwrap();
    let pod_startup = items
        .iter()
        .find(|i| i["labels"]["Metric"] == "pod_startup")
        .unwrap();
    assert_eq!(pod_startup["unit"], "ms");
    let p99 = pod_startup["data"]["Perc99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 5000.0, "{startup}");
    let api = file("APIResponsivenessPrometheus_simple_perf_");
    assert!(api["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["labels"]["Verb"] == "POST" && i["labels"]["Resource"] == "deployments"));
    assert!(log.contains("pod startup p50"), "{log}");
    // 2 × 2 Deployments of 10 pods at the end: all of them measured.
    assert!(log.contains("over 40 pods"), "{log}");
    assert_nothing_left(&cluster_name(&build));
}

/// #21 honesty check: a slowdown injected for real (every pod held 2 s at a
/// scheduling gate before the scheduler may place it) moves pod startup by about
/// that much and fails the SLO, with the figure in the message.
#[test]
fn an_injected_start_delay_moves_pod_startup_and_fails_the_slo() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let manifest = run.path("slow.yaml");
    std::fs::write(
        &manifest,
        "name: slow\nkind: perf\ntimeout: 5m\nperf:\n  namespaces: 1\n  deployments: 2\n  \
         replicas: 3\n  scale_to: 3\n  inject_start_delay: 2s\n  pod_startup_slo: 2s\n",
    )
    .unwrap();
    let cluster = format!("local:{VERSION}");
    let o = run.run(&[
        manifest.to_str().unwrap(),
        "--cluster",
        &cluster,
        "--job",
        "slow",
    ]);
    let build = build_dir(&run.path("out"), "slow");
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap_or_default();
    assert_eq!(o.status.code(), Some(7), "{}\n{log}", stderr(&o));
    let junit = std::fs::read_to_string(build.join("artifacts/junit_slow.xml")).unwrap();
    assert!(
        junit.contains("pod startup latency p99 should be within 2 s\" classname=\"slow\">\n    <failure message=\"p99 "),
        "{junit}"
    );
    let startup = std::fs::read_dir(build.join("artifacts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .contains("PodStartupLatency_PodStartupLatency_slow_")
        })
        .map(|p| read_json(&p))
        .unwrap();
    let pod_startup = startup["dataItems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["labels"]["Metric"] == "pod_startup")
        .unwrap()
        .clone();
    // Every pod waited 2 s at the gate: even the median is past it.
    let p50 = pod_startup["data"]["Perc50"].as_f64().unwrap();
    assert!((2000.0..6000.0).contains(&p50), "{pod_startup}");
    assert_nothing_left(&cluster_name(&build));
}

/// A cluster `trellis up` started, taken down when the test ends, passed or not.
struct UpCluster<'a> {
    run: &'a Run,
    name: String,
    kubeconfig: PathBuf,
}

impl<'a> UpCluster<'a> {
    fn start(run: &'a Run) -> UpCluster<'a> {
        let kubeconfig = run.path("kubeconfig");
        let o = run
            .trellis()
            .args(["up", "--cluster", "local", "--kubeconfig"])
            .arg(&kubeconfig)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        UpCluster {
            run,
            name: common::stdout(&o).trim().to_string(),
            kubeconfig,
        }
    }

    /// `trellis run ARGS --kubeconfig K` from inside the cluster's namespace.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name])
            .arg(env!("CARGO_BIN_EXE_trellis"))
            .arg("--db")
            .arg(self.run.path("db.sqlite"))
            .env_remove("TRELLIS_DB")
            .arg("run")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--out")
            .arg(self.run.path("out"));
        c
    }

    /// `kubectl ARGS` against the cluster, from inside its namespace.
    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(cache_root().join(VERSION).join("bin/kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for UpCluster<'_> {
    fn drop(&mut self) {
        let _ = self
            .run
            .trellis()
            .args(["down", "--cluster", "local", &self.name])
            .output();
    }
}

/// #21 honesty checks for the baseline: fifteen unchanged perf runs of one job on one
/// real control plane, then three with every pod held 2 s at a scheduling gate. On
/// the unchanged history the check fires after at most 1 of the 10 builds it can
/// judge (the figure is printed); after the slow runs it flags pod startup p99 as
/// regressed, with the figures, in `trellis regressions` and `trellis status`.
#[test]
fn the_perf_baseline_stays_quiet_on_unchanged_runs_and_flags_an_injected_slowdown() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let cluster = UpCluster::start(&run);
    let write = |name: &str, extra: &str| {
        let path = run.path(name);
        std::fs::write(
            &path,
            format!(
                "name: small\nkind: perf\ntimeout: 5m\nperf:\n  namespaces: 1\n  deployments: 2\n  \
                 replicas: 5\n  scale_to: 10\n  qps: 20\n{extra}"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let unchanged = write("small.yaml", "");
    let slow = write("slow.yaml", "  inject_start_delay: 2s\n");
    let db = run.path("db.sqlite");
    let regressions = |extra: &[&str]| {
        let mut args = vec!["regressions", "--job", "small"];
        args.extend(extra);
        let o = common::trellis(&db, &args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        common::stdout(&o)
    };
    for i in 0..15 {
        let o = cluster.run(&[&unchanged, "--job", "small"]);
        assert_eq!(o.status.code(), Some(0), "run {i}: {}", stderr(&o));
    }
    let backtest = regressions(&["--perf-backtest"]);
    eprintln!("{backtest}");
    let tally = backtest
        .lines()
        .find_map(|l| l.trim().strip_prefix("fired after "))
        .unwrap_or_else(|| panic!("no tally in {backtest}"));
    let (fired, judged) = tally
        .split_once(" of ")
        .map(|(f, rest)| {
            (
                f.parse::<usize>().unwrap(),
                rest.split(' ').next().unwrap().parse::<usize>().unwrap(),
            )
        })
        .unwrap();
    assert_eq!(judged, 10, "{backtest}");
    assert!(fired <= 1, "false alarms on unchanged runs: {backtest}");
    for i in 0..3 {
        let o = cluster.run(&[&slow, "--job", "small"]);
        // The 5 s SLO still holds with a 2 s gate: the run passes; only the baseline
        // check can tell.
        assert_eq!(o.status.code(), Some(0), "slow run {i}: {}", stderr(&o));
    }
    let found = regressions(&[]);
    let line = found
        .lines()
        .find(|l| l.contains("{Metric=pod_startup} p99:"))
        .unwrap_or_else(|| panic!("pod startup not flagged: {found}"));
    assert!(
        line.trim_start()
            .starts_with("REGRESSED small / PodStartupLatency_PodStartupLatency_small"),
        "{line}"
    );
    assert!(line.contains("3 vs 15 builds"), "{line}");
    // The recent median is about 2 s above the baseline's.
    let json = common::trellis(&db, &["regressions", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let startup = v["perf"]["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["series"]
                .as_str()
                .unwrap()
                .ends_with("{Metric=pod_startup}")
        })
        .unwrap()
        .clone();
    let rise = startup["recent"]["median"].as_f64().unwrap()
        - startup["baseline"]["median"].as_f64().unwrap();
    assert!((1500.0..3500.0).contains(&rise), "{startup}");
    // No dashboards directory where it runs: every stored job is shown.
    let status = trellis_cmd(&db)
        .arg("status")
        .current_dir(run.path(""))
        .output()
        .unwrap();
    let text = common::stdout(&status);
    assert!(
        text.contains("REGRESSED small / PodStartupLatency"),
        "{text}{}",
        stderr(&status)
    );
}

/// #21 bad input: a perf run interrupted mid-load (SIGINT while every pod waits at a
/// 60 s scheduling gate) deletes everything it created, keeps the figures it has as
/// PerfData marked partial, and says in its JUnit that the load did not finish.
#[test]
fn an_interrupted_perf_run_deletes_what_it_made_and_keeps_marked_partial_figures() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let cluster = UpCluster::start(&run);
    let manifest = run.path("held.yaml");
    std::fs::write(
        &manifest,
        "name: held\nkind: perf\ntimeout: 5m\nperf:\n  namespaces: 2\n  deployments: 1\n  \
         replicas: 3\n  scale_to: 3\n  wait_timeout: 2m\n  inject_start_delay: 60s\n",
    )
    .unwrap();
    let mut child = cluster
        .command(&[manifest.to_str().unwrap(), "--job", "held"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let build = running_build(&run.path("out"), "held");
    let log = build.join("build-log.txt");
    wait_for_line(&log, "injected:", Duration::from_secs(60));
    // The Deployments exist and their pods wait at the gate.
    let start = Instant::now();
    loop {
        let o = cluster.kubectl(&[
            "get",
            "pods",
            "-A",
            "-l",
            "app.kubernetes.io/part-of=trellis-perf",
            "-o",
            "name",
        ]);
        if common::stdout(&o).lines().count() >= 6 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "pods never appeared: {}",
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `ip netns exec` execs trellis: the child is trellis itself.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(130), "{text}");
    // Namespace deletion is asynchronous: Terminating is gone as far as the suite is
    // concerned, but nothing may still be Active.
    let active = cluster.kubectl(&[
        "get",
        "namespaces",
        "--field-selector",
        "status.phase=Active",
        "-o",
        "name",
    ]);
    assert!(
        !common::stdout(&active).contains("trellis-perf-"),
        "{}\n{text}",
        common::stdout(&active)
    );
    let artifacts = build.join("artifacts");
    let api = std::fs::read_dir(&artifacts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .contains("APIResponsivenessPrometheus_simple_held_")
        })
        .unwrap_or_else(|| panic!("no API figures kept in {}", artifacts.display()));
    let doc = read_json(&api);
    assert_eq!(doc["partial"], true, "{doc}");
    assert!(
        doc["dataItems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["labels"]["Verb"] == "POST" && i["labels"]["Resource"] == "deployments"),
        "{doc}"
    );
    let junit = std::fs::read_to_string(artifacts.join("junit_held.xml")).unwrap();
    assert!(
        junit.contains("no pod was seen running") || junit.contains("the load did not finish"),
        "{junit}"
    );
}

/// #21 bad input: a user who may do everything the load needs but not read
/// `/metrics` (a ServiceAccount token with every resource verb and no non-resource
/// URL) gets the run, with API latency judged from the suite's own calls and the
/// build log saying why.
#[test]
fn a_perf_run_without_metrics_access_falls_back_to_client_side_figures() {
    if !available() {
        return;
    }
    let _shared = CLUSTERS.read().unwrap_or_else(|p| p.into_inner());
    let run = Run::new();
    let cluster = UpCluster::start(&run);
    let rbac = run.path("rbac.yaml");
    std::fs::write(
        &rbac,
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: loader, namespace: default}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: loader}\n\
         rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: loader}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: loader}\n\
         subjects: [{kind: ServiceAccount, name: loader, namespace: default}]\n",
    )
    .unwrap();
    let o = cluster.kubectl(&["apply", "-f", rbac.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cluster.kubectl(&["create", "token", "loader", "-n", "default"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = common::stdout(&o).trim().to_string();
    // The same cluster, as the ServiceAccount.
    let limited = run.path("limited.kubeconfig");
    std::fs::copy(&cluster.kubeconfig, &limited).unwrap();
    let kc = limited.to_str().unwrap();
    for args in [
        vec!["config", "set-credentials", "loader", "--token", &token],
        vec!["config", "set-context", "--current", "--user", "loader"],
    ] {
        let o = Command::new(cache_root().join(VERSION).join("bin/kubectl"))
            .arg("--kubeconfig")
            .arg(kc)
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let manifest = run.path("small.yaml");
    std::fs::write(
        &manifest,
        "name: small\nkind: perf\ntimeout: 5m\nperf:\n  namespaces: 1\n  deployments: 1\n  \
         replicas: 3\n  scale_to: 3\n",
    )
    .unwrap();
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &cluster.name])
        .arg(env!("CARGO_BIN_EXE_trellis"))
        .arg("--db")
        .arg(run.path("db.sqlite"))
        .args([
            "run",
            manifest.to_str().unwrap(),
            "--job",
            "limited",
            "--kubeconfig",
            kc,
        ])
        .arg("--out")
        .arg(run.path("out"));
    let o = c.output().unwrap();
    let build = build_dir(&run.path("out"), "limited");
    let log = std::fs::read_to_string(build.join("build-log.txt")).unwrap_or_default();
    assert_eq!(o.status.code(), Some(0), "{}\n{log}", stderr(&o));
    assert!(log.contains("/metrics could not be read"), "{log}");
    assert!(log.contains("from the suite's own calls only"), "{log}");
    let junit = std::fs::read_to_string(build.join("artifacts/junit_small.xml")).unwrap();
    assert!(
        junit.contains("API call latency POST deployments (client side) p99 should be within 1 s"),
        "{junit}"
    );
    assert!(
        !junit.contains("(resource scope)"),
        "no server-side figures: {junit}"
    );
}
