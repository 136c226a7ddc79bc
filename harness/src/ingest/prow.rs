//! Reading Prow's per-build metadata (`started.json`, `finished.json`, `podinfo.json`;
//! the types are [`crate::prow`]'s), and the
//! GCS path conventions `logs/<job>/<build>/` and `pr-logs/pull/<org_repo>/<pr>/<job>/<build>/`.

use super::IngestError;
pub use crate::prow::{Finished, ProwResult, Started};
use serde_json::{Map, Value};
use std::path::{Component, Path};

pub fn read_started(path: &Path) -> Result<Started, IngestError> {
    let obj = read_object(path)?;
    let input = path.display().to_string();
    let timestamp = match obj.get("timestamp") {
        Some(v) => v.as_i64().ok_or_else(|| IngestError::Json {
            input: input.clone(),
            reason: format!("field `timestamp` must be Unix seconds, found {v}"),
        })?,
        None => {
            return Err(IngestError::Json {
                input,
                reason: "field `timestamp` is missing".into(),
            })
        }
    };
    Ok(Started {
        timestamp,
        pull: string_field(&obj, "pull"),
        repo_version: string_field(&obj, "repo-version"),
        repos: object_field(&obj, "repos"),
        metadata: object_field(&obj, "metadata"),
    })
}

pub fn read_finished(path: &Path) -> Result<Finished, IngestError> {
    let obj = read_object(path)?;
    let input = path.display().to_string();
    let timestamp = match obj.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| IngestError::Json {
            input: input.clone(),
            reason: format!("field `timestamp` must be Unix seconds, found {v}"),
        })?),
    };
    let passed = match obj.get("passed") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => {
            return Err(IngestError::Json {
                input,
                reason: format!("field `passed` must be true or false, found {v}"),
            })
        }
    };
    let metadata = object_field(&obj, "metadata");
    let job_version =
        string_field(&obj, "job-version").or_else(|| string_field(&metadata, "job-version"));
    Ok(Finished {
        timestamp,
        passed,
        result: string_field(&obj, "result").map(|r| ProwResult::parse(&r)),
        revision: string_field(&obj, "revision"),
        job_version,
        metadata,
    })
}

/// The pod's name and node, when podinfo.json is present and readable.
pub fn read_podinfo(path: &Path) -> Result<Map<String, Value>, IngestError> {
    let obj = read_object(path)?;
    let pod = obj.get("pod").unwrap_or(&Value::Null);
    let mut out = Map::new();
    if let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) {
        out.insert("pod".into(), name.into());
    }
    if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str) {
        out.insert("node".into(), node.into());
    }
    Ok(out)
}

/// The commit a build tested: finished.json's `metadata.repo-commit`, then its
/// `revision`, then the base SHA in started.json's `repos` entry.
pub fn commit_of(started: &Started, finished: Option<&Finished>) -> Option<String> {
    finished
        .and_then(|f| string_field(&f.metadata, "repo-commit").or_else(|| f.revision.clone()))
        .or_else(|| string_field(&started.metadata, "repo-commit"))
        .or_else(|| {
            started.repos.values().find_map(|v| {
                let refs = v.as_str()?;
                let base = refs.split(',').next()?;
                let (_, sha) = base.split_once(':')?;
                (!sha.is_empty()).then(|| sha.to_string())
            })
        })
}

/// Job, build and PR number implied by a Prow GCS path, when it follows the layout.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathIds {
    pub job: Option<String>,
    pub build: Option<String>,
    pub pr: Option<u64>,
    pub org_repo: Option<String>,
}

pub fn ids_from_path(dir: &Path) -> PathIds {
    let parts: Vec<String> = dir
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    ids_from_segments(&parts)
}

/// Same as [`ids_from_path`] for URL path segments.
pub fn ids_from_segments(parts: &[String]) -> PathIds {
    let n = parts.len();
    let mut ids = PathIds {
        build: parts.last().cloned(),
        job: n.checked_sub(2).map(|i| parts[i].clone()),
        ..PathIds::default()
    };
    // pr-logs/pull/<org_repo>/<pr>/<job>/<build>
    if n >= 6 && parts[n - 6] == "pr-logs" && parts[n - 5] == "pull" {
        ids.org_repo = Some(parts[n - 4].clone());
        ids.pr = parts[n - 3].parse().ok();
    }
    ids
}

fn read_object(path: &Path) -> Result<Map<String, Value>, IngestError> {
    let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let input = path.display().to_string();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(IngestError::Json {
            input,
            reason: format!("expected a JSON object, found {}", kind_of(&other)),
        }),
        Err(e) => Err(IngestError::Json {
            input,
            reason: format!("not valid JSON: {e}"),
        }),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn object_field(obj: &Map<String, Value>, key: &str) -> Map<String, Value> {
    obj.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_ci_and_pr_paths() {
        let ci = ids_from_path(Path::new("/x/logs/ci-kubernetes-kind-conformance/1712345"));
        assert_eq!(ci.job.as_deref(), Some("ci-kubernetes-kind-conformance"));
        assert_eq!(ci.build.as_deref(), Some("1712345"));
        assert_eq!(ci.pr, None);
        let pr = ids_from_path(Path::new(
            "gcs/pr-logs/pull/kubernetes_kubernetes/12345/pull-kubernetes-e2e-kind/99",
        ));
        assert_eq!(pr.pr, Some(12345));
        assert_eq!(pr.org_repo.as_deref(), Some("kubernetes_kubernetes"));
        assert_eq!(pr.job.as_deref(), Some("pull-kubernetes-e2e-kind"));
    }

    #[test]
    fn commit_preference() {
        let mut started = Started::default();
        started.repos.insert(
            "kubernetes/kubernetes".into(),
            "master:abc123,456:def".into(),
        );
        assert_eq!(commit_of(&started, None).as_deref(), Some("abc123"));
        let mut finished = Finished {
            revision: Some("v1.31.0-alpha.1+rev".into()),
            ..Finished::default()
        };
        assert_eq!(
            commit_of(&started, Some(&finished)).as_deref(),
            Some("v1.31.0-alpha.1+rev")
        );
        finished.metadata.insert("repo-commit".into(), "fff".into());
        assert_eq!(commit_of(&started, Some(&finished)).as_deref(), Some("fff"));
    }
}
