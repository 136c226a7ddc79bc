//! Inputs named by URL: Prow artifacts served over HTTP(S), GCS buckets included.
//!
//! A URL is downloaded into a scratch directory laid out like the local form and then
//! read by the same code. Every request has a deadline; transient failures (connect
//! errors, timeouts, 5xx, 429) are retried a bounded number of times, a 4xx is final.

use super::layout::{self, Unit, UnitKind};
use super::{prow, IngestError};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// Deadlines and retries for remote inputs.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Deadline for one request, connect to last byte.
    pub timeout: Duration,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// Where `gs://` URLs and GCS listings go (`https://storage.googleapis.com`).
    pub gcs_endpoint: String,
    /// The most bytes one file (or listing) may have: a body that keeps streaming is
    /// cut off here, not written to disk until it fills.
    pub max_file_bytes: u64,
    /// The longest one file's whole transfer may take, however steadily it streams.
    pub max_transfer: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(60),
            retries: 3,
            gcs_endpoint: "https://storage.googleapis.com".into(),
            max_file_bytes: 1 << 30,
            max_transfer: Duration::from_secs(600),
        }
    }
}

pub fn is_remote(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://") || input.starts_with("gs://")
}

/// A GCS object location, when the URL names one.
struct GcsPath {
    bucket: String,
    prefix: String,
}

pub fn discover(input: &str, opts: &HttpOptions) -> Result<Vec<Unit>, IngestError> {
    let (url, gcs) = resolve(input, opts);
    let client = Client::new(opts)?;
    let scratch = Rc::new(scratch_dir()?);
    let url_trimmed = url.trim_end_matches('/');
    let segments: Vec<String> = url_path_segments(url_trimmed);
    let last = segments.last().cloned().unwrap_or_default();

    if last.ends_with(".xml")
        || last.ends_with(".log")
        || last.ends_with(".tar.gz")
        || last.ends_with(".tgz")
        || last.ends_with(".tar")
    {
        let local = scratch.path().join(&last);
        client.download(url_trimmed, &local)?;
        let mut units = layout::discover(&local, input)?;
        for u in &mut units {
            u.source = shown(input);
            if u.kind == UnitKind::E2eLog {
                u.job = segments
                    .iter()
                    .rev()
                    .nth(1)
                    .cloned()
                    .unwrap_or(u.job.clone());
            }
            u.scratch.get_or_insert_with(|| scratch.clone());
        }
        return Ok(units);
    }

    // A Prow build directory.
    let dir = scratch.path();
    client.download(
        &format!("{url_trimmed}/started.json"),
        &dir.join("started.json"),
    )?;
    for optional in ["finished.json", "podinfo.json"] {
        match client.download(&format!("{url_trimmed}/{optional}"), &dir.join(optional)) {
            Ok(()) => {}
            Err(IngestError::HttpStatus { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let artifacts = match &gcs {
        Some(g) => client.list_gcs(opts, g)?,
        None => client.list_index(&format!("{url_trimmed}/artifacts/"))?,
    };
    for rel in artifacts {
        let local = dir.join("artifacts").join(&rel);
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            continue;
        }
        client.download(&format!("{url_trimmed}/artifacts/{rel}"), &local)?;
    }
    let ids = prow::ids_from_segments(&segments);
    Ok(vec![Unit {
        kind: UnitKind::Prow,
        path: dir.to_path_buf(),
        job: ids.job.unwrap_or_else(|| "remote".into()),
        build: ids.build,
        pr: ids.pr,
        org_repo: ids.org_repo,
        source: shown(input),
        scratch: Some(scratch),
    }])
}

/// `gs://bucket/path` and `https://storage.googleapis.com/bucket/path` become an
/// HTTPS URL plus the bucket and prefix needed for listing.
fn resolve(input: &str, opts: &HttpOptions) -> (String, Option<GcsPath>) {
    let endpoint = opts.gcs_endpoint.trim_end_matches('/');
    let rest = input
        .strip_prefix("gs://")
        .or_else(|| input.strip_prefix("https://storage.googleapis.com/"));
    let Some(rest) = rest else {
        return (input.to_string(), None);
    };
    let rest = rest.trim_end_matches('/');
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let gcs = GcsPath {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    };
    (format!("{endpoint}/{rest}"), Some(gcs))
}

fn url_path_segments(url: &str) -> Vec<String> {
    let after_scheme = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let path = after_scheme.split_once('/').map(|x| x.1).unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn scratch_dir() -> Result<super::scratch::ScratchDir, IngestError> {
    super::scratch::ScratchDir::new("fetch")
}

struct Client {
    http: reqwest::blocking::Client,
    retries: u32,
    max_bytes: u64,
    max_transfer: Duration,
}

impl Client {
    fn new(opts: &HttpOptions) -> Result<Client, IngestError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("trellis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IngestError::Http {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            retries: opts.retries,
            max_bytes: opts.max_file_bytes,
            max_transfer: opts.max_transfer,
        })
    }

    /// GET with bounded retries on transient failures.
    fn get(&self, url: &str) -> Result<reqwest::blocking::Response, IngestError> {
        let mut backoff = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            let outcome = self.http.get(url).send();
            let transient = match &outcome {
                Ok(r) => r.status().is_server_error() || r.status().as_u16() == 429,
                Err(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            };
            if !transient || attempt >= self.retries {
                return match outcome {
                    Ok(r) if r.status().is_success() => Ok(r),
                    Ok(r) => Err(IngestError::HttpStatus {
                        url: shown(url),
                        status: r.status().as_u16(),
                    }),
                    Err(e) => Err(IngestError::Http {
                        url: shown(url),
                        reason: describe(&e, attempt + 1),
                    }),
                };
            }
            tracing::debug!(url = %shown(url), attempt, "transient failure; retrying");
            std::thread::sleep(backoff);
            backoff *= 2;
            attempt += 1;
        }
    }

    fn download(&self, url: &str, to: &Path) -> Result<(), IngestError> {
        let mut resp = self.get(url)?;
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| IngestError::Io {
                path: parent.to_path_buf(),
                source: e,
            })?;
        }
        let mut file = std::fs::File::create(to).map_err(|e| IngestError::Io {
            path: to.to_path_buf(),
            source: e,
        })?;
        let copied = self.bounded_copy(url, &mut resp, &mut file);
        if copied.is_err() {
            // Nothing half-downloaded stays behind (the scratch directory goes too).
            let _ = std::fs::remove_file(to);
        }
        copied
    }

    /// Copies the body into `out`, stopping at the byte cap and at the transfer
    /// deadline, whichever comes first.
    fn bounded_copy(
        &self,
        url: &str,
        body: &mut impl std::io::Read,
        out: &mut impl std::io::Write,
    ) -> Result<(), IngestError> {
        let fail = |reason: String| IngestError::Http {
            url: shown(url),
            reason,
        };
        let started = std::time::Instant::now();
        let mut buf = vec![0u8; 64 << 10];
        let mut total: u64 = 0;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(format!("the body broke off: {e}"))),
            };
            total += n as u64;
            if total > self.max_bytes {
                return Err(fail(format!(
                    "the body is over {} MB, the --http-max-mb limit",
                    self.max_bytes >> 20
                )));
            }
            if started.elapsed() > self.max_transfer {
                return Err(fail(format!(
                    "the transfer took over {} s, the --http-max-seconds limit ({} MB so far)",
                    self.max_transfer.as_secs(),
                    total >> 20
                )));
            }
            out.write_all(&buf[..n])
                .map_err(|e| fail(format!("cannot write it: {e}")))?;
        }
    }

    fn text(&self, url: &str) -> Result<String, IngestError> {
        let mut resp = self.get(url)?;
        let mut bytes = Vec::new();
        self.bounded_copy(url, &mut resp, &mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// junit*.xml objects under `<prefix>/artifacts/`, via the GCS JSON API, as paths
    /// relative to `artifacts/`.
    fn list_gcs(&self, opts: &HttpOptions, gcs: &GcsPath) -> Result<Vec<String>, IngestError> {
        let endpoint = opts.gcs_endpoint.trim_end_matches('/');
        let prefix = format!("{}/artifacts/", gcs.prefix.trim_end_matches('/'));
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        // A build has at most a few thousand artifacts; the page cap bounds a runaway listing.
        for _ in 0..100 {
            let mut url = format!(
                "{endpoint}/storage/v1/b/{}/o?prefix={}&fields=items(name),nextPageToken",
                gcs.bucket,
                query_escape(&prefix)
            );
            if let Some(token) = &page {
                url.push_str(&format!("&pageToken={}", query_escape(token)));
            }
            let body = self.text(&url)?;
            let listing: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| IngestError::Json {
                    input: url.clone(),
                    reason: format!("GCS listing is not JSON: {e}"),
                })?;
            for item in listing["items"].as_array().into_iter().flatten() {
                if let Some(rel) = item["name"].as_str().and_then(|n| n.strip_prefix(&prefix)) {
                    if layout::is_result_name(rel.rsplit('/').next().unwrap_or("")) {
                        out.push(rel.to_string());
                    }
                }
            }
            page = listing["nextPageToken"].as_str().map(str::to_string);
            if page.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// junit*.xml links in an HTML directory index (nginx, `python -m http.server`).
    fn list_index(&self, url: &str) -> Result<Vec<String>, IngestError> {
        let body = match self.text(url) {
            Ok(b) => b,
            Err(IngestError::HttpStatus { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for piece in body.split("href=\"").skip(1) {
            let Some(link) = piece.split('"').next() else {
                continue;
            };
            let name = link.rsplit('/').next().unwrap_or("");
            if layout::is_result_name(name) && !link.contains("://") && !link.starts_with('/') {
                out.push(link.to_string());
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// A URL as errors and logs show it: any `user:password@` masked.
fn shown(url: &str) -> String {
    crate::secrets::Redactor::default().redact(url).into_owned()
}

fn describe(e: &reqwest::Error, attempts: u32) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // reqwest's own text only repeats the URL the error already names; the cause is
    // at the bottom of its source chain ("Connection refused (os error 111)").
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{what} after {attempts} attempt(s): {cause}")
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs_urls_resolve_to_the_endpoint() {
        let opts = HttpOptions::default();
        let (url, gcs) = resolve("gs://kubernetes-ci-logs/logs/job/123/", &opts);
        assert_eq!(
            url,
            "https://storage.googleapis.com/kubernetes-ci-logs/logs/job/123"
        );
        let gcs = gcs.unwrap();
        assert_eq!(gcs.bucket, "kubernetes-ci-logs");
        assert_eq!(gcs.prefix, "logs/job/123");
        let (url, gcs) = resolve("https://example.com/logs/job/1", &opts);
        assert_eq!(url, "https://example.com/logs/job/1");
        assert!(gcs.is_none());
    }

    #[test]
    fn segments() {
        assert_eq!(
            url_path_segments("http://h:1/logs/j/5?x=1"),
            ["logs", "j", "5"]
        );
        assert_eq!(query_escape("logs/a b/"), "logs%2Fa%20b%2F");
    }
}
