//! Where `k8s/build.sh` put the upstream programs, and which versions it built:
//! `${XDG_CACHE_HOME:-~/.cache}/trellis/k8s/<version>/bin` per Kubernetes version,
//! `.../k8s/tools/bin` for etcd, kwok and kind. `TRELLIS_K8S_CACHE` points elsewhere.

use super::LocalError;
use std::path::{Path, PathBuf};

/// The Kubernetes version a bare `--cluster local` means.
pub const DEFAULT_VERSION: &str = "v1.37.2";

/// The programs one Kubernetes version needs to run a control plane.
pub const CONTROL_PLANE: [&str; 3] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// The root of the binary cache.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRELLIS_K8S_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache"));
    base.join("trellis/k8s")
}

/// The programs of one Kubernetes version and the shared tools.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub version: String,
    pub version_dir: PathBuf,
    pub tools_dir: PathBuf,
}

impl Binaries {
    /// The binaries for `version`, checked to exist: a version that is not built is
    /// named with the ones that are.
    pub fn locate(root: &Path, version: &str) -> Result<Binaries, LocalError> {
        let b = Binaries::at(root, version);
        let missing: Vec<String> = CONTROL_PLANE
            .iter()
            .map(|p| b.program(p))
            .chain(["etcd", "kwok"].iter().map(|p| b.tool(p)))
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            return Ok(b);
        }
        Err(LocalError::NotBuilt {
            version: version.to_string(),
            missing,
            built: built_versions(root),
        })
    }

    /// Where the binaries of `version` are, whether built or not.
    pub fn at(root: &Path, version: &str) -> Binaries {
        Binaries {
            version: version.to_string(),
            version_dir: root.join(version).join("bin"),
            tools_dir: root.join("tools/bin"),
        }
    }

    /// A per-version program (kube-apiserver, kubectl, e2e.test, ginkgo…).
    pub fn program(&self, name: &str) -> PathBuf {
        self.version_dir.join(name)
    }

    /// A shared tool (etcd, kwok, kind).
    pub fn tool(&self, name: &str) -> PathBuf {
        self.tools_dir.join(name)
    }

    /// kwok's stock stages, which build.sh copies from the kwok module.
    pub fn kwok_stages(&self) -> PathBuf {
        self.tools_dir
            .parent()
            .unwrap_or(&self.tools_dir)
            .join("kwok-stages.yaml")
    }
}

/// The versions that have a kube-apiserver in the cache, sorted.
pub fn built_versions(root: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bin/kube-apiserver").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with('v'))
        .collect();
    v.sort();
    v
}

/// `PROGRAM --version`'s first line, for preflight and the build log.
pub fn version_of(program: &Path) -> Result<String, String> {
    match std::process::Command::new(program)
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}
