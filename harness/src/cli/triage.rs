//! `trellis triage`: failure messages grouped into clusters.

use super::failure::Failure;
use super::window::{self, WindowArgs};
use crate::analysis::{self, triage};
use crate::config::infra::InfraLabels;
use crate::exit;
use std::path::{Path, PathBuf};

/// Group failure messages the way Kubernetes triage does: normalised text (times,
/// UUIDs, hex ids, IPs and ports, pod, namespace and node names, Go map order), edit
/// distance under 10% of the mean length, within each test and then across tests and
/// jobs. The `Overall` row ("Build failed") is not a cause and is left out.
///
/// `--json` prints {window, failures, clusters: [{id, count, representative, common,
/// example, sig, ci, pr, tests: [{name, count, jobs: [{name, count, builds}]}], jobs,
/// builds: [{job, build, started, pr, passed, failures}], days: [[day, count]]}]}, largest
/// first. A cluster's `id` stays the same from run to run while its key does; pass
/// the previous run's JSON as `--previous` to keep failures in the clusters they
/// were in (Kubernetes triage's `--previous`). With `--infra FILE`, clusters whose
/// text a label matches say so (`infra`: the reason).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Which builds' failures: `ci` (periodic and post-submit), `pr` (pull requests:
    /// a PR number, or a `pull-…` job) or `all`.
    #[arg(long, value_enum, default_value_t = Only::All)]
    only: Only,
    /// An earlier `trellis triage --json` output: its clusters' keys are kept, so
    /// their ids stay stable.
    #[arg(long, value_name = "FILE")]
    previous: Option<PathBuf>,
    /// Failure texts labelled infrastructure (`trellis gate --infra`'s file): the
    /// clusters they match say so (`infra` in --json).
    #[arg(long, value_name = "FILE")]
    infra: Option<PathBuf>,
    /// How many clusters to print (human output).
    #[arg(long, default_value_t = 20)]
    top: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    All,
    Ci,
    Pr,
}

/// The clusters' keys from an earlier `--json` output.
fn previous_keys(path: &Path) -> Result<Vec<String>, Failure> {
    let bad = |why: String| {
        Failure::message(
            exit::USAGE,
            format!("--previous {}: {why}", path.display()),
            "pass a file written by `trellis triage --json`",
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    // A triage JSON of a million failures is far under this; a larger file is not one.
    if meta.len() > 1 << 30 {
        return Err(bad(format!(
            "{} bytes is too large for a triage output",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let clusters = json
        .get("clusters")
        .and_then(|c| c.as_array())
        .ok_or_else(|| bad("no \"clusters\" list".to_string()))?;
    clusters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.get("representative")
                .and_then(|r| r.as_str())
                .map(str::to_string)
                .ok_or_else(|| bad(format!("clusters[{i}] has no \"representative\" text")))
        })
        .collect()
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let window = args.window.window(&args.window.config()?);
    let previous = match &args.previous {
        Some(p) => previous_keys(p)?,
        None => Vec::new(),
    };
    let grids = window::grids(db, args.job.clone().map(|j| vec![j]), window.span())?;
    let mut failures = analysis::failures(&grids);
    match args.only {
        Only::All => {}
        Only::Ci => failures.retain(|f| !f.is_pr()),
        Only::Pr => failures.retain(|f| f.is_pr()),
    }
    let clusters = triage::cluster_seeded(&failures, &previous);
    let infra = match &args.infra {
        Some(path) => triage::InfraMatcher::new(&InfraLabels::load(path)?),
        None => triage::InfraMatcher::default(),
    };
    let labels: Vec<Option<String>> = clusters
        .iter()
        .map(|c| infra.why(&c.representative))
        .collect();
    if args.window.json {
        let mut listed = serde_json::to_value(&clusters)
            .map_err(|e| Failure::message(exit::FAILURE, e.to_string(), "report this as a bug"))?;
        if let Some(list) = listed.as_array_mut() {
            for (c, label) in list.iter_mut().zip(&labels) {
                if let (Some(c), Some(label)) = (c.as_object_mut(), label) {
                    c.insert("infra".into(), label.clone().into());
                }
            }
        }
        return super::print_json(&serde_json::json!({
            "window": window,
            "failures": failures.len(),
            "clusters": listed,
        }));
    }
    println!("{}", window.describe());
    println!("{} failures in {} clusters", failures.len(), clusters.len());
    for (c, label) in clusters.iter().zip(&labels).take(args.top) {
        print_cluster(c, label.as_deref());
    }
    Ok(exit::OK)
}

fn print_cluster(c: &triage::Cluster, infra: Option<&str>) {
    use crate::printable::line;
    println!();
    println!(
        "cluster {}: {} failures ({} CI, {} PR), {} tests, {} jobs, {} builds{}",
        c.id,
        c.count,
        c.ci,
        c.pr,
        c.tests.len(),
        c.jobs.len(),
        c.builds.len(),
        c.sig
            .as_deref()
            .map(|s| format!(", {s}"))
            .unwrap_or_default()
    );
    let text: String = c.representative.chars().take(300).collect();
    println!("    {}", line(&text));
    if let Some(label) = infra {
        println!("    labelled infra: {}", line(label));
    }
    for t in c.tests.iter().take(5) {
        println!("    {:>6}  {}", t.count, line(&t.name));
        for j in t.jobs.iter().take(3) {
            let builds: Vec<&str> = j.builds.iter().take(3).map(String::as_str).collect();
            let more = j.builds.len().saturating_sub(3);
            println!(
                "            {:>4} in {} (builds {}{})",
                j.count,
                line(&j.name),
                line(&builds.join(", ")),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }
    if c.tests.len() > 5 {
        println!("    … {} more tests", c.tests.len() - 5);
    }
}
