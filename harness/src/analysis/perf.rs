//! Performance regressions against a baseline: does a job's latest runs' p99 of a
//! figure sit significantly above the same job's earlier runs?
//!
//! Per series (a PerfData file and labels, such as pod startup or one API call), the
//! per-run values of the newest `recent` builds are compared with the `baseline`
//! builds before them by a one-sided Mann-Whitney rank test (exact, ties by mid-rank,
//! for up to [`EXACT_LIMIT`] runs; the normal approximation beyond). A series
//! regresses when the test says so at `alpha` **and** the recent median is at least
//! `min_change` above the baseline median **and** that rise is at least `slo_share`
//! of the figure's SLO where it has one: a 3 ms rise of a 9 ms API call is real to a
//! rank test and of no interest to a scalability engineer, and the floor is what
//! keeps the many series of one run from raising chance alarms together.

use crate::model::{self, PerfPoint};
use serde::Serialize;
use std::collections::BTreeMap;

/// Runs beyond which the exact rank distribution is replaced by the normal one.
pub const EXACT_LIMIT: usize = 80;

/// How a regression is decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    /// Newest builds judged together.
    pub recent: usize,
    /// Builds before those that form the baseline (at most).
    pub baseline: usize,
    /// One-sided significance level of the rank test.
    pub alpha: f64,
    /// Smallest rise of the median that counts, as a fraction of the baseline median.
    pub min_change: f64,
    /// Smallest rise that counts, as a fraction of the figure's SLO (where it has one).
    pub slo_share: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: 3,
            baseline: 30,
            alpha: 0.05,
            min_change: 0.2,
            slo_share: 0.1,
        }
    }
}

/// What the check found for one series of one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesCheck {
    pub job: String,
    pub series: String,
    pub unit: String,
    /// The newest build of the job (the one judged).
    pub build: String,
    pub commit: Option<String>,
    pub recent: Window,
    pub baseline: Window,
    /// Recent median over baseline median, minus one; None when the baseline median
    /// is zero (a figure measured in whole seconds that was 0 s), where only the
    /// SLO floor judges the rise.
    pub change: Option<f64>,
    /// One-sided p-value; None when there is too little history to test.
    pub p_value: Option<f64>,
    /// The SLO in the series' unit, where one applies.
    pub slo: Option<f64>,
    /// The newest value is over the SLO.
    pub over_slo: bool,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Regressed,
    /// Not significantly worse, or worse by less than the minimum change.
    Unchanged,
    /// Too few baseline builds for the test to reach `alpha` at all.
    TooLittleHistory,
}

/// A run of builds and the median of their values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub builds: usize,
    pub median: f64,
    pub values: Vec<f64>,
}

impl Window {
    fn of(values: &[f64]) -> Window {
        Window {
            builds: values.len(),
            median: median(values),
            values: values.to_vec(),
        }
    }
}

/// One job's history of one statistic: its builds in order and each series' values.
struct JobHistory<'a> {
    job: &'a str,
    /// (build, commit), oldest first.
    builds: Vec<(&'a str, Option<&'a str>)>,
    series: BTreeMap<&'a str, Series<'a>>,
}

struct Series<'a> {
    unit: &'a str,
    labels: &'a BTreeMap<String, String>,
    /// (build index, value), oldest first.
    values: Vec<(usize, f64)>,
}

/// `points` (as `Store::measurements` returns them: by job, then build start) per job.
fn histories(points: &[PerfPoint]) -> Vec<JobHistory<'_>> {
    let mut out: Vec<JobHistory<'_>> = Vec::new();
    for p in points {
        if out.last().is_none_or(|h| h.job != p.job) {
            out.push(JobHistory {
                job: &p.job,
                builds: Vec::new(),
                series: BTreeMap::new(),
            });
        }
        let Some(h) = out.last_mut() else { continue };
        if h.builds.last().is_none_or(|(b, _)| *b != p.build) {
            h.builds.push((&p.build, p.commit.as_deref()));
        }
        let index = h.builds.len() - 1;
        h.series
            .entry(&p.series)
            .or_insert_with(|| Series {
                unit: &p.unit,
                labels: &p.labels,
                values: Vec::new(),
            })
            .values
            .push((index, p.value));
    }
    out
}

/// Every series of every job judged as of the job's newest build. Series the newest
/// build does not have are not judged (a call it no longer makes).
pub fn check(points: &[PerfPoint], s: &Settings) -> Vec<SeriesCheck> {
    histories(points)
        .iter()
        .flat_map(|h| check_as_of(h, h.builds.len(), s))
        .collect()
}

/// The check as it would have run right after one build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub job: String,
    pub build: String,
    /// Series with enough history to be tested.
    pub judged: usize,
    /// Series flagged as regressed.
    pub regressed: Vec<String>,
}

/// For each build of each job, what the check would have said had it run right
/// after that build: how often it fires on an unchanged history is its false alarm
/// rate.
pub fn backtest(points: &[PerfPoint], s: &Settings) -> Vec<Backtest> {
    let mut out = Vec::new();
    for h in histories(points) {
        for upto in 1..=h.builds.len() {
            let checks = check_as_of(&h, upto, s);
            out.push(Backtest {
                job: h.job.to_string(),
                build: h.builds[upto - 1].0.to_string(),
                judged: checks
                    .iter()
                    .filter(|c| c.verdict != Verdict::TooLittleHistory)
                    .count(),
                regressed: checks
                    .into_iter()
                    .filter(|c| c.verdict == Verdict::Regressed)
                    .map(|c| c.series)
                    .collect(),
            });
        }
    }
    out
}

/// The series of `h` judged as if its first `upto` builds were all there was.
fn check_as_of(h: &JobHistory<'_>, upto: usize, s: &Settings) -> Vec<SeriesCheck> {
    let newest = upto - 1;
    let (build, commit) = h.builds[newest];
    let mut out = Vec::new();
    for (name, series) in &h.series {
        let values: Vec<f64> = series
            .values
            .iter()
            .take_while(|(i, _)| *i <= newest)
            .map(|(_, v)| *v)
            .collect();
        // Values are in build order: the newest build has the series when the last
        // value taken is its.
        let taken = values.len();
        if taken == 0 || series.values[taken - 1].0 != newest {
            continue;
        }
        let recent_n = s.recent.max(1).min(values.len());
        let (before, recent) = values.split_at(values.len() - recent_n);
        let baseline = &before[before.len().saturating_sub(s.baseline)..];
        let recent_w = Window::of(recent);
        let baseline_w = Window::of(baseline);
        let change = (baseline_w.median > 0.0).then(|| recent_w.median / baseline_w.median - 1.0);
        let slo = model::slo_of(series.labels)
            .and_then(|slo| model::seconds_per(series.unit).map(|unit| slo.as_secs_f64() / unit));
        let newest_value = recent.last().copied().unwrap_or(0.0);
        let testable = !baseline.is_empty() && smallest_p(recent.len(), baseline.len()) <= s.alpha;
        let p_value = testable.then(|| mann_whitney_greater(recent, baseline));
        let rise = recent_w.median - baseline_w.median;
        let tick = whole_seconds_tick(&values, series.unit);
        let verdict = match p_value {
            None => Verdict::TooLittleHistory,
            Some(p)
                if p <= s.alpha
                    && rise > tick
                    && change.is_none_or(|c| c >= s.min_change)
                    && slo.is_none_or(|slo| rise >= s.slo_share * slo) =>
            {
                Verdict::Regressed
            }
            Some(_) => Verdict::Unchanged,
        };
        out.push(SeriesCheck {
            job: h.job.to_string(),
            series: name.to_string(),
            unit: series.unit.to_string(),
            build: build.to_string(),
            commit: commit.map(str::to_string),
            recent: recent_w,
            baseline: baseline_w,
            change,
            p_value,
            slo,
            over_slo: slo.is_some_and(|slo| newest_value > slo),
            verdict,
        });
    }
    out
}

/// One second in `unit` when every value is a whole number of seconds (a figure
/// read from Kubernetes timestamps, which have a resolution of one second: pod
/// creation, a condition's transition), else 0. A rise of one such tick is a
/// timestamp crossing a second boundary, not a slowdown, so a rise must exceed it.
fn whole_seconds_tick(values: &[f64], unit: &str) -> f64 {
    let Some(per) = model::seconds_per(unit) else {
        return 0.0;
    };
    let tick = 1.0 / per;
    let whole = values
        .iter()
        .all(|v| ((v / tick) - (v / tick).round()).abs() < 1e-9);
    if whole {
        tick
    } else {
        0.0
    }
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The smallest one-sided p-value `m` recent against `n` baseline runs can reach
/// (all recent above all baseline, no ties): 1 / C(m + n, m).
pub fn smallest_p(m: usize, n: usize) -> f64 {
    1.0 / binomial(m + n, m)
}

fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// One-sided Mann-Whitney p-value for "`x` tends to be larger than `y`": the
/// probability, under exchangeability, of a rank sum of `x` at least the one seen.
/// Exact (ties by mid-rank) up to [`EXACT_LIMIT`] values in all, else the normal
/// approximation with tie and continuity corrections.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (m, n) = (x.len(), y.len());
    if m == 0 || n == 0 {
        return 1.0;
    }
    let RankSums {
        ranks2,
        ties,
        observed,
    } = rank_sums(x, y);
    let total = m + n;
    if total <= EXACT_LIMIT {
        return exact_upper_tail(&ranks2, m, observed);
    }
    // Normal approximation on W (rank sum of x), in whole ranks.
    let w = observed as f64 / 2.0;
    let (mf, nf, nn) = (m as f64, n as f64, total as f64);
    let mean = mf * (nn + 1.0) / 2.0;
    let tie_term: f64 = ties
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let var = mf * nf / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (w - mean - 0.5) / var.sqrt();
    upper_normal(z)
}

/// The pooled sample's doubled mid-ranks (whole numbers), its tie group sizes, and
/// the sum of `x`'s doubled ranks.
struct RankSums {
    ranks2: Vec<usize>,
    ties: Vec<usize>,
    observed: usize,
}

fn rank_sums(x: &[f64], y: &[f64]) -> RankSums {
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = all.len();
    let mut ranks2 = vec![0usize; total];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < total {
        let mut j = i;
        while j + 1 < total && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Positions i..=j (1-based i+1..=j+1) share the mid-rank (i+1+j+1)/2.
        for r in &mut ranks2[i..=j] {
            *r = i + j + 2;
        }
        ties.push(j - i + 1);
        i = j + 1;
    }
    let observed = (0..total).filter(|&k| all[k].1).map(|k| ranks2[k]).sum();
    RankSums {
        ranks2,
        ties,
        observed,
    }
}

/// P(sum of `m` of `ranks2` chosen at random ≥ `observed`), by counting subsets
/// per (size, sum).
fn exact_upper_tail(ranks2: &[usize], m: usize, observed: usize) -> f64 {
    let max_sum: usize = ranks2.iter().sum();
    // ways[k][s]: subsets of the values seen so far of size k with sum s.
    let mut ways = vec![vec![0f64; max_sum + 1]; m + 1];
    ways[0][0] = 1.0;
    for &r in ranks2 {
        for k in (1..=m).rev() {
            let (lower, upper) = ways.split_at_mut(k);
            let (from, to) = (&lower[k - 1], &mut upper[0]);
            for s in (r..=max_sum).rev() {
                to[s] += from[s - r];
            }
        }
    }
    let all: f64 = ways[m].iter().sum();
    let tail: f64 = ways[m][observed.min(max_sum + 1)..].iter().sum();
    tail / all
}

/// P(Z ≥ z) for a standard normal Z (Abramowitz and Stegun 7.1.26, |error| < 1.5e-7).
fn upper_normal(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tail_by_hand() {
        // 2 of 4 distinct values: C(4,2) = 6 subsets; {3,4} is the only one summing
        // to 7, so "x above y entirely" has p = 1/6.
        assert!((mann_whitney_greater(&[3.0, 4.0], &[1.0, 2.0]) - 1.0 / 6.0).abs() < 1e-12);
        assert!((smallest_p(2, 2) - 1.0 / 6.0).abs() < 1e-12);
        // x below y entirely: every subset sums at least as high.
        assert!((mann_whitney_greater(&[1.0, 2.0], &[3.0, 4.0]) - 1.0).abs() < 1e-12);
        // Ties: x = {2, 2}, y = {1, 2}: mid-ranks 1, 3, 3, 3; x's sum 6 of
        // {4, 4, 4, 6, 6, 6} (doubled: 8, 8, 8, 12, 12, 12): p = 1/2.
        assert!((mann_whitney_greater(&[2.0, 2.0], &[1.0, 2.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_normal_approximation_agrees_with_the_exact_tail() {
        // 30 recent against 60 baseline, shifted by half a spread: past the exact
        // limit. Compare with the exact count on the same data by hand-splitting.
        let y: Vec<f64> = (0..60).map(|i| f64::from(i % 20)).collect();
        let x: Vec<f64> = (0..30).map(|i| f64::from(i % 20) + 5.5).collect();
        let approx = mann_whitney_greater(&x, &y);
        let RankSums {
            ranks2, observed, ..
        } = rank_sums(&x, &y);
        let exact = exact_upper_tail(&ranks2, 30, observed);
        assert!(approx < 0.01 && exact < 0.01, "{approx} {exact}");
        assert!(
            (approx.ln() - exact.ln()).abs() < 0.5,
            "{approx} vs {exact}"
        );
    }

    fn point(build: usize, series: &str, value: f64) -> PerfPoint {
        PerfPoint {
            job: "perf".into(),
            build: format!("{build:03}"),
            started: Some(build as i64),
            commit: None,
            series: series.into(),
            labels: [("Metric".to_string(), "pod_startup".to_string())].into(),
            unit: "ms".into(),
            stat: "Perc99".into(),
            value,
        }
    }

    /// A history of `n` builds around 1 s (a fixed jitter pattern), then `slow` more
    /// builds `extra` ms slower.
    fn history(n: usize, slow: usize, extra: f64) -> Vec<PerfPoint> {
        (0..n + slow)
            .map(|b| {
                let jitter = [0.0, 40.0, -25.0, 60.0, -50.0, 15.0, -10.0][b % 7];
                point(b, "s", 1000.0 + jitter + if b >= n { extra } else { 0.0 })
            })
            .collect()
    }

    #[test]
    fn a_slowdown_regresses_and_an_unchanged_history_does_not() {
        let s = Settings::default();
        let slow = check(&history(20, 3, 2000.0), &s);
        assert_eq!(slow.len(), 1);
        let c = &slow[0];
        assert_eq!(c.verdict, Verdict::Regressed, "{c:?}");
        assert_eq!((c.recent.builds, c.baseline.builds), (3, 20));
        assert!(c.p_value.unwrap() < 1e-3);
        assert!(c.change.unwrap() > 1.9);
        assert_eq!(c.slo, Some(5000.0));
        assert!(!c.over_slo);
        // Unchanged: never fires, at any build.
        let quiet = backtest(&history(30, 0, 0.0), &s);
        assert_eq!(quiet.iter().filter(|b| b.judged > 0).count(), 25);
        assert!(quiet.iter().all(|b| b.regressed.is_empty()));
        // Significant but small: 120 ms on a 5 s SLO is under the 500 ms floor.
        assert_eq!(
            check(&history(20, 3, 120.0), &s)[0].verdict,
            Verdict::Unchanged
        );
        // A figure read from whole-second timestamps (create → scheduled): 0 s in the
        // baseline, then 1 s in two of three runs is a boundary crossing, not a
        // slowdown; 2 s is a slowdown.
        let ticks = |recent: [f64; 3]| {
            let mut h: Vec<PerfPoint> = (0..12)
                .map(|b| point(b, "t", if b % 5 == 0 { 1000.0 } else { 0.0 }))
                .collect();
            h.extend(
                recent
                    .iter()
                    .enumerate()
                    .map(|(i, v)| point(12 + i, "t", *v)),
            );
            check(&h, &s)[0].verdict
        };
        assert_eq!(ticks([1000.0, 0.0, 1000.0]), Verdict::Unchanged);
        assert_eq!(ticks([1000.0, 1000.0, 1000.0]), Verdict::Unchanged);
        assert_eq!(ticks([2000.0, 2000.0, 2000.0]), Verdict::Regressed);
        // Too little history: 3 against 2 cannot reach 0.05 (1/C(5,3) = 0.1).
        let short = check(&history(2, 3, 2000.0), &s);
        assert_eq!(short[0].verdict, Verdict::TooLittleHistory);
        assert_eq!(short[0].p_value, None);
    }

    /// Calibration: on exchangeable data (3 and 30 draws of one distribution) the test
    /// rejects at 0.05 at most 5% of the time (the exact test is discrete, so a little
    /// less), and the normal approximation beyond the exact limit too.
    #[test]
    fn the_rank_test_is_calibrated_on_unchanged_data() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut draw = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Skewed like latencies: exp of a uniform.
            ((state >> 11) as f64 / (1u64 << 53) as f64 * 3.0).exp()
        };
        for (m, n) in [(3, 30), (40, 60)] {
            let trials = 2000;
            let mut rejected = 0;
            for _ in 0..trials {
                let x: Vec<f64> = (0..m).map(|_| draw()).collect();
                let y: Vec<f64> = (0..n).map(|_| draw()).collect();
                if mann_whitney_greater(&x, &y) <= 0.05 {
                    rejected += 1;
                }
            }
            let rate = f64::from(rejected) / f64::from(trials);
            assert!((0.03..=0.065).contains(&rate), "{m} vs {n}: {rate}");
        }
    }
}
