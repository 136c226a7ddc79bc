//! `trellis triage`: failure messages grouped into clusters.

use super::failure::Failure;
use super::window::{self, WindowArgs};
use crate::analysis::{self, triage};
use crate::exit;
use std::path::Path;

/// Group failure messages the way Kubernetes triage does: normalised text (times,
/// UUIDs, hex ids, IPs and ports, pod, namespace and node names), edit distance under
/// 10% of the mean length, within each test and then across tests and jobs.
///
/// `--json` prints {window: {days, since, until}, failures, clusters: [{count,
/// representative, example, tests: [[test, count]], jobs}]}, largest first.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// How many clusters to print (human output).
    #[arg(long, default_value_t = 20)]
    top: usize,
}

pub fn run(args: Args, db: &Path) -> Result<i32, Failure> {
    let window = args.window.window(&args.window.config()?);
    let grids = window::grids(db, args.job.clone().map(|j| vec![j]), window.span())?;
    let failures = analysis::failures(&grids);
    let clusters = triage::cluster(&failures);
    if args.window.json {
        return super::print_json(&serde_json::json!({
            "window": window,
            "failures": failures.len(),
            "clusters": clusters,
        }));
    }
    println!("{}", window.describe());
    println!("{} failures in {} clusters", failures.len(), clusters.len());
    for c in clusters.iter().take(args.top) {
        println!();
        println!(
            "{} failures, {} tests, {} jobs: {}",
            c.count,
            c.tests.len(),
            c.jobs.len(),
            crate::printable::line(&c.representative.chars().take(300).collect::<String>())
        );
        for (t, n) in c.tests.iter().take(5) {
            println!("    {n:>6}  {}", crate::printable::line(t));
        }
        if c.tests.len() > 5 {
            println!("    … {} more tests", c.tests.len() - 5);
        }
        println!("    jobs: {}", crate::printable::line(&c.jobs.join(", ")));
    }
    Ok(exit::OK)
}
