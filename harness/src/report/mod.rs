//! `trellis report`: a static site (no CDN, no server; works from `file://` and any
//! bucket) with TestGrid-style dashboards, tab grids, flakiness and triage pages, build
//! pages, plots, TestGrid summary-API JSON files, and a Markdown summary.
//!
//! Every piece of text from test results goes through [`escape`] for the context it
//! lands in; grid data travels as JSON inside `<script type="application/json">`.

mod api;
pub mod browser;
pub mod escape;
mod gather;
mod grid_page;
mod markdown;
mod pages;
mod perf_page;
mod plots;

pub use gather::{gather, snapshot, with_stored_jobs, Site};
pub use markdown::markdown;
pub use pages::build_href;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CSS: &str = include_str!("assets/report.css");
const GRID_JS: &str = include_str!("assets/grid.js");

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
#[derive(Debug, Clone, Default)]
pub struct SiteStats {
    pub pages: usize,
    pub bytes: u64,
    pub largest_page: (String, u64),
    pub elapsed: Duration,
}

/// Writes files under the output directory, keeping count.
///
/// Each file is written beside its place and renamed over it, so a symbolic link
/// already at that name is replaced, never followed, and a reader never sees half a
/// page; directories under the root must be real ones. Each name is written once per
/// site: a second page under the same name is an error, not a silent overwrite.
pub(crate) struct Writer {
    root: PathBuf,
    stats: SiteStats,
    written: std::collections::HashSet<String>,
    checked_dirs: std::collections::HashSet<PathBuf>,
}

impl Writer {
    fn new(root: &Path) -> Writer {
        Writer {
            root: root.to_path_buf(),
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
    let mut w = Writer::new(out);
    w.write("assets/report.css", CSS)?;
    w.write("assets/grid.js", GRID_JS)?;
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
    pages::flakiness(site, &mut w)?;
    pages::triage(site, &mut w)?;
    timed("flakiness and triage");
    pages::builds(site, &mut w)?;
    timed("build pages");
    perf_page::write(site, &mut w)?;
    api::write(site, &mut w)?;
    w.write("summary.md", &markdown(site))?;
    w.stats.elapsed = start.elapsed();
    Ok(w.stats)
}

/// The page shell: head, navigation, body. `depth` is how many folders below the
/// site root the page is (for relative links that work from `file://`).
pub(crate) fn page(title: &str, depth: usize, body: &str) -> String {
    let up = "../".repeat(depth);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · trellis</title><link rel=\"stylesheet\" href=\"{up}assets/report.css\"></head>\
         <body><header class=\"top\"><a href=\"{up}index.html\">trellis</a>\
         <a href=\"{up}flakiness.html\">Flakiness</a><a href=\"{up}triage.html\">Triage</a>\
         <a href=\"{up}perf.html\">Performance</a></header>\
         <main>{body}</main></body></html>\n",
        title = escape::html(title)
    )
}
