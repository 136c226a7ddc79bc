//! Clusters to run suites on: kind clusters trellis creates (and always deletes), and
//! existing clusters named by a kubeconfig. Preflight checks fail fast with the fix;
//! the janitor removes trellis-made kind clusters that outlived their run.
//!
//! What is here is tested against a scripted stand-in for the `kind` CLI that records
//! the exact arguments it gets, and against fakekube (an in-process fake API server)
//! for the kube-rs parts; there is no Docker engine on the development machines.

pub mod access;
pub mod kind;
pub mod kind_config;
pub mod kind_upgrade;
pub mod local;
pub mod preflight;
pub mod provider;

use std::path::PathBuf;

/// Prefix of every cluster trellis creates; the janitor only ever touches these.
pub const NAME_PREFIX: &str = "trellis-";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("`{program}` could not be started: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`kind {stage}` failed (exit {code}): {summary}")]
    Kind {
        stage: &'static str,
        code: i32,
        /// kind's `ERROR:` line and the `Command Output:` that follows it.
        summary: String,
    },
    #[error("--cluster {spec}: not a cluster trellis can make")]
    UnknownCluster { spec: String },
    #[error("`kind {stage}` did not finish within {seconds} s")]
    Timeout { stage: &'static str, seconds: u64 },
    #[error("{path}: cannot use this kubeconfig: {reason}")]
    Kubeconfig { path: PathBuf, reason: String },
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("nodes not Ready within {seconds} s: {detail}")]
    NotReady { seconds: u64, detail: String },
    #[error("`docker {command}` on node {node} failed (exit {code}): {output}")]
    NodeCommand {
        node: String,
        command: String,
        code: i32,
        /// The last lines the command printed.
        output: String,
    },
    #[error("`docker {command}` on node {node} did not finish within {seconds} s")]
    NodeTimeout {
        node: String,
        command: String,
        seconds: u64,
    },
    #[error("{}: no upgrade to {version} from here: {reason}", dir.display())]
    UpgradeArtifacts {
        dir: PathBuf,
        version: String,
        reason: String,
    },
    #[error("kind cluster {cluster}: {reason}")]
    KindNodes { cluster: String, reason: String },
    /// Boxed: the local provider's errors carry log tails and would make every
    /// `Result<_, ClusterError>` large.
    #[error(transparent)]
    Local(Box<local::LocalError>),
    #[error("interrupted")]
    Interrupted,
}

impl ClusterError {
    pub fn hint(&self) -> std::borrow::Cow<'static, str> {
        if let ClusterError::Local(e) = self {
            return e.hint().into();
        }
        let text = match self {
            ClusterError::Config { .. } => "fix the named field; configs are kind.x-k8s.io/v1alpha4 (see kind-configs/)",
            ClusterError::UnknownCluster { .. } => "use --cluster kind, kind:CONFIG, local or local:VERSION (e.g. local:v1.37.2), or --kubeconfig PATH for an existing cluster",
            ClusterError::Spawn { .. } => "install kind (go install sigs.k8s.io/kind@latest) or pass --kind PATH",
            ClusterError::Kind { .. } => "read kind's output above; `trellis preflight` checks docker, inotify limits and ports",
            ClusterError::Timeout { .. } => "raise --kind-timeout, or check that docker can pull the node image",
            ClusterError::Kubeconfig { .. } => "pass a kubeconfig that `kubectl --kubeconfig PATH get nodes` accepts, and --context if it has several",
            ClusterError::Api { .. } => "check that the cluster is reachable: kubectl --kubeconfig PATH cluster-info",
            ClusterError::NotReady { .. } => "raise --ready-timeout, or look at the exported node logs (kubelet, CNI)",
            ClusterError::NodeCommand { .. } => "read the command's output above; the node's kubelet and static pod logs are in the build's artifacts/logs (kind export logs)",
            ClusterError::NodeTimeout { .. } => "raise --kind-timeout (the deadline of each command on a node), or look at the node with docker exec",
            ClusterError::UpgradeArtifacts { .. } => "put kubeadm, kubelet and kubectl of that version in the directory (k8s/build.sh --node-binaries VERSION builds them) or pass --upgrade-artifacts DIR",
            ClusterError::KindNodes { .. } => "kind labels each node container with io.x-k8s.kind.cluster and io.x-k8s.kind.role: check `docker ps --filter label=io.x-k8s.kind.cluster=NAME`",
            ClusterError::Interrupted => "the run was stopped by Ctrl-C or SIGTERM; the cluster was torn down",
            ClusterError::Local(_) => unreachable!("handled above"),
        };
        text.into()
    }
}

impl From<local::LocalError> for ClusterError {
    fn from(e: local::LocalError) -> ClusterError {
        ClusterError::Local(Box::new(e))
    }
}
