//! Air-gapped runs: which images a run pulls and from where. A vendor without
//! internet access mirrors every image first (`trellis run … --list-images` prints
//! them), then points the run at the mirror: `--conformance-image` and
//! `--busybox-image` for the pod trellis makes, and the e2e framework's own
//! `KUBE_TEST_REPO` (`--test-repo`) or `KUBE_TEST_REPO_LIST` (`--test-repo-list`) for
//! every image a test pulls.

use super::SuiteError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The helper container of the conformance pod (it holds the results for copying out).
pub const DEFAULT_BUSYBOX: &str = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1";

/// Where the run's images come from, when not from the public registries.
#[derive(Debug, Clone, Default)]
pub struct ImageOverrides {
    /// The conformance image, instead of registry.k8s.io/conformance:<server version>.
    pub conformance: Option<String>,
    /// The conformance pod's helper image.
    pub busybox: Option<String>,
    /// `KUBE_TEST_REPO`: every test image as a tag of this one repository.
    pub test_repo: Option<String>,
    /// `KUBE_TEST_REPO_LIST`: registries replaced one by one.
    pub test_repo_list: Option<TestRepoList>,
}

/// A `KUBE_TEST_REPO_LIST` file, read and checked.
#[derive(Debug, Clone)]
pub struct TestRepoList {
    /// Absolute, so a child process in another directory finds it.
    pub path: PathBuf,
    pub yaml: String,
}

impl ImageOverrides {
    pub fn busybox(&self) -> &str {
        self.busybox.as_deref().unwrap_or(DEFAULT_BUSYBOX)
    }

    /// The e2e framework's variables for a local e2e.test process.
    pub fn e2e_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(repo) = &self.test_repo {
            env.push(("KUBE_TEST_REPO", repo.clone()));
        }
        if let Some(list) = &self.test_repo_list {
            env.push(("KUBE_TEST_REPO_LIST", list.path.display().to_string()));
        }
        env
    }
}

/// `--test-repo`: the e2e framework maps every image to a tag of one repository, so
/// it must name one (`REGISTRY/REPOSITORY`); a bare registry makes e2e.test panic.
pub fn check_test_repo(repo: &str) -> Result<(), SuiteError> {
    let named = repo
        .split_once('/')
        .is_some_and(|(registry, path)| !registry.is_empty() && !path.is_empty());
    if named && !repo.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(SuiteError::ImageOption {
            what: format!("--test-repo {repo:?}"),
            reason: "must be REGISTRY/REPOSITORY (e.g. mirror.example.com:5000/k8s-e2e): every test image becomes a tag of that repository".into(),
        })
    }
}

/// Reads a `KUBE_TEST_REPO_LIST` file: a YAML mapping of registry keys
/// (`promoterE2eRegistry`, `sigStorageRegistry`, …) to mirrors.
pub fn read_test_repo_list(path: &Path) -> Result<TestRepoList, SuiteError> {
    let what = format!("--test-repo-list {}", path.display());
    let yaml = std::fs::read_to_string(path).map_err(|e| SuiteError::ImageOption {
        what: what.clone(),
        reason: format!("cannot read it: {e}"),
    })?;
    let map: BTreeMap<String, String> =
        crate::yaml::from_str(&yaml).map_err(|reason| SuiteError::ImageOption {
            what: what.clone(),
            reason: format!("not a YAML mapping of registry names to mirrors: {reason}"),
        })?;
    if map.is_empty() {
        return Err(SuiteError::ImageOption {
            what,
            reason: "names no registry".into(),
        });
    }
    let path = std::path::absolute(path).map_err(|e| SuiteError::ImageOption {
        what,
        reason: e.to_string(),
    })?;
    Ok(TestRepoList { path, yaml })
}

/// How long `e2e.test --list-images` may take (it prints and exits in well under a
/// second).
const LIST_IMAGES_DEADLINE: Duration = Duration::from_secs(60);

/// The images `e2e_test` reports with the run's repository overrides applied, sorted.
pub fn e2e_images(e2e_test: &Path, overrides: &ImageOverrides) -> Result<Vec<String>, SuiteError> {
    let mut cmd = Command::new(e2e_test);
    cmd.arg("--list-images")
        .envs(overrides.e2e_env())
        .stdin(Stdio::null());
    let what = format!("{} --list-images", e2e_test.display());
    let out = crate::process::output_within(&mut cmd, LIST_IMAGES_DEADLINE).map_err(|reason| {
        SuiteError::ListImages {
            what: what.clone(),
            reason,
        }
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(SuiteError::ListImages {
            what,
            reason: format!(
                "exited with {}: {}",
                out.status,
                stderr.lines().next().unwrap_or_default()
            ),
        });
    }
    let mut images: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    images.sort();
    images.dedup();
    Ok(images)
}

/// Every image a run of `manifests` on a cluster at `server_version` pulls, sorted
/// and once each: for conformance suites the conformance and helper images; for
/// conformance and e2e suites every image their e2e.test reports (conformance: the
/// e2e.test of that version, from the k8s/build.sh cache or `bin_dirs`; e2e: the
/// suite's own binary), with the repository overrides applied.
pub fn run_images(
    manifests: &[super::Manifest],
    server_version: &str,
    overrides: &ImageOverrides,
    bin_dirs: &[PathBuf],
) -> Result<Vec<String>, SuiteError> {
    let mut images = Vec::new();
    for m in manifests {
        let e2e_test = match m.kind {
            super::SuiteKind::Conformance => {
                images.push(match overrides.conformance.as_ref().or(m.image.as_ref()) {
                    Some(i) => i.clone(),
                    None => super::conformance::image_for(server_version),
                });
                images.push(overrides.busybox().to_string());
                e2e_test_of(server_version, bin_dirs)?
            }
            super::SuiteKind::E2e => {
                super::manifest::find_binary(m.binary.as_deref().unwrap_or_default(), bin_dirs)?
            }
            _ => continue,
        };
        images.extend(e2e_images(&e2e_test, overrides)?);
    }
    images.sort();
    images.dedup();
    Ok(images)
}

/// An e2e.test whose `--version` is `server_version` (build metadata dropped): the
/// k8s/build.sh cache's, else one in `bin_dirs` or on PATH.
fn e2e_test_of(server_version: &str, bin_dirs: &[PathBuf]) -> Result<PathBuf, SuiteError> {
    let version = server_version.split('+').next().unwrap_or(server_version);
    let cached = crate::cluster::local::binaries::Binaries::at(
        &crate::cluster::local::binaries::cache_root(),
        version,
    )
    .program("e2e.test");
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let candidates: Vec<PathBuf> = std::iter::once(cached)
        .chain(
            bin_dirs
                .iter()
                .chain(&path_dirs)
                .map(|d| d.join("e2e.test")),
        )
        .filter(|p| p.is_file())
        .collect();
    for c in &candidates {
        let says = Command::new(c)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if says == version {
            return Ok(c.clone());
        }
    }
    Err(SuiteError::ListImages {
        what: format!("the conformance images of {version}"),
        reason: format!(
            "no e2e.test of {version} (looked at {})",
            if candidates.is_empty() {
                "the k8s/build.sh cache, --bin-dir and PATH".to_string()
            } else {
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_repo_names_a_repository() {
        assert!(check_test_repo("mirror.example.com:5000/k8s-e2e").is_ok());
        for bad in ["mirror.example.com", "/k8s", "mirror/", "a b/c"] {
            assert!(check_test_repo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_test_repo_list_is_a_mapping_of_registries() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yaml");
        std::fs::write(&good, "promoterE2eRegistry: mirror.example.com/e2e\n").unwrap();
        let list = read_test_repo_list(&good).unwrap();
        assert!(list.path.is_absolute());
        for (name, text) in [("list.yaml", "- a\n- b\n"), ("empty.yaml", "{}\n")] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            let e = read_test_repo_list(&p).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }
}
