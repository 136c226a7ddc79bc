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
mod plots;

pub use gather::{gather, snapshot, with_stored_jobs, Site};
pub use markdown::markdown;

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
}

impl ReportError {
    pub fn hint(&self) -> &'static str {
        match self {
            ReportError::Store(e) => e.hint(),
            ReportError::Io { .. } => "check that --out is writable and has space",
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
pub(crate) struct Writer {
    root: PathBuf,
    stats: SiteStats,
}

impl Writer {
    fn new(root: &Path) -> Writer {
        Writer {
            root: root.to_path_buf(),
            stats: SiteStats::default(),
        }
    }

    pub(crate) fn write(&mut self, rel: &str, content: &str) -> Result<(), ReportError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ReportError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, content).map_err(|source| ReportError::Io { path, source })?;
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
         <a href=\"{up}flakiness.html\">Flakiness</a><a href=\"{up}triage.html\">Triage</a></header>\
         <main>{body}</main></body></html>\n",
        title = escape::html(title)
    )
}
