//! Reaching a cluster: a kube-rs client from a kubeconfig file and context, and the
//! check that every node is Ready under a deadline (kind's `--wait` returns 0 even
//! when it times out, so trellis checks for itself).

use super::ClusterError;
use crate::interrupt::Interrupt;
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use std::path::PathBuf;
use std::time::Duration;
use trellis_wait::{poll_until, Poll, Waited};

/// How to reach a cluster: a kubeconfig file and, optionally, one of its contexts.
#[derive(Debug, Clone)]
pub struct Access {
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
}

impl Access {
    fn unusable(&self, reason: String) -> ClusterError {
        ClusterError::Kubeconfig {
            path: self.kubeconfig.clone(),
            reason,
        }
    }

    fn read(&self) -> Result<Kubeconfig, ClusterError> {
        Kubeconfig::read_from(&self.kubeconfig).map_err(|e| self.unusable(e.to_string()))
    }

    /// The client configuration of the chosen context.
    async fn config(&self) -> Result<kube::Config, ClusterError> {
        let file = self.read()?;
        let opts = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(file, &opts)
            .await
            .map_err(|e| self.unusable(e.to_string()))
    }

    pub async fn client(&self) -> Result<Client, ClusterError> {
        Client::try_from(self.config().await?).map_err(|e| self.unusable(e.to_string()))
    }

    /// The server and credentials the kubeconfig names, for clients of trellis's own
    /// (the upgrade monitor dials new connections itself): a client certificate or a
    /// token, inline or from a file. An exec or auth-provider plugin is refused, by
    /// name, since the monitor does not run one.
    pub async fn endpoint(&self) -> Result<super::provider::Endpoint, ClusterError> {
        use base64::Engine as _;
        use secrecy::ExposeSecret as _;
        let config = self.config().await?;
        let auth = &config.auth_info;
        if auth.exec.is_some() || auth.auth_provider.is_some() {
            return Err(self.unusable(
                "its user authenticates through an exec or auth-provider plugin; the \
                 availability monitor needs a client certificate or a token in the kubeconfig"
                    .into(),
            ));
        }
        let base = self
            .kubeconfig
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        let load = |data: Option<&str>,
                    path: Option<&String>,
                    what: &str|
         -> Result<Vec<u8>, ClusterError> {
            if let Some(data) = data {
                return base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| self.unusable(format!("{what}-data is not base64: {e}")));
            }
            match path {
                Some(p) => std::fs::read(base.join(p))
                    .map_err(|e| self.unusable(format!("{what} {p}: {e}"))),
                None => Ok(Vec::new()),
            }
        };
        let client_cert = load(
            auth.client_certificate_data.as_deref(),
            auth.client_certificate.as_ref(),
            "client-certificate",
        )?;
        let client_key = load(
            auth.client_key_data.as_ref().map(|k| k.expose_secret()),
            auth.client_key.as_ref(),
            "client-key",
        )?;
        let token = match (&auth.token, &auth.token_file) {
            (Some(t), _) => Some(t.expose_secret().to_string()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(base.join(f))
                    .map_err(|e| self.unusable(format!("tokenFile {f}: {e}")))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        if client_cert.is_empty() && token.is_none() {
            return Err(self.unusable(
                "its user has neither a client certificate nor a token; the availability \
                 monitor needs one"
                    .into(),
            ));
        }
        let ca = config
            .root_cert
            .unwrap_or_default()
            .iter()
            .map(|der| {
                let body = base64::engine::general_purpose::STANDARD.encode(der);
                let lines: Vec<&str> = body
                    .as_bytes()
                    .chunks(64)
                    .map(|c| std::str::from_utf8(c).unwrap_or_default())
                    .collect();
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
            })
            .collect::<String>()
            .into_bytes();
        Ok(super::provider::Endpoint {
            server: config
                .cluster_url
                .to_string()
                .trim_end_matches('/')
                .to_string(),
            ca,
            client_cert,
            client_key,
            token,
        })
    }

    /// Checks, without contacting the cluster, that the file is a kubeconfig and has
    /// the context asked for (or a current context).
    pub fn check(&self) -> Result<(), ClusterError> {
        let file = self.read()?;
        let wanted = self.context.clone().or(file.current_context.clone());
        let Some(wanted) = wanted else {
            return Err(self.unusable("it sets no current-context; pass --context".into()));
        };
        if file.contexts.iter().any(|c| c.name == wanted) {
            return Ok(());
        }
        let known: Vec<&str> = file.contexts.iter().map(|c| c.name.as_str()).collect();
        Err(self.unusable(format!(
            "no context `{wanted}` (it has: {})",
            known.join(", ")
        )))
    }

    /// The server's version (`gitVersion`, e.g. v1.34.1).
    pub async fn server_version(&self) -> Result<String, ClusterError> {
        let client = self.client().await?;
        let info = client
            .apiserver_version()
            .await
            .map_err(|source| ClusterError::Api {
                what: "GET /version".into(),
                source,
            })?;
        Ok(info.git_version)
    }
}

/// Why a node is not Ready, from its Ready condition.
fn not_ready_reason(node: &Node) -> Option<String> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    match ready {
        Some(c) if c.status == "True" => None,
        Some(c) => Some(format!(
            "{name}: Ready={} ({})",
            c.status,
            c.message.clone().or(c.reason.clone()).unwrap_or_default()
        )),
        None => Some(format!("{name}: no Ready condition yet")),
    }
}

/// Polls until `expected` nodes (or at least one, when `None`) exist and all are
/// Ready; returns their names. Fails at the deadline naming the nodes that are not.
pub async fn wait_nodes_ready(
    access: &Access,
    expected: Option<usize>,
    deadline: Duration,
    interrupt: &Interrupt,
) -> Result<Vec<String>, ClusterError> {
    let nodes: Api<Node> = Api::all(access.client().await?);
    let stop = || interrupt.is_set();
    let waited = poll_until(
        "every node Ready",
        deadline,
        Duration::from_millis(250),
        &stop,
        || async {
            Ok::<_, std::convert::Infallible>(match nodes.list(&ListParams::default()).await {
                Ok(list) => nodes_ready(list.items, expected),
                // The API server may still be starting: keep trying until the deadline.
                Err(e) => Poll::Pending(format!("listing nodes: {e}")),
            })
        },
    )
    .await;
    waited.map_err(not_ready(deadline))
}

/// A node wait that ended without its condition: not Ready in time, or interrupted.
fn not_ready(deadline: Duration) -> impl Fn(Waited<std::convert::Infallible>) -> ClusterError {
    move |w| match w {
        Waited::TimedOut { last, .. } => ClusterError::NotReady {
            seconds: deadline.as_secs(),
            detail: last,
        },
        Waited::Stopped => ClusterError::Interrupted,
        Waited::Failed(never) => match never {},
    }
}

/// Waits until node `name` is Ready and its kubelet reports `version` (a kubelet
/// just replaced and restarted); returns how long that took.
pub async fn wait_node_at_version(
    access: &Access,
    name: &str,
    version: &str,
    deadline: Duration,
    interrupt: &Interrupt,
) -> Result<Duration, ClusterError> {
    let nodes: Api<Node> = Api::all(access.client().await?);
    let stop = || interrupt.is_set();
    let started = std::time::Instant::now();
    let waited = poll_until(
        "the node Ready at the new version",
        deadline,
        Duration::from_millis(250),
        &stop,
        || async {
            Ok::<_, std::convert::Infallible>(match nodes.get(name).await {
                Ok(node) => {
                    let kubelet = node
                        .status
                        .as_ref()
                        .and_then(|s| s.node_info.as_ref())
                        .map(|i| i.kubelet_version.clone())
                        .unwrap_or_default();
                    match not_ready_reason(&node) {
                        Some(why) => Poll::Pending(why),
                        None if kubelet != version => {
                            Poll::Pending(format!("{name}'s kubelet reports {kubelet}"))
                        }
                        None => Poll::Ready(()),
                    }
                }
                // The API server may be restarting under the upgrade: keep trying.
                Err(e) => Poll::Pending(format!("reading node {name}: {e}")),
            })
        },
    )
    .await;
    waited
        .map(|()| started.elapsed())
        .map_err(not_ready(deadline))
}

/// The condition: `expected` nodes (or at least one) registered, every one Ready;
/// ready with their names, else pending with what is missing.
fn nodes_ready(items: Vec<Node>, expected: Option<usize>) -> Poll<Vec<String>> {
    let problems: Vec<String> = items.iter().filter_map(not_ready_reason).collect();
    let count = items.len();
    let enough = expected.map_or(count > 0, |n| count == n);
    if enough && problems.is_empty() {
        return Poll::Ready(items.into_iter().filter_map(|n| n.metadata.name).collect());
    }
    Poll::Pending(match expected {
        Some(n) if count != n => {
            format!("{count} of {n} nodes registered; {}", problems.join("; "))
        }
        _ => problems.join("; "),
    })
}

/// A current-thread runtime for the async (kube-rs) steps of a synchronous command.
pub fn runtime() -> Result<tokio::runtime::Runtime, ClusterError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ClusterError::Spawn {
            program: "tokio runtime".into(),
            source,
        })
}

/// Runs `fut` to completion on a two-worker runtime in a thread of its own (the
/// front, the upgrade monitor). The thread is started from the calling thread, so it
/// is in whatever network namespace the caller is in — a local cluster's, for those.
pub fn spawn_runtime_thread<F>(name: &str, fut: F) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                rt.block_on(fut);
            }
        })
}
