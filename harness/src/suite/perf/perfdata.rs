//! The perf suite's figures as ClusterLoader2 writes them, so perfdash and the tools
//! that read CL2's artifacts read ours: `{"version": "v1", "dataItems": [{"data":
//! {"Perc50", "Perc90", "Perc99"}, "unit", "labels"}]}`, one file per measurement,
//! named `<Measurement>_<identifier>_<timestamp>.json` as CL2 names them.

use super::metrics::{Buckets, CallKey};
use super::{Percentiles, Startup};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn item(p: &Percentiles, unit: &str, labels: Value) -> Value {
    json!({
        "data": {"Perc50": p.p50, "Perc90": p.p90, "Perc99": p.p99},
        "unit": unit,
        "labels": labels,
    })
}

fn perf_data(items: Vec<Value>) -> Value {
    json!({"version": "v1", "dataItems": items})
}

/// Marks a document as measured over a load that did not finish (interrupted, or a
/// wait that timed out): trellis's own field, which CL2's readers ignore and
/// trellis's ingest turns into a `Partial=true` label, so such figures never join a
/// job's baseline series.
fn mark_partial(mut doc: Value, partial: bool) -> Value {
    if partial {
        doc["partial"] = Value::Bool(true);
    }
    doc
}

/// CL2's pod startup items: `pod_startup` and its parts, in ms.
pub fn pod_startup(s: &Startup) -> Value {
    perf_data(vec![
        item(&s.pod_startup, "ms", json!({"Metric": "pod_startup"})),
        item(
            &s.create_to_schedule,
            "ms",
            json!({"Metric": "create_to_schedule"}),
        ),
        item(
            &s.schedule_to_run,
            "ms",
            json!({"Metric": "schedule_to_run"}),
        ),
        item(&s.run_to_watch, "ms", json!({"Metric": "run_to_watch"})),
    ])
}

/// CL2's APIResponsivenessPrometheus items: per call, ms, with its count.
pub fn api_responsiveness(calls: &BTreeMap<CallKey, Buckets>) -> Value {
    perf_data(
        calls
            .iter()
            .map(|(k, b)| {
                let p = Percentiles {
                    p50: b.quantile(0.50) * 1000.0,
                    p90: b.quantile(0.90) * 1000.0,
                    p99: b.quantile(0.99) * 1000.0,
                    count: b.count() as usize,
                };
                item(
                    &p,
                    "ms",
                    json!({"Verb": k.verb, "Resource": k.resource, "Subresource": k.subresource,
                           "Scope": k.scope, "Count": b.count().to_string()}),
                )
            })
            .collect(),
    )
}

/// Writes every measurement into `dir`; the file names carry `suite` and the time.
pub fn write_all(
    dir: &Path,
    suite: &str,
    startup: &Startup,
    server: Option<&BTreeMap<CallKey, Buckets>>,
    throughput: f64,
    client: &[((String, String), Percentiles)],
    partial: bool,
) -> std::io::Result<()> {
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let write = |name: String, v: Value| {
        std::fs::write(
            dir.join(name),
            serde_json::to_vec_pretty(&mark_partial(v, partial)).unwrap_or_default(),
        )
    };
    write(
        format!("PodStartupLatency_PodStartupLatency_{suite}_{stamp}.json"),
        pod_startup(startup),
    )?;
    if let Some(calls) = server {
        write(
            format!("APIResponsivenessPrometheus_simple_{suite}_{stamp}.json"),
            api_responsiveness(calls),
        )?;
    }
    write(
        format!("SchedulingThroughput_{suite}_{stamp}.json"),
        perf_data(vec![json!({
            "data": {"Average": throughput},
            "unit": "1/s",
            "labels": {"Metric": "SchedulingThroughput"},
        })]),
    )?;
    write(
        format!("ClientAPICallLatency_{suite}_{stamp}.json"),
        perf_data(
            client
                .iter()
                .map(|((verb, resource), p)| {
                    item(
                        p,
                        "ms",
                        json!({"Verb": verb, "Resource": resource, "Count": p.count.to_string()}),
                    )
                })
                .collect(),
        ),
    )
}
