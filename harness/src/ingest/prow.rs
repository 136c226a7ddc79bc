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

/// What podinfo.json says of the build's pod: its name and node (kept as build
/// metadata) and TestGrid's verdict for the `Pod` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub metadata: Map<String, Value>,
    pub passed: bool,
    /// Empty when the pod simply succeeded.
    pub message: String,
}

/// The `Pod` row's message when the build has no podinfo.json (TestGrid's words).
pub const MISSING_PODINFO: &str = "podinfo.json not found, please install prow's GCS reporter";
/// The `Pod` row's message for a pod without Prow's pod utilities (no `sidecar`).
pub const NO_POD_UTILS: &str = "not using decoration, please set decorate: true on prowjob";

pub fn read_podinfo(path: &Path) -> Result<PodInfo, IngestError> {
    let obj = read_object(path)?;
    let pod = obj.get("pod").unwrap_or(&Value::Null);
    let mut metadata = Map::new();
    if let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) {
        metadata.insert("pod".into(), name.into());
    }
    if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str) {
        metadata.insert("node".into(), node.into());
    }
    let (passed, message) = if pod.is_object() {
        pod_verdict(pod)
    } else {
        (false, MISSING_PODINFO.to_string())
    };
    Ok(PodInfo {
        metadata,
        passed,
        message,
    })
}

/// TestGrid's reading of a Prow pod (`PodInfo.Summarize`): a pod that succeeded
/// passed; one that never scheduled or initialised failed; then the first container
/// still waiting, still running or exited non-zero decides (a test container that
/// ended badly is left to the test results, the `sidecar` is not); a pod without
/// Prow's `sidecar` container passes with a note that decoration is off.
fn pod_verdict(pod: &Value) -> (bool, String) {
    let status = pod.get("status").unwrap_or(&Value::Null);
    if status.get("phase").and_then(Value::as_str) == Some("Succeeded") {
        return (true, String::new());
    }
    let conditions = status
        .get("conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let condition_false = |kind: &str| {
        conditions
            .iter()
            .rfind(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            .filter(|c| c.get("status").and_then(Value::as_str) != Some("True"))
            .map(|c| c.get("message").and_then(Value::as_str).unwrap_or_default())
    };
    if let Some(why) = condition_false("PodScheduled") {
        return (false, format!("pod did not schedule: {why}"));
    }
    if let Some(why) = condition_false("Initialized") {
        return (false, format!("pod could not initialize: {why}"));
    }
    let containers = |key: &str| {
        status
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for c in containers("initContainerStatuses") {
        if let Some(why) = container_problem(&c) {
            return (false, format!("init container {why}"));
        }
    }
    let mut sidecar = false;
    for c in containers("containerStatuses") {
        let is_sidecar = c.get("name").and_then(Value::as_str) == Some("sidecar");
        sidecar |= is_sidecar;
        let Some(why) = container_problem(&c) else {
            continue;
        };
        if is_sidecar || c.pointer("/state/terminated").is_none() {
            return (false, why);
        }
    }
    if sidecar {
        (true, String::new())
    } else {
        (true, NO_POD_UTILS.to_string())
    }
}

/// Why a container is not done well: still waiting, still running, or exited
/// non-zero (its message cut to 140 bytes around the middle, as TestGrid does).
fn container_problem(c: &Value) -> Option<String> {
    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
    let state = c.get("state").unwrap_or(&Value::Null);
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if let Some(w) = state.get("waiting").filter(|v| !v.is_null()) {
        return Some(format!("{name} still waiting: {}", text(w, "message")));
    }
    if state.get("running").is_some_and(|v| !v.is_null()) {
        return Some(format!("{name} still running"));
    }
    let t = state.get("terminated").filter(|v| !v.is_null())?;
    let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
    (code != 0).then(|| {
        format!(
            "{name} exited {code}: {}",
            middle_cut(&text(t, "message"), 140)
        )
    })
}

/// `s` when shorter than `max` bytes, else its first and last `max / 2` bytes (on
/// character boundaries) around "...".
fn middle_cut(s: &str, max: usize) -> String {
    if s.len() < max {
        return s.to_string();
    }
    let half = max / 2;
    let mut head = half;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - half;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}...{}", &s[..head], &s[tail..])
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

    /// #15 rule 4: the `Pod` row's verdict, TestGrid's reading of podinfo.json.
    #[test]
    fn pod_verdicts() {
        let verdict = |status: Value| pod_verdict(&serde_json::json!({ "status": status }));
        let exited = |name: &str, code: i64| serde_json::json!({"name": name, "state": {"terminated": {"exitCode": code, "message": "m"}}});
        assert_eq!(
            verdict(serde_json::json!({"phase": "Succeeded"})),
            (true, String::new())
        );
        assert_eq!(
            verdict(serde_json::json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "message": "0/3 nodes are available"}]})),
            (
                false,
                "pod did not schedule: 0/3 nodes are available".into()
            )
        );
        // The tests failed (their container exited 1), the sidecar uploaded: the pod
        // did its job, the test rows say the rest.
        assert_eq!(
            verdict(serde_json::json!({"phase": "Failed",
                "containerStatuses": [exited("test", 1), exited("sidecar", 0)]})),
            (true, String::new())
        );
        assert_eq!(
            verdict(serde_json::json!({"phase": "Failed",
                "containerStatuses": [exited("test", 0), exited("sidecar", 2)]})),
            (false, "sidecar exited 2: m".into())
        );
        assert_eq!(
            verdict(serde_json::json!({"phase": "Failed",
                "containerStatuses": [exited("test", 1)]})),
            (true, NO_POD_UTILS.into())
        );
        assert_eq!(
            verdict(serde_json::json!({"phase": "Running",
                "containerStatuses": [{"name": "test", "state": {"running": {}}}]})),
            (false, "test still running".into())
        );
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
