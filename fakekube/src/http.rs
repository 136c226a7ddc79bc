//! The HTTP face of the fake: Kubernetes REST paths, bearer-token authentication
//! (the admin only), CRUD with resourceVersions, list and watch,
//! `pods/log` (with follow) and `pods/exec` over a WebSocket (v4.channel.k8s.io).

use crate::resources::{self, Resource};
use crate::store::{merge_patch, ApiError, Key, Selector};
use crate::Shared;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, std::io::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(v.to_string()))
        .expect("static response parts are valid")
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

/// A body fed by a channel; an `Err` item aborts the connection mid-stream.
fn channel_body() -> (mpsc::Sender<Result<Bytes, std::io::Error>>, Body) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    (tx, BodyExt::boxed(StreamBody::new(stream)))
}

/// Who is asking. Only the admin (the kubeconfig's token): service-account tokens and
/// RBAC are tested against the real API server of the `local` provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    Admin,
}

impl User {
    pub fn username(&self) -> String {
        match self {
            User::Admin => "kubernetes-admin".into(),
        }
    }
}

/// A parsed resource path.
struct Target {
    res: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let user = match authenticate(&shared, &req) {
        Ok(u) => u,
        Err(e) => return error_response(&e),
    };
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => {
            let version = shared.version();
            return json_response(
                200,
                &json!({
                    "major": version.trim_start_matches('v').split('.').next().unwrap_or("1"),
                    "minor": version.split('.').nth(1).unwrap_or("0"),
                    "gitVersion": version,
                    "platform": "linux/amd64",
                    "goVersion": "fakekube",
                }),
            );
        }
        ["readyz"] | ["livez"] | ["healthz"] => {
            return Response::builder()
                .status(200)
                .body(full("ok"))
                .expect("static response parts are valid")
        }
        ["fakekube", "restart"] if req.method() == Method::POST => {
            return restart(&shared, &query);
        }
        ["fakekube", "kubelet"] if req.method() == Method::POST => {
            return kubelet_version(&shared, &query);
        }
        ["api"] => return json_response(200, &resources::core_versions()),
        ["apis"] => return json_response(200, &resources::group_list()),
        ["api", v] => return discovery("", v),
        ["apis", g, v] => return discovery(g, v),
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return error_response(&ApiError::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            ))
        }
    };
    let Some(target) = parse_target(group, version, rest) else {
        return error_response(&ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        ));
    };
    if target.sub.as_deref() == Some("exec") {
        return exec(shared, req, &target, &query, &user).await;
    }
    let method = req.method().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(&ApiError::new(400, "BadRequest", e.to_string())),
    };
    shared.audit(&method, &path, &query, &user, &body);
    let result = match (method, target.name.is_some(), target.sub.as_deref()) {
        (Method::GET, false, _) if flag(&query, "watch") => return watch(shared, &target, &query),
        (Method::GET, false, _) => list(&shared, &target, &query),
        (Method::GET, true, Some("log")) => return logs(shared, &target, &query),
        (Method::GET, true, _) => get(&shared, &target),
        (Method::POST, false, _) => create(&shared, &target, &body),
        (Method::PUT, true, _) => replace(&shared, &target, &body),
        (Method::PATCH, true, _) => patch(&shared, &target, &body),
        (Method::DELETE, true, _) => delete(&shared, &target),
        (m, _, _) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{m} is not supported here"),
        )),
    };
    match result {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
    }
}

/// Fault injection for stand-ins (`POST /fakekube/restart?seconds=S&version=V`): the
/// API server "restarts" — for S seconds every new connection is closed at once
/// and every request on a kept-alive one drops its connection — and comes back
/// reporting version V, as a kube-apiserver static pod replaced by `kubeadm
/// upgrade` does.
fn restart(shared: &Shared, query: &HashMap<String, Vec<String>>) -> Response<Body> {
    let first = |k: &str| query.get(k).and_then(|v| v.first()).cloned();
    let seconds: f64 = first("seconds").and_then(|s| s.parse().ok()).unwrap_or(0.0);
    shared.restart(
        Duration::from_secs_f64(seconds.clamp(0.0, 60.0)),
        first("version"),
    );
    json_response(202, &json!({"restarting": seconds}))
}

/// `POST /fakekube/kubelet?node=N&version=V`: node N's kubelet now reports V (a
/// kubelet replaced and restarted).
fn kubelet_version(shared: &Shared, query: &HashMap<String, Vec<String>>) -> Response<Body> {
    let first = |k: &str| {
        query
            .get(k)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    let (node, version) = (first("node"), first("version"));
    let nodes = resources::by_kind("Node");
    let updated = shared
        .store
        .update(nodes, &Key::new(nodes, "", &node), |n| {
            let mut n = n.clone();
            n["status"]["nodeInfo"]["kubeletVersion"] = json!(version);
            Ok(n)
        });
    match updated {
        Ok(n) => json_response(200, &n),
        Err(e) => error_response(&e),
    }
}

fn discovery(group: &str, version: &str) -> Response<Body> {
    match resources::resource_list(group, version) {
        Some(v) => json_response(200, &v),
        None => error_response(&ApiError::new(
            404,
            "NotFound",
            format!("no API group {group}/{version}"),
        )),
    }
}

fn authenticate(shared: &Shared, req: &Request<Incoming>) -> Result<User, ApiError> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t) if t == shared.opts.admin_token => Ok(User::Admin),
        _ => Err(ApiError::new(401, "Unauthorized", "Unauthorized")),
    }
}

fn parse_query(q: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(k))
            .or_default()
            .push(percent_decode(v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn first<'a>(q: &'a HashMap<String, Vec<String>>, k: &str) -> Option<&'a str> {
    q.get(k).and_then(|v| v.first()).map(String::as_str)
}

fn flag(q: &HashMap<String, Vec<String>>, k: &str) -> bool {
    matches!(first(q, k), Some("true" | "1"))
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let t = |res, namespace: Option<&str>, name: Option<&&str>, sub: Option<&&str>| Target {
        res,
        namespace: namespace.map(str::to_string),
        name: name.map(|s| s.to_string()),
        sub: sub.map(|s| s.to_string()),
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..]
            if resources::find(group, version, plural).is_some_and(|r| r.namespaced) =>
        {
            let res = resources::find(group, version, plural)?;
            (tail.len() <= 2).then(|| t(res, Some(ns), tail.first(), tail.get(1)))
        }
        [plural, tail @ ..] if tail.len() <= 2 => {
            let res = resources::find(group, version, plural)?;
            if res.namespaced && !tail.is_empty() {
                return None;
            }
            Some(t(res, None, tail.first(), tail.get(1)))
        }
        _ => None,
    }
}

fn key_of(t: &Target) -> Key {
    Key::new(
        t.res,
        t.namespace.as_deref().unwrap_or(""),
        t.name.as_deref().unwrap_or(""),
    )
}

/// A client's object; fields only the server sets are dropped.
fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, "BadRequest", format!("request body is not JSON: {e}")))?;
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("deletionTimestamp");
    }
    Ok(v)
}

type Reply = Result<(u16, Value), ApiError>;

fn list(shared: &Shared, t: &Target, q: &HashMap<String, Vec<String>>) -> Reply {
    let sel = Selector::parse(
        t.namespace.as_deref(),
        first(q, "labelSelector"),
        first(q, "fieldSelector"),
    );
    let (items, rv) = shared.store.list(t.res, &sel);
    Ok((
        200,
        json!({
            "kind": format!("{}List", t.res.kind), "apiVersion": t.res.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": items,
        }),
    ))
}

fn get(shared: &Shared, t: &Target) -> Reply {
    shared
        .store
        .get(&key_of(t))
        .map(|v| (200, v))
        .ok_or_else(|| ApiError::not_found(t.res, t.name.as_deref().unwrap_or("")))
}

fn create(shared: &Shared, t: &Target, body: &Bytes) -> Reply {
    let mut obj = parse_body(body)?;
    if t.res.kind == "CustomResourceDefinition" {
        resources::register_custom(&obj).map_err(|e| ApiError::new(422, "Invalid", e))?;
        // Served at once: the fake has no API server of its own to wait for.
        obj["status"] = json!({"conditions": [
            {"type": "NamesAccepted", "status": "True"},
            {"type": "Established", "status": "True"},
        ]});
    }
    if t.res.kind == "Service" && obj["spec"]["clusterIP"].as_str().unwrap_or("").is_empty() {
        obj["spec"]["clusterIP"] = json!(shared.next_cluster_ip());
    }
    let ns = t.namespace.as_deref().unwrap_or("");
    shared.store.create(t.res, ns, obj).map(|v| (201, v))
}

fn replace(shared: &Shared, t: &Target, body: &Bytes) -> Reply {
    let obj = parse_body(body)?;
    shared
        .store
        .replace(t.res, &key_of(t), obj)
        .map(|v| (200, v))
}

fn patch(shared: &Shared, t: &Target, body: &Bytes) -> Reply {
    let p = parse_body(body)?;
    let key = key_of(t);
    if shared.store.get(&key).is_none() {
        // Server-side apply creates what is missing.
        let ns = t.namespace.as_deref().unwrap_or("");
        return shared.store.create(t.res, ns, p).map(|v| (201, v));
    }
    shared
        .store
        .update(t.res, &key, |current| {
            let mut next = current.clone();
            merge_patch(&mut next, &p);
            Ok(next)
        })
        .map(|v| (200, v))
}

fn delete(shared: &Shared, t: &Target) -> Reply {
    shared.store.delete(t.res, &key_of(t)).map(|v| (200, v))
}

/// A watch: the backlog (synthetic ADDED events, or the changes after
/// resourceVersion), then live changes, one JSON object per line.
fn watch(shared: Arc<Shared>, t: &Target, q: &HashMap<String, Vec<String>>) -> Response<Body> {
    let sel = Selector::parse(
        t.namespace.as_deref(),
        first(q, "labelSelector"),
        first(q, "fieldSelector"),
    );
    let since = first(q, "resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0")
        .and_then(|rv| rv.parse().ok());
    let timeout = first(q, "timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1800u64);
    let (tx, body) = channel_body();
    let res = t.res;
    let line = |kind: &str, obj: &Value| {
        Ok(Bytes::from(format!(
            "{}\n",
            json!({"type": kind, "object": obj})
        )))
    };
    match shared.store.watch_from(res, &sel, since) {
        Err(e) => {
            tokio::spawn(async move {
                let _ = tx.send(line("ERROR", &e.status())).await;
            });
        }
        Ok((backlog, mut rx)) => {
            let last_rv = backlog.last().map_or(since.unwrap_or(0), |c| c.rv);
            tokio::spawn(async move {
                for c in &backlog {
                    if tx.send(line(c.kind.word(), &c.object)).await.is_err() {
                        return;
                    }
                }
                let deadline = tokio::time::sleep(Duration::from_secs(timeout));
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        _ = &mut deadline => return,
                        next = rx.recv() => match next {
                            Ok(c) if c.rv > last_rv && c.key.resource == res.plural && sel.matches(&c.key, &c.object) => {
                                if tx.send(line(c.kind.word(), &c.object)).await.is_err() { return; }
                            }
                            Ok(_) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                let gone = ApiError::new(410, "Expired", "watch fell behind; list again");
                                let _ = tx.send(line("ERROR", &gone.status())).await;
                                return;
                            }
                            Err(_) => return,
                        },
                    }
                }
            });
        }
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body)
        .expect("static response parts are valid")
}

/// The pod and container a log or exec request is about.
fn container_of(
    shared: &Shared,
    t: &Target,
    q: &HashMap<String, Vec<String>>,
) -> Result<(Arc<crate::runtime::PodRun>, String), ApiError> {
    let (_, pod) = get(shared, t)?;
    let name = t.name.clone().unwrap_or_default();
    let names: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match first(q, "container") {
        Some(c) if names.iter().any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("container {c} is not valid for pod {name}"),
            ))
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                ),
            ))
        }
    };
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let run = shared.runtime.pod(uid).ok_or_else(|| {
        ApiError::new(
            400,
            "BadRequest",
            format!(
        "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
    ),
        )
    })?;
    Ok((run, container))
}

/// `GET pods/NAME/log`: what the container wrote; with follow=true, a stream that
/// ends when the container does. The first follow stream of a container can be
/// dropped part-way (Options::drop_first_log_follow_after) to test reconnection.
fn logs(shared: Arc<Shared>, t: &Target, q: &HashMap<String, Vec<String>>) -> Response<Body> {
    let (run, container) = match container_of(&shared, t, q) {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    let out = run.containers[&container].clone();
    if !flag(q, "follow") {
        return Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(full(out.read_from(0).0))
            .expect("static response parts are valid");
    }
    let nth = out
        .follows
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let drop_after = shared.opts.drop_first_log_follow_after.filter(|_| nth == 0);
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        let mut sent = 0;
        loop {
            let (bytes, ended) = out.read_from(sent);
            if !bytes.is_empty() {
                sent += bytes.len();
                if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                    return;
                }
            }
            if drop_after.is_some_and(|n| sent >= n) {
                // Let what was sent reach the client first, as a real drop would.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = tx
                    .send(Err(std::io::Error::other("fakekube: log stream dropped")))
                    .await;
                return;
            }
            if ended && out.read_from(sent).0.is_empty() {
                return;
            }
            out.wait_change().await;
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(body)
        .expect("static response parts are valid")
}

/// `pods/NAME/exec` over a WebSocket with the v4.channel.k8s.io subprotocol: output on
/// channels 1 and 2, then a Status on channel 3 carrying a non-zero exit code.
async fn exec(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    t: &Target,
    q: &HashMap<String, Vec<String>>,
    user: &User,
) -> Response<Body> {
    let (run, container) = match container_of(&shared, t, q) {
        Ok(x) => x,
        Err(e) => return error_response(&e),
    };
    let argv: Vec<String> = q.get("command").cloned().unwrap_or_default();
    shared.audit(
        req.method(),
        req.uri().path(),
        q,
        user,
        &Bytes::from(json!({"container": container, "command": argv}).to_string()),
    );
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return error_response(&ApiError::new(
            400,
            "BadRequest",
            "exec needs a WebSocket upgrade",
        ));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            io,
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        let (stdout, stderr, code) = shared.runtime.exec(&run, &container, &argv).await;
        let send = |channel: u8, data: &[u8]| {
            let mut frame = Vec::with_capacity(data.len() + 1);
            frame.push(channel);
            frame.extend_from_slice(data);
            tokio_tungstenite::tungstenite::Message::Binary(frame.into())
        };
        for chunk in stdout.chunks(32 * 1024) {
            if ws.send(send(1, chunk)).await.is_err() {
                return;
            }
        }
        for chunk in stderr.chunks(32 * 1024) {
            let _ = ws.send(send(2, chunk)).await;
        }
        let status = if code == 0 {
            json!({"metadata": {}, "status": "Success"})
        } else {
            json!({"metadata": {}, "status": "Failure", "message": format!("command terminated with non-zero exit code: {code}"),
                   "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
        };
        let _ = ws.send(send(3, status.to_string().as_bytes())).await;
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .header("sec-websocket-protocol", "v4.channel.k8s.io")
        .body(full(Bytes::new()))
        .expect("static response parts are valid")
}
