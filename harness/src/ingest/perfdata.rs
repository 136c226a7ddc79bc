//! ClusterLoader2's PerfData files among a build's artifacts: `{"version": "v1",
//! "dataItems": [{"data": {"Perc50": …}, "unit": "ms", "labels": {…}}]}`, named
//! `<summary>_<test>_<RFC 3339 time>.json` (`PodStartupLatency_PodStartupLatency_
//! load_2026-11-30T10:04:05Z.json`). The perf suite writes the same files, so a run's
//! own figures and a real CL2 Prow job's are read by this one path.
//!
//! A PerfData file is optional evidence beside the JUnit: one that cannot be read is
//! skipped with a warning naming it, never the reason a build is lost.

use crate::model::Measurement;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Larger files are skipped (CL2's biggest, APIResponsiveness of a 5k-node run, is a
/// few MB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Items kept per build; the rest are dropped with a warning.
pub const MAX_ITEMS_PER_BUILD: usize = 20_000;

/// The series name a PerfData file's items take (its name without the timestamp),
/// or None when the name is not `<name>_<RFC 3339 time>.json`.
pub fn series_file(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".json")?;
    let (file, stamp) = stem.rsplit_once('_')?;
    if file.is_empty() || chrono::DateTime::parse_from_rfc3339(stamp).is_err() {
        return None;
    }
    Some(file)
}

/// Why a PerfData file was skipped.
#[derive(Debug, thiserror::Error)]
pub enum PerfDataError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {bytes} bytes, over the {MAX_FILE_BYTES}-byte limit for a PerfData file")]
    TooBig { path: String, bytes: u64 },
    #[error("{path}: not JSON: {reason}")]
    NotJson { path: String, reason: String },
    #[error("{path}: dataItems[{index}]: {reason}")]
    Item {
        path: String,
        index: usize,
        reason: String,
    },
}

/// Reads one file's items; Ok(None) when it is JSON but not PerfData (CL2 writes
/// other summaries with the same naming, such as ResourceUsageSummary).
pub fn read_file(path: &Path, file: &str) -> Result<Option<Vec<Measurement>>, PerfDataError> {
    let shown = path.display().to_string();
    let io = |source| PerfDataError::Io {
        path: shown.clone(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let bytes = f.metadata().map_err(io)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(PerfDataError::TooBig { path: shown, bytes });
    }
    let mut text = Vec::with_capacity(bytes as usize);
    f.take(MAX_FILE_BYTES).read_to_end(&mut text).map_err(io)?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| PerfDataError::NotJson {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    parse(&doc, file).map_err(|(index, reason)| PerfDataError::Item {
        path: shown,
        index,
        reason,
    })
}

/// The items of a PerfData document, or None when it is not one.
fn parse(doc: &Value, file: &str) -> Result<Option<Vec<Measurement>>, (usize, String)> {
    let (Some(version), Some(items)) = (
        doc.get("version").and_then(Value::as_str),
        doc.get("dataItems").and_then(Value::as_array),
    ) else {
        return Ok(None);
    };
    if version != "v1" {
        return Err((0, format!("version {version:?}: only PerfData v1 is read")));
    }
    // trellis marks figures of a load that did not finish: their own series.
    let partial = doc.get("partial").and_then(Value::as_bool) == Some(true);
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut m = parse_item(item, file).map_err(|reason| (i, reason))?;
            if partial {
                m.labels.insert("Partial".into(), "true".into());
            }
            Ok(m)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_item(item: &Value, file: &str) -> Result<Measurement, String> {
    let unit = match item.get("unit") {
        Some(Value::String(u)) => u.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => return Err(format!("unit is {other}, not a string")),
    };
    let Some(data) = item.get("data").and_then(Value::as_object) else {
        return Err("no `data` object of statistics".into());
    };
    let mut stats = BTreeMap::new();
    for (name, v) in data {
        let value = v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("data.{name} is {v}, not a finite number"))?;
        stats.insert(name.clone(), value);
    }
    let mut labels = BTreeMap::new();
    if let Some(l) = item.get("labels").and_then(Value::as_object) {
        for (k, v) in l {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // The call count differs every run: a statistic, not part of the series.
            if k == "Count" {
                if let Ok(n) = text.parse::<f64>() {
                    stats.insert("Count".into(), n);
                }
                continue;
            }
            labels.insert(k.clone(), text);
        }
    }
    Ok(Measurement {
        file: file.to_string(),
        labels,
        unit,
        data: stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_carry_the_series_and_a_time() {
        assert_eq!(
            series_file("PodStartupLatency_PodStartupLatency_load_2026-11-30T10:04:05Z.json"),
            Some("PodStartupLatency_PodStartupLatency_load")
        );
        assert_eq!(
            series_file("APIResponsivenessPrometheus_simple_load_2026-11-30T10:04:05+01:00.json"),
            Some("APIResponsivenessPrometheus_simple_load")
        );
        assert_eq!(series_file("podinfo.json"), None);
        assert_eq!(series_file("metadata_2026.json"), None);
        assert_eq!(series_file("_2026-11-30T10:04:05Z.json"), None);
    }

    #[test]
    fn items_with_count_as_a_statistic() {
        let doc = json!({"version": "v1", "dataItems": [
            {"data": {"Perc50": 1.5, "Perc99": 9}, "unit": "ms",
             "labels": {"Verb": "GET", "Resource": "pods", "Count": "42"}},
        ]});
        let items = parse(&doc, "F").unwrap().unwrap();
        assert_eq!(items[0].series(), "F {Resource=pods, Verb=GET}");
        assert_eq!(items[0].data["Count"], 42.0);
        assert_eq!(items[0].data["Perc99"], 9.0);
        assert_eq!(parse(&json!({"other": 1}), "F").unwrap(), None);
        let (i, reason) = parse(
            &json!({"version": "v1", "dataItems": [{"data": {"Perc50": 1}}, {"data": {"Perc50": "x"}}]}),
            "F",
        )
        .unwrap_err();
        assert_eq!(i, 1);
        assert!(reason.contains("data.Perc50"), "{reason}");
        assert!(parse(&json!({"version": "v2", "dataItems": []}), "F").is_err());
        let partial =
            json!({"version": "v1", "partial": true, "dataItems": [{"data": {"Perc50": 1}}]});
        assert_eq!(
            parse(&partial, "F").unwrap().unwrap()[0].series(),
            "F {Partial=true}"
        );
    }
}
