//! The disruption monitor: from before the first upgrade step until after the last,
//! every `interval` each backend is sampled once, each sample in a task of its own
//! with its own timeout, so a slow request never delays the next (OpenShift's
//! sampler design). Every sample is kept: start, latency, outcome, error class.
//!
//! Backends: `GET /api/v1/namespaces/default` on a new connection each time and on a
//! reused one; the same with `?resourceVersion=0` (served from the watch cache, no
//! etcd); `/readyz?exclude=shutdown` (ClusterLoader2's APIAvailability); a writer
//! that patches one ConfigMap each interval; and a watch on that ConfigMap that must
//! see every value the writer wrote (or a re-list that covers it).

use super::disruption::Sample;
use crate::cluster::provider::Endpoint;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the writer and the watch work.
pub const NAMESPACE: &str = "trellis-upgrade";
pub const PROBE_CONFIGMAP: &str = "trellis-upgrade-probe";

/// The sampled backends, by the names budgets and JUnit use.
pub const BACKENDS: [&str; 6] = [
    "kube-api-new",
    "kube-api-reused",
    "cache-kube-api-new",
    "cache-kube-api-reused",
    "readyz",
    "writes",
];

/// What the watch saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatchRecord {
    /// Counter values seen in watch events.
    pub seen: Vec<u64>,
    /// Counter values the writer wrote successfully.
    pub written: Vec<u64>,
    /// The counter the first list found: the watch starts after it, so values up to
    /// it (written before the watch began, as a loaded machine can make happen) are
    /// covered, not lost.
    pub listed_first: u64,
    /// The counter each re-list found (after a 410 or an error it cannot resume from).
    pub relisted: Vec<u64>,
    pub reconnects: usize,
    /// Longest time between two events, in seconds, while the writer wrote.
    pub longest_gap: f64,
}

impl WatchRecord {
    /// Written values neither seen as an event nor covered by a later re-list.
    pub fn lost(&self) -> Vec<u64> {
        let seen: std::collections::BTreeSet<u64> = self.seen.iter().copied().collect();
        let covered = self
            .relisted
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.listed_first);
        self.written
            .iter()
            .copied()
            .filter(|v| !seen.contains(v) && *v > covered)
            .collect()
    }
}

/// Everything the monitor recorded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    /// When monitoring started, as Unix time in seconds (sample starts count from it).
    pub started_at: f64,
    pub interval: f64,
    /// Seconds from the monitor's start to its end.
    pub duration: f64,
    pub samples: BTreeMap<String, Vec<Sample>>,
    pub watch: WatchRecord,
}

#[derive(Default)]
struct Shared {
    samples: BTreeMap<String, Vec<Sample>>,
    watch: WatchRecord,
    last_event: Option<Instant>,
}

/// A running monitor; [`Monitor::stop`] ends it and returns the record.
pub struct Monitor {
    started_at: f64,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Mutex<Shared>>,
    started: Instant,
    interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("the monitor's HTTP client: {0}")]
    Client(String),
    #[error("starting the monitor thread: {0}")]
    Thread(#[source] std::io::Error),
}

fn client(e: &Endpoint, reuse: bool, timeout: Duration) -> Result<reqwest::Client, MonitorError> {
    let bad = |e: reqwest::Error| MonitorError::Client(e.to_string());
    let mut b = reqwest::Client::builder().no_proxy().timeout(timeout);
    if !e.ca.is_empty() {
        for ca in reqwest::Certificate::from_pem_bundle(&e.ca).map_err(bad)? {
            b = b.add_root_certificate(ca);
        }
    }
    if !e.client_cert.is_empty() {
        let mut identity = e.client_cert.clone();
        identity.extend_from_slice(&e.client_key);
        b = b.identity(reqwest::Identity::from_pem(&identity).map_err(bad)?);
    }
    if let Some(token) = &e.token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| MonitorError::Client("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        b = b.default_headers(headers);
    }
    if !reuse {
        // No idle connection is kept: every request dials, handshakes and meets
        // whatever now listens (OpenShift's "new connections" backend).
        b = b.pool_max_idle_per_host(0);
    }
    b.build().map_err(bad)
}

/// The error class a failed request is counted under.
fn class(r: &Result<reqwest::Response, reqwest::Error>) -> Option<String> {
    match r {
        Ok(resp) if resp.status().is_success() || resp.status().is_redirection() => None,
        Ok(resp) => Some(format!("http-{}", resp.status().as_u16())),
        Err(e) if e.is_timeout() => Some("timeout".into()),
        Err(e) if e.is_connect() => Some("connect".into()),
        Err(e) if e.is_request() => Some("request".into()),
        Err(_) => Some("other".into()),
    }
}

impl Monitor {
    /// Starts sampling every `interval`, each request with `timeout`.
    pub fn start(
        endpoint: &Endpoint,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Monitor, MonitorError> {
        let fresh = client(endpoint, false, timeout)?;
        let reused = client(endpoint, true, timeout)?;
        // The watch holds its connection open: no overall request timeout.
        let watcher = client(endpoint, true, Duration::from_secs(3600))?;
        let server = endpoint.server.clone();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let state = shared.clone();
        let thread =
            crate::cluster::access::spawn_runtime_thread("trellis-upgrade-monitor", async move {
                let watch = tokio::spawn(watch_probe(
                    watcher,
                    server.clone(),
                    state.clone(),
                    stopped.clone(),
                ));
                sample_loop(fresh, reused, server, state, interval, started, stopped).await;
                // Let the watch catch the writer's last values before it ends.
                tokio::time::sleep(Duration::from_secs(2)).await;
                watch.abort();
            })
            .map_err(MonitorError::Thread)?;
        Ok(Monitor {
            started_at,
            stop: Some(stop),
            thread: Some(thread),
            shared,
            started,
            interval,
        })
    }

    /// Ends sampling (in-flight samples finish) and returns everything recorded.
    pub fn stop(mut self) -> Record {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        let duration = self.started.elapsed().as_secs_f64();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let mut samples = shared.samples.clone();
        for list in samples.values_mut() {
            list.sort_by(|a, b| a.start.total_cmp(&b.start));
        }
        Record {
            started_at: self.started_at,
            interval: self.interval.as_secs_f64(),
            duration,
            samples,
            watch: shared.watch.clone(),
        }
    }
}

async fn sample_loop(
    fresh: reqwest::Client,
    reused: reqwest::Client,
    server: String,
    shared: Arc<Mutex<Shared>>,
    interval: Duration,
    started: Instant,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    let mut counter: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => break,
        }
        counter += 1;
        let namespace = format!("{server}/api/v1/namespaces/default");
        let gets = [
            ("kube-api-new", &fresh, namespace.clone()),
            ("kube-api-reused", &reused, namespace.clone()),
            (
                "cache-kube-api-new",
                &fresh,
                format!("{namespace}?resourceVersion=0"),
            ),
            (
                "cache-kube-api-reused",
                &reused,
                format!("{namespace}?resourceVersion=0"),
            ),
            (
                "readyz",
                &reused,
                format!("{server}/readyz?exclude=shutdown"),
            ),
        ];
        for (backend, client, url) in gets {
            let (client, state) = (client.clone(), shared.clone());
            tasks.spawn(async move {
                let start = started.elapsed();
                let r = client.get(&url).send().await;
                record(&state, backend, start, started.elapsed() - start, class(&r));
            });
        }
        let (client, state) = (reused.clone(), shared.clone());
        let url = format!("{server}/api/v1/namespaces/{NAMESPACE}/configmaps/{PROBE_CONFIGMAP}");
        tasks.spawn(async move {
            let start = started.elapsed();
            let body = serde_json::json!({"data": {"n": counter.to_string()}});
            let r = client
                .patch(&url)
                .header("Content-Type", "application/merge-patch+json")
                .body(body.to_string())
                .send()
                .await;
            let error = class(&r);
            if error.is_none() {
                lock(&state).watch.written.push(counter);
            }
            record(&state, "writes", start, started.elapsed() - start, error);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

fn record(
    shared: &Mutex<Shared>,
    backend: &str,
    start: Duration,
    latency: Duration,
    error: Option<String>,
) {
    lock(shared)
        .samples
        .entry(backend.to_string())
        .or_default()
        .push(Sample {
            start: start.as_secs_f64(),
            latency: latency.as_secs_f64(),
            error,
        });
}

/// The counter and resourceVersion of a ConfigMap in JSON.
fn counter_of(object: &serde_json::Value) -> (Option<u64>, Option<String>) {
    (
        object["data"]["n"].as_str().and_then(|n| n.parse().ok()),
        object["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
    )
}

/// Watches the probe ConfigMap, resuming from the last resourceVersion after a broken
/// stream and re-listing when the server says it is too old.
async fn watch_probe(
    client: reqwest::Client,
    server: String,
    shared: Arc<Mutex<Shared>>,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let object = format!("{server}/api/v1/namespaces/{NAMESPACE}/configmaps/{PROBE_CONFIGMAP}");
    let mut rv: Option<String> = None;
    let mut first = true;
    while !*stopped.borrow() {
        if rv.is_none() {
            // (Re-)list: where the watch starts, and what it covers.
            match client.get(&object).send().await {
                Ok(r) if r.status().is_success() => {
                    let body = r.bytes().await.unwrap_or_default();
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                        let (n, version) = counter_of(&v);
                        rv = version;
                        let mut s = lock(&shared);
                        if first {
                            s.watch.listed_first = n.unwrap_or(0);
                        } else {
                            s.watch.relisted.push(n.unwrap_or(0));
                        }
                        first = false;
                    }
                }
                _ => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let url = format!(
            "{server}/api/v1/namespaces/{NAMESPACE}/configmaps?watch=1&allowWatchBookmarks=true&fieldSelector=metadata.name%3D{PROBE_CONFIGMAP}&resourceVersion={}",
            rv.clone().unwrap_or_default()
        );
        let mut resp = match client.get(&url).send().await {
            Ok(r) if r.status().as_u16() == 410 => {
                rv = None;
                continue;
            }
            Ok(r) if r.status().is_success() => r,
            _ => {
                lock(&shared).watch.reconnects += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut buffer: Vec<u8> = Vec::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                _ => break,
            };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let Ok(event) = serde_json::from_slice::<serde_json::Value>(&line) else {
                    continue;
                };
                match event["type"].as_str() {
                    // 410 Gone inside the stream: the resourceVersion is too old.
                    Some("ERROR") if event["object"]["code"].as_u64() == Some(410) => {
                        rv = None;
                    }
                    Some("ERROR") => {}
                    Some("BOOKMARK") => {
                        rv = counter_of(&event["object"]).1.or(rv.take());
                    }
                    Some(_) => {
                        let (n, version) = counter_of(&event["object"]);
                        let now = Instant::now();
                        let mut s = lock(&shared);
                        if let Some(last) = s.last_event {
                            let gap = now.duration_since(last).as_secs_f64();
                            s.watch.longest_gap = s.watch.longest_gap.max(gap);
                        }
                        s.last_event = Some(now);
                        if let Some(n) = n {
                            s.watch.seen.push(n);
                        }
                        rv = version.or(rv.take());
                    }
                    None => {}
                }
            }
        }
        lock(&shared).watch.reconnects += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_neither_seen_nor_covered_by_a_relist_are_lost() {
        let w = WatchRecord {
            seen: vec![1, 2, 5, 6],
            written: vec![1, 2, 3, 4, 5, 6, 7],
            listed_first: 0,
            relisted: vec![4],
            reconnects: 1,
            longest_gap: 2.0,
        };
        assert_eq!(w.lost(), vec![7], "3 and 4 are covered by the re-list at 4");
    }

    /// Found on a loaded CI machine: the writer wrote 1 before the watcher's first
    /// list returned, so the watch (which starts after that list) never saw it.
    #[test]
    fn values_the_first_list_already_holds_are_not_lost() {
        let w = WatchRecord {
            seen: vec![2, 3],
            written: vec![1, 2, 3],
            listed_first: 1,
            relisted: Vec::new(),
            reconnects: 0,
            longest_gap: 1.0,
        };
        assert!(w.lost().is_empty(), "{:?}", w.lost());
    }
}
