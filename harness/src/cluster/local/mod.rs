//! The `local` provider: a real Kubernetes control plane, with no Docker, as
//! processes on this machine. etcd, `--control-planes N` kube-apiservers,
//! kube-controller-manager and kube-scheduler, all built from the official Go
//! modules by `k8s/build.sh`, plus kwok keeping `--nodes M` simulated nodes Ready
//! and moving pods along. Everything runs inside a network namespace of the
//! cluster's own with no route out ([`netns`]), with a PKI made for the cluster
//! ([`pki`]).
//!
//! Real: the API server (admission, validation, RBAC, watch cache, etcd storage),
//! the controllers and the scheduler. Simulated by kwok: nodes and pods — no kubelet
//! and no container ever runs ([`kwok`] says exactly what is and is not there).
//!
//! Layout of a cluster's state directory (`/run/trellis/NAME` by default):
//! `pki/` keys and certificates, `admin.kubeconfig`, `etcd/` data, `logs/` one file
//! per component, `kwok.yaml`, `pods/log` the simulated container log and
//! `pods/results/` what containers see at `/tmp/results`.

pub mod binaries;
pub mod front;
pub mod kwok;
pub mod netns;
pub mod pki;
pub mod process;

use super::access::{self, Access};
use super::provider::{Endpoint, Provider, Upgradable, UpgradeStep, UpgradeTarget, UpgradeUnit};
use super::ClusterError;
use crate::interrupt::Interrupt;
use binaries::Binaries;
use process::{Component, ContainerFiles, Launch};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Addresses on the namespace's `lo`: API server K is 10.250.0.K; kwok's kubelet
/// endpoint (every node's InternalIP) is [`NODE_IP`]; the upgrade suite's front is .10.
pub const SUBNET: &str = "10.250.0";
pub const NODE_IP: &str = "10.250.0.100";
pub const FRONT_IP: &str = "10.250.0.10";
/// The Service range; 10.96.0.1 is the `kubernetes` Service.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// At most this many API servers (10.250.0.1 to .9).
pub const MAX_CONTROL_PLANES: usize = 9;
/// How often the front checks each API server's /readyz.
const FRONT_CHECK_EVERY: Duration = Duration::from_millis(500);
/// With a front, how long an API server told to stop keeps serving while /readyz
/// fails: longer than the front's two failed checks, so it leaves rotation first.
const SHUTDOWN_DELAY: &str = "3s";

/// Where clusters' state directories go unless `TRELLIS_LOCAL_DIR` says otherwise.
/// Not under /tmp: kwok's exec'd commands get a private /tmp of their own.
pub fn state_root() -> PathBuf {
    std::env::var_os("TRELLIS_LOCAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/trellis"))
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("Kubernetes {version} is not built: missing {}", .missing.join(", "))]
    NotBuilt {
        version: String,
        missing: Vec<String>,
        built: Vec<String>,
    },
    #[error("`{command}` failed: {stderr}")]
    Netns { command: String, stderr: String },
    #[error("`{program}` could not be started: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("making {what}: {reason}")]
    Pki { what: String, reason: String },
    #[error("{} exited during start ({status}); the end of {}:\n{}", .at.component, .at.log.display(), .at.tail)]
    Exited {
        status: String,
        at: Box<ComponentLog>,
    },
    #[error("{}: {what} not ready within {seconds} s (last: {last}); the end of {}:\n{}", .at.component, .at.log.display(), .at.tail)]
    NotReady {
        what: String,
        seconds: u64,
        last: String,
        at: Box<ComponentLog>,
    },
    #[error("{0}")]
    Spec(String),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// Reaching the new cluster failed (its kubeconfig, a runtime, node readiness).
    #[error(transparent)]
    Cluster(Box<ClusterError>),
    #[error("{what} not there within {seconds} s")]
    Deadline { what: String, seconds: u64 },
    #[error("interrupted")]
    Interrupted,
}

impl LocalError {
    pub fn hint(&self) -> String {
        match self {
            LocalError::NotBuilt { built, version, .. } => format!(
                "run `k8s/build.sh {version}` (built so far: {})",
                if built.is_empty() { "none".to_string() } else { built.join(", ") }
            ),
            LocalError::Netns { .. } => "creating a network namespace needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's `ip`; run trellis as root or under `sudo`".into(),
            LocalError::Spawn { .. } => "run `k8s/build.sh`, and check that iproute2 (`ip`) is installed".into(),
            LocalError::Io { .. } => "check that the state directory (TRELLIS_LOCAL_DIR, default /run/trellis) is writable".into(),
            LocalError::Pki { .. } => "this is a bug in trellis's certificate code; please report it".into(),
            LocalError::Exited { .. } => "read the component's log above; `trellis preflight --cluster local` checks the binaries".into(),
            LocalError::NotReady { .. } => "raise --ready-timeout (a cold start on a busy 2-core machine can take a minute), or read the component's log above".into(),
            LocalError::Spec(_) => "use --cluster local or local:VERSION (e.g. local:v1.37.2), --control-planes 1-9 and --nodes >= 1".into(),
            LocalError::Api { .. } => "read the API server's log (artifacts/logs/kube-apiserver.log in the build)".into(),
            LocalError::Cluster(e) => e.hint().into_owned(),
            LocalError::Deadline { .. } => "raise --ready-timeout, or read kube-controller-manager's log (artifacts/logs/)".into(),
            LocalError::Interrupted => "the run was stopped by Ctrl-C or SIGTERM; the cluster was torn down".into(),
        }
    }
}

/// Which component failed, and the end of its log (the line that says why).
#[derive(Debug)]
pub struct ComponentLog {
    pub component: String,
    pub log: PathBuf,
    pub tail: String,
}

/// What `--cluster local[:VERSION]` and its flags ask for.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub version: String,
    pub control_planes: usize,
    pub nodes: usize,
    pub ready_timeout: Duration,
    pub state_root: PathBuf,
    pub cache_root: PathBuf,
    /// Files the simulated containers show: `log` (plain text) becomes every pod's
    /// log, `results/` is what they see at `/tmp/results`.
    pub container_files: Option<PathBuf>,
    /// The cluster outlives trellis (`trellis up`).
    pub detached: bool,
}

impl LocalOptions {
    /// Parses `local` or `local:VERSION`; `None` when `spec` is not a local one.
    pub fn parse_spec(spec: &str) -> Option<Result<String, LocalError>> {
        let rest = spec.strip_prefix("local")?;
        let version = match rest.strip_prefix(':') {
            None if rest.is_empty() => binaries::DEFAULT_VERSION.to_string(),
            None => return None,
            Some(v) => v.to_string(),
        };
        let ok = version.strip_prefix("v1.").is_some_and(|r| {
            r.split('.').count() == 2 && r.split('.').all(|p| p.parse::<u32>().is_ok())
        });
        Some(if ok {
            Ok(version)
        } else {
            Err(LocalError::Spec(format!(
                "`{spec}`: `{version}` is not a Kubernetes version like v1.37.2"
            )))
        })
    }

    pub fn new(version: String) -> LocalOptions {
        LocalOptions {
            version,
            control_planes: 1,
            nodes: 2,
            ready_timeout: Duration::from_secs(120),
            state_root: state_root(),
            cache_root: binaries::cache_root(),
            container_files: None,
            detached: false,
        }
    }

    fn check(&self) -> Result<(), LocalError> {
        if !(1..=MAX_CONTROL_PLANES).contains(&self.control_planes) {
            return Err(LocalError::Spec(format!(
                "--control-planes {}: must be 1 to {MAX_CONTROL_PLANES}",
                self.control_planes
            )));
        }
        if self.nodes == 0 {
            return Err(LocalError::Spec("--nodes 0: a cluster needs a node".into()));
        }
        Ok(())
    }
}

/// A started cluster: what teardown must undo.
struct Running {
    netns: netns::Netns,
    dir: PathBuf,
    components: Vec<Component>,
    front: Option<front::Front>,
}

pub struct LocalProvider {
    pub opts: LocalOptions,
    pub name: String,
    binaries: Binaries,
    running: Option<Running>,
    /// How long each start step took, for the build log and `trellis bench`.
    pub timings: Vec<(String, Duration)>,
}

impl LocalProvider {
    /// Checks the options and that the binaries are built, before anything starts.
    pub fn new(opts: LocalOptions) -> Result<LocalProvider, LocalError> {
        opts.check()?;
        let binaries = Binaries::locate(&opts.cache_root, &opts.version)?;
        Ok(LocalProvider {
            name: super::kind::new_cluster_name(chrono::Utc::now().timestamp()),
            opts,
            binaries,
            running: None,
            timings: Vec::new(),
        })
    }

    /// The state directory of this cluster.
    pub fn dir(&self) -> PathBuf {
        self.opts.state_root.join(&self.name)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir().join("admin.kubeconfig")
    }

    fn apiserver_ip(k: usize) -> String {
        format!("{SUBNET}.{k}")
    }

    /// Several API servers sit behind a front, unless the cluster outlives trellis
    /// (`trellis up`): the front runs inside trellis.
    fn has_front(&self) -> bool {
        self.opts.control_planes > 1 && !self.opts.detached
    }

    /// Where clients dial: the front, else the first API server.
    fn server(&self) -> String {
        if self.has_front() {
            format!("https://{FRONT_IP}:6443")
        } else {
            format!("https://{}:6443", Self::apiserver_ip(1))
        }
    }

    fn start_front(&mut self, pki: &pki::Pki) -> Result<(), LocalError> {
        let ca = std::fs::read(&pki.ca_cert).map_err(|source| LocalError::Io {
            path: pki.ca_cert.clone(),
            source,
        })?;
        let backends: Vec<std::net::SocketAddr> = (1..=self.opts.control_planes)
            .filter_map(|k| format!("{}:6443", Self::apiserver_ip(k)).parse().ok())
            .collect();
        let address = format!("{FRONT_IP}:6443")
            .parse()
            .expect("a literal address");
        let front = front::Front::start(address, &backends, &ca, FRONT_CHECK_EVERY)?;
        if let Some(r) = self.running.as_mut() {
            r.front = Some(front);
        }
        // Ready when a check has put a backend in rotation.
        let http = https_client(Some(&pki.ca_cert))?;
        let url = format!("https://{FRONT_IP}:6443/readyz");
        let started = Instant::now();
        let deadline = self.opts.ready_timeout;
        while !http_ok(&http, &url).unwrap_or(false) {
            if started.elapsed() > deadline {
                return Err(LocalError::Deadline {
                    what: format!("the front {FRONT_IP}:6443 passing to a ready API server"),
                    seconds: deadline.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.timings.push(("front".into(), started.elapsed()));
        Ok(())
    }

    /// Starts the cluster, one step after another; each step records how long it
    /// took. On error, what was started stays in `self.running` for teardown.
    fn start(&mut self, interrupt: &Interrupt) -> Result<Access, LocalError> {
        let addresses = self.make_namespace()?;
        let pki = self.make_pki(&addresses)?;
        self.start_etcd(interrupt)?;
        self.start_apiservers(&pki, interrupt)?;
        if self.has_front() {
            self.start_front(&pki)?;
        }
        self.start_controllers(&pki, interrupt)?;
        self.start_kwok(&pki)?;
        let access = Access {
            kubeconfig: self.kubeconfig(),
            context: None,
        };
        self.make_nodes_ready(&access, interrupt)?;
        Ok(access)
    }

    /// The state directory and the network namespace, which trellis then enters.
    fn make_namespace(&mut self) -> Result<Vec<String>, LocalError> {
        let dir = self.dir();
        for sub in ["logs", "pods/results", "etcd"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| LocalError::Io { path, source })?;
        }
        if !self.opts.detached {
            // The janitor leaves a cluster alone while the run that owns it lives.
            let owner = dir.join("owner");
            std::fs::write(&owner, owner_stamp(std::process::id())).map_err(|source| {
                LocalError::Io {
                    path: owner.clone(),
                    source,
                }
            })?;
        }
        let mut addresses: Vec<String> = (1..=self.opts.control_planes)
            .map(Self::apiserver_ip)
            .collect();
        addresses.extend([FRONT_IP.to_string(), NODE_IP.to_string()]);
        let mut ns = match netns::Netns::create(&self.name, &addresses) {
            Ok(ns) => ns,
            Err(e) => {
                // Nothing runs yet: the directory is all there is to take back.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let entered = ns.enter();
        self.running = Some(Running {
            netns: ns,
            dir,
            components: Vec::new(),
            front: None,
        });
        entered?;
        Ok(addresses)
    }

    /// Keys, certificates, the admin kubeconfig, and what the simulated containers show.
    fn make_pki(&self, addresses: &[String]) -> Result<pki::Pki, LocalError> {
        let dir = self.dir();
        let mut ips: Vec<IpAddr> = addresses.iter().filter_map(|a| a.parse().ok()).collect();
        ips.push(IpAddr::from([10, 96, 0, 1]));
        let pki = pki::create(&dir.join("pki"), &ips)?;
        pki::write_private(
            &self.kubeconfig(),
            &pki::admin_kubeconfig(&pki, &self.server(), &self.name)?,
        )?;
        self.write_container_files(&dir)?;
        Ok(pki)
    }

    fn start_etcd(&mut self, interrupt: &Interrupt) -> Result<(), LocalError> {
        let args = self.etcd_args(&self.dir());
        self.launch("etcd", self.binaries.tool("etcd"), args, None)?;
        self.wait_last("etcd /health", interrupt, etcd_healthy)
    }

    fn start_apiservers(
        &mut self,
        pki: &pki::Pki,
        interrupt: &Interrupt,
    ) -> Result<(), LocalError> {
        let http = https_client(Some(&pki.ca_cert))?;
        for k in 1..=self.opts.control_planes {
            let name = if self.opts.control_planes == 1 {
                "kube-apiserver".to_string()
            } else {
                format!("kube-apiserver-{k}")
            };
            let args = self.apiserver_args(pki, &self.dir(), k);
            self.launch(&name, self.binaries.program("kube-apiserver"), args, None)?;
            let url = Self::health_url(&name);
            self.wait_last("/readyz", interrupt, || http_ok(&http, &url))?;
        }
        Ok(())
    }

    /// kube-controller-manager, then kube-scheduler, each until its /healthz answers.
    fn start_controllers(
        &mut self,
        pki: &pki::Pki,
        interrupt: &Interrupt,
    ) -> Result<(), LocalError> {
        // They serve /healthz with certificates they made for themselves.
        let insecure = https_client(None)?;
        let kubeconfig = self.kubeconfig();
        let scheduler_args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=10259".into(),
            "--leader-elect=false".into(),
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics".into(),
        ];
        for (name, args) in [
            ("kube-controller-manager", self.kcm_args(pki, &kubeconfig)),
            ("kube-scheduler", scheduler_args),
        ] {
            self.launch(name, self.binaries.program(name), args, None)?;
            let url = Self::health_url(name);
            self.wait_last("/healthz", interrupt, || http_ok(&insecure, &url))?;
        }
        Ok(())
    }

    /// kwok, with its stages, ours, and the logs and exec rules; its readiness shows
    /// in the nodes it makes Ready.
    fn start_kwok(&mut self, pki: &pki::Pki) -> Result<(), LocalError> {
        let dir = self.dir();
        let io = |path: PathBuf| move |source| LocalError::Io { path, source };
        let stages_path = self.binaries.kwok_stages();
        let stages = std::fs::read_to_string(&stages_path).map_err(io(stages_path.clone()))?;
        let kwok_config = dir.join("kwok.yaml");
        let config = kwok::config(&stages, &dir.join("pods/log").display().to_string());
        std::fs::write(&kwok_config, config).map_err(io(kwok_config.clone()))?;
        let args = kwok::args(
            &self.kubeconfig().display().to_string(),
            &kwok_config.display().to_string(),
            NODE_IP,
            &pki.serving_cert.display().to_string(),
            &pki.serving_key.display().to_string(),
        );
        let files = ContainerFiles {
            results: dir.join("pods/results"),
        };
        self.launch("kwok", self.binaries.tool("kwok"), args, Some(&files))
    }

    /// Creates the nodes and waits until kwok has them Ready (failing at once if kwok
    /// dies) and the controller-manager has made the `default` service account: like
    /// kind, the cluster is ready when a pod can be made in `default`.
    fn make_nodes_ready(
        &mut self,
        access: &Access,
        interrupt: &Interrupt,
    ) -> Result<(), LocalError> {
        let started = Instant::now();
        self.create_nodes(access)?;
        let expected = self.opts.nodes;
        let timeout = self.opts.ready_timeout;
        let rt = access::runtime().map_err(cluster_error)?;
        let kwok = self
            .running
            .as_mut()
            .and_then(|r| r.components.last_mut())
            .expect("kwok was started last");
        rt.block_on(async {
            let wait = access::wait_nodes_ready(access, Some(expected), timeout, interrupt);
            let watch_kwok = async {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if let Err(e) = kwok.check_alive() {
                        return e;
                    }
                }
            };
            tokio::select! {
                r = wait => r.map(|_| ()).map_err(cluster_error),
                e = watch_kwok => Err(e),
            }
        })?;
        self.timings.push(("nodes Ready".into(), started.elapsed()));
        let started = Instant::now();
        rt.block_on(wait_default_service_account(access, timeout, interrupt))?;
        self.timings
            .push(("default service account".into(), started.elapsed()));
        Ok(())
    }

    fn launch(
        &mut self,
        name: &str,
        program: PathBuf,
        args: Vec<String>,
        files: Option<&ContainerFiles>,
    ) -> Result<(), LocalError> {
        let running = self
            .running
            .as_mut()
            .expect("launch after the namespace exists");
        let component = process::spawn(Launch {
            name,
            program: &program,
            args,
            log: running.dir.join("logs").join(format!("{name}.log")),
            detached: self.opts.detached,
            container_files: files,
        })?;
        running.components.push(component);
        Ok(())
    }

    /// Waits for the component started last and records how long it took.
    fn wait_last(
        &mut self,
        what: &str,
        interrupt: &Interrupt,
        ready: impl FnMut() -> Result<bool, String>,
    ) -> Result<(), LocalError> {
        let deadline = self.opts.ready_timeout;
        let running = self.running.as_mut().expect("a component was started");
        let component = running
            .components
            .last_mut()
            .expect("a component was started");
        let took = process::wait_until(component, what, deadline, interrupt, ready)?;
        self.timings.push((component.name.clone(), took));
        Ok(())
    }

    /// Where a control-plane component says it is ready: each API server's /readyz on
    /// its own address; the controller-manager's and scheduler's /healthz.
    fn health_url(component: &str) -> String {
        match component {
            "kube-controller-manager" => "https://127.0.0.1:10257/healthz".into(),
            "kube-scheduler" => "https://127.0.0.1:10259/healthz".into(),
            apiserver => {
                let k = apiserver
                    .rsplit('-')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(1);
                format!("https://{}:6443/readyz", Self::apiserver_ip(k))
            }
        }
    }

    fn etcd_args(&self, dir: &Path) -> Vec<String> {
        vec![
            "--name=trellis".into(),
            format!("--data-dir={}", dir.join("etcd").display()),
            "--listen-client-urls=http://127.0.0.1:2379".into(),
            "--advertise-client-urls=http://127.0.0.1:2379".into(),
            "--listen-peer-urls=http://127.0.0.1:2380".into(),
            "--initial-advertise-peer-urls=http://127.0.0.1:2380".into(),
            "--initial-cluster=trellis=http://127.0.0.1:2380".into(),
            "--listen-metrics-urls=http://127.0.0.1:2381".into(),
            // A throwaway cluster: durability is not worth the fsyncs on a busy disk.
            "--unsafe-no-fsync=true".into(),
            "--auto-compaction-retention=1".into(),
            "--quota-backend-bytes=8589934592".into(),
        ]
    }

    fn apiserver_args(&self, pki: &pki::Pki, dir: &Path, k: usize) -> Vec<String> {
        let ip = Self::apiserver_ip(k);
        let p = |p: &PathBuf| p.display().to_string();
        vec![
            "--etcd-servers=http://127.0.0.1:2379".into(),
            "--etcd-prefix=/registry".into(),
            format!("--bind-address={ip}"),
            format!("--advertise-address={ip}"),
            "--secure-port=6443".into(),
            format!("--tls-cert-file={}", p(&pki.serving_cert)),
            format!("--tls-private-key-file={}", p(&pki.serving_key)),
            format!("--client-ca-file={}", p(&pki.ca_cert)),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", p(&pki.sa_pub)),
            format!("--service-account-signing-key-file={}", p(&pki.sa_key)),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--authorization-mode=Node,RBAC".into(),
            "--allow-privileged=true".into(),
            // kwok's kubelet endpoint is each node's InternalIP; "Hostname" (the
            // default's first choice) would resolve nowhere in the namespace.
            "--kubelet-preferred-address-types=InternalIP".into(),
            // Graceful shutdown as production runs it behind a load balancer:
            // /readyz fails first, the front takes the server out of rotation, then
            // requests drain. A lone server has nobody to tell: it stops at once.
            format!(
                "--shutdown-delay-duration={}",
                if self.has_front() {
                    SHUTDOWN_DELAY
                } else {
                    "0s"
                }
            ),
            format!("--shutdown-send-retry-after={}", self.has_front()),
            // Watches are ended, not waited for: without this, Go's server shutdown
            // waits a minute for the connections that carry them.
            "--shutdown-watch-termination-grace-period=2s".into(),
            format!("--cert-dir={}", dir.join("pki").display()),
            "--v=2".into(),
        ]
    }

    fn kcm_args(&self, pki: &pki::Pki, kubeconfig: &Path) -> Vec<String> {
        let p = |p: &PathBuf| p.display().to_string();
        vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=10257".into(),
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics".into(),
            format!("--service-account-private-key-file={}", p(&pki.sa_key)),
            format!("--root-ca-file={}", p(&pki.ca_cert)),
            format!("--cluster-signing-cert-file={}", p(&pki.ca_cert)),
            format!("--cluster-signing-key-file={}", p(&pki.ca_key)),
            "--use-service-account-credentials=true".into(),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--leader-elect=false".into(),
            "--v=2".into(),
        ]
    }

    fn create_nodes(&self, access: &Access) -> Result<(), LocalError> {
        use k8s_openapi::api::core::v1::Node;
        use kube::api::{Api, PostParams};
        let rt = access::runtime().map_err(cluster_error)?;
        rt.block_on(async {
            let client = access.client().await.map_err(cluster_error)?;
            let api: Api<Node> = Api::all(client);
            for i in 0..self.opts.nodes {
                let node = kwok::node(&format!("kwok-node-{i}"), &self.opts.version, NODE_IP);
                api.create(&PostParams::default(), &node)
                    .await
                    .map_err(|source| LocalError::Api {
                        what: format!("creating node kwok-node-{i}"),
                        source,
                    })?;
            }
            Ok(())
        })
    }

    /// Writes the simulated container log and `/tmp/results` contents.
    fn write_container_files(&self, dir: &Path) -> Result<(), LocalError> {
        let io = |path: PathBuf| move |source| LocalError::Io { path, source };
        let pods = dir.join("pods");
        let mut log_text = String::from(
            "trellis local cluster: a kwok-simulated container; no process runs on this node\n",
        );
        if let Some(src) = &self.opts.container_files {
            if let Ok(text) = std::fs::read_to_string(src.join("log")) {
                log_text = text;
            }
            let results = src.join("results");
            if results.is_dir() {
                for entry in std::fs::read_dir(&results).map_err(io(results.clone()))? {
                    let entry = entry.map_err(io(results.clone()))?;
                    let to = pods.join("results").join(entry.file_name());
                    std::fs::copy(entry.path(), &to).map_err(io(to.clone()))?;
                }
            }
        }
        let log = pods.join("log");
        std::fs::write(&log, kwok::cri_log(&log_text, chrono::Utc::now()))
            .map_err(io(log.clone()))?;
        // exec'd commands run as nobody: the results must be readable to them.
        use std::os::unix::fs::PermissionsExt;
        for p in [pods.clone(), pods.join("results")] {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        }
        if let Ok(entries) = std::fs::read_dir(pods.join("results")) {
            for e in entries.flatten() {
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o644));
            }
        }
        Ok(())
    }
}

fn cluster_error(e: ClusterError) -> LocalError {
    match e {
        ClusterError::Local(e) => *e,
        e => LocalError::Cluster(Box::new(e)),
    }
}

async fn wait_default_service_account(
    access: &Access,
    deadline: Duration,
    interrupt: &Interrupt,
) -> Result<(), LocalError> {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let client = access.client().await.map_err(cluster_error)?;
    let api: kube::Api<ServiceAccount> = kube::Api::namespaced(client, "default");
    let start = Instant::now();
    loop {
        if interrupt.is_set() {
            return Err(LocalError::Interrupted);
        }
        if let Ok(Some(_)) = api.get_opt("default").await {
            return Ok(());
        }
        if start.elapsed() >= deadline {
            return Err(LocalError::Deadline {
                what: "service account default/default (made by kube-controller-manager)".into(),
                seconds: deadline.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn etcd_healthy() -> Result<bool, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], 2379).into(),
        Duration::from_secs(2),
    )
    .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.take(4096)
        .read_to_string(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(body.contains("\"health\":\"true\""))
}

/// A client for health checks. With a CA, the server must prove itself; without, it
/// is kube-controller-manager or kube-scheduler on the namespace's loopback with a
/// certificate they made for themselves, and only /healthz is read.
fn https_client(ca: Option<&Path>) -> Result<reqwest::blocking::Client, LocalError> {
    let mut b = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3));
    match ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| LocalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| LocalError::Pki {
                what: "the CA for health checks".into(),
                reason: e.to_string(),
            })?;
            b = b.add_root_certificate(cert);
        }
        None => b = b.danger_accept_invalid_certs(true),
    }
    b.build().map_err(|e| LocalError::Pki {
        what: "an HTTPS client".into(),
        reason: e.to_string(),
    })
}

fn http_ok(client: &reqwest::blocking::Client, url: &str) -> Result<bool, String> {
    match client.get(url).send() {
        Ok(r) if r.status().is_success() => Ok(true),
        Ok(r) => Err(format!("{url}: HTTP {}", r.status())),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

/// Stops every process in the cluster's namespace (SIGTERM, SIGKILL after `grace`),
/// removes the namespace and the state directory. Works for a cluster this process
/// started and for one found later by name (`trellis down`, the janitor).
pub fn destroy(name: &str, dir: &Path, grace: Duration) -> Result<Vec<String>, LocalError> {
    let mut notes = Vec::new();
    let pids = netns::pids(name);
    let killed = process::stop_all(&pids, grace);
    if !pids.is_empty() {
        notes.push(format!(
            "stopped {} process(es){}",
            pids.len(),
            if killed.is_empty() {
                String::new()
            } else {
                format!(", {} needed SIGKILL", killed.len())
            }
        ));
    }
    netns::delete(name)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| LocalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(notes)
}

impl Provider for LocalProvider {
    fn describe(&self) -> String {
        format!(
            "local cluster {}: Kubernetes {} ({} API server(s), etcd, controller-manager, scheduler; {} kwok-simulated node(s)) in network namespace {}",
            self.name, self.opts.version, self.opts.control_planes, self.opts.nodes, self.name
        )
    }

    fn provision(&mut self, interrupt: &Interrupt) -> Result<Access, ClusterError> {
        self.start(interrupt).map_err(Into::into)
    }

    fn export_logs(&self, dir: &Path) -> Result<(), ClusterError> {
        let Some(running) = &self.running else {
            return Ok(());
        };
        let logs = running.dir.join("logs");
        let io = |path: PathBuf| move |source| ClusterError::from(LocalError::Io { path, source });
        std::fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
        for entry in std::fs::read_dir(&logs)
            .map_err(io(logs.clone()))?
            .flatten()
        {
            let to = dir.join(entry.file_name());
            std::fs::copy(entry.path(), &to).map_err(io(to.clone()))?;
        }
        // The kwok config holds no secrets and says what was simulated.
        let _ = std::fs::copy(running.dir.join("kwok.yaml"), dir.join("kwok.yaml"));
        Ok(())
    }

    fn program_dirs(&self) -> Vec<PathBuf> {
        vec![self.binaries.version_dir.clone()]
    }

    fn upgradable(&mut self) -> Option<&mut dyn Upgradable> {
        Some(self)
    }

    fn teardown(&mut self) -> Result<(), ClusterError> {
        let Some(mut running) = self.running.take() else {
            return Ok(());
        };
        if let Some(front) = running.front.as_mut() {
            front.stop();
        }
        // Last started, first stopped: kwok and the controllers before the API
        // servers, etcd last, so nothing logs a storm of connection errors.
        for c in running.components.iter_mut().rev() {
            let pid = c.child.id() as i32;
            process::stop_all(&[pid], Duration::from_secs(10));
            let _ = c.child.wait();
        }
        let name = running.netns.name.clone();
        // Anything else left in the namespace (a command kwok exec'd) goes too.
        let leftover = netns::pids(&name);
        process::stop_all(&leftover, Duration::from_secs(5));
        let dir = running.dir.clone();
        running.netns.delete()?;
        destroy(&name, &dir, Duration::from_secs(5))?;
        Ok(())
    }
}

impl Upgradable for LocalProvider {
    fn version(&self) -> String {
        self.opts.version.clone()
    }

    fn upgrade_order(&self) -> Vec<String> {
        let Some(running) = &self.running else {
            return Vec::new();
        };
        let names = |prefix: &str| -> Vec<String> {
            running
                .components
                .iter()
                .map(|c| c.name.clone())
                .filter(|n| n.starts_with(prefix))
                .collect()
        };
        let mut order = names("kube-apiserver");
        order.extend(names("kube-controller-manager"));
        order.extend(names("kube-scheduler"));
        order
    }

    fn policy_rank(&self, component: &str) -> u8 {
        if component.starts_with("kube-apiserver") {
            0
        } else if component == "kube-controller-manager" {
            1
        } else {
            2
        }
    }

    fn upgrade(
        &mut self,
        component: &str,
        target: &UpgradeTarget,
        interrupt: &Interrupt,
    ) -> Result<UpgradeStep, ClusterError> {
        self.replace_component(component, target, interrupt)
            .map_err(Into::into)
    }

    fn endpoint(&self) -> Result<Endpoint, ClusterError> {
        let pki = self.dir().join("pki");
        let read = |name: &str| {
            let path = pki.join(name);
            std::fs::read(&path)
                .map_err(|source| ClusterError::from(LocalError::Io { path, source }))
        };
        Ok(Endpoint {
            server: self.server(),
            ca: read("ca.crt")?,
            client_cert: read("admin.crt")?,
            client_key: read("admin.key")?,
            token: None,
        })
    }
}

impl LocalProvider {
    /// One component to `target`: SIGTERM and wait for the exit (SIGKILL after a
    /// minute), the new binary with the same flags (`--emulated-version` set or
    /// dropped as the target says), then its readiness check.
    fn replace_component(
        &mut self,
        component: &str,
        target: &UpgradeTarget,
        interrupt: &Interrupt,
    ) -> Result<UpgradeStep, LocalError> {
        let version = target.version.as_str();
        let binaries = Binaries::locate(&self.opts.cache_root, version)?;
        let from = self.opts.version.clone();
        let ca = self.dir().join("pki/ca.crt");
        let detached = self.opts.detached;
        let deadline = self.opts.ready_timeout;
        let running = self
            .running
            .as_mut()
            .ok_or_else(|| LocalError::Spec("the cluster is not running".into()))?;
        let index = running
            .components
            .iter()
            .position(|c| c.name == component)
            .ok_or_else(|| LocalError::Spec(format!("no component {component}")))?;
        let stopping = Instant::now();
        let old = &mut running.components[index];
        process::stop_all(&[old.child.id() as i32], Duration::from_secs(60));
        let _ = old.child.wait();
        let stopped_after = stopping.elapsed();
        let program_name = if component.starts_with("kube-apiserver") {
            "kube-apiserver"
        } else {
            component
        };
        let args = with_emulated_version(&old.args, target.emulated_version.as_deref());
        let emulating = target
            .emulated_version
            .as_deref()
            .map(|e| format!("-emulating-{e}"))
            .unwrap_or_default();
        let log = running
            .dir
            .join("logs")
            .join(format!("{component}-{version}{emulating}.log"));
        let new = process::spawn(Launch {
            name: component,
            program: &binaries.program(program_name),
            args,
            log,
            detached,
            container_files: None,
        })?;
        running.components[index] = new;
        let url = Self::health_url(component);
        let client = https_client(
            component
                .starts_with("kube-apiserver")
                .then_some(ca.as_path()),
        )?;
        let ready_after = process::wait_until(
            &mut running.components[index],
            "ready after the upgrade",
            deadline,
            interrupt,
            || http_ok(&client, &url),
        )?;
        if self.upgrade_order().last().map(String::as_str) == Some(component) {
            self.opts.version = version.to_string();
        }
        Ok(UpgradeStep {
            component: component.to_string(),
            unit: UpgradeUnit::Process,
            from,
            to: version.to_string(),
            emulated_version: target.emulated_version.clone(),
            stopped_after: stopped_after.as_secs_f64(),
            ready_after: ready_after.as_secs_f64(),
        })
    }

    /// Leaves the cluster running (`trellis up`): forgets the processes without
    /// stopping them and returns trellis to its own network namespace.
    pub fn detach(&mut self) -> Result<(), LocalError> {
        if let Some(running) = self.running.take() {
            let Running { mut netns, .. } = running;
            // Keep the namespace's name: only trellis's own thread leaves it.
            netns.leave()?;
        }
        Ok(())
    }
}

/// `PID START-TIME`: a process, told apart from a later one that reuses its pid.
fn owner_stamp(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 22 (start time), counted after the `(comm)` field, which may hold spaces.
    let start = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(19))
        .unwrap_or("0");
    format!("{pid} {start}")
}

/// Whether the `trellis run` that made the cluster in `dir` is still running.
fn owner_alive(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("owner")) else {
        return false;
    };
    text.split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| owner_stamp(pid) == text.trim())
}

/// Removes local clusters (network namespaces named `trellis-<time>-<hex>`, with
/// their processes and state directories) older than `max_age` whose `trellis run`
/// has ended (clusters from `trellis up` have none and go by age alone). A namespace
/// whose name carries no time is not ours to judge and is left alone, and so is one
/// whose processes run under another state root.
pub fn janitor(
    state_root: &Path,
    now: i64,
    max_age: Duration,
    dry_run: bool,
) -> Result<Vec<String>, LocalError> {
    let mut removed = Vec::new();
    for name in netns::list(super::NAME_PREFIX) {
        let Some(created) = super::kind::created_at(&name) else {
            continue;
        };
        if now - created < max_age.as_secs() as i64 {
            continue;
        }
        let dir = state_root.join(&name);
        // A namespace with processes but no state directory here belongs to a trellis
        // with another TRELLIS_LOCAL_DIR; one whose run is alive is not leaked.
        if (!dir.exists() && !netns::pids(&name).is_empty()) || owner_alive(&dir) {
            continue;
        }
        if !dry_run {
            destroy(&name, &dir, Duration::from_secs(10))?;
        }
        removed.push(name);
    }
    Ok(removed)
}

/// Preflight for `--cluster local:VERSION`: the binaries and their versions, the
/// right to make a network namespace, a writable state directory.
pub fn preflight(opts: &LocalOptions) -> Vec<super::preflight::Check> {
    use super::preflight::Check;
    let mut checks = Vec::new();
    let root = &opts.cache_root;
    let built = binaries::built_versions(root);
    let b = Binaries::at(root, &opts.version);
    let build_fix = format!("run `k8s/build.sh {}`", opts.version);
    for program in binaries::CONTROL_PLANE {
        let path = b.program(program);
        let want = format!("Kubernetes {}", opts.version);
        let got = binaries::version_of(&path);
        let ok = got.as_deref() == Ok(want.as_str());
        checks.push(Check::new(
            "local binary",
            ok,
            match &got {
                Ok(v) if ok => format!("{} ({v})", path.display()),
                Ok(v) => format!("{} prints `{v}`, expected `{want}`", path.display()),
                Err(_) if built.is_empty() => {
                    format!("{} missing; no version is built", path.display())
                }
                Err(_) => format!("{} missing; built: {}", path.display(), built.join(", ")),
            },
            &build_fix,
        ));
    }
    for (tool, expect) in [
        ("etcd", "etcd Version: 3.6."),
        ("kwok", "kwok version v0.8"),
    ] {
        let path = b.tool(tool);
        let got = binaries::version_of(&path);
        let ok = got.as_ref().is_ok_and(|v| v.starts_with(expect));
        checks.push(Check::new(
            "local tool",
            ok,
            match &got {
                Ok(v) => format!("{} ({v})", path.display()),
                Err(e) => format!("{}: {e}", path.display()),
            },
            &build_fix,
        ));
    }
    let stages = b.kwok_stages();
    checks.push(Check::new(
        "kwok stages",
        stages.is_file(),
        stages.display().to_string(),
        &build_fix,
    ));
    let probe = format!("{}preflight-{}", super::NAME_PREFIX, std::process::id());
    let ns = netns::Netns::create(&probe, &[format!("{SUBNET}.1")]);
    checks.push(Check::new(
        "network namespace",
        ns.is_ok(),
        match &ns {
            Ok(_) => "`ip netns add` works; addresses on its lo work".into(),
            Err(e) => e.to_string(),
        },
        "run as root (CAP_SYS_ADMIN and CAP_NET_ADMIN) with iproute2 installed",
    ));
    if let Ok(ns) = ns {
        let _ = ns.delete();
    }
    let dir = &opts.state_root;
    let writable = std::fs::create_dir_all(dir)
        .and_then(|_| tempfile::tempfile_in(dir).map(|_| ()))
        .is_ok();
    checks.push(Check::new(
        "state directory",
        writable,
        format!(
            "{} {}",
            dir.display(),
            if writable {
                "is writable"
            } else {
                "is not writable"
            }
        ),
        "set TRELLIS_LOCAL_DIR to a writable directory outside /tmp",
    ));
    checks.push(Check::new(
        "ports",
        true,
        "none needed on the host: every component listens inside the cluster's own namespace"
            .into(),
        "",
    ));
    checks
}

/// A component's flags with `--emulated-version` set to `emulated`, or dropped when
/// it is `None` (the component then runs as its binary's own version).
fn with_emulated_version(args: &[String], emulated: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--emulated-version="))
        .cloned()
        .collect();
    if let Some(e) = emulated {
        out.push(format!("--emulated-version={e}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_specs_name_a_version_or_take_the_default() {
        let parse = |s| LocalOptions::parse_spec(s).map(|r| r.map_err(|e| e.to_string()));
        assert_eq!(
            parse("local"),
            Some(Ok(binaries::DEFAULT_VERSION.to_string()))
        );
        assert_eq!(parse("local:v1.36.3"), Some(Ok("v1.36.3".to_string())));
        assert!(
            matches!(parse("local:1.36"), Some(Err(e)) if e.contains("not a Kubernetes version"))
        );
        assert!(matches!(parse("local:v1.36"), Some(Err(_))));
        assert_eq!(parse("kind"), None);
        assert_eq!(parse("locale"), None);
    }

    #[test]
    fn options_out_of_range_are_refused_before_anything_starts() {
        let with = |control_planes, nodes| LocalOptions {
            control_planes,
            nodes,
            ..LocalOptions::new("v1.37.2".into())
        };
        assert!(with(1, 2).check().is_ok());
        assert!(with(0, 2).check().is_err());
        assert!(with(MAX_CONTROL_PLANES + 1, 2).check().is_err());
        assert!(with(1, 0).check().is_err());
    }

    #[test]
    fn a_version_that_is_not_built_lists_the_built_ones() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("v1.36.3/bin")).unwrap();
        std::fs::write(root.path().join("v1.36.3/bin/kube-apiserver"), "").unwrap();
        let e = Binaries::locate(root.path(), "v1.37.2").unwrap_err();
        assert!(
            e.to_string().starts_with("Kubernetes v1.37.2 is not built"),
            "{e}"
        );
        assert_eq!(
            e.hint(),
            "run `k8s/build.sh v1.37.2` (built so far: v1.36.3)"
        );
    }

    #[test]
    fn the_owner_of_a_run_is_this_process_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!owner_alive(dir.path()), "no owner file: not alive");
        std::fs::write(dir.path().join("owner"), owner_stamp(std::process::id())).unwrap();
        assert!(owner_alive(dir.path()));
        // The same pid with another start time is a different process.
        std::fs::write(
            dir.path().join("owner"),
            format!("{} 1", std::process::id()),
        )
        .unwrap();
        assert!(!owner_alive(dir.path()));
    }

    #[test]
    fn emulated_version_is_set_replaced_and_dropped() {
        let args = vec!["--secure-port=6443".to_string()];
        let emulating = with_emulated_version(&args, Some("1.36"));
        assert_eq!(emulating, ["--secure-port=6443", "--emulated-version=1.36"]);
        assert_eq!(
            with_emulated_version(&emulating, Some("1.35")),
            ["--secure-port=6443", "--emulated-version=1.35"]
        );
        assert_eq!(with_emulated_version(&emulating, None), args);
    }
}
