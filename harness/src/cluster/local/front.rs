//! The health-checking front that HA local clusters put before their API servers
//! (10.250.0.10:6443), as kind's HA clusters put haproxy: every client (the
//! controllers, kwok, the suites, the upgrade monitor) dials the front, which passes
//! each TCP connection through, TLS and all, to an API server whose `/readyz` answers.
//!
//! Why our own and not Debian's haproxy: it is ~150 lines, needs no package or config
//! file, lives and dies with the cluster, and checks `/readyz` with the cluster's own
//! CA. It does what haproxy's `option httpchk GET /readyz` with `fall 2 rise 1` does:
//! a backend leaves rotation after two failed checks and comes back after one good
//! one. With `--shutdown-delay-duration` longer than two check intervals, an API
//! server told to stop fails `/readyz` and leaves rotation while it still serves, so
//! new connections never meet a closed port.

use super::LocalError;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Checks that fail before a backend leaves rotation.
const FALL: u32 = 2;

pub struct Front {
    pub address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Backend {
    address: SocketAddr,
    healthy: AtomicBool,
}

impl Front {
    /// Listens on `address` and starts checking each backend's `/readyz` every
    /// `check_every`, trusting `ca_pem`. Backends start out of rotation.
    pub fn start(
        address: SocketAddr,
        backends: &[SocketAddr],
        ca_pem: &[u8],
        check_every: Duration,
    ) -> Result<Front, LocalError> {
        let listener = std::net::TcpListener::bind(address).map_err(|source| LocalError::Io {
            path: format!("front {address}").into(),
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| LocalError::Io {
                path: format!("front {address}").into(),
                source,
            })?;
        let ca = reqwest::Certificate::from_pem(ca_pem).map_err(|e| LocalError::Pki {
            what: "the front's CA".into(),
            reason: e.to_string(),
        })?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(ca)
            .timeout(check_every)
            .build()
            .map_err(|e| LocalError::Pki {
                what: "the front's health-check client".into(),
                reason: e.to_string(),
            })?;
        let backends: Arc<Vec<Backend>> = Arc::new(
            backends
                .iter()
                .map(|&address| Backend {
                    address,
                    healthy: AtomicBool::new(false),
                })
                .collect(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = crate::cluster::access::spawn_runtime_thread(
            "trellis-front",
            serve(listener, backends, client, check_every, stopped),
        )
        .map_err(|source| LocalError::Io {
            path: "front thread".into(),
            source,
        })?;
        Ok(Front {
            address,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops listening and checking; connections in flight end with it.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    backends: Arc<Vec<Backend>>,
    client: reqwest::Client,
    check_every: Duration,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    for i in 0..backends.len() {
        tokio::spawn(check(backends.clone(), i, client.clone(), check_every));
    }
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((inbound, _)) = accepted else { continue };
                tokio::spawn(pass_through(inbound, backends.clone(), next.clone()));
            }
        }
    }
}

/// Keeps one backend's health: out after [`FALL`] failed checks, in after one good.
async fn check(backends: Arc<Vec<Backend>>, i: usize, client: reqwest::Client, every: Duration) {
    let backend = &backends[i];
    let url = format!("https://{}/readyz", backend.address);
    let mut failed = 0u32;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ok = matches!(client.get(&url).send().await, Ok(r) if r.status().is_success());
        if ok {
            failed = 0;
            backend.healthy.store(true, Ordering::SeqCst);
        } else {
            failed += 1;
            if failed >= FALL {
                backend.healthy.store(false, Ordering::SeqCst);
            }
        }
    }
}

/// Round robin over the healthy backends; with none healthy the connection is closed,
/// as haproxy does with no server up.
async fn pass_through(
    mut inbound: tokio::net::TcpStream,
    backends: Arc<Vec<Backend>>,
    next: Arc<AtomicUsize>,
) {
    let n = backends.len();
    let start = next.fetch_add(1, Ordering::Relaxed);
    for k in 0..n {
        let b = &backends[(start + k) % n];
        if !b.healthy.load(Ordering::SeqCst) {
            continue;
        }
        let connect = tokio::net::TcpStream::connect(b.address);
        if let Ok(Ok(mut outbound)) = tokio::time::timeout(Duration::from_secs(2), connect).await {
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            return;
        }
    }
}
