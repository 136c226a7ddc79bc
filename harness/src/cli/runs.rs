//! `trellis runs`: the jobs and builds in the store.

use super::failure::Failure;
use crate::exit;

/// List stored builds, per job, newest first, with cell counts.
///
/// `--json` prints an array of
/// {job, build, started, finished, passed, commit, counts: {pass, fail, flaky, skip, other}}
/// with times in Unix seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let store = super::open_store(db)?;
    if let Some(job) = &args.job {
        super::window::known_job(&store.jobs()?, job, db)?;
    }
    let runs = store.runs(args.job.as_deref())?;
    if args.json {
        return super::print_json(&runs);
    }
    if runs.is_empty() {
        println!(
            "no builds stored in {} (add some with `trellis ingest`)",
            db
        );
        return Ok(exit::OK);
    }
    let mut current_job = None;
    for r in &runs {
        if current_job != Some(&r.job) {
            let n = runs.iter().filter(|x| x.job == r.job).count();
            println!("{}  ({n} builds)", crate::printable::line(&r.job));
            current_job = Some(&r.job);
        }
        let verdict = match r.passed {
            Some(true) => "PASSED",
            Some(false) => "FAILED",
            None => "-",
        };
        let c = &r.counts;
        println!(
            "  {:<22} {:<21} {:<7} {:>6} pass {:>4} fail {:>4} flaky {:>6} skip {:>4} other  {}",
            crate::printable::line(&r.build),
            super::format_time(r.started),
            verdict,
            c.pass,
            c.fail,
            c.flaky,
            c.skip,
            c.other,
            crate::printable::line(r.commit.as_deref().unwrap_or(""))
        );
    }
    Ok(exit::OK)
}
