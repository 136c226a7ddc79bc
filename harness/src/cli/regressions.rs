//! `trellis regressions`: tests whose failure rate rose between two windows, and
//! performance figures that rose against their job's baseline.

use super::failure::Failure;
use super::perf_check;
use super::window::{self, WindowArgs};
use crate::analysis::regressions;
use crate::exit;

/// Tests that fail significantly more in the sample window than in the basis window:
/// one-sided Fisher exact test, Sippy's component-readiness defaults (p < 0.05, at
/// least 3 sample failures, pass-rate drop over 5 points; over 15 is extreme).
///
/// Perf figures regress by build, not by window: for every PerfData series a job
/// stores (the perf suite's, or a ClusterLoader2 job's ingested), the p99 of the
/// newest `--perf-recent` builds against up to `--perf-baseline` builds before them,
/// one-sided Mann-Whitney at `--perf-alpha`, and a rise of the median of at least
/// `--perf-min-change` and of a tenth of the figure's SLO.
///
/// `--json` prints {window: {sample: {days, since, until}, basis: {…}}, regressions:
/// [{job, test, basis: {runs, failures, pass_rate}, sample: {…}, drop, p_value,
/// extreme}], perf: {settings, regressions: [{job, series, unit, build, commit,
/// recent: {builds, median, values}, baseline: {…}, change, p_value, slo, over_slo,
/// verdict}], judged, too_little_history}}; rates and `drop` (basis pass rate minus
/// sample pass rate) are fractions, times Unix seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Length of the sample window (ending at the decision time), in days; `--days`
    /// means the same [default: 7].
    #[arg(long)]
    sample_days: Option<u32>,
    /// Length of the basis window (just before the sample), in days.
    #[arg(long, default_value_t = 28)]
    basis_days: u32,
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    #[command(flatten)]
    perf: perf_check::PerfArgs,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let now = args.window.now();
    let sample_days = args.sample_days.or(args.window.days).unwrap_or(7);
    let sample = window::Window {
        days: sample_days,
        since: now - i64::from(sample_days) * 86_400,
        until: now,
        per_test_group: false,
    };
    let basis = window::Window {
        days: args.basis_days,
        since: sample.since - i64::from(args.basis_days) * 86_400,
        until: sample.since,
        per_test_group: false,
    };
    let (basis_start, sample_start) = (basis.since, sample.since);
    let span = crate::model::Span {
        since: Some(basis_start),
        until: Some(now),
    };
    let grids = window::grids(db, args.job.clone().map(|j| vec![j]), span)?;
    let mut found: Vec<_> = grids
        .iter()
        .flat_map(|g| regressions::find(g, basis_start, sample_start))
        .collect();
    found.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then_with(|| a.test.cmp(&b.test))
    });
    let perf_settings = args.perf.settings();
    let points = perf_check::points(db, args.job.as_deref(), now)?;
    let perf = crate::analysis::perf::check(&points, &perf_settings);
    let perf_regressed: Vec<_> = perf
        .iter()
        .filter(|c| c.verdict == crate::analysis::perf::Verdict::Regressed)
        .collect();
    if args.window.json {
        return super::print_json(&serde_json::json!({
            "window": { "sample": sample, "basis": basis },
            "regressions": found,
            "perf": {
                "settings": perf_settings,
                "regressions": perf_regressed,
                "judged": perf.len(),
                "too_little_history": perf.iter()
                    .filter(|c| c.verdict == crate::analysis::perf::Verdict::TooLittleHistory)
                    .count(),
            },
        }));
    }
    if args.perf.perf_backtest {
        perf_check::print_backtest(&crate::analysis::perf::backtest(&points, &perf_settings));
    }
    if !perf.is_empty() {
        println!("{}", perf_check::summary(&perf, &perf_settings));
        for c in &perf_regressed {
            println!("  {}", perf_check::describe(c));
        }
    }
    println!(
        "sample: builds started {} – {} UTC ({} days); basis: {} – {} ({} days)",
        window::utc(sample.since),
        window::utc(sample.until),
        sample.days,
        window::utc(basis.since),
        window::utc(basis.until),
        basis.days
    );
    if found.is_empty() {
        println!("no significant regressions");
        return Ok(exit::OK);
    }
    for r in &found {
        println!(
            "{} {:>9.2e}  pass rate {} -> {} ({:.1} points; {}/{} -> {}/{} failed)  {} / {}",
            if r.extreme { "EXTREME" } else { "       " },
            r.p_value,
            window::percent(r.basis.pass_rate),
            window::percent(r.sample.pass_rate),
            r.drop * 100.0,
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
