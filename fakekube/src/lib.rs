//! fakekube: an in-process fake Kubernetes API server that kube-rs (and anything
//! speaking the REST API) talks to over real HTTP, for testing trellis where there is
//! no Docker and no cluster.
//!
//! Since trellis runs a real control plane (the `local` provider: kube-apiserver,
//! etcd, controller-manager and scheduler with kwok nodes), the fake keeps only what
//! the real one cannot do here: **fault injection** (a followed log stream dropped
//! mid-way, nodes that never become Ready, a conformance container that fails), an
//! **exact audit** of every request (bodies, exec commands), and a **simulated
//! kubelet** that runs pods' commands in a tiny shell, so the tests that need a real
//! container (DNS from a pod, logs and exec) have something to pass against.
//!
//! What it keeps honest for those: objects in memory with resourceVersions and
//! optimistic concurrency, list and watch (resumable, 410 when too old), discovery, an
//! admin bearer token, namespaces that terminate. Deployments, EndpointSlices, garbage
//! collection, service-account tokens and RBAC went to the real server.
//!
//! What it is not: a validating API server (unknown fields pass, defaults are few),
//! and its "containers" run a handful of shell builtins, not images.

mod controllers;
pub mod http;
pub mod resources;
mod runtime;
pub mod store;

use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the fake cluster looks and behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// What `/version` reports.
    pub version: String,
    pub control_planes: usize,
    pub workers: usize,
    /// Nodes report NotReady until this long after start.
    pub node_ready_after: Duration,
    /// Nodes never become Ready (to test readiness deadlines).
    pub nodes_never_ready: bool,
    /// A directory with `e2e.log` and `junit_01.xml` that the conformance image "produces".
    pub conformance_results: Option<PathBuf>,
    /// Pause between 40-line pieces of the conformance log.
    pub conformance_chunk_pause: Duration,
    /// Drop a container's first follow-log stream after this many bytes.
    pub drop_first_log_follow_after: Option<usize>,
    /// The admin's bearer token (written into the kubeconfig).
    pub admin_token: String,
    /// How often the controllers and the kubelet run.
    pub tick: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            version: "v1.34.1".into(),
            control_planes: 1,
            workers: 2,
            node_ready_after: Duration::ZERO,
            nodes_never_ready: false,
            conformance_results: None,
            conformance_chunk_pause: Duration::from_millis(20),
            drop_first_log_follow_after: None,
            admin_token: "fakekube-admin-token".into(),
            tick: Duration::from_millis(20),
        }
    }
}

/// One request, as the fake saw it (for tests to check what a client sent).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, Vec<String>>,
    pub user: String,
    pub body: Option<Value>,
}

/// State shared by the HTTP handlers and the controllers.
pub struct Shared {
    pub store: Arc<store::Store>,
    runtime: Arc<runtime::Runtime>,
    opts: Arc<Options>,
    audit: Mutex<Vec<AuditEntry>>,
    next_ip: AtomicU32,
    /// What `/version` says: `Options::version` until a restart changes it.
    version: Mutex<String>,
    /// Until when the API server is "restarting" (fault injection), and the version
    /// it comes back as.
    outage: Mutex<Option<(Instant, Option<String>)>>,
}

impl Shared {
    fn version(&self) -> String {
        self.in_outage();
        self.version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn restart(&self, down: Duration, version: Option<String>) {
        *self.outage.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now() + down, version));
    }

    /// Whether the API server is down now; an outage that has ended applies its
    /// version.
    fn in_outage(&self) -> bool {
        let mut outage = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        match outage.as_ref() {
            Some((until, _)) if Instant::now() < *until => true,
            Some(_) => {
                if let Some((_, Some(v))) = outage.take() {
                    *self.version.lock().unwrap_or_else(|p| p.into_inner()) = v;
                }
                false
            }
            None => false,
        }
    }

    fn audit(
        &self,
        method: &hyper::Method,
        path: &str,
        query: &HashMap<String, Vec<String>>,
        user: &http::User,
        body: &Bytes,
    ) {
        if method == hyper::Method::GET && !path.ends_with("/exec") {
            return;
        }
        self.audit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(AuditEntry {
                method: method.to_string(),
                path: path.to_string(),
                query: query.clone(),
                user: user.username(),
                body: serde_json::from_slice(body).ok(),
            });
    }

    fn next_cluster_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::SeqCst);
        format!("10.96.{}.{}", n / 250, 1 + n % 250)
    }
}

/// A running fake cluster; dropping it stops the server.
pub struct FakeCluster {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCluster {
    /// Starts the server on 127.0.0.1 (an ephemeral port) on its own thread.
    pub fn start(opts: Options) -> std::io::Result<FakeCluster> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let opts = Arc::new(opts);
        let store = Arc::new(store::Store::default());
        let shared = Arc::new(Shared {
            store: store.clone(),
            runtime: Arc::new(runtime::Runtime::new(store.clone(), opts.clone())),
            opts: opts.clone(),
            audit: Mutex::new(Vec::new()),
            next_ip: AtomicU32::new(2),
            version: Mutex::new(opts.version.clone()),
            outage: Mutex::new(None),
        });
        seed(&shared);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fakekube".into())
            .spawn(move || runtime.block_on(serve(listener, serving, rx)))?;
        Ok(FakeCluster {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig for the admin, with context `context`.
    pub fn write_kubeconfig(&self, path: &Path, context: &str) -> std::io::Result<()> {
        let cfg = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fakekube\n  cluster:\n    server: {url}\ncontexts:\n- name: {context}\n  context:\n    cluster: fakekube\n    user: fakekube-admin\ncurrent-context: {context}\nusers:\n- name: fakekube-admin\n  user:\n    token: {token}\n",
            url = self.url(),
            token = self.shared.opts.admin_token,
        );
        std::fs::write(path, cfg)
    }

    /// Objects of a kind (e.g. "Pod"), as stored now.
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        self.shared
            .store
            .all(resources::by_kind(kind))
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// Every mutating request and every exec so far.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.shared
            .audit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a fresh kind cluster has: system namespaces, nodes, the kubernetes and
/// kube-dns Services.
fn seed(shared: &Shared) {
    let s = &shared.store;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let _ = s.create(
            resources::by_kind("Namespace"),
            "",
            json!({"metadata": {"name": ns}}),
        );
    }
    let nodes = (0..shared.opts.control_planes)
        .map(|i| (i, true))
        .chain((0..shared.opts.workers).map(|i| (i, false)));
    for (i, control) in nodes {
        let name = match (control, i) {
            (true, 0) => "fakekube-control-plane".to_string(),
            (true, i) => format!("fakekube-control-plane{}", i + 1),
            (false, 0) => "fakekube-worker".to_string(),
            (false, i) => format!("fakekube-worker{}", i + 1),
        };
        let labels = if control {
            json!({"kubernetes.io/hostname": name, "node-role.kubernetes.io/control-plane": ""})
        } else {
            json!({"kubernetes.io/hostname": name})
        };
        let _ = s.create(
            resources::by_kind("Node"),
            "",
            json!({
                "metadata": {"name": name, "labels": labels},
                "spec": {"podCIDR": "10.244.0.0/24"},
                // A kubelet's defaults: 110 pods a node.
                "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                           "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                           "allocatable": {"cpu": "3900m", "memory": "15Gi", "pods": "110"},
                           "nodeInfo": {"kubeletVersion": shared.opts.version, "containerRuntimeVersion": "fakekube://1"}},
            }),
        );
    }
    let svc = resources::by_kind("Service");
    let _ = s.create(
        svc,
        "default",
        json!({"metadata": {"name": "kubernetes"}, "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]}}),
    );
    let _ = s.create(
        svc,
        "kube-system",
        json!({"metadata": {"name": "kube-dns"}, "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "dns", "port": 53}]}}),
    );
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let controllers = controllers::Controllers {
        store: shared.store.clone(),
        runtime: shared.runtime.clone(),
        opts: shared.opts.clone(),
        started: Instant::now(),
    };
    let tick = shared.opts.tick;
    let control_loop = tokio::spawn(async move {
        let mut every = tokio::time::interval(tick);
        loop {
            every.tick().await;
            controllers.tick();
        }
    });
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.in_outage() {
                    // Restarting: nothing serves the port; the connection closes.
                    drop(stream);
                    continue;
                }
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move {
                            if shared.in_outage() {
                                // A kept-alive connection to a server that went away.
                                return Err(std::io::Error::other("the API server is restarting"));
                            }
                            Ok(http::handle(shared, req).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        }
    }
    control_loop.abort();
}
