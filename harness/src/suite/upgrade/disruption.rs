//! From samples to disruption, the way OpenShift's disruption monitors count it, with
//! ClusterLoader2's APIAvailability figures alongside.
//!
//! Samples are taken in start-time order. A failure after a success opens an interval
//! at the failing sample's start; a failure with a different error class closes it
//! there and opens another; the next success closes it at that sample's start.
//! Disruption is the sum of the intervals; an interval still open at the end closes at
//! the end of the monitored window. Availability is the share of successful samples,
//! and the longest unavailable period is the longest run of failed samples times the
//! sample interval (CL2's `maxConsecutiveFailedProbes × pollFrequency`).

use serde::Serialize;
use std::time::Duration;

/// One probe of one backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds from the start of monitoring.
    pub start: f64,
    pub latency: f64,
    /// `None` for success, else the error class (`connect`, `timeout`, `http-503`, …).
    pub error: Option<String>,
}

/// A period during which a backend failed, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    pub from: f64,
    pub to: f64,
    pub error: String,
}

impl Interval {
    pub fn seconds(&self) -> f64 {
        self.to - self.from
    }
}

/// What one backend's samples add up to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub failures: usize,
    pub intervals: Vec<Interval>,
    /// Sum of the intervals, in seconds.
    pub disruption: f64,
    /// Percentage of samples that succeeded.
    pub availability: f64,
    /// Longest run of failed samples times the sample interval, in seconds.
    pub longest_unavailable: f64,
    /// 99th percentile latency of the successful samples, in seconds.
    pub p99_latency: f64,
}

/// Summarises samples taken every `interval` over a window ending at `end` seconds.
pub fn summarise(samples: &[Sample], interval: Duration, end: f64) -> Summary {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut intervals: Vec<Interval> = Vec::new();
    let mut open: Option<Interval> = None;
    let (mut run, mut longest_run) = (0usize, 0usize);
    for s in &sorted {
        match (&s.error, open.take()) {
            (None, Some(mut i)) => {
                i.to = s.start;
                intervals.push(i);
            }
            (None, None) => {}
            (Some(e), Some(i)) if &i.error == e => open = Some(i),
            (Some(e), Some(mut i)) => {
                i.to = s.start;
                intervals.push(i);
                open = Some(Interval {
                    from: s.start,
                    to: s.start,
                    error: e.clone(),
                });
            }
            (Some(e), None) => {
                open = Some(Interval {
                    from: s.start,
                    to: s.start,
                    error: e.clone(),
                })
            }
        }
        run = if s.error.is_some() { run + 1 } else { 0 };
        longest_run = longest_run.max(run);
    }
    if let Some(mut i) = open {
        i.to = end.max(i.from);
        intervals.push(i);
    }
    let failures = sorted.iter().filter(|s| s.error.is_some()).count();
    let mut latencies: Vec<f64> = sorted
        .iter()
        .filter(|s| s.error.is_none())
        .map(|s| s.latency)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let p99_latency = if latencies.is_empty() {
        0.0
    } else {
        let rank = ((latencies.len() as f64) * 0.99).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    Summary {
        samples: sorted.len(),
        failures,
        // A fold from +0.0: an empty float sum is -0.0, which prints as "-0.0 s".
        disruption: intervals
            .iter()
            .map(Interval::seconds)
            .fold(0.0, |a, b| a + b),
        availability: if sorted.is_empty() {
            0.0
        } else {
            100.0 * (sorted.len() - failures) as f64 / sorted.len() as f64
        },
        longest_unavailable: longest_run as f64 * interval.as_secs_f64(),
        p99_latency,
        intervals,
    }
}

/// OpenShift's verdict: the disruption rounded to whole seconds is within the budget.
pub fn within_budget(disruption: f64, budget: Duration) -> bool {
    disruption.round() <= budget.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(start: f64, error: Option<&str>) -> Sample {
        Sample {
            start,
            latency: 0.01,
            error: error.map(Into::into),
        }
    }

    #[test]
    fn an_interval_opens_at_the_first_failure_and_closes_at_the_next_success() {
        let samples = [
            s(0.0, None),
            s(1.0, Some("connect")),
            s(2.0, Some("connect")),
            s(3.0, None),
        ];
        let sum = summarise(&samples, Duration::from_secs(1), 4.0);
        assert_eq!(
            sum.intervals,
            vec![Interval {
                from: 1.0,
                to: 3.0,
                error: "connect".into()
            }]
        );
        assert_eq!(sum.disruption, 2.0);
        assert_eq!(sum.availability, 50.0);
        assert_eq!(sum.longest_unavailable, 2.0);
    }

    #[test]
    fn a_new_error_class_closes_one_interval_and_opens_another() {
        let samples = [
            s(0.0, Some("connect")),
            s(1.0, Some("http-503")),
            s(2.5, None),
            s(3.0, Some("timeout")),
        ];
        let sum = summarise(&samples, Duration::from_secs(1), 5.0);
        let spans: Vec<(f64, f64, &str)> = sum
            .intervals
            .iter()
            .map(|i| (i.from, i.to, i.error.as_str()))
            .collect();
        assert_eq!(
            spans,
            [
                (0.0, 1.0, "connect"),
                (1.0, 2.5, "http-503"),
                (3.0, 5.0, "timeout")
            ],
            "an interval still open at the end closes at the end"
        );
        assert_eq!(sum.disruption, 4.5);
    }

    #[test]
    fn samples_are_taken_in_start_order_whatever_order_they_finished_in() {
        let samples = [s(2.0, None), s(1.0, Some("timeout")), s(0.0, None)];
        let sum = summarise(&samples, Duration::from_secs(1), 3.0);
        assert_eq!(sum.disruption, 1.0);
    }

    #[test]
    fn no_failure_is_no_disruption_and_rounding_decides_the_budget() {
        let sum = summarise(&[s(0.0, None), s(1.0, None)], Duration::from_secs(1), 2.0);
        assert_eq!((sum.disruption, sum.availability), (0.0, 100.0));
        assert!(within_budget(0.4, Duration::ZERO));
        assert!(!within_budget(0.6, Duration::ZERO));
        assert!(within_budget(1.4, Duration::from_secs(1)));
    }
}
