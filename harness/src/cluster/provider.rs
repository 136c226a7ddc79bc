//! Providers: where a run's cluster comes from. `kind` creates one (and always deletes
//! it); `kubeconfig` uses an existing cluster and never deletes it. `trellis run`
//! drives both through [`Provider`] the same way: provision, run, export logs,
//! tear down.

use super::access::{self, Access};
use super::kind::{self, CreateRequest, Kind};
use super::kind_config::KindConfig;
use super::kind_upgrade::{Docker, KindUpgrade, UpgradeArtifacts};
use super::ClusterError;
use crate::interrupt::Interrupt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub trait Provider {
    /// One line for the build log: what cluster this is.
    fn describe(&self) -> String;
    /// Makes the cluster ready for suites and says how to reach it.
    fn provision(&mut self, interrupt: &Interrupt) -> Result<Access, ClusterError>;
    /// Copies the cluster's logs into `dir` (best effort; the run goes on without).
    fn export_logs(&self, dir: &Path) -> Result<(), ClusterError>;
    /// Removes what `provision` created. Runs after success, failure and interrupts.
    fn teardown(&mut self) -> Result<(), ClusterError>;
    /// Directories of programs built for this cluster's version (kubectl, e2e.test,
    /// ginkgo), searched before the suites' defaults.
    fn program_dirs(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// The control plane, when trellis runs it and can upgrade it.
    fn upgradable(&mut self) -> Option<&mut dyn Upgradable> {
        None
    }
    /// The cluster is still there after the run (an existing one): its tests can be
    /// run again later (`trellis gate --retry`).
    fn outlives_the_run(&self) -> bool {
        false
    }
}

/// A control plane whose components trellis can replace one by one.
pub trait Upgradable {
    /// The Kubernetes version it runs now.
    fn version(&self) -> String;
    /// What is upgraded, one step each, in the order the version-skew policy asks:
    /// for the local provider every kube-apiserver, then kube-controller-manager,
    /// then kube-scheduler; for kind the control-plane nodes, then the workers.
    fn upgrade_order(&self) -> Vec<String>;
    /// Where `unit` stands in the policy's order: an upgrade is in order when the
    /// ranks of its steps never go down.
    fn policy_rank(&self, unit: &str) -> u8;
    /// Upgrades `unit` to `target` and waits until it is ready again.
    fn upgrade(
        &mut self,
        unit: &str,
        target: &UpgradeTarget,
        interrupt: &Interrupt,
    ) -> Result<UpgradeStep, ClusterError>;
    /// How a monitor outside kube-rs reaches the API: server URL and PEM credentials.
    fn endpoint(&self) -> Result<Endpoint, ClusterError>;
}

/// What a step upgrades to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeTarget {
    /// The binaries' version, `vX.Y.Z`.
    pub version: String,
    /// `--emulated-version MAJOR.MINOR` for the new binaries (KEP-4330's compatibility
    /// versions): the new binary serves the old version's APIs and feature defaults,
    /// so the step can still be rolled back; `None` runs it as itself.
    pub emulated_version: Option<String>,
}

/// What one upgrade step replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpgradeUnit {
    /// A control-plane process (the local provider).
    Process,
    /// A node, by `kubeadm upgrade` and a new kubelet (kind).
    Node,
}

/// One component's (or node's) upgrade.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpgradeStep {
    pub component: String,
    pub unit: UpgradeUnit,
    pub from: String,
    pub to: String,
    /// The version the new binary emulated, when it was told to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulated_version: Option<String>,
    /// Seconds from SIGTERM to the old process's exit (kind: the `kubeadm upgrade`
    /// command's run, which replaces the node's control-plane static pods).
    pub stopped_after: f64,
    /// Seconds from the new process's start to ready (kind: from the kubelet's
    /// restart to the node Ready at the new version).
    pub ready_after: f64,
}

/// A server and credentials to reach it directly (the upgrade monitor's own HTTP
/// clients), in PEM: the CA (empty: the system's roots), a client certificate and key
/// (both empty: none), or a bearer token.
#[derive(Clone)]
pub struct Endpoint {
    pub server: String,
    pub ca: Vec<u8>,
    pub client_cert: Vec<u8>,
    pub client_key: Vec<u8>,
    pub token: Option<String>,
}

// Credentials never reach a log: Debug names what is there, not what it is.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("server", &self.server)
            .field("client_cert", &!self.client_cert.is_empty())
            .field("token", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

/// A kind cluster made for this run.
pub struct KindProvider {
    pub cli: Kind,
    pub config: KindConfig,
    pub image: Option<String>,
    pub name: String,
    /// Where the cluster's kubeconfig is written.
    pub kubeconfig: PathBuf,
    pub ready_timeout: Duration,
    created: bool,
    /// For an upgrade run: how to reach the nodes and what to upgrade them to,
    /// until provisioning turns it into `upgrade`.
    upgrade_with: Option<(Docker, UpgradeArtifacts)>,
    upgrade: Option<KindUpgrade>,
}

impl KindProvider {
    pub fn new(
        cli: Kind,
        config: KindConfig,
        image: Option<String>,
        kubeconfig: PathBuf,
        ready_timeout: Duration,
    ) -> KindProvider {
        KindProvider {
            cli,
            config,
            image,
            name: kind::new_cluster_name(chrono::Utc::now().timestamp()),
            kubeconfig,
            ready_timeout,
            created: false,
            upgrade_with: None,
            upgrade: None,
        }
    }

    /// Makes the cluster upgradable (the upgrade suite): once it is up, its node
    /// containers are found through `docker` and can be upgraded with `artifacts`.
    pub fn prepare_upgrade(&mut self, docker: Docker, artifacts: UpgradeArtifacts) {
        self.upgrade_with = Some((docker, artifacts));
    }
}

impl Provider for KindProvider {
    fn describe(&self) -> String {
        format!(
            "kind cluster {} from {} ({} control plane(s), {} worker(s), {}){}",
            self.name,
            self.config.path.display(),
            self.config.control_planes,
            self.config.workers,
            self.config.ip_family,
            self.image
                .as_deref()
                .map(|i| format!(", image {i}"))
                .unwrap_or_default()
        )
    }

    fn provision(&mut self, interrupt: &Interrupt) -> Result<Access, ClusterError> {
        // Marked before the call: a failed or interrupted create leaves nodes behind
        // (--retain), and teardown must delete them.
        self.created = true;
        self.cli.create_interruptible(
            &CreateRequest {
                name: self.name.clone(),
                config: self.config.path.clone(),
                image: self.image.clone(),
                kubeconfig: self.kubeconfig.clone(),
            },
            interrupt,
        )?;
        let access = Access {
            kubeconfig: self.kubeconfig.clone(),
            context: Some(format!("kind-{}", self.name)),
        };
        let expected = self.config.control_planes + self.config.workers;
        access::runtime()?.block_on(access::wait_nodes_ready(
            &access,
            Some(expected),
            self.ready_timeout,
            interrupt,
        ))?;
        if let Some((docker, artifacts)) = self.upgrade_with.take() {
            self.upgrade = Some(KindUpgrade::discover(
                docker,
                artifacts,
                access.clone(),
                &self.name,
                self.ready_timeout,
                interrupt,
            )?);
        }
        Ok(access)
    }

    fn upgradable(&mut self) -> Option<&mut dyn Upgradable> {
        self.upgrade.as_mut().map(|u| u as &mut dyn Upgradable)
    }

    fn export_logs(&self, dir: &Path) -> Result<(), ClusterError> {
        if !self.created {
            return Ok(());
        }
        self.cli.export_logs(&self.name, dir)
    }

    fn teardown(&mut self) -> Result<(), ClusterError> {
        if !std::mem::take(&mut self.created) {
            return Ok(());
        }
        self.cli.delete(&self.name)
    }
}

/// An existing cluster; trellis only checks it and never deletes it.
pub struct KubeconfigProvider {
    pub access: Access,
    pub ready_timeout: Duration,
    /// Node names and the server version, for the logs export.
    seen: Option<(String, Vec<String>)>,
}

impl KubeconfigProvider {
    pub fn new(access: Access, ready_timeout: Duration) -> KubeconfigProvider {
        KubeconfigProvider {
            access,
            ready_timeout,
            seen: None,
        }
    }
}

impl Provider for KubeconfigProvider {
    fn outlives_the_run(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "existing cluster from {}{} (never deleted)",
            self.access.kubeconfig.display(),
            self.access
                .context
                .as_deref()
                .map(|c| format!(", context {c}"))
                .unwrap_or_default()
        )
    }

    fn provision(&mut self, interrupt: &Interrupt) -> Result<Access, ClusterError> {
        let rt = access::runtime()?;
        let version = rt.block_on(self.access.server_version())?;
        let nodes = rt.block_on(access::wait_nodes_ready(
            &self.access,
            None,
            self.ready_timeout,
            interrupt,
        ))?;
        self.seen = Some((version, nodes));
        Ok(self.access.clone())
    }

    fn export_logs(&self, dir: &Path) -> Result<(), ClusterError> {
        let Some((version, nodes)) = &self.seen else {
            return Ok(());
        };
        let info = serde_json::json!({"serverVersion": version, "nodes": nodes});
        let path = dir.join("cluster-info.json");
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&path, info.to_string()))
            .map_err(|e| ClusterError::Config {
                path,
                reason: e.to_string(),
            })
    }

    fn teardown(&mut self) -> Result<(), ClusterError> {
        Ok(())
    }
}
