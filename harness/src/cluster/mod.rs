//! Clusters to run suites on: kind clusters trellis creates (and always deletes), and
//! existing clusters named by a kubeconfig. Preflight checks fail fast with the fix;
//! the janitor removes trellis-made kind clusters that outlived their run.
//!
//! What is here is tested against a scripted stand-in for the `kind` CLI that records
//! the exact arguments it gets; there is no Docker engine on the development machines.

pub mod kind;
pub mod kind_config;
pub mod preflight;

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
    #[error("`kind {stage}` did not finish within {seconds} s")]
    Timeout { stage: &'static str, seconds: u64 },
}

impl ClusterError {
    pub fn hint(&self) -> &'static str {
        match self {
            ClusterError::Config { .. } => "fix the named field; configs are kind.x-k8s.io/v1alpha4 (see kind-configs/)",
            ClusterError::Spawn { .. } => "install kind (go install sigs.k8s.io/kind@latest) or pass --kind PATH",
            ClusterError::Kind { .. } => "read kind's output above; `trellis preflight` checks docker, inotify limits and ports",
            ClusterError::Timeout { .. } => "raise --timeout, or check that docker can pull the node image",
        }
    }
}
