//! The run's Prow build directory, and the kubeconfig its suite processes get.

use crate::cluster::access::Access;
use crate::suite::SuiteError;
use std::path::{Path, PathBuf};

/// OUT/JOB/<start time>, with a suffix if a run started in the same second.
pub fn create(job_dir: &Path, started: i64) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(job_dir)?;
    for n in 0..100 {
        let name = if n == 0 {
            started.to_string()
        } else {
            format!("{started}-{n}")
        };
        let dir = job_dir.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many runs in one second"))
}

/// A kubeconfig for suite processes: the given one, or a copy whose current context
/// is --context (so tools that only read the current context use the right cluster).
pub fn child_kubeconfig(access: &Access, scratch: &Path) -> Result<PathBuf, SuiteError> {
    let Some(context) = &access.context else {
        return Ok(access.kubeconfig.clone());
    };
    let bad = |reason: String| {
        SuiteError::Cluster(crate::cluster::ClusterError::Kubeconfig {
            path: access.kubeconfig.clone(),
            reason,
        })
    };
    let text = std::fs::read_to_string(&access.kubeconfig).map_err(|e| bad(e.to_string()))?;
    let mut doc: serde_json::Value = crate::yaml::from_str(&text).map_err(bad)?;
    doc["current-context"] = serde_json::Value::String(context.clone());
    let path = scratch.join("kubeconfig");
    // JSON is YAML: every kubeconfig reader takes it.
    let text = serde_json::to_string_pretty(&doc).map_err(|e| bad(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| bad(e.to_string()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_started_in_the_same_second_get_a_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let a = super::create(dir.path(), 100).unwrap();
        let b = super::create(dir.path(), 100).unwrap();
        assert_eq!(a.file_name().unwrap(), "100");
        assert_eq!(b.file_name().unwrap(), "100-1");
    }
}
