//! The performance baseline check as `trellis regressions` and `trellis status` show
//! it: options, the store read, and one line per regressed series.

use super::failure::Failure;
use crate::analysis::perf::{self, SeriesCheck, Settings, Verdict};
use crate::model::PerfPoint;
use crate::printable::line;

/// The statistic judged: ClusterLoader2's p99, per run.
pub const STAT: &str = "Perc99";

/// How `--perf-*` set the baseline check.
#[derive(Debug, Clone, clap::Args)]
pub struct PerfArgs {
    /// Perf: newest builds of a job judged together against its baseline.
    #[arg(long, value_name = "N", default_value_t = Settings::default().recent,
          value_parser = builds(200))]
    pub perf_recent: usize,
    /// Perf: builds before those that form the baseline (at most).
    #[arg(long, value_name = "N", default_value_t = Settings::default().baseline,
          value_parser = builds(1000))]
    pub perf_baseline: usize,
    /// Perf: one-sided significance level of the Mann-Whitney test.
    #[arg(long, value_name = "P", default_value_t = Settings::default().alpha,
          value_parser = fraction)]
    pub perf_alpha: f64,
    /// Perf: smallest rise of the median that counts, as a fraction (0.2 = 20%).
    #[arg(long, value_name = "FRACTION", default_value_t = Settings::default().min_change,
          value_parser = non_negative)]
    pub perf_min_change: f64,
    /// Perf: also say, for every stored build, what the check would have said right
    /// after it (on a history with no real change, how often it fires is its false
    /// alarm rate).
    #[arg(long)]
    pub perf_backtest: bool,
}

/// A build count from 1 to `max`.
fn builds(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |s: &str| match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{s:?}: give a number of builds from 1 to {max}")),
    }
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!(
            "{s:?}: give a probability between 0 and 1, such as 0.05"
        )),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "{s:?}: give a fraction of 0 or more, such as 0.2 for 20%"
        )),
    }
}

impl PerfArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            recent: self.perf_recent,
            baseline: self.perf_baseline,
            alpha: self.perf_alpha,
            min_change: self.perf_min_change,
            ..Settings::default()
        }
    }
}

/// Every job's (or `job`'s) p99 history up to the newest build started by `until`.
pub fn points(
    db: &crate::store::Location,
    job: Option<&str>,
    until: i64,
) -> Result<Vec<PerfPoint>, Failure> {
    let store = crate::store::Store::open(db)?;
    Ok(store.measurements(job, STAT, Some(until))?)
}

/// Every series of every job (or of `job`) judged as of the newest build started by
/// `until`.
pub fn checks(
    db: &crate::store::Location,
    job: Option<&str>,
    until: i64,
    settings: &Settings,
) -> Result<Vec<SeriesCheck>, Failure> {
    Ok(perf::check(&points(db, job, until)?, settings))
}

/// The backtest as lines: one per build, then "fired after K of N judged builds".
pub fn print_backtest(runs: &[perf::Backtest]) {
    let mut jobs: Vec<&str> = runs.iter().map(|b| b.job.as_str()).collect();
    jobs.dedup();
    for job in jobs {
        let of_job: Vec<_> = runs.iter().filter(|b| b.job == job).collect();
        println!("perf backtest of {}:", line(job));
        for b in &of_job {
            let said = if b.judged == 0 {
                "too little history".to_string()
            } else if b.regressed.is_empty() {
                format!("quiet ({} series judged)", b.judged)
            } else {
                let named: Vec<String> = b.regressed.iter().map(|s| line(s).into_owned()).collect();
                format!("REGRESSED: {}", named.join("; "))
            };
            println!("  after {}: {said}", line(&b.build));
        }
        let judged = of_job.iter().filter(|b| b.judged > 0).count();
        let fired = of_job.iter().filter(|b| !b.regressed.is_empty()).count();
        println!("  fired after {fired} of {judged} judged builds");
    }
}

/// What was judged, in one line: "perf: 14 series of 1 job judged … none regressed".
pub fn summary(checks: &[SeriesCheck], s: &Settings) -> String {
    let jobs: std::collections::BTreeSet<&str> = checks.iter().map(|c| c.job.as_str()).collect();
    let regressed = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Regressed)
        .count();
    let short = checks
        .iter()
        .filter(|c| c.verdict == Verdict::TooLittleHistory)
        .count();
    let short = if short > 0 {
        format!(
            "; {short} with too little history (needs {} baseline builds)",
            baseline_needed(s)
        )
    } else {
        String::new()
    };
    format!(
        "perf: {} p99 series of {} job(s), the newest {} build(s) against up to {} before \
         (Mann-Whitney p ≤ {}, median up ≥ {:.0}% and ≥ {:.0}% of the SLO): {}{short}",
        checks.len(),
        jobs.len(),
        s.recent,
        s.baseline,
        s.alpha,
        s.min_change * 100.0,
        s.slo_share * 100.0,
        match regressed {
            0 => "none regressed".to_string(),
            n => format!("{n} regressed"),
        }
    )
}

/// Fewest baseline builds with which `recent` builds can reach `alpha`.
fn baseline_needed(s: &Settings) -> usize {
    (1..=10_000)
        .find(|&n| perf::smallest_p(s.recent, n) <= s.alpha)
        .unwrap_or(10_000)
}

/// "REGRESSED job series p99: 1.1 s → 2.9 s (+164%; p = 4.2e-4, 3 vs 30 builds)".
pub fn describe(c: &SeriesCheck) -> String {
    let slo = match c.slo {
        Some(slo) if c.over_slo => format!(", over the {} SLO", figure(slo, &c.unit)),
        _ => String::new(),
    };
    format!(
        "REGRESSED {} / {} p99: {} → {} ({}; p = {:.1e}, {} vs {} builds; newest {}){slo}",
        line(&c.job),
        line(&c.series),
        figure(c.baseline.median, &c.unit),
        figure(c.recent.median, &c.unit),
        c.change.map_or_else(
            || "up from 0".to_string(),
            |c| format!("{:+.0}%", c * 100.0)
        ),
        c.p_value.unwrap_or(1.0),
        c.recent.builds,
        c.baseline.builds,
        line(&c.build),
    )
}

/// A latency as the terminal shows it: "950 ms", "2.9 s".
fn figure(value: f64, unit: &str) -> String {
    crate::model::latency_text(value, unit, 1)
}
