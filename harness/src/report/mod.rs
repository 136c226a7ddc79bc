//! `trellis report`: a static site (no CDN, no server; works from `file://` and any
//! bucket) with TestGrid-style dashboards, tab grids, flakiness and triage pages, build
//! pages, plots, TestGrid summary-API JSON files, and a Markdown summary.
//!
//! Every piece of text from test results goes through [`escape`] for the context it
//! lands in; grid data travels as JSON inside `<script type="application/json">`.

mod api;
pub mod browser;
mod build_page;
pub mod escape;
mod flakiness_page;
mod gather;
mod grid_page;
mod markdown;
mod pages;
mod perf_page;
mod plots;
mod sippy_pages;
mod triage_page;

pub use gather::{gather, snapshot, with_stored_jobs, Site};
pub use markdown::markdown;
pub use pages::build_href;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CSS: &str = include_str!("assets/report.css");
const GRID_JS: &str = include_str!("assets/grid.js");
const TABLE_JS: &str = include_str!("assets/table.js");

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a symbolic link: trellis writes the site only into real directories")]
    SymlinkedDirectory { path: PathBuf },
    #[error("two pages of the site would both be {rel}")]
    PageCollision { rel: String },
}

impl ReportError {
    pub fn hint(&self) -> &'static str {
        match self {
            ReportError::Store(e) => e.hint(),
            ReportError::Io { .. } => "check that --out is writable and has space",
            ReportError::SymlinkedDirectory { .. } => {
                "remove the link, or pass an --out that is a plain directory"
            }
            ReportError::PageCollision { .. } => {
                "two names map to one page name; rename one job, build or dashboard, and report this"
            }
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SiteStats {
    pub pages: usize,
    pub bytes: u64,
    pub largest_page: (String, u64),
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Files and bytes by the site's top-level part (`builds`, `tabs`, `tests`,
    /// `api`, … ; pages at the root under `root`).
    pub parts: std::collections::BTreeMap<String, PartStats>,
    /// Every machine-readable file (`api/…`) with its size.
    pub api_files: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PartStats {
    pub files: usize,
    pub bytes: u64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Writes files under the output directory, keeping count.
///
/// Each file is written beside its place and renamed over it, so a symbolic link
/// already at that name is replaced, never followed, and a reader never sees half a
/// page; directories under the root must be real ones. Each name is written once per
/// site: a second page under the same name is an error, not a silent overwrite.
pub(crate) struct Writer {
    root: PathBuf,
    /// The line at the foot of every page: when the site was made, for which time.
    footer: String,
    stats: SiteStats,
    written: std::collections::HashSet<String>,
    checked_dirs: std::collections::HashSet<PathBuf>,
}

impl Writer {
    fn new(root: &Path, footer: String) -> Writer {
        Writer {
            root: root.to_path_buf(),
            footer,
            stats: SiteStats::default(),
            written: std::collections::HashSet::new(),
            checked_dirs: std::collections::HashSet::new(),
        }
    }

    /// Creates `dir` (under the root) and its parents, refusing a symbolic link at any
    /// level below the root.
    fn real_dir(&mut self, dir: &Path) -> Result<(), ReportError> {
        if self.checked_dirs.contains(dir) {
            return Ok(());
        }
        let rel = dir.strip_prefix(&self.root).unwrap_or(Path::new(""));
        let mut at = self.root.clone();
        std::fs::create_dir_all(&at).map_err(|source| ReportError::Io {
            path: at.clone(),
            source,
        })?;
        for part in rel.components() {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ReportError::SymlinkedDirectory { path: at });
                }
                Ok(_) => {}
                Err(_) => std::fs::create_dir(&at).map_err(|source| ReportError::Io {
                    path: at.clone(),
                    source,
                })?,
            }
        }
        self.checked_dirs.insert(dir.to_path_buf());
        Ok(())
    }

    /// Writes an HTML page at `rel` in the site's shell (its links relative to where
    /// the page sits, so the site works from `file://`).
    pub(crate) fn page(&mut self, rel: &str, title: &str, body: &str) -> Result<(), ReportError> {
        let depth = rel.matches('/').count();
        let html = shell(title, depth, body, &self.footer);
        self.write(rel, &html)
    }

    pub(crate) fn write(&mut self, rel: &str, content: &str) -> Result<(), ReportError> {
        if !self.written.insert(rel.to_string()) {
            return Err(ReportError::PageCollision {
                rel: rel.to_string(),
            });
        }
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            self.real_dir(parent)?;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("page");
        let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&temp, content)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|source| {
                let _ = std::fs::remove_file(&temp);
                ReportError::Io { path, source }
            })?;
        let len = content.len() as u64;
        self.stats.bytes += len;
        let part = match rel.split_once('/') {
            Some((top, _)) => top,
            None => "root",
        };
        let p = self.stats.parts.entry(part.to_string()).or_default();
        p.files += 1;
        p.bytes += len;
        if rel.starts_with("api/") {
            self.stats.api_files.push((rel.to_string(), len));
        }
        if rel.ends_with(".html") {
            self.stats.pages += 1;
            if len > self.stats.largest_page.1 {
                self.stats.largest_page = (rel.to_string(), len);
            }
        }
        Ok(())
    }
}

/// Writes the whole site for `site` into `out`.
pub fn write_site(site: &Site, out: &Path) -> Result<SiteStats, ReportError> {
    let start = Instant::now();
    let utc = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    let footer = format!(
        "generated {} by trellis {} · results up to {}",
        utc(site.generated_at),
        env!("CARGO_PKG_VERSION"),
        utc(site.snapshot.now)
    );
    let mut w = Writer::new(out, footer);
    w.write("assets/report.css", CSS)?;
    w.write("assets/grid.js", GRID_JS)?;
    w.write("assets/table.js", TABLE_JS)?;
    let mut step = Instant::now();
    let mut timed = |what: &str| {
        tracing::info!(elapsed = ?step.elapsed(), "report: wrote {what}");
        step = Instant::now();
    };
    pages::index(site, &mut w)?;
    pages::dashboards(site, &mut w)?;
    timed("index and dashboards");
    grid_page::tabs(site, &mut w)?;
    timed("tab grids");
    flakiness_page::write(site, &mut w)?;
    triage_page::write(site, &mut w)?;
    timed("flakiness and triage");
    build_page::write(site, &mut w)?;
    timed("build pages");
    sippy_pages::write(site, &mut w)?;
    timed("pass rates, test pages and component readiness");
    perf_page::write(site, &mut w)?;
    api::write(site, &mut w)?;
    w.write("summary.md", &markdown(site))?;
    w.stats.elapsed = start.elapsed();
    Ok(w.stats)
}

/// The page shell: head, navigation, body, footer. `depth` is how many folders below
/// the site root the page is (for relative links that work from `file://`).
fn shell(title: &str, depth: usize, body: &str, footer: &str) -> String {
    let up = "../".repeat(depth);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · trellis</title><link rel=\"stylesheet\" href=\"{up}assets/report.css\"></head>\
         <body><header class=\"top\"><a href=\"{up}index.html\">trellis</a>\
         <a href=\"{up}jobs.html\">Jobs</a><a href=\"{up}tests.html\">Tests</a>\
         <a href=\"{up}components.html\">Components</a>\
         <a href=\"{up}flakiness.html\">Flakiness</a><a href=\"{up}triage.html\">Triage</a>\
         <a href=\"{up}perf.html\">Performance</a></header>\
         <main>{body}</main><footer class=\"muted\">{footer}</footer></body></html>\n",
        title = escape::html(title),
        footer = escape::html(footer)
    )
}
