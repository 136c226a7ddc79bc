//! `trellis regressions`: tests whose failure rate rose between two windows.

use super::failure::Failure;
use super::window::{self, WindowArgs};
use crate::analysis::regressions;
use crate::exit;
use std::path::Path;

/// Tests that fail significantly more in the sample window than in the basis window:
/// one-sided Fisher exact test, Sippy's component-readiness defaults (p < 0.05, at
/// least 3 sample failures, pass-rate drop over 5 points; over 15 is extreme).
///
/// `--json` prints an array of {job, test, basis: {runs, failures, pass_rate},
/// sample: {…}, drop, p_value, extreme}.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Length of the sample window (ending at the decision time), in days.
    #[arg(long, default_value_t = 7)]
    sample_days: u32,
    /// Length of the basis window (just before the sample), in days.
    #[arg(long, default_value_t = 28)]
    basis_days: u32,
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
}

pub fn run(args: Args, db: &Path) -> Result<i32, Failure> {
    let now = args.window.now();
    let sample_start = now - i64::from(args.sample_days) * 86_400;
    let basis_start = sample_start - i64::from(args.basis_days) * 86_400;
    let grids = window::grids(db, args.job.clone().map(|j| vec![j]), basis_start)?;
    let mut found: Vec<_> = grids
        .iter()
        .flat_map(|g| regressions::find(g, basis_start, sample_start))
        .collect();
    found.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then_with(|| a.test.cmp(&b.test))
    });
    if args.window.json {
        return super::print_json(&found);
    }
    if found.is_empty() {
        println!(
            "no significant regressions (sample: last {} days, basis: {} days before)",
            args.sample_days, args.basis_days
        );
        return Ok(exit::OK);
    }
    for r in &found {
        println!(
            "{} {:>9.2e}  pass rate {} -> {} ({:.1} points; {}/{} -> {}/{} failed)  {} / {}",
            if r.extreme { "EXTREME" } else { "       " },
            r.p_value,
            window::percent(r.basis.pass_rate),
            window::percent(r.sample.pass_rate),
            r.drop,
            r.basis.failures,
            r.basis.runs,
            r.sample.failures,
            r.sample.runs,
            r.job,
            r.test
        );
    }
    Ok(exit::OK)
}
