//! Workloads: a Deployment rolling out a new template, a Service whose EndpointSlice
//! lists the ready pods, DNS from inside a pod, and pod logs and exec.

use super::support::{check, err, object, simulated_nodes, skip, wait_for, TestResult};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{AttachParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::io::AsyncReadExt;

const PAUSE_OLD: &str = "registry.k8s.io/pause:3.9";
const PAUSE_NEW: &str = "registry.k8s.io/pause:3.10";
const BUSYBOX: &str = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1";

fn deployment(name: &str, replicas: i32, image: &str) -> Result<Deployment, String> {
    object(
        "the Deployment",
        json!({
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": image}]},
                },
            },
        }),
    )
}

/// Waits until every replica runs the current template and is ready.
async fn rolled_out(api: &Api<Deployment>, name: &str) -> TestResult {
    wait_for(&format!("deployment {name} to roll out"), || async {
        let d = api.get(name).await.map_err(err("reading the Deployment"))?;
        let want = d.spec.replicas.unwrap_or(1);
        let generation = d.metadata.generation.unwrap_or(0);
        let Some(s) = d.status else { return Ok(None) };
        let done = s.observed_generation.unwrap_or(0) >= generation
            && s.updated_replicas.unwrap_or(0) == want
            && s.ready_replicas.unwrap_or(0) == want
            && s.replicas.unwrap_or(0) == want;
        Ok(done.then_some(()))
    })
    .await
}

pub async fn deployment_rollout(client: Client, ns: String) -> TestResult {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &deployment("web", 2, PAUSE_OLD)?)
        .await
        .map_err(err("creating the Deployment"))?;
    rolled_out(&api, "web").await?;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": PAUSE_NEW}]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .map_err(err("patching the Deployment's image"))?;
    rolled_out(&api, "web").await?;
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    let images = wait_for("old pods to go", || async {
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .map_err(err("listing pods"))?;
        let live: Vec<String> = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .flat_map(|p| {
                p.spec
                    .iter()
                    .flat_map(|s| s.containers.iter().filter_map(|c| c.image.clone()))
            })
            .collect();
        Ok((live.len() == 2).then_some(live))
    })
    .await?;
    check(images.iter().all(|i| i == PAUSE_NEW), || {
        format!("pods after the rollout run {images:?}")
    })
}

pub async fn service_endpoints(client: Client, ns: String) -> TestResult {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("echo", 2, PAUSE_NEW)?)
        .await
        .map_err(err("creating the backing Deployment"))?;
    let svc: Service = object(
        "the Service",
        json!({
            "metadata": {"name": "echo"},
            "spec": {"selector": {"app": "echo"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        }),
    )?;
    let created = Api::<Service>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &svc)
        .await
        .map_err(err("creating the Service"))?;
    let ip = created.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
    check(!ip.is_empty() && ip != "None", || {
        "the Service got no cluster IP".into()
    })?;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    wait_for(
        "the Service's EndpointSlice to list both ready pods",
        || async {
            let lp = ListParams::default().labels("kubernetes.io/service-name=echo");
            let ready: Vec<String> = slices
                .list(&lp)
                .await
                .map_err(err("listing EndpointSlices"))?
                .items
                .into_iter()
                .flat_map(|s| s.endpoints.into_iter().flatten())
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
                .flat_map(|e| e.addresses)
                .collect();
            let pod_ips: Vec<String> = pods
                .list(&ListParams::default().labels("app=echo"))
                .await
                .map_err(err("listing pods"))?
                .items
                .into_iter()
                .filter_map(|p| p.status.and_then(|s| s.pod_ip))
                .collect();
            let complete = ready.len() == 2 && pod_ips.iter().all(|ip| ready.contains(ip));
            Ok(complete.then_some(()))
        },
    )
    .await
}

fn busybox_pod(name: &str, script: &str, restart: &str) -> Result<Pod, String> {
    object(
        &format!("pod {name}"),
        json!({
            "metadata": {"name": name},
            "spec": {
                "restartPolicy": restart,
                "containers": [{"name": "main", "image": BUSYBOX, "command": ["sh", "-c", script]}],
            },
        }),
    )
}

async fn wait_phase(pods: &Api<Pod>, name: &str, phases: &[&str]) -> Result<String, String> {
    wait_for(&format!("pod {name} to reach {phases:?}"), || async {
        let p = pods.get(name).await.map_err(err("reading the pod"))?;
        let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        Ok(phases.contains(&phase.as_str()).then_some(phase))
    })
    .await
}

pub async fn dns_from_pod(client: Client, ns: String) -> TestResult {
    if simulated_nodes(&client).await? {
        return skip("needs a real kubelet and cluster DNS: the nodes are kwok-simulated and no container runs");
    }
    let kubernetes = Api::<Service>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .map_err(err("reading the kubernetes Service"))?;
    let ip = kubernetes
        .spec
        .and_then(|s| s.cluster_ip)
        .unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    pods.create(
        &PostParams::default(),
        &busybox_pod(
            "dns",
            "nslookup kubernetes.default.svc.cluster.local",
            "Never",
        )?,
    )
    .await
    .map_err(err("creating the DNS pod"))?;
    let phase = wait_phase(&pods, "dns", &["Succeeded", "Failed"]).await?;
    let log = pods
        .logs("dns", &LogParams::default())
        .await
        .map_err(err("reading the DNS pod's log"))?;
    check(phase == "Succeeded" && log.contains(&ip), || {
        format!("nslookup of kubernetes.default ended {phase} without the Service IP {ip}:\n{log}")
    })
}

async fn exec(
    pods: &Api<Pod>,
    name: &str,
    argv: &[&str],
) -> Result<(String, Option<String>), String> {
    let mut proc = pods
        .exec(name, argv.to_vec(), &AttachParams::default().stderr(false))
        .await
        .map_err(err("starting exec"))?;
    let mut out = String::new();
    if let Some(mut stdout) = proc.stdout() {
        stdout
            .read_to_string(&mut out)
            .await
            .map_err(|e| format!("reading exec output: {e}"))?;
    }
    let status = match proc.take_status() {
        Some(s) => s.await,
        None => None,
    };
    let failure = status
        .filter(|s| s.status.as_deref() == Some("Failure"))
        .map(|s| {
            s.details
                .and_then(|d| d.causes)
                .into_iter()
                .flatten()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
                .and_then(|c| c.message)
                .unwrap_or_else(|| s.message.unwrap_or_default())
        });
    proc.join()
        .await
        .map_err(|e| format!("finishing exec: {e}"))?;
    Ok((out, failure))
}

pub async fn logs_and_exec(client: Client, ns: String) -> TestResult {
    if simulated_nodes(&client).await? {
        return skip("needs a real container: on kwok-simulated nodes a pod's log is a fixed file and exec runs on the host");
    }
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    pods.create(
        &PostParams::default(),
        &busybox_pod(
            "chatty",
            "echo trellis-smoke-hello; sleep infinity",
            "Always",
        )?,
    )
    .await
    .map_err(err("creating the pod"))?;
    wait_phase(&pods, "chatty", &["Running"]).await?;
    wait_for("the pod's log line", || async {
        let log = pods
            .logs("chatty", &LogParams::default())
            .await
            .map_err(err("reading logs"))?;
        Ok(log.contains("trellis-smoke-hello").then_some(()))
    })
    .await?;
    let (out, failure) = exec(&pods, "chatty", &["hostname"]).await?;
    check(out.trim() == "chatty" && failure.is_none(), || {
        format!("exec hostname gave {out:?} ({failure:?})")
    })?;
    let (_, failure) = exec(&pods, "chatty", &["sh", "-c", "exit 3"]).await?;
    check(failure.as_deref() == Some("3"), || {
        format!("exec of `exit 3` reported {failure:?}")
    })
}
