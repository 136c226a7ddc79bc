//! URL inputs against a local HTTP server: a Prow build served as a plain directory
//! index, a GCS bucket through the JSON listing API, retries, 404 and timeouts.

mod common;

use common::{fixtures, runs, show, stderr, trellis, trellis_cmd};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    /// Answers 500 this many times, then the body.
    FlakyThenOk(Arc<AtomicUsize>, Vec<u8>),
    /// Never answers within any sane deadline.
    Hang,
    /// Claims a terabyte and streams it as fast as it can (for at most 20 s), with
    /// this many milliseconds between 64 KiB chunks.
    Endless(u64),
}

/// A tiny HTTP/1.1 server on 127.0.0.1 serving fixed routes; unknown paths are 404.
struct Server {
    base: String,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(routes);
        let log = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = routes.clone();
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &routes, &log));
            }
        });
        Server { base, hits }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.as_str() == path)
            .count()
    }
}

fn serve(mut stream: TcpStream, routes: &HashMap<String, Reply>, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(path.clone());
    let (status, body) = match routes.get(&path) {
        Some(Reply::Ok(b)) => (200, b.clone()),
        Some(Reply::FlakyThenOk(left, b)) => {
            if left.load(Ordering::SeqCst) > 0 {
                left.fetch_sub(1, Ordering::SeqCst);
                (500, b"try again".to_vec())
            } else {
                (200, b.clone())
            }
        }
        Some(Reply::Hang) => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        Some(Reply::Endless(pause)) => {
            let head =
                "HTTP/1.1 200 X\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 << 10];
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(20) && stream.write_all(&chunk).is_ok() {
                std::thread::sleep(Duration::from_millis(*pause));
            }
            return;
        }
        None => (404, b"not found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap()
}

fn prow_build_routes(prefix: &str) -> HashMap<String, Reply> {
    let b = "prow/logs/ci-kubernetes-kind-conformance/1002";
    HashMap::from([
        (
            format!("{prefix}/started.json"),
            Reply::Ok(fixture(&format!("{b}/started.json"))),
        ),
        (
            format!("{prefix}/finished.json"),
            Reply::Ok(fixture(&format!("{b}/finished.json"))),
        ),
        (
            format!("{prefix}/artifacts/junit_01.xml"),
            Reply::Ok(fixture(&format!("{b}/artifacts/junit_01.xml"))),
        ),
        (
            format!("{prefix}/artifacts/nested/junit_02.xml"),
            Reply::Ok(fixture(&format!("{b}/artifacts/nested/junit_02.xml"))),
        ),
    ])
}

#[test]
fn prow_build_from_a_directory_index() {
    let prefix = "/logs/ci-kind/1002";
    let mut routes = prow_build_routes(prefix);
    routes.insert(
        format!("{prefix}/artifacts/"),
        Reply::Ok(
            br#"<html><body><a href="../">../</a><a href="junit_01.xml">junit_01.xml</a>
            <a href="nested/junit_02.xml">nested/junit_02.xml</a><a href="build-log.txt">log</a></body></html>"#
                .to_vec(),
        ),
    );
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let url = format!("{}{prefix}/", server.base);
    let out = trellis(&db, &["ingest", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let detail = show(&db, "ci-kind", "1002");
    assert_eq!(detail["source"], url);
    assert_eq!(detail["commit"], "1b2c3d4e5f60");
    let svc = common::cell(
        &detail,
        "Kubernetes e2e suite.[sig-network] Services should serve a basic endpoint [Conformance]",
    );
    assert_eq!(svc["status"], "FLAKY");
    // podinfo.json is optional: its 404 is not an error.
    assert_eq!(server.hits(&format!("{prefix}/podinfo.json")), 1);
}

#[test]
fn gcs_bucket_via_json_listing_with_a_retried_5xx() {
    let prefix = "/kubernetes-ci-logs/logs/ci-kind/1002";
    let mut routes = prow_build_routes(prefix);
    let listing = r#"{"items": [
        {"name": "logs/ci-kind/1002/artifacts/junit_01.xml"},
        {"name": "logs/ci-kind/1002/artifacts/nested/junit_02.xml"},
        {"name": "logs/ci-kind/1002/artifacts/build-log.txt"}]}"#;
    routes.insert(
        "/storage/v1/b/kubernetes-ci-logs/o?prefix=logs%2Fci-kind%2F1002%2Fartifacts%2F&fields=items(name),nextPageToken".into(),
        Reply::Ok(listing.as_bytes().to_vec()),
    );
    // started.json fails twice with 500 before it is served.
    let started = fixture("prow/logs/ci-kubernetes-kind-conformance/1002/started.json");
    routes.insert(
        format!("{prefix}/started.json"),
        Reply::FlakyThenOk(Arc::new(AtomicUsize::new(2)), started),
    );
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let out = trellis_cmd(&db)
        .args(["ingest", "gs://kubernetes-ci-logs/logs/ci-kind/1002"])
        .env("TRELLIS_GCS_ENDPOINT", &server.base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.hits(&format!("{prefix}/started.json")), 3);
    let detail = show(&db, "ci-kind", "1002");
    // Two tests, Overall, and Pod (no podinfo.json, finished long ago).
    assert_eq!(detail["cells"].as_array().unwrap().len(), 4);
}

#[test]
fn single_junit_url_404_and_timeout() {
    let mut routes = HashMap::new();
    routes.insert(
        "/artifacts/junit_nextest.xml".to_string(),
        Reply::Ok(fixture("junit/nextest.xml")),
    );
    routes.insert("/slow/junit.xml".to_string(), Reply::Hang);
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let good = format!("{}/artifacts/junit_nextest.xml", server.base);
    let missing = format!("{}/logs/job/1/junit_01.xml", server.base);
    let slow = format!("{}/slow/junit.xml", server.base);
    // A port nothing listens on: the error says why, not reqwest's URL again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}/x/junit.xml", closed.local_addr().unwrap());
    drop(closed);
    let started = std::time::Instant::now();
    let out = trellis(
        &db,
        &[
            "ingest",
            "--http-timeout",
            "1",
            "--http-retries",
            "1",
            &good,
            &missing,
            &slow,
            &refused,
        ],
    );
    let err = stderr(&out);
    let line = err.lines().find(|l| l.contains(&refused)).unwrap_or("");
    assert!(
        line.contains("could not connect") && line.to_lowercase().contains("refused"),
        "{err}"
    );
    assert_eq!(line.matches(&refused).count(), 1, "{line}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&missing) && err.contains("answered 404"),
        "{err}"
    );
    assert!(
        err.contains(&slow) && err.contains("timed out after 2 attempt(s)"),
        "{err}"
    );
    // Two attempts of one second each plus a short backoff, not the server's 30 s.
    assert!(started.elapsed() < Duration::from_secs(15));
    let stored = runs(&db);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["job"], "junit_nextest");
    assert_eq!(
        server.hits("/logs/job/1/junit_01.xml"),
        1,
        "a 404 is not retried"
    );
}

#[test]
fn a_body_that_never_ends_is_cut_off_by_size_and_by_time() {
    let routes = HashMap::from([
        ("/flood/junit.xml".to_string(), Reply::Endless(0)),
        ("/trickle/junit.xml".to_string(), Reply::Endless(100)),
    ]);
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let run = |path: &str, extra: &[&str]| {
        let url = format!("{}{path}", server.base);
        let started = std::time::Instant::now();
        let out = trellis_cmd(&db)
            .args(["ingest", "--http-retries", "0"])
            .args(extra)
            .arg(&url)
            .env("TMPDIR", &scratch)
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    let (out, took) = run("/flood/junit.xml", &["--http-max-mb", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("over 2 MB, the --http-max-mb limit"),
        "{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    // A steady trickle stays under every per-read timeout; the transfer deadline ends it.
    let (out, took) = run("/trickle/junit.xml", &["--http-max-seconds", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("took over 2 s"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(15), "{took:?}");
    // Nothing of either download is left on disk.
    let left: Vec<_> = walk(&scratch);
    assert!(left.is_empty(), "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_password_in_the_url_is_never_shown_or_stored() {
    let routes = HashMap::from([(
        "/r/junit.xml".to_string(),
        Reply::Ok(fixture("junit/nextest.xml")),
    )]);
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let base = server.base.replace("http://", "http://bob:s3cr3t-pw@");
    let good = format!("{base}/r/junit.xml");
    let missing = format!("{base}/r/missing.xml");
    let out = trellis(&db, &["-vv", "ingest", "--job", "j", &good, &missing]);
    let said = format!("{}{}", common::stdout(&out), stderr(&out));
    assert!(said.contains("[redacted]@"), "{said}");
    assert!(!said.contains("s3cr3t-pw"), "{said}");
    let stored = runs(&db);
    assert_eq!(stored.len(), 1, "{said}");
    let detail = show(&db, "j", stored[0]["build"].as_str().unwrap());
    assert!(!detail.to_string().contains("s3cr3t-pw"), "{detail}");
}
