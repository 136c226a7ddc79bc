//! The mini-performance suite: ClusterLoader2's density/load shape in small, as SIG
//! Scalability's presubmit runs it before a PR merges. Namespaces and Deployments are
//! created (at the manifest's QPS), every pod waited for Running, the Deployments
//! scaled up and waited for again, then everything deleted and waited for — every
//! wait under a deadline. Measured, with ClusterLoader2's definitions and no
//! Prometheus:
//!
//! - pod startup latency per pod: created → scheduled → running → observed by the
//!   suite's watch, from the pods' own timestamps and conditions and the watch (the
//!   API's timestamps have one-second resolution; the watch has the client's clock);
//! - scheduling throughput: pods scheduled per second over the run;
//! - API call latency on the server, from two scrapes of `/metrics`
//!   ([`metrics`]), and on the client, from the suite's own calls;
//!
//! judged against SIG Scalability's SLOs as JUnit testcases (`junit_perf.xml`), and
//! written as PerfData JSON in ClusterLoader2's shape and file names ([`perfdata`]).

pub mod metrics;
pub mod perfdata;
pub mod quantity;

use super::verdict::{case, write_junit, Case};
use super::waited;
use super::{Manifest, SuiteContext, SuiteError, SuiteSummary};
use futures_util::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::Client;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trellis_wait::{poll_until, Poll};

/// The label every object of the suite carries (its pods are watched by it).
const PART_OF: &str = "app.kubernetes.io/part-of";
const PART_OF_VALUE: &str = "trellis-perf";

/// When one pod reached each stage (Unix seconds, fractional where known).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PodTimes {
    pub created: Option<f64>,
    pub scheduled: Option<f64>,
    pub running: Option<f64>,
    pub watched: Option<f64>,
}

/// p50 / p90 / p99 of one measurement, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub count: usize,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (ms), as ClusterLoader2's latency
    /// measurements take them.
    pub fn of(mut values: Vec<f64>) -> Percentiles {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if values.is_empty() {
                return 0.0;
            }
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1]
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            count: values.len(),
        }
    }
}

fn api_err(what: &'static str) -> impl Fn(kube::Error) -> SuiteError {
    move |source| SuiteError::Api {
        what: what.into(),
        source,
    }
}

/// The client-side record: every call the suite made, by (verb, resource), in ms.
#[derive(Default)]
struct ClientCalls(Mutex<HashMap<(String, String), Vec<f64>>>);

impl ClientCalls {
    async fn time<T, F: std::future::Future<Output = T>>(
        &self,
        verb: &str,
        resource: &str,
        f: F,
    ) -> T {
        let start = Instant::now();
        let out = f.await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut calls) = self.0.lock() {
            calls
                .entry((verb.to_string(), resource.to_string()))
                .or_default()
                .push(ms);
        }
        out
    }
}

pub fn run(m: &Manifest, ctx: &SuiteContext) -> Result<SuiteSummary, SuiteError> {
    let settings = m.perf.resolved().map_err(|reason| SuiteError::Manifest {
        path: m.path.clone(),
        reason,
    })?;
    let rt = crate::cluster::access::runtime()?;
    let client = rt.block_on(ctx.access.client())?;
    let started = Instant::now();
    let stop = || ctx.interrupt.is_set();
    rt.block_on(check_capacity(&client, &settings))?;
    let before = rt.block_on(scrape(&client));
    let times: Arc<Mutex<HashMap<String, PodTimes>>> = Arc::default();
    let watch = rt.spawn(watch_pods(client.clone(), times.clone()));
    // Fault injection: every pod held at a scheduling gate for the delay asked for.
    let gate = settings
        .inject_start_delay
        .map(|delay| rt.spawn(release_gates(client.clone(), delay)));
    let calls = ClientCalls::default();
    ctx.reporter.note(format!(
        "{}: {} namespaces × {} Deployments × {} pods, then scaled to {}; {} QPS",
        m.name,
        settings.namespaces,
        settings.deployments,
        settings.replicas,
        settings.scale_to,
        settings.qps
    ));
    let load_started = Instant::now();
    let loaded = rt.block_on(async {
        if let Some(delay) = settings.inject_start_delay {
            ctx.reporter.note(format!(
                "  injected: every pod held at scheduling gate {DELAY_GATE} for {:.1} s",
                delay.as_secs_f64()
            ));
        }
        create(&client, &settings, &calls).await?;
        let want = settings.namespaces * settings.deployments * settings.replicas;
        wait_running(&client, want, settings.wait_timeout, &stop).await?;
        ctx.reporter.note(format!(
            "  {want} pods Running after {:.1} s",
            load_started.elapsed().as_secs_f64()
        ));
        scale(&client, &settings, &calls).await?;
        let want = settings.namespaces * settings.deployments * settings.scale_to;
        wait_running(&client, want, settings.wait_timeout, &stop).await?;
        ctx.reporter.note(format!(
            "  scaled: {want} pods Running after {:.1} s",
            load_started.elapsed().as_secs_f64()
        ));
        Ok::<_, SuiteError>(())
    });
    let load_took = load_started.elapsed();
    // Read before deleting: the pods' own timestamps.
    let pods = rt.block_on(pod_times(&client, &times));
    let after = rt.block_on(scrape(&client));
    watch.abort();
    if let Some(gate) = gate {
        gate.abort();
    }
    // Whatever happened, everything created goes.
    let deleted = rt.block_on(delete_all(&client, &settings, &calls));
    let server = match (&before, &after) {
        (Ok(b), Ok(a)) => Some(metrics::diff(b, a)),
        _ => None,
    };
    let startup = startup_percentiles(&pods);
    let scheduled: Vec<f64> = pods.iter().filter_map(|p| p.scheduled).collect();
    let throughput = throughput(&scheduled);
    let client_calls: Vec<((String, String), Percentiles)> = calls
        .0
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Percentiles::of(v)))
        .collect();
    let total_calls: usize = client_calls.iter().map(|(_, p)| p.count).sum();
    let client_qps = total_calls as f64 / load_took.as_secs_f64().max(1e-9);
    let partial = loaded.is_err();
    perfdata::write_all(
        ctx.artifacts,
        &m.name,
        &startup,
        server.as_ref(),
        throughput,
        &client_calls,
        partial,
    )
    .map_err(super::io_error(ctx.artifacts))?;
    let mut cases = verdict(
        &startup,
        server.as_ref(),
        &client_calls,
        settings.pod_startup_slo,
        partial,
    );
    if let Err(e) = &before {
        ctx.reporter.note(format!(
            "  /metrics could not be read ({e}): API latency from the suite's own calls only"
        ));
    }
    for (key, p) in client_calls.iter().filter(|(_, p)| p.count > 0) {
        ctx.reporter.note(format!(
            "  client {} {}: {} calls, p50 {:.0} ms, p99 {:.0} ms",
            key.0, key.1, p.count, p.p50, p.p99
        ));
    }
    ctx.reporter.note(format!(
        "  pod startup p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms over {} pods; scheduling {:.1} pods/s; client {:.1} QPS ({} calls)",
        startup.pod_startup.p50,
        startup.pod_startup.p90,
        startup.pod_startup.p99,
        startup.pod_startup.count,
        throughput,
        client_qps,
        total_calls
    ));
    if let Err(e) = &deleted {
        cases.push(case(
            "[sig-scalability] everything the suite created should be deleted",
            Some(e.to_string()),
        ));
    }
    let junit = ctx.artifacts.join(format!("junit_{}.xml", m.name));
    write_junit(&junit, &m.name, &cases, started.elapsed())?;
    loaded?;
    deleted?;
    Ok(super::verdict::summarise(
        &m.name,
        &cases,
        &format!("pod startup p99 {:.0} ms", startup.pod_startup.p99),
        ctx.reporter,
    ))
}

/// The suite's settings, defaulted and parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub namespaces: usize,
    pub deployments: usize,
    pub replicas: usize,
    pub scale_to: usize,
    pub qps: f64,
    pub wait_timeout: Duration,
    pub pod_startup_slo: Duration,
    /// Fault injection: hold every pod at a scheduling gate this long (to show the
    /// measurements and the SLO see a slowdown).
    pub inject_start_delay: Option<Duration>,
}

/// Refuses a load the nodes cannot hold before creating anything: no schedulable
/// node, or more pods than their allocatable `pods` (read as exact quantities).
async fn check_capacity(client: &Client, s: &Settings) -> Result<(), SuiteError> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(api_err("listing nodes"))?;
    let mut capacity = bigdecimal::BigDecimal::from(0);
    let mut schedulable = 0;
    for n in &nodes.items {
        let spec = n.spec.clone().unwrap_or_default();
        let status = n.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if spec.unschedulable == Some(true) || !ready {
            continue;
        }
        schedulable += 1;
        if let Some(pods) = status.allocatable.as_ref().and_then(|a| a.get("pods")) {
            capacity += quantity::parse(&pods.0).map_err(|reason| SuiteError::Perf {
                reason: format!(
                    "node {}: allocatable pods: {reason}",
                    n.metadata.name.clone().unwrap_or_default()
                ),
            })?;
        }
    }
    if schedulable == 0 {
        return Err(SuiteError::Perf {
            reason: format!(
                "no schedulable node: {} node(s), none Ready and schedulable",
                nodes.items.len()
            ),
        });
    }
    let wanted = s.namespaces * s.deployments * s.replicas.max(s.scale_to);
    if capacity < wanted as u64 {
        return Err(SuiteError::Perf {
            reason: format!(
                "the load asks for {wanted} pods and the {schedulable} schedulable node(s) allow {capacity}"
            ),
        });
    }
    Ok(())
}

/// kube-apiserver's `/metrics`, parsed.
async fn scrape(client: &Client) -> Result<metrics::Scrape, String> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(metrics::parse(&text))
}

/// Records when the suite's watch first saw each of its pods Running (watching
/// again when the stream ends; the task is aborted when the load is over).
async fn watch_pods(client: Client, times: Arc<Mutex<HashMap<String, PodTimes>>>) {
    let pods: Api<Pod> = Api::all(client);
    let params = WatchParams::default().labels(&format!("{PART_OF}={PART_OF_VALUE}"));
    loop {
        let Ok(stream) = pods.watch(&params, "0").await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut stream = std::pin::pin!(stream);
        while let Ok(Some(event)) = stream.try_next().await {
            let (WatchEvent::Added(p) | WatchEvent::Modified(p)) = event else {
                continue;
            };
            let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if let (true, Some(uid)) = (running, p.metadata.uid.clone()) {
                let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
                if let Ok(mut t) = times.lock() {
                    t.entry(uid).or_default().watched.get_or_insert(now);
                }
            }
        }
    }
}

fn namespace(i: usize) -> String {
    format!("trellis-perf-{i}")
}

/// Sleeps so calls go out at no more than `qps` a second.
async fn pace(next: &mut Instant, qps: f64) {
    let now = Instant::now();
    if *next > now {
        tokio::time::sleep(*next - now).await;
    }
    *next = Instant::now().max(*next) + Duration::from_secs_f64(1.0 / qps);
}

async fn create(client: &Client, s: &Settings, calls: &ClientCalls) -> Result<(), SuiteError> {
    let pp = PostParams::default();
    let labels = json!({PART_OF: PART_OF_VALUE, "app.kubernetes.io/managed-by": "trellis"});
    let mut next = Instant::now();
    for i in 0..s.namespaces {
        let ns = namespace(i);
        pace(&mut next, s.qps).await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let object: Namespace =
            serde_json::from_value(json!({"metadata": {"name": ns, "labels": labels}}))
                .expect("a Namespace literal");
        calls
            .time("POST", "namespaces", namespaces.create(&pp, &object))
            .await
            .map_err(api_err("creating a namespace"))?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        for d in 0..s.deployments {
            pace(&mut next, s.qps).await;
            calls
                .time(
                    "POST",
                    "deployments",
                    deployments.create(
                        &pp,
                        &deployment(d, s.replicas, s.inject_start_delay.is_some()),
                    ),
                )
                .await
                .map_err(api_err("creating a Deployment"))?;
        }
    }
    Ok(())
}

/// The scheduling gate the injected start delay holds pods at.
const DELAY_GATE: &str = "trellis.dev/perf-start-delay";

/// Removes [`DELAY_GATE`] from each of the suite's pods `delay` after the suite first
/// saw it: a real slowdown the scheduler, not the suite's arithmetic, imposes (polls
/// every 100 ms; aborted when the load is over).
async fn release_gates(client: Client, delay: Duration) {
    let pods: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{PART_OF}={PART_OF_VALUE}"));
    let mut first_seen: HashMap<String, Instant> = HashMap::new();
    loop {
        if let Ok(list) = pods.list(&lp).await {
            for p in list.items {
                let gated = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.scheduling_gates.as_ref())
                    .is_some_and(|g| g.iter().any(|g| g.name == DELAY_GATE));
                let (Some(uid), Some(name), Some(ns)) = (
                    p.metadata.uid.clone(),
                    p.metadata.name.clone(),
                    p.metadata.namespace.clone(),
                ) else {
                    continue;
                };
                let seen = *first_seen.entry(uid).or_insert_with(Instant::now);
                if gated && seen.elapsed() >= delay {
                    let patch = json!({"spec": {"schedulingGates": null}});
                    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                    let _ = api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Deployment of `replicas` pause pods with small requests, tolerating every taint
/// (simulated nodes are often tainted).
fn deployment(index: usize, replicas: usize, gated: bool) -> Deployment {
    let name = format!("load-{index}");
    let gates = if gated {
        json!([{"name": DELAY_GATE}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {PART_OF: PART_OF_VALUE}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, PART_OF: PART_OF_VALUE}},
                "spec": {
                    "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                    "tolerations": [{"operator": "Exists"}],
                    "schedulingGates": gates,
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
    }))
    .expect("a Deployment literal")
}

async fn scale(client: &Client, s: &Settings, calls: &ClientCalls) -> Result<(), SuiteError> {
    let mut next = Instant::now();
    for i in 0..s.namespaces {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace(i));
        for d in 0..s.deployments {
            pace(&mut next, s.qps).await;
            let patch = json!({"spec": {"replicas": s.scale_to}});
            calls
                .time(
                    "PATCH",
                    "deployments",
                    deployments.patch(
                        &format!("load-{d}"),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    ),
                )
                .await
                .map_err(api_err("scaling a Deployment"))?;
        }
    }
    Ok(())
}

/// Waits until `want` of the suite's pods are Running.
async fn wait_running(
    client: &Client,
    want: usize,
    deadline: Duration,
    stop: &(impl Fn() -> bool + Sync),
) -> Result<(), SuiteError> {
    let pods: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{PART_OF}={PART_OF_VALUE}"));
    poll_until(
        &format!("{want} pods to be Running"),
        deadline,
        Duration::from_millis(500),
        stop,
        || async {
            let list = pods.list(&lp).await.map_err(api_err("listing the pods"))?;
            let running = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            Ok::<_, SuiteError>(if running >= want {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{running} Running"))
            })
        },
    )
    .await
    .map_err(waited)
}

/// Each pod's stages: created and scheduled from the API's own timestamps, running
/// from its container's start, watched from the suite's watch.
async fn pod_times(client: &Client, watched: &Mutex<HashMap<String, PodTimes>>) -> Vec<PodTimes> {
    let pods: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{PART_OF}={PART_OF_VALUE}"));
    let Ok(list) = pods.list(&lp).await else {
        return Vec::new();
    };
    let seconds = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time| {
        t.0.as_microsecond() as f64 / 1e6
    };
    let watched = watched.lock().map(|w| w.clone()).unwrap_or_default();
    list.items
        .iter()
        .map(|p| {
            let status = p.status.clone().unwrap_or_default();
            let scheduled = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "True")
                .and_then(|c| c.last_transition_time)
                .map(|t| seconds(&t));
            let running = status
                .container_statuses
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
                .map(seconds)
                .reduce(f64::max);
            PodTimes {
                created: p.metadata.creation_timestamp.as_ref().map(seconds),
                scheduled,
                running,
                watched: p
                    .metadata
                    .uid
                    .as_ref()
                    .and_then(|u| watched.get(u))
                    .and_then(|t| t.watched),
            }
        })
        .collect()
}

/// ClusterLoader2's PodStartupLatency parts, in ms.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Startup {
    /// created → observed running by the watch: the SLO's figure.
    pub pod_startup: Percentiles,
    pub create_to_schedule: Percentiles,
    pub schedule_to_run: Percentiles,
    pub run_to_watch: Percentiles,
}

pub fn startup_percentiles(pods: &[PodTimes]) -> Startup {
    let span = |from: fn(&PodTimes) -> Option<f64>, to: fn(&PodTimes) -> Option<f64>| {
        Percentiles::of(
            pods.iter()
                .filter_map(|p| Some((to(p)? - from(p)?).max(0.0) * 1000.0))
                .collect(),
        )
    };
    Startup {
        pod_startup: span(|p| p.created, |p| p.watched),
        create_to_schedule: span(|p| p.created, |p| p.scheduled),
        schedule_to_run: span(|p| p.scheduled, |p| p.running),
        run_to_watch: span(|p| p.running, |p| p.watched),
    }
}

/// Pods scheduled per second, from the first scheduling to the last (the API's
/// one-second timestamps, so at least one second).
pub fn throughput(scheduled: &[f64]) -> f64 {
    let (Some(first), Some(last)) = (
        scheduled.iter().copied().reduce(f64::min),
        scheduled.iter().copied().reduce(f64::max),
    ) else {
        return 0.0;
    };
    scheduled.len() as f64 / (last - first).max(1.0)
}

async fn delete_all(client: &Client, s: &Settings, calls: &ClientCalls) -> Result<(), SuiteError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for i in 0..s.namespaces {
        let r = calls
            .time(
                "DELETE",
                "namespaces",
                namespaces.delete(&namespace(i), &DeleteParams::background()),
            )
            .await;
        match r {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(api_err("deleting a namespace")(e)),
        }
    }
    poll_until(
        "the suite's namespaces to be deleted",
        s.wait_timeout,
        Duration::from_millis(500),
        &trellis_wait::never,
        || async {
            let mut left = 0;
            for i in 0..s.namespaces {
                if namespaces
                    .get_opt(&namespace(i))
                    .await
                    .map_err(api_err("reading a namespace"))?
                    .is_some()
                {
                    left += 1;
                }
            }
            Ok::<_, SuiteError>(if left == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{left} left"))
            })
        },
    )
    .await
    .map_err(waited)
}

/// The SLOs as testcases, each failure message with the figure.
fn verdict(
    startup: &Startup,
    server: Option<&std::collections::BTreeMap<metrics::CallKey, metrics::Buckets>>,
    client: &[((String, String), Percentiles)],
    pod_slo: Duration,
    partial: bool,
) -> Vec<Case> {
    let mut cases = Vec::new();
    let p99 = startup.pod_startup.p99;
    let limit = pod_slo.as_secs_f64() * 1000.0;
    cases.push(case(
        format!(
            "[sig-scalability] pod startup latency p99 should be within {} s",
            pod_slo.as_secs_f64()
        ),
        if startup.pod_startup.count == 0 {
            Some("no pod was seen running: nothing to measure".into())
        } else if partial {
            Some(format!(
                "the load did not finish (measurements so far: p99 {p99:.0} ms over {} pods)",
                startup.pod_startup.count
            ))
        } else {
            (p99 > limit).then(|| {
                format!(
                    "p99 {p99:.0} ms over {} pods > {limit:.0} ms (p50 {:.0} ms, p90 {:.0} ms)",
                    startup.pod_startup.count, startup.pod_startup.p50, startup.pod_startup.p90
                )
            })
        },
    ));
    if let Some(calls) = server {
        for (key, b) in calls {
            let p99 = b.quantile(0.99);
            let slo = metrics::slo(key);
            let sub = if key.subresource.is_empty() {
                String::new()
            } else {
                format!("/{}", key.subresource)
            };
            cases.push(case(
                format!(
                    "[sig-scalability] API call latency {} {}{sub} ({} scope) p99 should be within {} s",
                    key.verb, key.resource, key.scope, slo.as_secs()
                ),
                (p99 > slo.as_secs_f64()).then(|| {
                    format!("p99 {:.0} ms over {} calls > {} s", p99 * 1000.0, b.count(), slo.as_secs())
                }),
            ));
        }
    } else {
        // /metrics could not be read: the suite's own calls, judged by the same SLO
        // (every call it makes is mutating), and named as client-side figures.
        for ((verb, resource), p) in client.iter().filter(|(_, p)| p.count > 0) {
            let slo = crate::model::api_call_slo(verb, "namespace");
            cases.push(case(
                format!(
                    "[sig-scalability] API call latency {verb} {resource} (client side) p99 should be within {} s",
                    slo.as_secs()
                ),
                (p.p99 > slo.as_secs_f64() * 1000.0).then(|| {
                    format!("p99 {:.0} ms over {} calls > {} s (measured by the suite: /metrics was not readable)", p.p99, p.count, slo.as_secs())
                }),
            ));
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p90, p.p99, p.count), (50.0, 90.0, 99.0, 100));
        let one = Percentiles::of(vec![7.0]);
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert_eq!(Percentiles::of(vec![]).count, 0);
    }

    #[test]
    fn startup_parts_and_throughput() {
        let pod = |c: f64, s: f64, r: f64, w: f64| PodTimes {
            created: Some(c),
            scheduled: Some(s),
            running: Some(r),
            watched: Some(w),
        };
        let pods = vec![pod(10.0, 10.0, 11.0, 11.2), pod(10.0, 11.0, 12.0, 12.5)];
        let s = startup_percentiles(&pods);
        assert_eq!(s.pod_startup.p99, 2500.0);
        assert_eq!(s.create_to_schedule.p50, 0.0);
        assert_eq!(throughput(&[10.0, 11.0, 12.0]), 1.5);
        assert_eq!(throughput(&[10.0]), 1.0);
        // A pod over the SLO fails its testcase, with the figure.
        let cases = verdict(&s, None, &[], Duration::from_secs(2), false);
        assert!(cases[0]
            .failure
            .as_deref()
            .unwrap()
            .starts_with("p99 2500 ms over 2 pods > 2000 ms"));
        assert!(verdict(&s, None, &[], Duration::from_secs(5), false)[0]
            .failure
            .is_none());
        // Without /metrics, the suite's own calls are judged, named as client side.
        let slow_post = (
            ("POST".to_string(), "deployments".to_string()),
            Percentiles::of(vec![1500.0; 3]),
        );
        let cases = verdict(&s, None, &[slow_post], Duration::from_secs(5), false);
        assert_eq!(
            cases[1].name,
            "[sig-scalability] API call latency POST deployments (client side) p99 should be within 1 s"
        );
        assert!(cases[1]
            .failure
            .as_deref()
            .unwrap()
            .starts_with("p99 1500 ms over 3 calls > 1 s"));
    }
}
