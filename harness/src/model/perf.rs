//! Performance measurements: ClusterLoader2's PerfData items as a build carries them,
//! and SIG Scalability's SLOs, which both the perf suite and the baseline check read.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One PerfData data item of a build: `PodStartupLatency_PodStartupLatency_load
/// {Metric=pod_startup}` with its statistics (`Perc50`, `Perc90`, `Perc99`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// The PerfData file's name without its timestamp and extension: what
    /// ClusterLoader2 calls the summary and the test (`APIResponsivenessPrometheus_
    /// simple_load`). Stable across the builds of a job, so it names a series.
    pub file: String,
    /// The item's labels, less `Count` (which differs from run to run and is kept as
    /// a statistic instead).
    pub labels: BTreeMap<String, String>,
    pub unit: String,
    /// Statistic name → value, in `unit`.
    pub data: BTreeMap<String, f64>,
}

impl Measurement {
    /// The series this item belongs to: file and labels, `file {k=v, …}`.
    pub fn series(&self) -> String {
        series_name(&self.file, &self.labels)
    }
}

/// One statistic of one series in one build, as the history of a job is read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerfPoint {
    pub job: String,
    pub build: String,
    /// Unix seconds.
    pub started: Option<i64>,
    pub commit: Option<String>,
    pub series: String,
    pub labels: BTreeMap<String, String>,
    pub unit: String,
    pub stat: String,
    pub value: f64,
}

/// `file {k=v, …}` (labels sorted), or the file alone without labels.
pub fn series_name(file: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return file.to_string();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{file} {{{}}}", inner.join(", "))
}

/// SIG Scalability's pod startup SLO: p99 within 5 s (stateless pods, image present).
pub const POD_STARTUP_SLO: Duration = Duration::from_secs(5);

/// SIG Scalability's API call latency SLO: p99 within 1 s for mutating and
/// single-object calls, 5 s for a namespace-scoped LIST, 30 s for a cluster-scoped one.
pub fn api_call_slo(verb: &str, scope: &str) -> Duration {
    match (verb, scope) {
        ("LIST", "cluster") => Duration::from_secs(30),
        ("LIST", _) => Duration::from_secs(5),
        _ => Duration::from_secs(1),
    }
}

/// The SLO a latency item is judged against, read from its labels: API calls by
/// `Verb` and `Scope` (a client-side call without a scope counts as a single-object
/// or namespaced one), pod startup and its parts by `Metric`. None for anything else.
pub fn slo_of(labels: &BTreeMap<String, String>) -> Option<Duration> {
    if let Some(verb) = labels.get("Verb") {
        let scope = labels.get("Scope").map_or("", String::as_str);
        return Some(api_call_slo(verb, scope));
    }
    match labels.get("Metric").map(String::as_str) {
        Some("pod_startup" | "create_to_schedule" | "schedule_to_run" | "run_to_watch") => {
            Some(POD_STARTUP_SLO)
        }
        _ => None,
    }
}

/// A latency as people read it: "950 ms", or seconds with `decimals` places from one
/// second up ("2.9 s"); a figure in another unit as it is, with its unit.
pub fn latency_text(value: f64, unit: &str, decimals: usize) -> String {
    match seconds_per(unit) {
        Some(per) if value * per >= 1.0 => format!("{:.decimals$} s", value * per),
        Some(per) => format!("{:.0} ms", value * per * 1000.0),
        None => format!("{value:.3} {unit}"),
    }
}

/// A latency unit and its size in seconds.
pub fn seconds_per(unit: &str) -> Option<f64> {
    match unit {
        "ms" => Some(1e-3),
        "s" => Some(1.0),
        "us" | "µs" => Some(1e-6),
        "ns" => Some(1e-9),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn slos_by_labels() {
        assert_eq!(
            slo_of(&labels(&[("Verb", "LIST"), ("Scope", "cluster")])),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            slo_of(&labels(&[("Verb", "LIST"), ("Scope", "namespace")])),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            slo_of(&labels(&[("Verb", "POST"), ("Resource", "pods")])),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            slo_of(&labels(&[("Metric", "pod_startup")])),
            Some(POD_STARTUP_SLO)
        );
        assert_eq!(slo_of(&labels(&[("Metric", "SchedulingThroughput")])), None);
        assert_eq!(
            series_name("F", &labels(&[("b", "2"), ("a", "1")])),
            "F {a=1, b=2}"
        );
    }
}
