//! The control loops a real cluster runs, cut down to what suites observe: nodes
//! becoming Ready, namespace lifecycle (default ServiceAccount on creation, contents
//! removed on deletion), garbage collection of owned objects, Deployments creating
//! and rolling pods, EndpointSlices for Services, and a kubelet that schedules pods,
//! runs their containers and reports their status.

use crate::resources::by_kind;
use crate::runtime::Runtime;
use crate::store::{meta_mut, ApiError, Key, Store};
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
        self.garbage_collect();
        self.deployments();
        self.kubelet();
        self.endpoint_slices();
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
            for r in crate::resources::RESOURCES.iter().filter(|r| r.namespaced) {
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

    /// Objects whose owner is gone are deleted (background propagation).
    fn garbage_collect(&self) {
        let uids = self.store.uids();
        for r in [by_kind("Pod"), by_kind("EndpointSlice")] {
            for (key, obj) in self.store.all(r) {
                let owners = obj["metadata"]["ownerReferences"].as_array();
                let orphaned = owners.is_some_and(|o| {
                    !o.is_empty()
                        && o.iter()
                            .all(|o| !uids.contains(o["uid"].as_str().unwrap_or_default()))
                });
                if orphaned {
                    let _ = self.store.delete(r, &key);
                }
            }
        }
    }

    fn deployments(&self) {
        let deployments = by_kind("Deployment");
        let pods = by_kind("Pod");
        for (key, d) in self.store.all(deployments) {
            if !d["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let uid = d["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let hash = template_hash(&d["spec"]["template"]);
            let sel = crate::store::Selector::in_namespace(&key.namespace);
            let owned: Vec<Value> = self
                .store
                .list(pods, &sel)
                .0
                .into_iter()
                .filter(|p| owned_by(p, &uid) && p["metadata"]["deletionTimestamp"].is_null())
                .collect();
            let (current, old): (Vec<&Value>, Vec<&Value>) = owned
                .iter()
                .partition(|p| p["metadata"]["labels"]["pod-template-hash"] == hash.as_str());
            let want = d["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
            let ready = |ps: &[&Value]| ps.iter().filter(|p| pod_ready(p)).count();
            let all: Vec<&Value> = owned.iter().collect();
            // Rolling update with maxSurge 1 and maxUnavailable 0: at most one pod over
            // the count, and an old pod goes only when that leaves `want` ready.
            if current.len() < want && owned.len() < want + 1 {
                self.create_pod_for(&d, &key.namespace, &uid, &hash);
            } else if let Some(victim) = old
                .first()
                .filter(|_| ready(&all) > want || ready(&current) >= want)
            {
                let name = victim["metadata"]["name"].as_str().unwrap_or_default();
                let _ = self
                    .store
                    .delete(pods, &Key::new(pods, &key.namespace, name));
            } else if current.len() > want {
                let name = current[0]["metadata"]["name"].as_str().unwrap_or_default();
                let _ = self
                    .store
                    .delete(pods, &Key::new(pods, &key.namespace, name));
            }
            let status = json!({
                "observedGeneration": d["metadata"]["generation"],
                "replicas": owned.len(),
                "updatedReplicas": current.len(),
                "readyReplicas": ready(&all),
                "availableReplicas": ready(&all),
                "unavailableReplicas": owned.len() - ready(&all),
                "conditions": [{
                    "type": "Available",
                    "status": if ready(&all) >= want { "True" } else { "False" },
                    "reason": if ready(&all) >= want { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                }, {
                    "type": "Progressing", "status": "True",
                    "reason": if current.len() == want && old.is_empty() && ready(&current) == want { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                }],
            });
            let _ = self.store.update(deployments, &key, |d| {
                let mut d = d.clone();
                d["status"] = status;
                Ok(d)
            });
        }
    }

    fn create_pod_for(&self, d: &Value, namespace: &str, uid: &str, hash: &str) {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        let mut pod = json!({
            "metadata": d["spec"]["template"]["metadata"].clone(),
            "spec": d["spec"]["template"]["spec"].clone(),
        });
        let meta = meta_mut(&mut pod);
        meta.insert("generateName".into(), json!(format!("{name}-{hash}-")));
        meta.insert(
            "ownerReferences".into(),
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": true}]),
        );
        pod["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        let _ = self.store.create(by_kind("Pod"), namespace, pod);
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

    fn endpoint_slices(&self) {
        let services = by_kind("Service");
        let slices = by_kind("EndpointSlice");
        let pods = by_kind("Pod");
        for (key, svc) in self.store.all(services) {
            let Some(selector) = svc["spec"]["selector"].as_object() else {
                continue;
            };
            let sel = crate::store::Selector {
                namespace: Some(key.namespace.clone()),
                labels: selector
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                    .collect(),
                name: None,
            };
            let endpoints: Vec<Value> = self
                .store
                .list(pods, &sel)
                .0
                .iter()
                .filter(|p| p["status"]["podIP"].is_string())
                .map(|p| {
                    json!({
                        "addresses": [p["status"]["podIP"]],
                        "conditions": {"ready": pod_ready(p)},
                        "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": key.namespace},
                    })
                })
                .collect();
            let ports: Vec<Value> = svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| json!({"name": p["name"].as_str().unwrap_or(""), "port": p["targetPort"].as_i64().or(p["port"].as_i64()), "protocol": "TCP"}))
                .collect();
            let name = format!("{}-fake", key.name);
            let slice_key = Key::new(slices, &key.namespace, &name);
            let body = json!({
                "metadata": {
                    "name": name,
                    "labels": {"kubernetes.io/service-name": key.name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": key.name, "uid": svc["metadata"]["uid"]}],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            });
            if self.store.get(&slice_key).is_none() {
                let _ = self.store.create(slices, &key.namespace, body);
            } else {
                let _ = self.store.update(slices, &slice_key, |s| {
                    let mut s = s.clone();
                    s["endpoints"] = body["endpoints"].clone();
                    s["ports"] = body["ports"].clone();
                    Ok(s)
                });
            }
        }
    }
}

/// A pod IP from the pod's uid (stable, so status does not churn).
fn pod_ip(uid: &str) -> String {
    let n = u64::from_str_radix(uid.rsplit('-').next().unwrap_or("0"), 16).unwrap_or(0);
    format!("10.244.{}.{}", 1 + (n / 250) % 250, 2 + n % 250)
}

fn owned_by(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|o| o.iter().any(|o| o["uid"] == uid))
}

pub fn pod_ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// A short stable hash of a pod template, as the `pod-template-hash` label.
fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h as u32)
}

/// The fake has no logging framework of its own; controller errors are rare and go
/// to stderr so a test's output shows them.
fn tracing_free_log(msg: &str) {
    eprintln!("fakekube: {msg}");
}
