//! What a path on disk is: which builds it holds and how each is laid out.

use super::{archive, IngestError};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// How deep `discover` looks for builds below a directory it was handed.
const MAX_TREE_DEPTH: usize = 12;

/// How one build's files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// `started.json`, `finished.json`, `artifacts/**/junit*.xml`.
    Prow,
    /// A CNCF k8s-conformance submission: `PRODUCT.yaml`, `junit_01.xml`, `e2e.log`.
    Submission,
    /// Hydrophone output, Sonobuoy's `plugins/e2e/results/global`, or any directory with
    /// `junit*.xml` and/or `e2e.log` at its top.
    Results,
    /// One JUnit file.
    JunitFile,
    /// One e2e.log, alone.
    E2eLog,
}

/// One build to read, and what its location implies about its identity.
#[derive(Debug, Clone)]
pub struct Unit {
    pub kind: UnitKind,
    pub path: PathBuf,
    pub job: String,
    pub build: Option<String>,
    pub pr: Option<u64>,
    pub org_repo: Option<String>,
    /// The input as the user named it (path or URL), kept as the build's source.
    pub source: String,
    /// Keeps an extraction or download directory alive while the unit is read.
    pub scratch: Option<Rc<super::scratch::ScratchDir>>,
}

/// Finds every build under a local path.
pub fn discover(path: &Path, source: &str) -> Result<Vec<Unit>, IngestError> {
    let meta = std::fs::metadata(path).map_err(|e| IngestError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if meta.is_file() {
        return discover_file(path, source);
    }
    let mut units = Vec::new();
    walk(path, source, 0, &mut units)?;
    if units.is_empty() {
        return Err(IngestError::NothingFound {
            input: source.to_string(),
        });
    }
    Ok(units)
}

fn discover_file(path: &Path, source: &str) -> Result<Vec<Unit>, IngestError> {
    let name = file_name(path);
    let stem = name
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".tgz")
        .trim_end_matches(".tar")
        .trim_end_matches(".xml")
        .to_string();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar") {
        let dir = Rc::new(archive::extract_to_temp(path)?);
        let global =
            find_sonobuoy_results(dir.path()).ok_or_else(|| IngestError::NothingFound {
                input: format!("{source} (no plugins/e2e/results/global inside)"),
            })?;
        return Ok(vec![unit(
            UnitKind::Results,
            global,
            stem,
            source,
            Some(dir),
        )]);
    }
    let parent_name = path.parent().map(file_name).unwrap_or_default();
    if name.ends_with(".log") {
        let job = if parent_name.is_empty() {
            stem
        } else {
            parent_name
        };
        return Ok(vec![unit(UnitKind::E2eLog, path.into(), job, source, None)]);
    }
    Ok(vec![unit(
        UnitKind::JunitFile,
        path.into(),
        stem,
        source,
        None,
    )])
}

fn walk(dir: &Path, source: &str, depth: usize, out: &mut Vec<Unit>) -> Result<(), IngestError> {
    let io = |e| IngestError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    if let Some(kind) = classify_dir(dir) {
        let (path, kind) = match kind {
            DirKind::Sonobuoy(global) => (global, UnitKind::Results),
            DirKind::Unit(kind) => (dir.to_path_buf(), kind),
        };
        let shown = if depth == 0 {
            source.to_string()
        } else {
            dir.display().to_string()
        };
        let mut u = unit(kind, path, file_name(dir), &shown, None);
        if kind == UnitKind::Prow {
            let ids = super::prow::ids_from_path(dir);
            u.pr = ids.pr;
            u.org_repo = ids.org_repo;
            u.job = ids.job.unwrap_or(u.job);
            u.build = ids.build;
        } else if kind == UnitKind::Submission {
            let parent = dir.parent().map(file_name).unwrap_or_default();
            u.build = is_minor_version(&parent).then_some(parent);
        }
        out.push(u);
        return Ok(());
    }
    if depth >= MAX_TREE_DEPTH {
        return Ok(());
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    children.sort();
    for child in children {
        walk(&child, source, depth + 1, out)?;
    }
    Ok(())
}

enum DirKind {
    Unit(UnitKind),
    Sonobuoy(PathBuf),
}

fn classify_dir(dir: &Path) -> Option<DirKind> {
    if dir.join("started.json").is_file() || dir.join("finished.json").is_file() {
        return Some(DirKind::Unit(UnitKind::Prow));
    }
    if let Some(global) = find_sonobuoy_results(dir) {
        return Some(DirKind::Sonobuoy(global));
    }
    // A folder without results is not a build, even beside a PRODUCT.yaml.
    if !dir.join("e2e.log").is_file() && top_level_junit(dir).is_empty() {
        return None;
    }
    if dir.join("PRODUCT.yaml").is_file() {
        return Some(DirKind::Unit(UnitKind::Submission));
    }
    Some(DirKind::Unit(UnitKind::Results))
}

/// Sonobuoy writes the e2e plugin's results to `plugins/e2e/results/global/`.
fn find_sonobuoy_results(dir: &Path) -> Option<PathBuf> {
    let global = dir.join("plugins/e2e/results/global");
    global.is_dir().then_some(global)
}

/// `junit*.xml` files directly in `dir`, sorted.
pub fn top_level_junit(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_junit_name(&file_name(p)) && p.is_file())
        .collect();
    files.sort();
    files
}

/// `junit*.xml` files anywhere below `dir` (Prow's `artifacts/**/junit*.xml`), sorted.
pub fn junit_below(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    files_below(dir, is_junit_name)
}

/// Every file under `dir` (recursively) whose name `keep` accepts, sorted.
pub fn files_below(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| IngestError::Io {
            path: d.clone(),
            source: e,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let p = entry.path();
            let Ok(t) = entry.file_type() else { continue };
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() && keep(&file_name(&p)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn is_junit_name(name: &str) -> bool {
    name.starts_with("junit") && name.ends_with(".xml")
}

/// A file a build's results are read from: JUnit, or a ClusterLoader2 PerfData file.
pub fn is_result_name(name: &str) -> bool {
    is_junit_name(name) || super::perfdata::series_file(name).is_some()
}

fn is_minor_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn unit(
    kind: UnitKind,
    path: PathBuf,
    job: String,
    source: &str,
    scratch: Option<Rc<super::scratch::ScratchDir>>,
) -> Unit {
    Unit {
        kind,
        path,
        job,
        build: None,
        pr: None,
        org_repo: None,
        source: source.to_string(),
        scratch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_versions() {
        assert!(is_minor_version("v1.24"));
        assert!(!is_minor_version("v1.24.0"));
        assert!(!is_minor_version("1.24"));
        assert!(!is_minor_version("v1."));
    }
}
