//! Objects in memory with one resourceVersion counter, as etcd gives the API server:
//! every write bumps it, every change goes to watchers, and a bounded history lets a
//! watch resume from a resourceVersion (older than the history → 410 Gone).

use crate::resources::Resource;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// How many changes a watch can resume over.
const HISTORY: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(r: &Resource, namespace: &str, name: &str) -> Key {
        Key {
            resource: r.plural,
            namespace: if r.namespaced {
                namespace.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: ChangeKind,
    pub key: Key,
    pub object: Value,
}

/// An API error, sent as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn not_found(r: &Resource, name: &str) -> ApiError {
        let what = if r.group.is_empty() {
            r.plural.to_string()
        } else {
            format!("{}.{}", r.plural, r.group)
        };
        ApiError::new(404, "NotFound", format!("{what} \"{name}\" not found"))
    }

    pub fn status(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        })
    }
}

struct Inner {
    rv: u64,
    uid: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
}

/// Where a watch starts: the backlog to send first, then the live receiver.
pub type WatchStart = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

pub struct Store {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Arc<Change>>,
}

/// Label and field selectors of a list or watch.
#[derive(Debug, Default, Clone)]
pub struct Selector {
    pub namespace: Option<String>,
    /// `key=value` pairs that must all match (`key==value` too; `key` alone: present).
    pub labels: Vec<(String, Option<String>)>,
    pub name: Option<String>,
}

impl Selector {
    /// Everything in one namespace.
    pub fn in_namespace(namespace: &str) -> Selector {
        Selector {
            namespace: Some(namespace.to_string()),
            ..Default::default()
        }
    }

    pub fn parse(namespace: Option<&str>, labels: Option<&str>, fields: Option<&str>) -> Selector {
        let mut s = Selector {
            namespace: namespace.map(str::to_string),
            ..Default::default()
        };
        for term in labels.unwrap_or("").split(',').filter(|t| !t.is_empty()) {
            match term.split_once('=') {
                Some((k, v)) => s.labels.push((
                    k.trim().to_string(),
                    Some(v.trim_start_matches('=').trim().to_string()),
                )),
                None => s.labels.push((term.trim().to_string(), None)),
            }
        }
        for term in fields.unwrap_or("").split(',').filter(|t| !t.is_empty()) {
            if let Some((k, v)) = term.split_once('=') {
                let v = v.trim_start_matches('=').to_string();
                match k {
                    "metadata.name" => s.name = Some(v),
                    "metadata.namespace" => s.namespace = Some(v),
                    _ => {}
                }
            }
        }
        s
    }

    pub fn matches(&self, key: &Key, object: &Value) -> bool {
        if let Some(ns) = &self.namespace {
            if !key.namespace.is_empty() && &key.namespace != ns {
                return false;
            }
        }
        if self.name.as_ref().is_some_and(|n| n != &key.name) {
            return false;
        }
        let labels = &object["metadata"]["labels"];
        self.labels.iter().all(|(k, v)| match v {
            Some(v) => labels[k].as_str() == Some(v.as_str()),
            None => !labels[k].is_null(),
        })
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Default for Store {
    fn default() -> Self {
        Store {
            inner: Mutex::new(Inner {
                rv: 1000,
                uid: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
            }),
            changes: broadcast::channel(4096).0,
        }
    }
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in another request cannot leave an object half-written (each write
        // is one insert), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    fn record(&self, inner: &mut Inner, kind: ChangeKind, key: Key, object: Value) {
        let change = Arc::new(Change {
            rv: inner.rv,
            kind,
            key,
            object,
        });
        inner.history.push_back(change.clone());
        if inner.history.len() > HISTORY {
            inner.history.pop_front();
        }
        let _ = self.changes.send(change);
    }

    /// Creates an object: fills name (from generateName), namespace, uid,
    /// resourceVersion, creationTimestamp and generation.
    pub fn create(&self, r: &Resource, namespace: &str, mut obj: Value) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        if r.namespaced {
            let ns_key = Key::new(crate::resources::by_kind("Namespace"), "", namespace);
            match inner.objects.get(&ns_key) {
                None => {
                    return Err(ApiError::new(
                        404,
                        "NotFound",
                        format!("namespaces \"{namespace}\" not found"),
                    ))
                }
                Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => {
                    return Err(ApiError::new(403, "Forbidden", format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    )))
                }
                Some(_) => {}
            }
        }
        if !obj.is_object() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "body is not a JSON object",
            ));
        }
        inner.uid += 1;
        let uid = inner.uid;
        let meta = meta_mut(&mut obj);
        if meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            let Some(prefix) = meta.get("generateName").and_then(Value::as_str) else {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "{}: metadata.name or metadata.generateName is required",
                        r.kind
                    ),
                ));
            };
            let name = format!("{prefix}{}", suffix(uid));
            meta.insert("name".into(), json!(name));
        }
        let name = meta["name"].as_str().unwrap_or_default().to_string();
        let key = Key::new(r, namespace, &name);
        if inner.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", r.plural),
            ));
        }
        inner.rv += 1;
        let rv = inner.rv;
        if r.namespaced {
            meta.insert("namespace".into(), json!(namespace));
        }
        meta.insert(
            "uid".into(),
            json!(format!("00000000-0000-4000-8000-{uid:012x}")),
        );
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if obj.get("spec").is_some() {
            meta_mut(&mut obj).insert("generation".into(), json!(1));
        }
        obj["apiVersion"] = json!(r.api_version());
        obj["kind"] = json!(r.kind);
        inner.objects.insert(key.clone(), obj.clone());
        self.record(&mut inner, ChangeKind::Added, key, obj.clone());
        Ok(obj)
    }

    pub fn get(&self, key: &Key) -> Option<Value> {
        self.lock().objects.get(key).cloned()
    }

    /// Objects of one resource that match `sel`, and the resourceVersion of the list.
    pub fn list(&self, r: &Resource, sel: &Selector) -> (Vec<Value>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .filter(|(k, v)| k.resource == r.plural && sel.matches(k, v))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv)
    }

    /// Replaces an object. A resourceVersion in the new object must match (409 otherwise).
    pub fn replace(&self, r: &Resource, key: &Key, obj: Value) -> Result<Value, ApiError> {
        self.update(r, key, |current| {
            let sent = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
            if !sent.is_empty() && Some(sent) != current["metadata"]["resourceVersion"].as_str() {
                return Err(ApiError::new(409, "Conflict", format!(
                    "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                    r.plural, key.name
                )));
            }
            Ok(obj.clone())
        })
    }

    /// Read-modify-write under the lock: `f` gets the current object and returns the
    /// new one; identity fields are kept, resourceVersion bumped, generation bumped
    /// when the spec changed. Nothing is written (and no event sent) when unchanged.
    pub fn update(
        &self,
        r: &Resource,
        key: &Key,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let Some(current) = inner.objects.get(key).cloned() else {
            return Err(ApiError::not_found(r, &key.name));
        };
        let mut next = f(&current)?;
        if !next.is_object() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "body is not a JSON object",
            ));
        }
        for field in ["name", "namespace", "uid", "creationTimestamp"] {
            match current["metadata"].get(field) {
                Some(v) => {
                    meta_mut(&mut next).insert(field.into(), v.clone());
                }
                None => {
                    meta_mut(&mut next).remove(field);
                }
            }
        }
        // Once deleting, always deleting (the HTTP layer strips clients' attempts to set it).
        if let Some(since) = current["metadata"].get("deletionTimestamp") {
            meta_mut(&mut next).insert("deletionTimestamp".into(), since.clone());
        }
        let mut generation = current["metadata"]["generation"].as_i64();
        if generation.is_some() && next["spec"] != current["spec"] {
            generation = generation.map(|g| g + 1);
        }
        if let Some(g) = generation {
            meta_mut(&mut next).insert("generation".into(), json!(g));
        }
        next["apiVersion"] = json!(r.api_version());
        next["kind"] = json!(r.kind);
        meta_mut(&mut next).insert(
            "resourceVersion".into(),
            current["metadata"]["resourceVersion"].clone(),
        );
        if next == current {
            return Ok(current);
        }
        inner.rv += 1;
        let rv = inner.rv;
        meta_mut(&mut next).insert("resourceVersion".into(), json!(rv.to_string()));
        inner.objects.insert(key.clone(), next.clone());
        self.record(&mut inner, ChangeKind::Modified, key.clone(), next.clone());
        Ok(next)
    }

    /// Starts deleting: objects that finish deleting asynchronously (pods, namespaces)
    /// get a deletionTimestamp and are removed by their controller; others go now.
    pub fn delete(&self, r: &Resource, key: &Key) -> Result<Value, ApiError> {
        let graceful = matches!(r.kind, "Pod" | "Namespace");
        if graceful {
            return self.update(r, key, |current| {
                let mut next = current.clone();
                if next["metadata"]["deletionTimestamp"].is_null() {
                    meta_mut(&mut next).insert("deletionTimestamp".into(), json!(now_rfc3339()));
                }
                if r.kind == "Namespace" {
                    next["status"]["phase"] = json!("Terminating");
                }
                Ok(next)
            });
        }
        self.remove(key)
            .ok_or_else(|| ApiError::not_found(r, &key.name))
    }

    /// Removes an object for good and tells watchers.
    pub fn remove(&self, key: &Key) -> Option<Value> {
        let mut inner = self.lock();
        let mut obj = inner.objects.remove(key)?;
        inner.rv += 1;
        let rv = inner.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.record(&mut inner, ChangeKind::Deleted, key.clone(), obj.clone());
        Some(obj)
    }

    /// A watch's starting point: the changes after `since` (or synthetic ADDED events
    /// for the current objects when `since` is `None`), and a receiver for what comes
    /// next. Both are taken under one lock, so nothing falls between them.
    pub fn watch_from(
        &self,
        r: &Resource,
        sel: &Selector,
        since: Option<u64>,
    ) -> Result<WatchStart, ApiError> {
        let inner = self.lock();
        let rx = self.changes.subscribe();
        let backlog = match since {
            None => inner
                .objects
                .iter()
                .filter(|(k, v)| k.resource == r.plural && sel.matches(k, v))
                .map(|(k, v)| {
                    Arc::new(Change {
                        rv: inner.rv,
                        kind: ChangeKind::Added,
                        key: k.clone(),
                        object: v.clone(),
                    })
                })
                .collect(),
            Some(rv) => {
                let oldest = inner.history.front().map_or(inner.rv, |c| c.rv);
                if rv + 1 < oldest && rv < inner.rv {
                    return Err(ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({oldest})"),
                    ));
                }
                inner
                    .history
                    .iter()
                    .filter(|c| {
                        c.rv > rv && c.key.resource == r.plural && sel.matches(&c.key, &c.object)
                    })
                    .cloned()
                    .collect()
            }
        };
        Ok((backlog, rx))
    }

    /// Every object of one resource (for controllers).
    pub fn all(&self, r: &Resource) -> Vec<(Key, Value)> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .filter(|(k, _)| k.resource == r.plural)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Every uid in the store (for garbage collection of owned objects).
    pub fn uids(&self) -> std::collections::HashSet<String> {
        self.lock()
            .objects
            .values()
            .filter_map(|v| v["metadata"]["uid"].as_str().map(str::to_string))
            .collect()
    }
}

pub fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

/// Five lowercase characters, as the API server appends to generateName.
fn suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// RFC 7386 JSON merge patch (strategic merge and apply patches are treated the same:
/// close enough for the fields the suites patch).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let t = target.as_object_mut().expect("just made an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}
