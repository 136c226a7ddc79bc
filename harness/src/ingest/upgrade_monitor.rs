//! The upgrade suite's monitor record (`artifacts/upgrade-monitor.json`) as build
//! metadata: the run's length, the upgrade steps and each backend's disruption
//! intervals, which the report draws as a timeline. Samples are left in the file.
//!
//! Optional evidence: a record that cannot be read is skipped with a warning.

use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::Path;

/// A record over this size is skipped (a day of 1 s samples on six backends is ~30 MB).
const MAX_BYTES: u64 = 64 << 20;
/// Intervals kept per build; a run with more is cut, and says so.
const MAX_INTERVALS: usize = 500;

/// Reads `path` into `metadata[DISRUPTION_METADATA]`: {duration, steps: [{at, component}],
/// intervals: [{backend, from, to, error}], cut}.
pub fn read_into(path: &Path, metadata: &mut Map<String, Value>) {
    match read(path) {
        Ok(v) => {
            metadata.insert(crate::model::DISRUPTION_METADATA.into(), v);
        }
        Err(reason) => tracing::warn!(
            "{}: {reason} (upgrade monitor record skipped)",
            path.display()
        ),
    }
}

fn read(path: &Path) -> Result<Value, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let bytes = f.metadata().map_err(|e| e.to_string())?.len();
    if bytes > MAX_BYTES {
        return Err(format!("{bytes} bytes, over the {MAX_BYTES}-byte limit"));
    }
    let mut text = Vec::new();
    f.take(MAX_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| format!("not JSON: {e}"))?;
    let duration = doc
        .get("duration")
        .and_then(Value::as_f64)
        .ok_or("no `duration` in seconds: not an upgrade monitor record")?;
    let steps: Vec<Value> = doc
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(json!({
                "at": s.get("at")?.as_f64()?,
                "component": s.get("step")?.get("component")?.as_str()?,
            }))
        })
        .collect();
    let mut intervals = Vec::new();
    let mut total = 0;
    for b in doc
        .get("backends")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let backend = b.get("backend").and_then(Value::as_str).unwrap_or("?");
        let found = b
            .get("summary")
            .and_then(|s| s.get("intervals"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for i in found {
            total += 1;
            if intervals.len() >= MAX_INTERVALS {
                continue;
            }
            let (Some(from), Some(to)) = (
                i.get("from").and_then(Value::as_f64),
                i.get("to").and_then(Value::as_f64),
            ) else {
                continue;
            };
            intervals.push(json!({
                "backend": backend, "from": from, "to": to,
                "error": i.get("error").and_then(Value::as_str).unwrap_or(""),
            }));
        }
    }
    Ok(json!({
        "duration": duration,
        "steps": steps,
        "intervals": intervals,
        "cut": total > intervals.len(),
    }))
}
