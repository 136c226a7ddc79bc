//! The conformance suite the way Hydrophone runs it: the official image
//! `registry.k8s.io/conformance:<server version>` in a pod of its own namespace, with
//! a service account bound to a cluster role, a helper container sharing
//! `/tmp/results`, the e2e settings in `E2E_*` variables; the test container's log
//! followed (reconnecting when the stream drops), `e2e.log` and `junit_01.xml`
//! copied out of the helper by exec, the exit code taken from the test container,
//! and everything it created deleted and waited for.

use super::waited;
use super::{io_error, Manifest, SuiteContext, SuiteError, SuiteSummary};
use crate::interrupt::Interrupt;
use futures_util::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{AttachParams, DeleteParams, LogParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use trellis_wait::{poll_until, within, Poll};

pub const POD: &str = "e2e-conformance-test";
pub const TEST_CONTAINER: &str = "conformance-container";
pub const OUTPUT_CONTAINER: &str = "output-container";
const RESULTS_DIR: &str = "/tmp/results";
/// The ConfigMap holding `--test-repo-list`, and where the test container sees it.
const REPO_LIST_CONFIG_MAP: &str = "trellis-test-repo-list";
const REPO_LIST_DIR: &str = "/tmp/test-repo-list";
const REPO_LIST_FILE: &str = "repo-list.yaml";

/// Everything the pod is made from.
#[derive(Debug, Clone)]
pub struct Plan {
    pub namespace: String,
    pub image: String,
    pub focus: String,
    pub skip: String,
    pub parallel: usize,
    pub extra_args: Vec<String>,
    pub extra_ginkgo_args: Vec<String>,
    pub dry_run: bool,
    pub deadline: Duration,
    /// The helper container's image.
    pub busybox: String,
    /// `KUBE_TEST_REPO` for the tests.
    pub test_repo: Option<String>,
    /// `KUBE_TEST_REPO_LIST`'s YAML, mounted from a ConfigMap.
    pub test_repo_list: Option<String>,
    /// Re-attach to the pod an earlier run left (`--continue`) instead of making one.
    pub reattach: bool,
    /// How long the test container may take to start (image pulls, scheduling).
    pub startup_timeout: Duration,
    /// How often the run's progress is told.
    pub progress_every: Duration,
}

/// `--startup-timeout`'s default: a pull of the 400 MB conformance image on a slow
/// mirror.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(600);

/// The conformance image for a server version: build metadata (`+k3s1`) dropped.
pub fn image_for(server_version: &str) -> String {
    let v = server_version.split('+').next().unwrap_or(server_version);
    format!("registry.k8s.io/conformance:{v}")
}

pub fn run(m: &Manifest, ctx: &SuiteContext) -> Result<SuiteSummary, SuiteError> {
    let rt = crate::cluster::access::runtime()?;
    rt.block_on(async {
        let client = ctx.access.client().await?;
        let images = &ctx.overrides.images;
        let image = match (
            images.conformance.as_ref().or(m.image.as_ref()),
            ctx.server_version,
        ) {
            (Some(i), _) => i.clone(),
            (None, Some(v)) => image_for(v),
            (None, None) => image_for(&ctx.access.server_version().await?),
        };
        let plan = Plan {
            namespace: m.namespace.clone(),
            image,
            focus: m.focus.clone(),
            skip: m.skip.clone(),
            parallel: m.parallel,
            extra_args: m.extra_args.clone(),
            extra_ginkgo_args: m.extra_ginkgo_args.clone(),
            dry_run: ctx.overrides.dry_run,
            deadline: m.timeout,
            busybox: images.busybox().to_string(),
            test_repo: images.test_repo.clone(),
            test_repo_list: images.test_repo_list.as_ref().map(|l| l.yaml.clone()),
            reattach: ctx.overrides.reattach,
            startup_timeout: ctx
                .overrides
                .startup_timeout
                .unwrap_or(DEFAULT_STARTUP_TIMEOUT),
            progress_every: ctx
                .overrides
                .progress_every
                .unwrap_or(super::progress::PROGRESS_EVERY),
        };
        ctx.reporter.note(format!(
            "{}: {} in namespace {}, focus {:?}, skip {:?}, parallel {}{}",
            m.name,
            plan.image,
            plan.namespace,
            plan.focus,
            plan.skip,
            plan.parallel,
            if plan.dry_run { ", dry run" } else { "" }
        ));
        let code = execute(&client, &plan, ctx.artifacts, ctx.interrupt, ctx.reporter).await?;
        let counts = super::junit_counts(&ctx.artifacts.join("junit_01.xml"));
        let summary = format!("{counts}; exit code {code}");
        Ok(SuiteSummary {
            name: m.name.clone(),
            passed: code == 0,
            summary,
        })
    })
}

/// Deploys, follows, collects and cleans up; returns the test container's exit code.
/// Cleanup runs whatever happened before it.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    artifacts: &Path,
    interrupt: &Interrupt,
    reporter: &crate::reporter::Reporter,
) -> Result<i32, SuiteError> {
    std::fs::create_dir_all(artifacts).map_err(io_error(artifacts))?;
    // One deadline for the whole suite; each step gets what is left of it.
    let until = Instant::now() + plan.deadline;
    let left = || until.saturating_duration_since(Instant::now());
    let stop = || interrupt.is_set();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &plan.namespace);
    let result = async {
        if plan.reattach {
            // `--continue`: the pod of an earlier run, whose log is read from its start.
            let found = pods
                .get_opt(POD)
                .await
                .map_err(api_err("reading the conformance pod"))?;
            if found.is_none() {
                return Err(SuiteError::NothingToContinue {
                    namespace: plan.namespace.clone(),
                });
            }
            reporter.note(format!(
                "re-attached to pod {POD} in namespace {}",
                plan.namespace
            ));
        } else {
            deploy(client, plan).await?;
            reporter.note(format!(
                "created namespace {}, RBAC and pod {POD}",
                plan.namespace
            ));
        }
        let started = wait_started(&pods, plan.startup_timeout.min(left()), &stop).await?;
        reporter.note(format!("{TEST_CONTAINER} {started}"));
        let pod_log = artifacts.join("conformance-pod.log");
        within(
            "following the conformance log",
            left(),
            &stop,
            follow_log(&pods, &pod_log, reporter, plan.progress_every),
        )
        .await
        .map_err(waited)??;
        let code = poll_until(
            "the test container to exit",
            left(),
            Duration::from_millis(500),
            &stop,
            || async {
                Ok::<_, SuiteError>(match terminated(&pods).await? {
                    Some(code) => Poll::Ready(code),
                    None => Poll::Pending(format!("{TEST_CONTAINER} still running")),
                })
            },
        )
        .await
        .map_err(waited)?;
        reporter.note(format!("{TEST_CONTAINER} exited with code {code}"));
        for file in ["e2e.log", "junit_01.xml"] {
            let bytes = within(
                "copying results",
                left(),
                &stop,
                copy_out(&pods, &format!("{RESULTS_DIR}/{file}")),
            )
            .await
            .map_err(waited)??;
            let dest = artifacts.join(file);
            std::fs::write(&dest, &bytes).map_err(io_error(&dest))?;
            reporter.note(format!(
                "copied {RESULTS_DIR}/{file} ({} bytes)",
                bytes.len()
            ));
        }
        Ok(code)
    }
    .await;
    // A namespace another run holds is that run's: nothing here to clean up.
    if matches!(result, Err(SuiteError::NamespaceExists { .. })) {
        return result;
    }
    // Cleanup gets its own deadline: an interrupted or timed-out run must still clean up.
    let cleaned = cleanup(client, &plan.namespace, Duration::from_secs(300)).await;
    match (&result, cleaned) {
        (_, Ok(_)) => reporter.note(format!(
            "deleted namespace {} and the conformance RBAC",
            plan.namespace
        )),
        (Ok(_), Err(e)) => return Err(e),
        (Err(_), Err(e)) => reporter.note(format!("cleanup also failed: {e}")),
    }
    result
}

fn api_err(what: &'static str) -> impl Fn(kube::Error) -> SuiteError {
    move |source| SuiteError::Api {
        what: what.into(),
        source,
    }
}

fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("the conformance objects are well-formed")
}

fn role_name(namespace: &str) -> String {
    format!("{namespace}-conformance")
}

/// The pod, as Hydrophone builds it: restricted security context, a shared emptyDir,
/// tolerating every taint so it can land on a control-plane-only cluster.
pub fn pod_spec(plan: &Plan) -> Pod {
    let mut env = vec![
        json!({"name": "E2E_FOCUS", "value": plan.focus}),
        json!({"name": "E2E_SKIP", "value": plan.skip}),
        json!({"name": "E2E_PROVIDER", "value": "skeleton"}),
        json!({"name": "E2E_PARALLEL", "value": if plan.parallel > 1 { "true" } else { "false" }}),
        json!({"name": "E2E_VERBOSITY", "value": "4"}),
        json!({"name": "E2E_USE_GO_RUNNER", "value": "true"}),
        json!({"name": "E2E_EXTRA_ARGS", "value": plan.extra_args.join(" ")}),
        json!({"name": "RESULTS_DIR", "value": RESULTS_DIR}),
    ];
    let mut ginkgo = plan.extra_ginkgo_args.clone();
    if plan.parallel > 1 {
        ginkgo.push(format!("--procs={}", plan.parallel));
    }
    env.push(json!({"name": "E2E_EXTRA_GINKGO_ARGS", "value": ginkgo.join(" ")}));
    if plan.dry_run {
        env.push(json!({"name": "E2E_DRYRUN", "value": "true"}));
    }
    // Air-gapped: the e2e framework reads where test images come from.
    if let Some(repo) = &plan.test_repo {
        env.push(json!({"name": "KUBE_TEST_REPO", "value": repo}));
    }
    let mut test_mounts = vec![json!({"name": "output-volume", "mountPath": RESULTS_DIR})];
    let mut volumes = vec![json!({"name": "output-volume", "emptyDir": {}})];
    if plan.test_repo_list.is_some() {
        env.push(json!({"name": "KUBE_TEST_REPO_LIST", "value": format!("{REPO_LIST_DIR}/{REPO_LIST_FILE}")}));
        test_mounts
            .push(json!({"name": "test-repo-list", "mountPath": REPO_LIST_DIR, "readOnly": true}));
        volumes
            .push(json!({"name": "test-repo-list", "configMap": {"name": REPO_LIST_CONFIG_MAP}}));
    }
    let security = json!({
        "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": true, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"},
    });
    let mount = json!([{"name": "output-volume", "mountPath": RESULTS_DIR}]);
    object(json!({
        "metadata": {"name": POD, "namespace": plan.namespace, "labels": {"app.kubernetes.io/managed-by": "trellis"}},
        "spec": {
            "containers": [
                {"name": TEST_CONTAINER, "image": plan.image, "imagePullPolicy": "IfNotPresent",
                 "env": env, "volumeMounts": test_mounts, "securityContext": security},
                {"name": OUTPUT_CONTAINER, "image": plan.busybox, "command": ["/bin/sh", "-c", "sleep infinity"],
                 "volumeMounts": mount, "securityContext": security},
            ],
            "volumes": volumes,
            "restartPolicy": "Never",
            "serviceAccountName": "trellis-conformance",
            "tolerations": [{"operator": "Exists"}],
        },
    }))
}

async fn deploy(client: &Client, plan: &Plan) -> Result<(), SuiteError> {
    let pp = PostParams::default();
    let labels = json!({"app.kubernetes.io/managed-by": "trellis"});
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces
        .create(
            &pp,
            &object(json!({"metadata": {"name": plan.namespace, "labels": labels}})),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            return Err(SuiteError::NamespaceExists {
                namespace: plan.namespace.clone(),
            })
        }
        Err(e) => return Err(api_err("creating the conformance namespace")(e)),
    }
    Api::<ServiceAccount>::namespaced(client.clone(), &plan.namespace)
        .create(
            &pp,
            &object(json!({"metadata": {"name": "trellis-conformance", "labels": labels}})),
        )
        .await
        .map_err(api_err("creating the service account"))?;
    Api::<ClusterRole>::all(client.clone())
        .create(
            &pp,
            &object(json!({
                "metadata": {"name": role_name(&plan.namespace), "labels": labels},
                "rules": [
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                    {"nonResourceURLs": ["/metrics", "/logs", "/logs/*"], "verbs": ["get"]},
                ],
            })),
        )
        .await
        .map_err(api_err("creating the cluster role"))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&pp, &object(json!({
            "metadata": {"name": role_name(&plan.namespace), "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name(&plan.namespace)},
            "subjects": [{"kind": "ServiceAccount", "name": "trellis-conformance", "namespace": plan.namespace}],
        })))
        .await
        .map_err(api_err("creating the cluster role binding"))?;
    if let Some(yaml) = &plan.test_repo_list {
        Api::<ConfigMap>::namespaced(client.clone(), &plan.namespace)
            .create(
                &pp,
                &object(json!({
                    "metadata": {"name": REPO_LIST_CONFIG_MAP, "labels": labels},
                    "data": {REPO_LIST_FILE: yaml},
                })),
            )
            .await
            .map_err(api_err("creating the test repository list"))?;
    }
    Api::<Pod>::namespaced(client.clone(), &plan.namespace)
        .create(&pp, &pod_spec(plan))
        .await
        .map_err(api_err("creating the conformance pod"))?;
    Ok(())
}

/// Waits until the test container has started (running, or already ended), and says
/// which; at the deadline, why it has not: the container's waiting reason (an image
/// that cannot be pulled from the mirror, say) or why the pod is not scheduled.
async fn wait_started(
    pods: &Api<Pod>,
    deadline: Duration,
    stop: &(impl Fn() -> bool + Sync),
) -> Result<&'static str, SuiteError> {
    poll_until(
        "the conformance pod to start its test container (--startup-timeout)",
        deadline,
        Duration::from_millis(500),
        stop,
        || async {
            let pod = pods
                .get(POD)
                .await
                .map_err(api_err("reading the conformance pod"))?;
            let status = pod.status.unwrap_or_default();
            let state = test_container_state(&status);
            if state.terminated.is_some() {
                return Ok::<_, SuiteError>(Poll::Ready("had already ended"));
            }
            if state.running.is_some() {
                return Ok(Poll::Ready("started"));
            }
            let why = match (state.waiting, status.conditions.unwrap_or_default()) {
                (Some(w), _) => format!(
                    "{TEST_CONTAINER} waiting: {} {}",
                    w.reason.unwrap_or_default(),
                    w.message.unwrap_or_default()
                ),
                (None, conditions) => conditions
                    .into_iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status != "True")
                    .map(|c| format!("not scheduled: {}", c.message.unwrap_or_default()))
                    .unwrap_or_else(|| {
                        format!("pod {}", status.phase.unwrap_or_else(|| "Pending".into()))
                    }),
            };
            Ok(Poll::Pending(why.trim().to_string()))
        },
    )
    .await
    .map_err(waited)
}

/// The test container's state in `status` (empty before the kubelet reports it).
fn test_container_state(
    status: &k8s_openapi::api::core::v1::PodStatus,
) -> k8s_openapi::api::core::v1::ContainerState {
    status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == TEST_CONTAINER)
        .and_then(|c| c.state.clone())
        .unwrap_or_default()
}

/// The test container's state: `None` while it has not ended, else its exit code.
async fn terminated(pods: &Api<Pod>) -> Result<Option<i32>, SuiteError> {
    let pod = pods
        .get(POD)
        .await
        .map_err(api_err("reading the conformance pod"))?;
    let status = pod.status.unwrap_or_default();
    let code = test_container_state(&status)
        .terminated
        .map(|t| t.exit_code);
    if code.is_none() && status.phase.as_deref() == Some("Failed") {
        return Err(SuiteError::Pod(format!(
            "the conformance pod failed before its test container ran: {}",
            status.message.unwrap_or_default()
        )));
    }
    Ok(code)
}

/// Streams the test container's log into `path` and the build log. A stream can end
/// early (API server timeouts, dropped connections): then it reconnects and skips
/// what it already has — the log of one container instance only grows.
async fn follow_log(
    pods: &Api<Pod>,
    path: &Path,
    reporter: &crate::reporter::Reporter,
    progress_every: Duration,
) -> Result<(), SuiteError> {
    let mut file = std::fs::File::create(path).map_err(io_error(path))?;
    let mut progress =
        super::progress::ProgressReporter::new("conformance", reporter, progress_every);
    let mut received: usize = 0;
    let mut reconnects = 0;
    loop {
        let params = LogParams {
            container: Some(TEST_CONTAINER.into()),
            follow: true,
            ..Default::default()
        };
        let mut opened = false;
        let clean_end = match pods.log_stream(POD, &params).await {
            Ok(stream) => {
                opened = true;
                let mut lines = stream.lines();
                let mut position = 0usize;
                loop {
                    // kwok, and now and then a real kubelet, keep a follow stream open
                    // after the container ended: when nothing comes for a while, ask.
                    let next = match tokio::time::timeout(IDLE_CHECK, lines.try_next()).await {
                        Ok(next) => next,
                        Err(_idle) => {
                            if terminated(pods).await?.is_some() {
                                break true;
                            }
                            continue;
                        }
                    };
                    match next {
                        Ok(Some(line)) => {
                            let len = line.len() + 1;
                            if position + len > received {
                                file.write_all(line.as_bytes())
                                    .and_then(|_| file.write_all(b"\n"))
                                    .map_err(io_error(path))?;
                                if is_milestone(&line) {
                                    reporter.note(format!("  {line}"));
                                }
                                progress.feed(&line);
                                received = position + len;
                            }
                            position += len;
                        }
                        Ok(None) => break true,
                        Err(_) => break false,
                    }
                }
            }
            // Not started yet (ContainerCreating) or the API server is unreachable.
            Err(_) => false,
        };
        if clean_end && terminated(pods).await?.is_some() {
            return Ok(());
        }
        if opened {
            reconnects += 1;
        }
        if opened && reconnects % 10 == 1 {
            reporter.note(format!(
                "log stream ended early after {received} bytes; reconnecting"
            ));
        }
        tokio::time::sleep(Duration::from_millis(if received == 0 { 500 } else { 200 })).await;
    }
}

/// How long a followed log may be silent before trellis checks whether the test
/// container has ended (the stream is then read to its end, not cut).
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// Lines of ginkgo's output worth a place in the build log.
fn is_milestone(line: &str) -> bool {
    line.len() < 300
        && (line.starts_with("Ran ")
            || line.starts_with("SUCCESS!")
            || line.starts_with("FAIL!")
            || line.contains("[FAIL]")
            || line.contains("[FAILED]"))
}

/// `cat FILE` in the helper container, as Hydrophone copies results out.
async fn copy_out(pods: &Api<Pod>, file: &str) -> Result<Vec<u8>, SuiteError> {
    let params = AttachParams::default()
        .container(OUTPUT_CONTAINER)
        .stderr(true);
    let mut proc = pods
        .exec(POD, vec!["cat", file], &params)
        .await
        .map_err(api_err("exec into the output container"))?;
    let mut bytes = Vec::new();
    let mut err = String::new();
    let (stdout, stderr) = (proc.stdout(), proc.stderr());
    let read_out = async {
        match stdout {
            Some(mut s) => s.read_to_end(&mut bytes).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let read_err = async {
        match stderr {
            Some(mut s) => s.read_to_string(&mut err).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let (a, b) = tokio::join!(read_out, read_err);
    a.and(b)
        .map_err(|e| SuiteError::Pod(format!("reading {file} from the pod: {e}")))?;
    let status = match proc.take_status() {
        Some(s) => s.await,
        None => None,
    };
    let _ = proc.join().await;
    if let Some(s) = status.filter(|s| s.status.as_deref() == Some("Failure")) {
        return Err(SuiteError::Pod(format!(
            "cat {file} in {OUTPUT_CONTAINER} failed: {} {}",
            s.message.unwrap_or_default(),
            err.trim()
        )));
    }
    Ok(bytes)
}

/// Deletes what a run in `namespace` makes (the namespace, with the pod and the
/// ConfigMap in it, and the cluster role and binding) and waits until it is gone;
/// returns what was there to delete. Gets its own deadline and no stop flag: an
/// interrupted run must still clean up.
pub async fn cleanup(
    client: &Client,
    namespace: &str,
    deadline: Duration,
) -> Result<Vec<String>, SuiteError> {
    let dp = DeleteParams::background();
    // Deleted now (true) or already gone (false).
    let deleted = |r: Result<(), kube::Error>| match r {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    };
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let name = role_name(namespace);
    let mut removed = Vec::new();
    if deleted(bindings.delete(&name, &dp).await.map(|_| ()))
        .map_err(api_err("deleting the cluster role binding"))?
    {
        removed.push(format!("cluster role binding {name}"));
    }
    if deleted(roles.delete(&name, &dp).await.map(|_| ()))
        .map_err(api_err("deleting the cluster role"))?
    {
        removed.push(format!("cluster role {name}"));
    }
    if deleted(namespaces.delete(namespace, &dp).await.map(|_| ()))
        .map_err(api_err("deleting the namespace"))?
    {
        removed.push(format!("namespace {namespace} (and what was in it)"));
    }
    poll_until(
        &format!("namespace {namespace} and the conformance RBAC to be deleted"),
        deadline,
        Duration::from_millis(250),
        &trellis_wait::never,
        || async {
            let mut left = Vec::new();
            if namespaces
                .get_opt(namespace)
                .await
                .map_err(api_err("reading the namespace"))?
                .is_some()
            {
                left.push(format!("namespace {namespace}"));
            }
            if roles
                .get_opt(&name)
                .await
                .map_err(api_err("reading the cluster role"))?
                .is_some()
            {
                left.push(format!("cluster role {name}"));
            }
            if bindings
                .get_opt(&name)
                .await
                .map_err(api_err("reading the binding"))?
                .is_some()
            {
                left.push(format!("cluster role binding {name}"));
            }
            Ok::<_, SuiteError>(if left.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("still there: {}", left.join(", ")))
            })
        },
    )
    .await
    .map_err(waited)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_follows_the_server_version_without_build_metadata() {
        assert_eq!(image_for("v1.34.1"), "registry.k8s.io/conformance:v1.34.1");
        assert_eq!(
            image_for("v1.30.2+k3s1"),
            "registry.k8s.io/conformance:v1.30.2"
        );
    }

    #[test]
    fn parallel_runs_ask_ginkgo_for_processes() {
        let plan = Plan {
            namespace: "ns".into(),
            image: "img".into(),
            focus: "f".into(),
            skip: String::new(),
            parallel: 4,
            extra_args: vec![],
            extra_ginkgo_args: vec!["-v".into()],
            dry_run: true,
            deadline: Duration::from_secs(1),
            busybox: "busybox".into(),
            test_repo: Some("mirror.example.com/e2e".into()),
            test_repo_list: None,
            reattach: false,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            progress_every: super::super::progress::PROGRESS_EVERY,
        };
        let pod = serde_json::to_value(pod_spec(&plan)).unwrap();
        let env = &pod["spec"]["containers"][0]["env"];
        let value = |n: &str| {
            env.as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == n)
                .map(|e| e["value"].clone())
        };
        assert_eq!(value("E2E_PARALLEL"), Some("true".into()));
        assert_eq!(value("E2E_EXTRA_GINKGO_ARGS"), Some("-v --procs=4".into()));
        assert_eq!(
            value("KUBE_TEST_REPO"),
            Some("mirror.example.com/e2e".into())
        );
        assert_eq!(value("KUBE_TEST_REPO_LIST"), None);
        assert_eq!(value("E2E_DRYRUN"), Some("true".into()));
    }
}
