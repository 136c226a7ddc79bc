//! The control loops the fake still needs, cut down to what suites observe: nodes
//! becoming Ready (or never), namespace lifecycle (default ServiceAccount on creation,
//! contents removed on deletion), and a kubelet that schedules pods, runs their
//! containers and reports their status. Deployments, EndpointSlices, garbage
//! collection and RBAC are the real control plane's job now (the `local` provider).

use crate::resources::by_kind;
use crate::runtime::Runtime;
use crate::store::{ApiError, Key, Store};
use crate::Options;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

pub struct Controllers {
    pub store: Arc<Store>,
    pub runtime: Arc<Runtime>,
    pub opts: Arc<Options>,
    pub started: Instant,
}

impl Controllers {
    /// Runs every loop once; called on a short tick.
    pub fn tick(&self) {
        self.nodes();
        self.namespaces();
        self.kubelet();
    }

    fn nodes(&self) {
        let ready =
            self.started.elapsed() >= self.opts.node_ready_after && !self.opts.nodes_never_ready;
        let nodes = by_kind("Node");
        for (key, node) in self.store.all(nodes) {
            let want = if ready { "True" } else { "False" };
            if node["status"]["conditions"][0]["status"] == want {
                continue;
            }
            let _ = self.store.update(nodes, &key, |n| {
                let mut n = n.clone();
                n["status"]["conditions"] = json!([{
                    "type": "Ready", "status": want,
                    "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
                    "message": if ready { "kubelet is posting ready status" } else { "container runtime network not ready" },
                    "lastTransitionTime": crate::store::now_rfc3339(),
                }]);
                Ok(n)
            });
        }
    }

    fn namespaces(&self) {
        let namespaces = by_kind("Namespace");
        let accounts = by_kind("ServiceAccount");
        for (key, ns) in self.store.all(namespaces) {
            if ns["metadata"]["deletionTimestamp"].is_null() {
                if ns["status"]["phase"].is_null() {
                    let _ = self.store.update(namespaces, &key, |n| {
                        let mut n = n.clone();
                        n["status"]["phase"] = json!("Active");
                        Ok(n)
                    });
                    let _ = self.store.create(
                        accounts,
                        &key.name,
                        json!({"metadata": {"name": "default"}}),
                    );
                }
                continue;
            }
            // Terminating: delete the contents, then the namespace once it is empty.
            let mut left = 0;
            for r in crate::resources::all().into_iter().filter(|r| r.namespaced) {
                let sel = crate::store::Selector::in_namespace(&key.name);
                for obj in self.store.list(r, &sel).0 {
                    left += 1;
                    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
                    let _ = self.store.delete(r, &Key::new(r, &key.name, name));
                }
            }
            if left == 0 {
                self.store.remove(&key);
            }
        }
    }

    fn kubelet(&self) {
        let pods = by_kind("Pod");
        let nodes: Vec<String> = self
            .store
            .all(by_kind("Node"))
            .into_iter()
            .filter(|(_, n)| n["status"]["conditions"][0]["status"] == "True")
            .map(|(k, _)| k.name)
            .collect();
        for (n, (key, pod)) in self.store.all(pods).into_iter().enumerate() {
            let uid = pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !pod["metadata"]["deletionTimestamp"].is_null() {
                self.runtime.stop(&uid);
                self.store.remove(&key);
                continue;
            }
            let result = if pod["spec"]["nodeName"].is_null() {
                if nodes.is_empty() {
                    continue;
                }
                let node = nodes[n % nodes.len()].clone();
                self.store.update(pods, &key, |p| {
                    let mut p = p.clone();
                    p["spec"]["nodeName"] = json!(node);
                    p["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]});
                    Ok(p)
                })
            } else if self.runtime.pod(&uid).is_some() {
                self.report_status(&key, &uid)
            } else if let Some(image) = unpullable_image(&pod) {
                // An image from a registry that cannot exist never starts: the pod
                // stays Pending in ImagePullBackOff, as a kubelet leaves it.
                if pod["status"]["containerStatuses"].is_array() {
                    continue;
                }
                self.store.update(pods, &key, |p| {
                    let mut p = p.clone();
                    p["status"]["containerStatuses"] = image_pull_backoff(&p, &image);
                    Ok(p)
                })
            } else if pod["status"]["phase"] == "Pending" {
                self.runtime.start(&pod);
                self.report_status(&key, &uid)
            } else {
                continue;
            };
            if let Err(e) = result {
                tracing_free_log(&format!("kubelet: {}: {}", key.name, e.message));
            }
        }
    }

    /// Container states from the runtime into pod status.
    fn report_status(&self, key: &Key, uid: &str) -> Result<Value, ApiError> {
        let Some(run) = self.runtime.pod(uid) else {
            return Err(ApiError::new(404, "NotFound", "pod is not running"));
        };
        let pods = by_kind("Pod");
        self.store.update(pods, key, |p| {
            let mut p = p.clone();
            let never_restart = p["spec"]["restartPolicy"].as_str().is_some_and(|r| r != "Always");
            let mut statuses = Vec::new();
            let mut all_ended = true;
            let mut all_ok = true;
            for c in p["spec"]["containers"].as_array().cloned().unwrap_or_default() {
                let name = c["name"].as_str().unwrap_or_default();
                let exit = run.containers.get(name).and_then(|r| r.exit_code());
                all_ended &= exit.is_some();
                all_ok &= exit.unwrap_or(0) == 0;
                let state = match exit {
                    None => json!({"running": {"startedAt": p["metadata"]["creationTimestamp"]}}),
                    Some(code) => json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}}),
                };
                statuses.push(json!({
                    "name": name, "image": c["image"], "ready": exit.is_none(),
                    "restartCount": 0, "started": exit.is_none(), "state": state,
                }));
            }
            let phase = match (all_ended && never_restart, all_ok) {
                (true, true) => "Succeeded",
                (true, false) => "Failed",
                _ => "Running",
            };
            let ready = statuses.iter().all(|s| s["ready"] == true);
            p["status"] = json!({
                "phase": phase,
                "podIP": pod_ip(uid),
                "hostIP": "172.18.0.2",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": if ready { "True" } else { "False" }},
                    {"type": "ContainersReady", "status": if ready { "True" } else { "False" }},
                ],
                "containerStatuses": statuses,
            });
            Ok(p)
        })
    }
}

/// The first image of `pod` whose registry is under `.invalid` (RFC 2606: a name that
/// never resolves), which the fake kubelet cannot pull.
fn unpullable_image(pod: &Value) -> Option<String> {
    pod["spec"]["containers"]
        .as_array()?
        .iter()
        .filter_map(|c| c["image"].as_str())
        .find(|image| {
            image.split('/').next().is_some_and(|registry| {
                registry
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .ends_with(".invalid")
            })
        })
        .map(str::to_string)
}

/// Every container of `pod` waiting, the one with `image` unable to pull it.
fn image_pull_backoff(pod: &Value, image: &str) -> Value {
    let host = image.split('/').next().unwrap_or_default();
    pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let (reason, message) = if c["image"] == image {
                (
                    "ImagePullBackOff",
                    format!("Back-off pulling image \"{image}\": ErrImagePull: dial tcp: lookup {host}: no such host"),
                )
            } else {
                ("ContainerCreating", String::new())
            };
            json!({"name": c["name"], "image": c["image"], "ready": false, "restartCount": 0,
                   "started": false, "state": {"waiting": {"reason": reason, "message": message}}})
        })
        .collect()
}

/// A pod IP from the pod's uid (stable, so status does not churn).
fn pod_ip(uid: &str) -> String {
    let n = u64::from_str_radix(uid.rsplit('-').next().unwrap_or("0"), 16).unwrap_or(0);
    format!("10.244.{}.{}", 1 + (n / 250) % 250, 2 + n % 250)
}

/// The fake has no logging framework of its own; controller errors are rare and go
/// to stderr so a test's output shows them.
fn tracing_free_log(msg: &str) {
    eprintln!("fakekube: {msg}");
}
