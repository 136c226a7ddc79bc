//! The upgrade suite: the control plane upgraded component by component, in the
//! version-skew policy's order (every kube-apiserver, then kube-controller-manager,
//! then kube-scheduler), while the [`monitor`] samples the API throughout; the
//! [`disruption`] each backend saw, judged against its budget, plus the checks an
//! upgrade must pass, as JUnit (`junit_upgrade.xml`) and the samples as JSON
//! (`upgrade-monitor.json`).
//!
//! It needs a cluster trellis makes ([`Upgradable`]): the `local` provider's
//! control plane, process by process (optionally in KEP-4330's two passes with
//! `--emulated-version`), or a kind cluster, node by node with kubeadm
//! ([`crate::cluster::kind_upgrade`]). On any other cluster, `--probe-only --duration
//! D` runs the monitor and the checks for D while the cluster is upgraded another way.

pub mod disruption;
pub mod monitor;

use super::manifest::UpgradeTimes;
use super::verdict::{case, write_junit, Case};
use super::{Manifest, SuiteContext, SuiteError, SuiteSummary};
use crate::cluster::provider::{Upgradable, UpgradeStep, UpgradeTarget, UpgradeUnit};
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
            "the upgrade suite needs a cluster trellis makes (--cluster local:VERSION or kind[:CONFIG]), \
             or --probe-only --duration D to measure an upgrade done another way"
                .into(),
        ));
    };
    let Some(to) = ctx.overrides.upgrade_to.clone() else {
        return Err(bad("the upgrade suite needs --upgrade-to VERSION".into()));
    };
    let from = cp.version();
    check_skew(&from, &to).map_err(bad)?;
    let emulated = ctx.overrides.emulated_version.clone();
    if let Some(e) = &emulated {
        check_emulated_version(&from, &to, e).map_err(bad)?;
    }
    let phases = phases(&to, emulated.as_deref());
    let plan = cp.upgrade_order();
    let rt = crate::cluster::access::runtime()?;
    let client = rt.block_on(ctx.access.client())?;
    rt.block_on(create_objects(&client))?;
    let monitor = start_monitor(m, &cp.endpoint()?, &times)?;
    // Said once the monitor runs: whatever happens from here is measured.
    ctx.reporter.note(format!(
        "{}: {from} → {to}{}, sampling every {:?}; baseline {:?}, {:?} after each step",
        m.name,
        emulated
            .as_deref()
            .map(|e| format!(" (first emulating {e}, then as itself)"))
            .unwrap_or_default(),
        times.sample_interval,
        times.baseline_soak,
        times.step_soak
    ));
    let started = Instant::now();
    let mut steps: Vec<(UpgradeStep, f64)> = Vec::new();
    // What the server said between the phases of an emulated upgrade.
    let mut while_emulating: Option<Result<VersionInfo, SuiteError>> = None;
    let upgraded = (|| -> Result<(), SuiteError> {
        soak(times.baseline_soak, ctx.interrupt)?;
        for phase in &phases {
            for unit in &plan {
                let at = started.elapsed().as_secs_f64();
                let step = cp.upgrade(unit, phase, ctx.interrupt)?;
                let what = match &step.emulated_version {
                    Some(e) => format!("upgraded {unit} {} → {} emulating {e}", step.from, step.to),
                    None if phase_lifts_emulation(&phases, phase) => {
                        format!("lifted {unit}'s emulation: {} as itself", step.to)
                    }
                    None => format!("upgraded {unit} {} → {}", step.from, step.to),
                };
                let timing = match step.unit {
                    UpgradeUnit::Process => format!(
                        "old process gone after {:.1} s, new one ready after {:.1} s",
                        step.stopped_after, step.ready_after
                    ),
                    UpgradeUnit::Node => format!(
                        "kubeadm upgrade took {:.1} s, the node Ready at the new version {:.1} s after its kubelet restarted",
                        step.stopped_after, step.ready_after
                    ),
                };
                ctx.reporter
                    .note(format!("  {what} at {at:.1} s: {timing}"));
                steps.push((step, at));
                soak(times.step_soak, ctx.interrupt)?;
            }
            if phase.emulated_version.is_some() {
                while_emulating = Some(rt.block_on(version_info(&client)));
            }
        }
        Ok(())
    })();
    let record = monitor.stop();
    let summaries = summarise(&record);
    write_json(ctx, &m.name, &record, &steps, &summaries)?;
    upgraded?;

    let mut cases = availability_cases(&record, &summaries, &times);
    let after = rt.block_on(version_info(&client))?;
    cases.push(version_case(&after, &to, emulated.is_some()));
    if let (Some(e), Some(seen)) = (&emulated, while_emulating) {
        cases.push(emulation_case(&seen?, &to, e));
    }
    cases.push(case(
        "[sig-cluster-lifecycle] every control-plane component should be upgraded in the version-skew policy's order",
        order_problem(&plan, |u| cp.policy_rank(u), &steps, &phases),
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

/// The passes over the control plane: straight to `to`, or with `--emulated-version`
/// first to `to`'s binaries emulating the old version and then to `to` as itself
/// (KEP-4330: every step of the first pass can be rolled back to the old binaries,
/// because no API or feature of the new version has been served yet).
fn phases(to: &str, emulated: Option<&str>) -> Vec<UpgradeTarget> {
    let itself = UpgradeTarget {
        version: to.to_string(),
        emulated_version: None,
    };
    match emulated {
        Some(e) => vec![
            UpgradeTarget {
                version: to.to_string(),
                emulated_version: Some(e.to_string()),
            },
            itself,
        ],
        None => vec![itself],
    }
}

/// The second pass of an emulated upgrade: same binaries, emulation lifted.
fn phase_lifts_emulation(phases: &[UpgradeTarget], phase: &UpgradeTarget) -> bool {
    phases.len() > 1 && phase.emulated_version.is_none()
}

/// `--emulated-version` must be the version the cluster ran (`MAJOR.MINOR` of
/// `from`): emulating anything older would take away APIs the cluster serves, and
/// emulating `to` is no emulation at all.
pub fn check_emulated_version(from: &str, to: &str, emulated: &str) -> Result<(), String> {
    let (Some(f), Some(_)) = (parse_version(from), parse_version(to)) else {
        return Err(format!("`{from}` → `{to}`: versions look like v1.37.2"));
    };
    let want = format!("{}.{}", f.0, f.1);
    if emulated != want {
        return Err(format!(
            "--emulated-version {emulated}: during an upgrade from {from} the new binaries emulate the version the cluster ran, {want} (KEP-4330 compatibility versions); give --emulated-version {want}"
        ));
    }
    Ok(())
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
    let after = rt.block_on(version_info(&client))?;
    if let Some(to) = &ctx.overrides.upgrade_to {
        cases.push(version_case(&after, to, false));
    }
    cases.extend(rt.block_on(cluster_cases(&client)));
    finish(
        m,
        ctx,
        &cases,
        &summaries,
        started,
        &format!("probed for {:?}: {from} → {}", duration, after.git_version),
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
    version_info(client).await.map(|v| v.git_version)
}

/// `GET /version`, with the emulation fields KEP-4330 added (k8s-openapi's `Info`
/// does not carry them).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionInfo {
    git_version: String,
    #[serde(default)]
    emulation_major: Option<String>,
    #[serde(default)]
    emulation_minor: Option<String>,
}

impl VersionInfo {
    /// `MAJOR.MINOR` the server emulates, when it says.
    fn emulation(&self) -> Option<String> {
        Some(format!(
            "{}.{}",
            self.emulation_major.as_deref()?,
            self.emulation_minor.as_deref()?
        ))
    }
}

async fn version_info(client: &Client) -> Result<VersionInfo, SuiteError> {
    let request = http::Request::get("/version")
        .body(Vec::new())
        .expect("a literal request");
    client
        .request::<VersionInfo>(request)
        .await
        .map_err(api_err("GET /version"))
}

fn version_case(info: &VersionInfo, to: &str, was_emulating: bool) -> Case {
    let minor = parse_version(to).map(|t| format!("{}.{}", t.0, t.1));
    let problem = if info.git_version != to {
        Some(format!(
            "GET /version says {}, expected {to}",
            info.git_version
        ))
    } else if was_emulating && info.emulation().is_some() && info.emulation() != minor {
        Some(format!(
            "GET /version says {} still emulating {}, expected {}",
            info.git_version,
            info.emulation().unwrap_or_default(),
            minor.unwrap_or_default()
        ))
    } else {
        None
    };
    case(
        "[sig-cluster-lifecycle] the API server should report the new version after the upgrade",
        problem,
    )
}

fn emulation_case(info: &VersionInfo, to: &str, emulated: &str) -> Case {
    let problem = match info.emulation() {
        _ if info.git_version != to => Some(format!(
            "between the passes GET /version says {}, expected the new binaries' {to}",
            info.git_version
        )),
        Some(e) if e == emulated => None,
        Some(e) => Some(format!(
            "between the passes GET /version says it emulates {e}, expected {emulated}"
        )),
        None => Some(format!(
            "between the passes GET /version ({}) says nothing of emulation: the server does not know --emulated-version",
            info.git_version
        )),
    };
    case(
        "[sig-api-machinery] the new binaries should serve the emulated version until the emulation is lifted",
        problem,
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

/// Every pass upgraded exactly the planned units, in the planned order, ranks never
/// going down (the version-skew policy), each to its pass's target.
fn order_problem(
    plan: &[String],
    rank: impl Fn(&str) -> u8,
    steps: &[(UpgradeStep, f64)],
    phases: &[UpgradeTarget],
) -> Option<String> {
    let in_policy_order = plan.windows(2).all(|w| rank(&w[0]) <= rank(&w[1]));
    let done: Vec<(String, Option<String>, String)> = steps
        .iter()
        .map(|(s, _)| {
            (
                s.component.clone(),
                s.emulated_version.clone(),
                s.to.clone(),
            )
        })
        .collect();
    let expected: Vec<(String, Option<String>, String)> = phases
        .iter()
        .flat_map(|p| {
            plan.iter()
                .map(|u| (u.clone(), p.emulated_version.clone(), p.version.clone()))
        })
        .collect();
    (plan.is_empty() || !in_policy_order || done != expected).then(|| {
        let order: Vec<&str> = steps.iter().map(|(s, _)| s.component.as_str()).collect();
        format!("planned {plan:?}, upgraded: {order:?}")
    })
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

    fn info(git: &str, emulation: Option<&str>) -> VersionInfo {
        let (major, minor) = match emulation.and_then(|e| e.split_once('.')) {
            Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
            None => (None, None),
        };
        VersionInfo {
            git_version: git.into(),
            emulation_major: major,
            emulation_minor: minor,
        }
    }

    #[test]
    fn the_emulated_version_must_be_the_one_the_cluster_ran() {
        assert!(check_emulated_version("v1.36.3", "v1.37.2", "1.36").is_ok());
        for wrong in ["1.35", "1.37", "kube=1.36", "v1.36"] {
            let e = check_emulated_version("v1.36.3", "v1.37.2", wrong).unwrap_err();
            assert!(e.contains("give --emulated-version 1.36"), "{e}");
        }
    }

    #[test]
    fn the_emulation_checks_fail_on_what_the_server_says() {
        let name = |c: &Case| c.failure.clone();
        assert_eq!(
            name(&emulation_case(
                &info("v1.37.2", Some("1.36")),
                "v1.37.2",
                "1.36"
            )),
            None
        );
        let still_old = emulation_case(&info("v1.36.3", Some("1.36")), "v1.37.2", "1.36");
        assert!(name(&still_old)
            .unwrap()
            .contains("expected the new binaries' v1.37.2"));
        let not_emulating = emulation_case(&info("v1.37.2", Some("1.37")), "v1.37.2", "1.36");
        assert!(name(&not_emulating)
            .unwrap()
            .contains("emulates 1.37, expected 1.36"));
        let unaware = emulation_case(&info("v1.37.2", None), "v1.37.2", "1.36");
        assert!(name(&unaware)
            .unwrap()
            .contains("says nothing of emulation"));
        // After the second pass the emulation must be lifted.
        assert_eq!(
            name(&version_case(
                &info("v1.37.2", Some("1.37")),
                "v1.37.2",
                true
            )),
            None
        );
        let stuck = version_case(&info("v1.37.2", Some("1.36")), "v1.37.2", true);
        assert!(name(&stuck).unwrap().contains("still emulating 1.36"));
    }

    #[test]
    fn the_order_check_wants_every_pass_in_policy_order() {
        let plan: Vec<String> = [
            "kube-apiserver-0",
            "kube-controller-manager",
            "kube-scheduler",
        ]
        .map(String::from)
        .to_vec();
        let rank = |u: &str| match u {
            "kube-apiserver-0" => 0,
            "kube-controller-manager" => 1,
            _ => 2,
        };
        let passes = phases("v1.37.2", Some("1.36"));
        let step = |c: &str, e: Option<&str>| {
            (
                UpgradeStep {
                    component: c.into(),
                    unit: UpgradeUnit::Process,
                    from: "v1.36.3".into(),
                    to: "v1.37.2".into(),
                    emulated_version: e.map(String::from),
                    stopped_after: 0.0,
                    ready_after: 0.0,
                },
                0.0,
            )
        };
        let both: Vec<_> = [Some("1.36"), None]
            .into_iter()
            .flat_map(|e| plan.iter().map(move |c| step(c, e)))
            .collect();
        assert_eq!(order_problem(&plan, rank, &both, &passes), None);
        // The second pass missing, or the policy's order broken, fails.
        assert!(order_problem(&plan, rank, &both[..3], &passes).is_some());
        let mut swapped = plan.clone();
        swapped.swap(0, 2);
        assert!(order_problem(&swapped, rank, &both, &passes).is_some());
    }
}
