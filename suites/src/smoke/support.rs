//! What every smoke test needs: a client from KUBECONFIG, a namespace of its own that
//! is deleted afterwards, and waits with deadlines.

use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use std::future::Future;
use std::time::Duration;

pub type TestResult = Result<(), String>;

/// How long any one wait may take (TRELLIS_SMOKE_TIMEOUT seconds, default 120).
pub fn deadline() -> Duration {
    std::env::var("TRELLIS_SMOKE_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs_f64)
}

/// Runs one async test body on its own runtime (each test is its own process).
pub fn block_on<F: Future<Output = TestResult>>(f: F) -> Result<(), libtest_mimic::Failed> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    rt.block_on(f).map_err(Into::into)
}

pub async fn client() -> Result<Client, String> {
    Client::try_default()
        .await
        .map_err(|e| format!("no cluster: {e} (set KUBECONFIG to the cluster's kubeconfig)"))
}

pub fn err(what: &str) -> impl Fn(kube::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Polls `probe` until it yields `Some`, or fails naming `what` at the deadline.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    trellis_wait::poll_until(
        what,
        deadline(),
        Duration::from_millis(100),
        &trellis_wait::never,
        || {
            let look = probe();
            async move {
                Ok(match look.await? {
                    Some(v) => trellis_wait::Poll::Ready(v),
                    None => trellis_wait::Poll::Pending(String::new()),
                })
            }
        },
    )
    .await
    .map_err(|w| match w {
        trellis_wait::Waited::Failed(e) => e,
        other => format!("timed out waiting for {other}"),
    })
}

/// A namespace for one test; `close` deletes it and waits until it is gone.
pub struct TestNamespace {
    pub name: String,
    api: Api<Namespace>,
}

impl TestNamespace {
    pub async fn create(client: &Client, test: &str) -> Result<TestNamespace, String> {
        let api: Api<Namespace> = Api::all(client.clone());
        let mut ns = Namespace::default();
        ns.metadata.generate_name = Some(format!("trellis-smoke-{test}-"));
        ns.metadata.labels = Some(
            [(
                "app.kubernetes.io/created-by".to_string(),
                "trellis-smoke".to_string(),
            )]
            .into(),
        );
        let created = api
            .create(&PostParams::default(), &ns)
            .await
            .map_err(err("creating the test namespace"))?;
        let name = created.metadata.name.unwrap_or_default();
        let ns = TestNamespace { name, api };
        let name = ns.name.clone();
        let api = ns.api.clone();
        wait_for(&format!("namespace {name} to be Active"), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let n = api.get(&name).await.map_err(err("reading the namespace"))?;
                Ok(n.status.and_then(|s| s.phase).filter(|p| p == "Active"))
            }
        })
        .await?;
        // Pods are refused until the controller-manager has made the namespace's
        // default service account: a fresh namespace is not usable before.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns.name);
        wait_for(&format!("service account default in {name}"), || async {
            let sa = accounts
                .get_opt("default")
                .await
                .map_err(err("reading the default service account"))?;
            Ok(sa.map(|_| ()))
        })
        .await?;
        Ok(ns)
    }

    pub async fn close(self) -> TestResult {
        match self.api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(format!("deleting namespace {}: {e}", self.name)),
        }
        let (api, name) = (self.api.clone(), self.name.clone());
        wait_for(&format!("namespace {name} to be deleted"), || {
            let (api, name) = (api.clone(), name.clone());
            async move {
                match api
                    .get_opt(&name)
                    .await
                    .map_err(err("reading the namespace"))?
                {
                    None => Ok(Some(())),
                    Some(_) => Ok(None),
                }
            }
        })
        .await
    }
}

/// Fails with `msg` unless `cond` holds.
pub fn check(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// A typed object from JSON; `what` names it in the error.
pub fn object<T: serde::de::DeserializeOwned>(
    what: &str,
    v: serde_json::Value,
) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("building {what}: {e}"))
}

/// The line trellis's runner reads as "skipped, with this reason" (its `SKIP_MARKER`);
/// the test then exits 0 and is recorded as skipped, never as passed.
pub fn skip(reason: &str) -> TestResult {
    println!("trellis-skip: {reason}");
    Ok(())
}

/// The annotation kwok (and so trellis's local clusters) puts on simulated nodes.
const SIMULATED_NODE: &str = "kwok.x-k8s.io/node";

/// Whether every node is kwok-simulated: no kubelet, so no container really runs.
pub async fn simulated_nodes(client: &Client) -> Result<bool, String> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(err("listing nodes"))?;
    Ok(!nodes.items.is_empty()
        && nodes.items.iter().all(|n| {
            n.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(SIMULATED_NODE))
        }))
}
