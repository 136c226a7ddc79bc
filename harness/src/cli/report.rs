//! `trellis report`: the static site and the Markdown summary.

use super::failure::Failure;
use super::window::WindowArgs;
use crate::exit;
use crate::report;
use std::path::PathBuf;

/// Render the stored history as a static TestGrid-style site (index with the release
/// verdict, dashboards with plots, tab grids, flakiness, triage, build pages, and
/// TestGrid summary-API JSON under api/v1/), and/or a Markdown summary.
///
/// The site needs nothing else: open OUT/index.html from disk or serve it from any
/// static bucket. Without dashboard configs every stored job becomes a tab of one
/// dashboard. The window is the one `trellis status` uses: --days (default: the
/// dashboards' longest days_of_results, 7 without any) back from --at. `--json`
/// prints what the index shows, in `trellis status --json`'s shape, plus `written`:
/// what went into --out (null without it): {pages, bytes, largest_page: [path,
/// bytes], elapsed (seconds), parts: {builds|tabs|tests|api|…: {files, bytes}},
/// api_files: [[path, bytes]]}.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Directory to write the site into.
    #[arg(long, value_name = "DIR", required_unless_present_any = ["markdown", "json"])]
    out: Option<PathBuf>,
    /// Print the Markdown summary (verdict, failing tests with their last good commit,
    /// new flakes) on stdout, e.g. for $GITHUB_STEP_SUMMARY.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Component readiness groups tests by this mapping (YAML: `components: [{name,
    /// match}]`, `match` a regular expression on the test name; the first that
    /// matches wins) before the `[sig-…]` of their names.
    #[arg(long, value_name = "FILE")]
    components: Option<PathBuf>,
    /// Where the site will be served (an http(s) URL): links that leave the site —
    /// the test link a "file a bug" template fills in — are made absolute with it.
    #[arg(long, value_name = "URL", value_parser = site_url)]
    site_url: Option<String>,
}

/// `--site-url`: an http(s) URL, kept without a trailing slash.
fn site_url(text: &str) -> Result<String, String> {
    match reqwest::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            Ok(text.trim_end_matches('/').to_string())
        }
        _ => Err(format!(
            "`{text}`: give the http(s) URL the site is served from, e.g. https://ci.example.org/trellis"
        )),
    }
}

/// `--json`: the window, what was written, and the index's data beside them.
#[derive(serde::Serialize)]
struct ReportJson<'a> {
    window: super::window::Window,
    written: Option<report::SiteStats>,
    #[serde(flatten)]
    report: &'a crate::analysis::StatusReport,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let config = args.window.config()?;
    let window = args.window.window(&config);
    eprintln!("{}", window.describe());
    let components = match &args.components {
        Some(path) => crate::config::components::Components::load(path)
            .map_err(|e| Failure::message(exit::INPUT_REJECTED, e.to_string(), e.hint()))?,
        None => Default::default(),
    };
    let mut site = report::gather(
        db,
        config,
        &components,
        window.span(),
        window.until,
        window.per_test_group,
    )?;
    site.site_url = args.site_url.clone();
    let mut written = None;
    if let Some(out) = &args.out {
        match report::write_site(&site, out) {
            Ok(stats) => {
                eprintln!(
                "wrote {} pages ({:.1} MB) to {} in {:.2} s; largest page {} ({:.1} MB); open {}",
                stats.pages,
                stats.bytes as f64 / 1e6,
                out.display(),
                stats.elapsed.as_secs_f64(),
                stats.largest_page.0,
                stats.largest_page.1 as f64 / 1e6,
                out.join("index.html").display()
                );
                written = Some(stats);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if args.markdown {
        print!("{}", report::markdown(&site));
    }
    if args.window.json {
        super::print_json(&ReportJson {
            window,
            written,
            report: &site.snapshot.status,
        })?;
    }
    Ok(exit::OK)
}
