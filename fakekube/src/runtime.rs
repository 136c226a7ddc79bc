//! The simulated container runtime behind the fake kubelet: each container runs a
//! tiny shell (`echo`, `sleep`, `cat`, `nslookup`, `hostname`, `exit`, …) against a
//! per-pod filesystem where emptyDir volumes are shared between containers, and the
//! conformance image is played by a container that writes real result files.

use crate::store::{Key, Store};
use crate::Options;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// What a container wrote and how it ended.
#[derive(Default)]
pub struct ContainerRun {
    log: Mutex<Vec<u8>>,
    exit: Mutex<Option<i32>>,
    changed: Notify,
    /// Follow streams opened so far (to drop the first one when asked to).
    pub follows: std::sync::atomic::AtomicUsize,
}

impl ContainerRun {
    pub fn append(&self, bytes: &[u8]) {
        lock(&self.log).extend_from_slice(bytes);
        self.changed.notify_waiters();
    }

    fn finish(&self, code: i32) {
        *lock(&self.exit) = Some(code);
        self.changed.notify_waiters();
    }

    pub fn exit_code(&self) -> Option<i32> {
        *lock(&self.exit)
    }

    /// Log bytes from `from` on, and whether the container has ended.
    pub fn read_from(&self, from: usize) -> (Vec<u8>, bool) {
        let ended = self.exit_code().is_some();
        let log = lock(&self.log);
        (log.get(from..).unwrap_or_default().to_vec(), ended)
    }

    /// Waits until the log grows or the container ends (or a short while passes, so
    /// a notification between a read and this wait cannot be lost for long).
    pub async fn wait_change(&self) {
        let _ = tokio::time::timeout(Duration::from_millis(50), self.changed.notified()).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One running pod.
pub struct PodRun {
    pub namespace: String,
    pub name: String,
    /// (volume or "container:NAME", path inside it) → contents.
    files: Mutex<HashMap<(String, String), Vec<u8>>>,
    /// container → (mount path, volume name), longest path first.
    mounts: HashMap<String, Vec<(String, String)>>,
    pub containers: HashMap<String, Arc<ContainerRun>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl PodRun {
    /// Where a path inside `container` lives: a mounted volume or the container's own layer.
    fn locate(&self, container: &str, path: &str) -> (String, String) {
        for (mount, volume) in self.mounts.get(container).into_iter().flatten() {
            if let Some(rest) = path.strip_prefix(mount.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return (volume.clone(), rest.trim_start_matches('/').to_string());
                }
            }
        }
        (format!("container:{container}"), path.to_string())
    }

    pub fn write_file(&self, container: &str, path: &str, data: Vec<u8>) {
        lock(&self.files).insert(self.locate(container, path), data);
    }

    pub fn read_file(&self, container: &str, path: &str) -> Option<Vec<u8>> {
        lock(&self.files)
            .get(&self.locate(container, path))
            .cloned()
    }

    pub fn stop(&self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

/// All pods the kubelet has started, by uid.
pub struct Runtime {
    pods: Mutex<HashMap<String, Arc<PodRun>>>,
    store: Arc<Store>,
    opts: Arc<Options>,
}

impl Runtime {
    pub fn new(store: Arc<Store>, opts: Arc<Options>) -> Runtime {
        Runtime {
            pods: Mutex::new(HashMap::new()),
            store,
            opts,
        }
    }

    pub fn pod(&self, uid: &str) -> Option<Arc<PodRun>> {
        lock(&self.pods).get(uid).cloned()
    }

    /// Starts every container of `pod`.
    pub fn start(&self, pod: &Value) -> Arc<PodRun> {
        let uid = pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut mounts = HashMap::new();
        let mut runs = HashMap::new();
        for c in &containers {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let mut m: Vec<(String, String)> = c["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    Some((
                        v["mountPath"].as_str()?.trim_end_matches('/').to_string(),
                        v["name"].as_str()?.to_string(),
                    ))
                })
                .collect();
            m.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            mounts.insert(name.clone(), m);
            runs.insert(name, Arc::new(ContainerRun::default()));
        }
        let run = Arc::new(PodRun {
            namespace: pod["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name: pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            files: Mutex::new(HashMap::new()),
            mounts,
            containers: runs,
            tasks: Mutex::new(Vec::new()),
        });
        for c in containers {
            let ctx = Ctx {
                pod: run.clone(),
                container: c["name"].as_str().unwrap_or_default().to_string(),
                env: env_of(&c),
                store: self.store.clone(),
                opts: self.opts.clone(),
            };
            let out = run.containers[&ctx.container].clone();
            let task = tokio::spawn(async move {
                let mut sink = Sink::Live(out.clone());
                let code = main_program(&c, &ctx, &mut sink).await;
                out.finish(code);
            });
            lock(&run.tasks).push(task);
        }
        lock(&self.pods).insert(uid, run.clone());
        run
    }

    pub fn stop(&self, uid: &str) {
        if let Some(p) = lock(&self.pods).remove(uid) {
            p.stop();
        }
    }

    /// Runs a command in a container (`kubectl exec`): stdout, stderr, exit code.
    pub async fn exec(
        &self,
        pod: &Arc<PodRun>,
        container: &str,
        argv: &[String],
    ) -> (Vec<u8>, Vec<u8>, i32) {
        let ctx = Ctx {
            pod: pod.clone(),
            container: container.to_string(),
            env: HashMap::new(),
            store: self.store.clone(),
            opts: self.opts.clone(),
        };
        let mut sink = Sink::Buffered(Vec::new(), Vec::new());
        let code = run_argv(argv, &ctx, &mut sink).await;
        match sink {
            Sink::Buffered(out, err) => (out, err, code),
            Sink::Live(_) => unreachable!("exec output is buffered"),
        }
    }
}

struct Ctx {
    pod: Arc<PodRun>,
    container: String,
    env: HashMap<String, String>,
    store: Arc<Store>,
    opts: Arc<Options>,
}

enum Sink {
    /// A container's log (stdout and stderr interleaved, as the kubelet keeps them).
    Live(Arc<ContainerRun>),
    Buffered(Vec<u8>, Vec<u8>),
}

impl Sink {
    fn out(&mut self, bytes: &[u8]) {
        match self {
            Sink::Live(c) => c.append(bytes),
            Sink::Buffered(o, _) => o.extend_from_slice(bytes),
        }
    }
    fn err(&mut self, bytes: &[u8]) {
        match self {
            Sink::Live(c) => c.append(bytes),
            Sink::Buffered(_, e) => e.extend_from_slice(bytes),
        }
    }
}

fn env_of(container: &Value) -> HashMap<String, String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

async fn main_program(container: &Value, ctx: &Ctx, sink: &mut Sink) -> i32 {
    let image = container["image"].as_str().unwrap_or_default();
    // The conformance image from any registry (a vendor's mirror too): the last path
    // element of its repository, tag and digest dropped, is `conformance`.
    let without_digest = image.split('@').next().unwrap_or_default();
    let last = without_digest.rsplit('/').next().unwrap_or_default();
    if last.split(':').next() == Some("conformance") {
        return conformance_image(ctx, sink).await;
    }
    let argv: Vec<String> = ["command", "args"]
        .iter()
        .flat_map(|f| container[*f].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if argv.is_empty() {
        // An image's own entrypoint: a server that runs until the pod is deleted.
        std::future::pending::<()>().await;
    }
    run_argv(&argv, ctx, sink).await
}

/// `sh -c SCRIPT` runs the script; anything else is one command.
async fn run_argv(argv: &[String], ctx: &Ctx, sink: &mut Sink) -> i32 {
    let is_shell = argv
        .first()
        .is_some_and(|a| a == "sh" || a == "/bin/sh" || a == "bash" || a == "/bin/bash");
    if is_shell && argv.get(1).map(String::as_str) == Some("-c") {
        return run_script(argv.get(2).map_or("", String::as_str), ctx, sink).await;
    }
    run_command(argv, ctx, sink).await
}

/// Statements joined by `;` (always run on) or `&&` (stop at a failure).
async fn run_script(script: &str, ctx: &Ctx, sink: &mut Sink) -> i32 {
    let mut code = 0;
    for (stmt, and_then) in split_statements(script) {
        let argv = words(&stmt);
        if argv.is_empty() {
            continue;
        }
        if argv[0] == "exit" {
            return argv.get(1).and_then(|c| c.parse().ok()).unwrap_or(code);
        }
        code = run_command(&argv, ctx, sink).await;
        if code != 0 && and_then {
            return code;
        }
    }
    code
}

/// Splits on `;` and `&&` outside quotes; the flag says the next statement needs success.
fn split_statements(script: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, ';' | '\n') => out.push((std::mem::take(&mut cur), false)),
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                out.push((std::mem::take(&mut cur), true));
            }
            _ => cur.push(c),
        }
    }
    out.push((cur, false));
    out
}

/// Shell words with single and double quotes.
fn words(stmt: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in stmt.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

async fn run_command(argv: &[String], ctx: &Ctx, sink: &mut Sink) -> i32 {
    let Some(cmd) = argv.first() else { return 0 };
    let args = &argv[1..];
    match cmd.rsplit('/').next().unwrap_or(cmd) {
        "true" => 0,
        "false" => 1,
        "echo" => {
            sink.out(format!("{}\n", args.join(" ")).as_bytes());
            0
        }
        "hostname" => {
            sink.out(format!("{}\n", ctx.pod.name).as_bytes());
            0
        }
        "sleep" => {
            match args.first().map(String::as_str) {
                Some("infinity") => std::future::pending::<()>().await,
                Some(s) => {
                    let secs: f64 = s.trim_end_matches('s').parse().unwrap_or(0.0);
                    tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                }
                None => {}
            }
            0
        }
        "cat" => {
            let mut code = 0;
            for path in args {
                match ctx.pod.read_file(&ctx.container, path) {
                    Some(data) => sink.out(&data),
                    None => {
                        sink.err(
                            format!("cat: can't open '{path}': No such file or directory\n")
                                .as_bytes(),
                        );
                        code = 1;
                    }
                }
            }
            code
        }
        "nslookup" => nslookup(args.first().map_or("", String::as_str), ctx, sink),
        other => {
            sink.err(format!("sh: {other}: not found\n").as_bytes());
            127
        }
    }
}

/// Cluster DNS, answered from the Services in the store (as CoreDNS does).
fn nslookup(name: &str, ctx: &Ctx, sink: &mut Sink) -> i32 {
    let trimmed = name
        .trim_end_matches('.')
        .trim_end_matches(".cluster.local")
        .trim_end_matches(".svc");
    let (service, namespace) = match trimmed.split_once('.') {
        Some((s, ns)) => (s, ns),
        None => (trimmed, ctx.pod.namespace.as_str()),
    };
    let services = crate::resources::by_kind("Service");
    let ip = ctx
        .store
        .get(&Key::new(services, namespace, service))
        .and_then(|s| s["spec"]["clusterIP"].as_str().map(str::to_string));
    sink.out(b"Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n");
    match ip {
        Some(ip) => {
            sink.out(
                format!("Name:\t{service}.{namespace}.svc.cluster.local\nAddress: {ip}\n")
                    .as_bytes(),
            );
            0
        }
        None => {
            sink.out(format!("** server can't find {name}: NXDOMAIN\n").as_bytes());
            1
        }
    }
}

/// Plays `registry.k8s.io/conformance`: prints the e2e log as it "runs", writes
/// `e2e.log` and `junit_01.xml` into RESULTS_DIR (default /tmp/results), and exits
/// non-zero when the JUnit file records failures, as e2e.test does.
async fn conformance_image(ctx: &Ctx, sink: &mut Sink) -> i32 {
    let Some(dir) = &ctx.opts.conformance_results else {
        sink.err(b"fakekube: no conformance results configured\n");
        return 2;
    };
    let read = |f: &str| std::fs::read(dir.join(f));
    let (Ok(log), Ok(junit)) = (read("e2e.log"), read("junit_01.xml")) else {
        sink.err(
            format!(
                "fakekube: {} lacks e2e.log or junit_01.xml\n",
                dir.display()
            )
            .as_bytes(),
        );
        return 2;
    };
    sink.out(
        format!(
            "fakekube conformance: E2E_FOCUS={:?} E2E_SKIP={:?} E2E_PARALLEL={:?} E2E_DRYRUN={:?}\n",
            ctx.env.get("E2E_FOCUS").map_or("", String::as_str),
            ctx.env.get("E2E_SKIP").map_or("", String::as_str),
            ctx.env.get("E2E_PARALLEL").map_or("", String::as_str),
            ctx.env.get("E2E_DRYRUN").map_or("", String::as_str),
        )
        .as_bytes(),
    );
    // The log arrives 40 lines at a time, so a follower really follows.
    let lines: Vec<&[u8]> = log.split_inclusive(|b| *b == b'\n').collect();
    for piece in lines.chunks(40) {
        sink.out(&piece.concat());
        tokio::time::sleep(ctx.opts.conformance_chunk_pause).await;
    }
    let results = ctx
        .env
        .get("RESULTS_DIR")
        .cloned()
        .unwrap_or_else(|| "/tmp/results".into());
    ctx.pod
        .write_file(&ctx.container, &format!("{results}/e2e.log"), log);
    let failed = memchr_count(&junit, b"<failure");
    ctx.pod
        .write_file(&ctx.container, &format!("{results}/junit_01.xml"), junit);
    ctx.pod.write_file(
        &ctx.container,
        &format!("{results}/done"),
        b"junit_01.xml".to_vec(),
    );
    i32::from(failed > 0)
}

fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_and_statements() {
        assert_eq!(words("echo 'a b' \"c\" d"), ["echo", "a b", "c", "d"]);
        let s = split_statements("echo 'x;y' && cat /f; exit 3");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0], ("echo 'x;y' ".to_string(), true));
        assert_eq!(s[2].0.trim(), "exit 3");
    }
}
