//! The upgrade suite: the control plane upgraded component by component, in the
//! version-skew policy's order (every kube-apiserver, then kube-controller-manager,
//! then kube-scheduler), while the [`monitor`] samples the API throughout; the
//! [`disruption`] each backend saw, judged against its budget, plus the checks an
//! upgrade must pass, as JUnit (`junit_upgrade.xml`) and the samples as JSON
//! (`upgrade-monitor.json`).
//!
//! It needs a control plane trellis runs ([`Upgradable`]): today the `local`
//! provider, from `--cluster local:vX.Y.Z` to `--upgrade-to vX.Y+1.Z`. On any other
//! cluster, `--probe-only --duration D` runs the monitor and the checks for D while
//! the cluster is upgraded another way.

pub mod disruption;
pub mod monitor;

use super::manifest::UpgradeTimes;
use super::verdict::{case, write_junit, Case};
use super::{Manifest, SuiteContext, SuiteError, SuiteSummary};
use crate::cluster::provider::{Upgradable, UpgradeStep};
use crate::interrupt::Interrupt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::Client;
use serde_json::json;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const CRD: &str = "widgets.upgrade.trellis.dev";

/// `vMAJOR.MINOR.PATCH` as numbers.
fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.strip_prefix('v')?.split(['.', '-', '+']);
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

/// Refuses what the version-skew policy does not allow: a downgrade, the same
/// version, or a jump of more than one minor version.
pub fn check_skew(from: &str, to: &str) -> Result<(), String> {
    let (Some(f), Some(t)) = (parse_version(from), parse_version(to)) else {
        return Err(format!("`{from}` → `{to}`: versions look like v1.37.2"));
    };
    let policy = "the version-skew policy upgrades the control plane one minor version at a time (kubernetes.io/releases/version-skew-policy)";
    if t <= f {
        return Err(format!("{from} → {to} is not an upgrade: {policy}"));
    }
    if t.0 != f.0 || t.1 > f.1 + 1 {
        return Err(format!("{from} → {to} skips a minor version: {policy}"));
    }
    Ok(())
}

fn api_err(what: &'static str) -> impl Fn(kube::Error) -> SuiteError {
    move |source| SuiteError::Api {
        what: what.into(),
        source,
    }
}

pub fn run(
    m: &Manifest,
    ctx: &SuiteContext,
    control_plane: Option<&mut dyn Upgradable>,
) -> Result<SuiteSummary, SuiteError> {
    let bad = |reason: String| SuiteError::Manifest {
        path: m.path.clone(),
        reason,
    };
    let times = m.upgrade.times().map_err(bad)?;
    if let Some(duration) = ctx.overrides.probe_for {
        return probe(m, ctx, &times, duration);
    }
    let Some(cp) = control_plane else {
        return Err(bad(
            "the upgrade suite needs a control plane trellis runs (--cluster local:VERSION), \
             or --probe-only --duration D to measure an upgrade done another way"
                .into(),
        ));
    };
    let Some(to) = ctx.overrides.upgrade_to.clone() else {
        return Err(bad("the upgrade suite needs --upgrade-to VERSION".into()));
    };
    let from = cp.version();
    check_skew(&from, &to).map_err(bad)?;
    let rt = crate::cluster::access::runtime()?;
    let client = rt.block_on(ctx.access.client())?;
    rt.block_on(create_objects(&client))?;
    let monitor = start_monitor(m, &cp.endpoint()?, &times)?;
    // Said once the monitor runs: whatever happens from here is measured.
    ctx.reporter.note(format!(
        "{}: {from} → {to}, sampling every {:?}; baseline {:?}, {:?} after each step",
        m.name, times.sample_interval, times.baseline_soak, times.step_soak
    ));
    let started = Instant::now();
    let mut steps: Vec<(UpgradeStep, f64)> = Vec::new();
    let upgraded = (|| -> Result<(), SuiteError> {
        soak(times.baseline_soak, ctx.interrupt)?;
        for component in cp.upgrade_order() {
            let at = started.elapsed().as_secs_f64();
            let step = cp.upgrade(&component, &to, ctx.interrupt)?;
            ctx.reporter.note(format!(
                "  upgraded {component} {} → {} at {at:.1} s: old process gone after {:.1} s, new one ready after {:.1} s",
                step.from, step.to, step.stopped_after, step.ready_after
            ));
            steps.push((step, at));
            soak(times.step_soak, ctx.interrupt)?;
        }
        Ok(())
    })();
    let record = monitor.stop();
    let summaries = summarise(&record);
    write_json(ctx, &m.name, &record, &steps, &summaries)?;
    upgraded?;

    let mut cases = availability_cases(&record, &summaries, &times);
    let version = rt.block_on(server_version(&client))?;
    cases.push(version_case(&version, &to));
    let order: Vec<String> = steps.iter().map(|(s, _)| s.component.clone()).collect();
    cases.push(case(
        "[sig-cluster-lifecycle] every control-plane component should be upgraded in the version-skew policy's order",
        order_problem(&order, &steps, &to),
    ));
    cases.extend(rt.block_on(cluster_cases(&client)));
    finish(
        m,
        ctx,
        &cases,
        &summaries,
        started,
        &format!("upgraded {from} → {to}"),
    )
}

/// `--probe-only --duration D`: the monitor and the checks on a cluster someone else
/// upgrades (a vendor's own tooling, an OKD-style rollout) while trellis measures,
/// for D. With `--upgrade-to`, the server must report that version at the end.
fn probe(
    m: &Manifest,
    ctx: &SuiteContext,
    times: &UpgradeTimes,
    duration: Duration,
) -> Result<SuiteSummary, SuiteError> {
    let rt = crate::cluster::access::runtime()?;
    let client = rt.block_on(ctx.access.client())?;
    let endpoint = rt.block_on(ctx.access.endpoint())?;
    let from = rt.block_on(server_version(&client))?;
    rt.block_on(create_objects(&client))?;
    let monitor = start_monitor(m, &endpoint, times)?;
    ctx.reporter.note(format!(
        "{}: probing {} ({from}) for {:?}, sampling every {:?}: upgrade the cluster your own way now",
        m.name, endpoint.server, duration, times.sample_interval
    ));
    let started = Instant::now();
    let probed = soak(duration, ctx.interrupt);
    let record = monitor.stop();
    let summaries = summarise(&record);
    write_json(ctx, &m.name, &record, &[], &summaries)?;
    if let Err(e) = probed {
        // Not our cluster: what the suite made goes, whatever happened.
        rt.block_on(remove_objects(&client));
        return Err(e);
    }
    let mut cases = availability_cases(&record, &summaries, times);
    let after = rt.block_on(server_version(&client))?;
    if let Some(to) = &ctx.overrides.upgrade_to {
        cases.push(version_case(&after, to));
    }
    cases.extend(rt.block_on(cluster_cases(&client)));
    finish(
        m,
        ctx,
        &cases,
        &summaries,
        started,
        &format!("probed for {:?}: {from} → {after}", duration),
    )
}

fn start_monitor(
    m: &Manifest,
    endpoint: &crate::cluster::provider::Endpoint,
    times: &UpgradeTimes,
) -> Result<monitor::Monitor, SuiteError> {
    monitor::Monitor::start(endpoint, times.sample_interval, times.sample_timeout).map_err(|e| {
        SuiteError::Manifest {
            path: m.path.clone(),
            reason: e.to_string(),
        }
    })
}

/// Each backend's disruption, from its samples.
fn summarise(record: &monitor::Record) -> Vec<(String, disruption::Summary)> {
    monitor::BACKENDS
        .iter()
        .map(|b| {
            let samples = record.samples.get(*b).map(Vec::as_slice).unwrap_or(&[]);
            let interval = Duration::from_secs_f64(record.interval);
            (
                b.to_string(),
                disruption::summarise(samples, interval, record.duration),
            )
        })
        .collect()
}

/// One testcase per backend against its budget, and the watch's.
fn availability_cases(
    record: &monitor::Record,
    summaries: &[(String, disruption::Summary)],
    times: &UpgradeTimes,
) -> Vec<Case> {
    let mut cases: Vec<Case> = summaries
        .iter()
        .map(|(backend, s)| disruption_case(backend, s, times.budget(backend)))
        .collect();
    let lost = record.watch.lost();
    cases.push(case(
        "[sig-api-machinery] disruption/kube-api watch should lose no event throughout the upgrade",
        (!lost.is_empty()).then(|| {
            format!(
                "{} written value(s) never seen and not covered by a re-list: {lost:?} ({} reconnect(s), {} re-list(s), longest gap {:.1} s)",
                lost.len(),
                record.watch.reconnects,
                record.watch.relisted.len(),
                record.watch.longest_gap
            )
        }),
    ));
    cases
}

async fn server_version(client: &Client) -> Result<String, SuiteError> {
    client
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .map_err(api_err("GET /version"))
}

fn version_case(version: &str, to: &str) -> Case {
    case(
        "[sig-cluster-lifecycle] the API server should report the new version after the upgrade",
        (version != to).then(|| format!("GET /version says {version}, expected {to}")),
    )
}

/// The objects made before read back intact, and the nodes Ready; then the objects go.
async fn cluster_cases(client: &Client) -> Vec<Case> {
    let cases = vec![
        case(
            "[sig-api-machinery] objects created before the upgrade should read back intact",
            objects_problem(client).await,
        ),
        case(
            "[sig-node] nodes should stay Ready throughout the upgrade",
            nodes_problem(client).await,
        ),
    ];
    remove_objects(client).await;
    cases
}

/// The JUnit, one line per backend in the build log, and the summary.
fn finish(
    m: &Manifest,
    ctx: &SuiteContext,
    cases: &[Case],
    summaries: &[(String, disruption::Summary)],
    started: Instant,
    headline: &str,
) -> Result<SuiteSummary, SuiteError> {
    let junit = ctx.artifacts.join(format!("junit_{}.xml", m.name));
    write_junit(&junit, &m.name, cases, started.elapsed())?;
    for (backend, s) in summaries {
        ctx.reporter.note(format!(
            "  {backend:<22} disruption {:>5.1} s  availability {:>6.2}%  longest unavailable {:>4.1} s  p99 {:>4.0} ms  ({} samples, {} failed)",
            s.disruption, s.availability, s.longest_unavailable, s.p99_latency * 1000.0, s.samples, s.failures
        ));
    }
    Ok(super::verdict::summarise(
        &m.name,
        cases,
        headline,
        ctx.reporter,
    ))
}

/// Waits `d`, or returns early when the run is interrupted.
fn soak(d: Duration, interrupt: &Interrupt) -> Result<(), SuiteError> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if interrupt.is_set() {
            return Err(SuiteError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100).min(end - Instant::now()));
    }
    Ok(())
}

/// The OpenShift-style test name of a backend.
fn backend_test_name(backend: &str) -> String {
    let what = match backend {
        "kube-api-new" => "kube-api connection/new",
        "kube-api-reused" => "kube-api connection/reused",
        "cache-kube-api-new" => "cache-kube-api connection/new",
        "cache-kube-api-reused" => "cache-kube-api connection/reused",
        "readyz" => "kube-api readyz",
        "writes" => "kube-api writes",
        other => other,
    };
    format!("[sig-api-machinery] disruption/{what} should be available throughout the upgrade")
}

fn disruption_case(backend: &str, s: &disruption::Summary, budget: Duration) -> Case {
    let failure = (!disruption::within_budget(s.disruption, budget)).then(|| {
        let mut text = format!(
            "{backend} was unavailable for {:.1} s (rounded {:.0} s) against a budget of {} s; availability {:.2}%, longest unavailable {:.1} s:",
            s.disruption,
            s.disruption.round(),
            budget.as_secs(),
            s.availability,
            s.longest_unavailable
        );
        for i in &s.intervals {
            let _ = write!(text, "\n  {:.1}-{:.1} s: {}", i.from, i.to, i.error);
        }
        text
    });
    case(backend_test_name(backend), failure)
}

fn order_problem(order: &[String], steps: &[(UpgradeStep, f64)], to: &str) -> Option<String> {
    let rank = |c: &str| {
        if c.starts_with("kube-apiserver") {
            0
        } else if c == "kube-controller-manager" {
            1
        } else {
            2
        }
    };
    let sorted = order.windows(2).all(|w| rank(&w[0]) <= rank(&w[1]));
    let all = ["kube-controller-manager", "kube-scheduler"]
        .iter()
        .all(|c| order.iter().any(|o| o == c))
        && order.iter().any(|o| o.starts_with("kube-apiserver"));
    let versions = steps.iter().all(|(s, _)| s.to == to);
    (!(sorted && all && versions)).then(|| format!("upgraded: {order:?}"))
}

async fn create_objects(client: &Client) -> Result<(), SuiteError> {
    let pp = PostParams::default();
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": monitor::NAMESPACE}}))
        .expect("a literal namespace");
    match Api::<Namespace>::all(client.clone()).create(&pp, &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            return Err(SuiteError::NamespaceExists {
                namespace: monitor::NAMESPACE.into(),
            })
        }
        Err(e) => return Err(api_err("creating the upgrade namespace")(e)),
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), monitor::NAMESPACE);
    for (name, data) in [
        (monitor::PROBE_CONFIGMAP, json!({"n": "0"})),
        ("before", json!({"colour": "green", "size": "large"})),
    ] {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name}, "data": data}))
                .expect("a literal ConfigMap");
        cms.create(&pp, &cm)
            .await
            .map_err(api_err("creating a ConfigMap"))?;
    }
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "before"}, "data": {"token": "czNjcgB0"}}),
    )
    .expect("a literal Secret");
    Api::<Secret>::namespaced(client.clone(), monitor::NAMESPACE)
        .create(&pp, &secret)
        .await
        .map_err(api_err("creating a Secret"))?;
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": CRD},
        "spec": {
            "group": "upgrade.trellis.dev",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
            }}}],
        },
    }))
    .expect("a literal CRD");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&pp, &crd)
        .await
        .map_err(api_err("creating a CustomResourceDefinition"))?;
    // The custom resource can be made once the CRD is Established.
    let widgets = widgets(client);
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "upgrade.trellis.dev/v1", "kind": "Widget",
        "metadata": {"name": "before"}, "spec": {"size": 3},
    }))
    .expect("a literal Widget");
    let start = Instant::now();
    loop {
        match widgets.create(&pp, &widget).await {
            Ok(_) => return Ok(()),
            Err(e) if start.elapsed() > Duration::from_secs(30) => {
                return Err(api_err("creating a custom resource")(e))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn widgets(client: &Client) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "upgrade.trellis.dev".into(),
        version: "v1".into(),
        api_version: "upgrade.trellis.dev/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    Api::namespaced_with(client.clone(), monitor::NAMESPACE, &resource)
}

/// What of the objects made before the upgrade does not read back as written.
async fn objects_problem(client: &Client) -> Option<String> {
    let mut problems = Vec::new();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), monitor::NAMESPACE);
    match cms.get("before").await {
        Ok(cm) => {
            let data = cm.data.unwrap_or_default();
            if data.get("colour").map(String::as_str) != Some("green") || data.len() != 2 {
                problems.push(format!("ConfigMap before reads {data:?}"));
            }
        }
        Err(e) => problems.push(format!("ConfigMap before: {e}")),
    }
    match Api::<Secret>::namespaced(client.clone(), monitor::NAMESPACE)
        .get("before")
        .await
    {
        Ok(s) => {
            let token = s.data.unwrap_or_default().get("token").map(|b| b.0.clone());
            if token.as_deref() != Some(b"s3cr\x00t".as_slice()) {
                problems.push(format!("Secret before reads {token:?}"));
            }
        }
        Err(e) => problems.push(format!("Secret before: {e}")),
    }
    match widgets(client).get("before").await {
        Ok(w) if w.data["spec"]["size"] == 3 => {}
        Ok(w) => problems.push(format!("Widget before reads {}", w.data)),
        Err(e) => problems.push(format!("Widget before: {e}")),
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

async fn nodes_problem(client: &Client) -> Option<String> {
    match Api::<Node>::all(client.clone())
        .list(&Default::default())
        .await
    {
        Ok(list) => {
            let not_ready: Vec<String> = list
                .items
                .iter()
                .filter(|n| {
                    !n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            (!not_ready.is_empty() || list.items.is_empty())
                .then(|| format!("not Ready after the upgrade: {not_ready:?}"))
        }
        Err(e) => Some(format!("listing nodes: {e}")),
    }
}

/// Best effort: the cluster is usually torn down next anyway.
/// How long the suite waits for its namespace and CRD to be gone.
const REMOVE_DEADLINE: Duration = Duration::from_secs(120);

/// Deletes the namespace and the CRD, and waits (within [`REMOVE_DEADLINE`]) until
/// both are gone, so the next run on the same cluster (a probe after a probe) can
/// make them again. Best effort: what still exists at the deadline is logged.
async fn remove_objects(client: &Client) {
    let dp = DeleteParams::default();
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let namespaces = Api::<Namespace>::all(client.clone());
    let _ = crds.delete(CRD, &dp).await;
    let _ = namespaces.delete(monitor::NAMESPACE, &dp).await;
    let deadline = Instant::now() + REMOVE_DEADLINE;
    loop {
        let crd_left = !matches!(crds.get_opt(CRD).await, Ok(None));
        let ns_left = !matches!(namespaces.get_opt(monitor::NAMESPACE).await, Ok(None));
        if !crd_left && !ns_left {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "after {REMOVE_DEADLINE:?}, still deleting: {}{}",
                if ns_left {
                    "namespace trellis-upgrade "
                } else {
                    ""
                },
                if crd_left { CRD } else { "" }
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn write_json(
    ctx: &SuiteContext,
    suite: &str,
    record: &monitor::Record,
    steps: &[(UpgradeStep, f64)],
    summaries: &[(String, disruption::Summary)],
) -> Result<(), SuiteError> {
    let path = ctx.artifacts.join("upgrade-monitor.json");
    let value = json!({
        "started_at": record.started_at,
        "interval": record.interval,
        "duration": record.duration,
        "steps": steps.iter().map(|(s, at)| json!({"at": at, "step": s})).collect::<Vec<_>>(),
        "backends": summaries.iter().map(|(b, s)| json!({"backend": b, "summary": s, "samples": record.samples.get(b)})).collect::<Vec<_>>(),
        "watch": record.watch,
        "watch_lost": record.watch.lost(),
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap_or_default())
        .map_err(super::io_error(&path))?;
    // The per-backend figures also as PerfData, so ingest stores them as measurements
    // and the report draws each backend's disruption over builds.
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let path = ctx
        .artifacts
        .join(format!("UpgradeDisruption_{suite}_{stamp}.json"));
    let items: Vec<serde_json::Value> = summaries
        .iter()
        .map(|(b, s)| {
            json!({
                "data": {"Disruption": s.disruption, "LongestUnavailable": s.longest_unavailable,
                         "Availability": s.availability, "Failures": s.failures, "Samples": s.samples},
                "unit": "s",
                "labels": {"Backend": b},
            })
        })
        .collect();
    let doc = json!({"version": "v1", "dataItems": items});
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap_or_default())
        .map_err(super::io_error(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skew_policy_allows_one_minor_up_and_patches() {
        assert!(check_skew("v1.36.3", "v1.37.2").is_ok());
        assert!(check_skew("v1.37.0", "v1.37.2").is_ok());
        let down = check_skew("v1.37.2", "v1.36.3").unwrap_err();
        assert!(down.contains("not an upgrade"), "{down}");
        let skip = check_skew("v1.35.4", "v1.37.2").unwrap_err();
        assert!(skip.contains("skips a minor version"), "{skip}");
        assert!(check_skew("v1.37.2", "v1.37.2").is_err());
        assert!(check_skew("1.36", "v1.37.2").is_err());
    }

    #[test]
    fn a_backend_over_budget_fails_listing_its_intervals() {
        let s = disruption::summarise(
            &[
                disruption::Sample {
                    start: 0.0,
                    latency: 0.01,
                    error: None,
                },
                disruption::Sample {
                    start: 1.0,
                    latency: 0.01,
                    error: Some("connect".into()),
                },
                disruption::Sample {
                    start: 3.0,
                    latency: 0.01,
                    error: None,
                },
            ],
            Duration::from_secs(1),
            4.0,
        );
        let c = disruption_case("kube-api-new", &s, Duration::ZERO);
        assert_eq!(
            c.name,
            "[sig-api-machinery] disruption/kube-api connection/new should be available throughout the upgrade"
        );
        let f = c.failure.unwrap();
        assert!(
            f.contains("unavailable for 2.0 s") && f.contains("1.0-3.0 s: connect"),
            "{f}"
        );
        assert!(disruption_case("kube-api-new", &s, Duration::from_secs(2))
            .failure
            .is_none());
    }
}
