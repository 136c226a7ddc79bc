//! `trellis certify`: turn a conformance run's results into a submission folder
//! `OUT/vX.Y/<product>/`, with a README that says how to reproduce it, then verify it.
//!
//! The folder is written in a scratch directory beside the target and renamed into
//! place, so a failure never leaves half a submission behind.

use super::{verify, Minor, Report, VerifyOptions};
use crate::ingest::{self, e2e_log, IngestError, IngestOptions, UnitKind};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct CertifyOptions {
    /// Hydrophone output dir, Sonobuoy tarball, or a trellis conformance run (Prow layout).
    pub results: String,
    pub product_yaml: PathBuf,
    pub out: PathBuf,
    /// The Kubernetes minor; default: from e2e.log's versions.
    pub version: Option<Minor>,
    /// Folder name for the product; default: from PRODUCT.yaml's `name`.
    pub name: Option<String>,
    /// Replace an existing submission folder.
    pub force: bool,
    pub verify: VerifyOptions,
}

#[derive(Debug)]
pub struct Certified {
    pub dir: PathBuf,
    pub report: Report,
}

#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    #[error("{0}")]
    Results(#[from] IngestError),
    #[error("{dir}: no {file} among the results")]
    MissingResult { dir: PathBuf, file: &'static str },
    #[error("cannot tell the Kubernetes version: e2e.log states none")]
    UnknownVersion,
    #[error("{path}: {reason}")]
    Product { path: PathBuf, reason: String },
    #[error("{dir} exists already")]
    Exists { dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CertifyError {
    pub fn hint(&self) -> &'static str {
        match self {
            CertifyError::Results(e) => e.hint(),
            CertifyError::MissingResult { .. } => {
                "point --results at the output of a complete conformance run"
            }
            CertifyError::UnknownVersion => "pass --k8s-version vX.Y",
            CertifyError::Product { .. } => {
                "write a PRODUCT.yaml with at least `name`, `vendor` and `version`"
            }
            CertifyError::Exists { .. } => "pass --force to replace it, or choose another --out",
            CertifyError::Io { .. } => "check that --out is writable",
        }
    }
}

/// Which tool produced the results (for the reproduction steps).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tool {
    Sonobuoy,
    Hydrophone,
    Trellis,
}

pub fn certify(opts: &CertifyOptions) -> Result<Certified, CertifyError> {
    let units = ingest::discover(&opts.results, &IngestOptions::default())?;
    let unit = units
        .iter()
        .find(|u| {
            matches!(
                u.kind,
                UnitKind::Results | UnitKind::Prow | UnitKind::Submission
            )
        })
        .ok_or_else(|| IngestError::NothingFound {
            input: opts.results.clone(),
        })?;
    let (dir, tool) = match unit.kind {
        UnitKind::Prow => (unit.path.join("artifacts"), Tool::Trellis),
        _ if unit.scratch.is_some() => (unit.path.clone(), Tool::Sonobuoy),
        _ => (unit.path.clone(), Tool::Hydrophone),
    };
    let junit = dir.join("junit_01.xml");
    let log_path = dir.join("e2e.log");
    for (path, file) in [(&junit, "junit_01.xml"), (&log_path, "e2e.log")] {
        if !path.is_file() {
            return Err(CertifyError::MissingResult {
                dir: dir.clone(),
                file,
            });
        }
    }
    let log = e2e_log::parse_file(&log_path)?;
    let version = opts
        .version
        .or_else(|| log.apiserver_version.as_deref().and_then(Minor::parse))
        .or_else(|| log.e2e_version.as_deref().and_then(Minor::parse))
        .ok_or(CertifyError::UnknownVersion)?;
    let product = read_product(&opts.product_yaml)?;
    let folder = opts.name.clone().unwrap_or_else(|| slug(&product.name));
    let version_dir = opts.out.join(version.to_string());
    let target = version_dir.join(&folder);
    if target.exists() && !opts.force {
        return Err(CertifyError::Exists { dir: target });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertifyError::Io { path, source }
    };
    std::fs::create_dir_all(&version_dir).map_err(io(&version_dir))?;
    let scratch = tempfile::Builder::new()
        .prefix(".trellis-certify-")
        .tempdir_in(&version_dir)
        .map_err(io(&version_dir))?;
    let s = scratch.path();
    std::fs::copy(&opts.product_yaml, s.join("PRODUCT.yaml")).map_err(io(&opts.product_yaml))?;
    std::fs::copy(&junit, s.join("junit_01.xml")).map_err(io(&junit))?;
    std::fs::copy(&log_path, s.join("e2e.log")).map_err(io(&log_path))?;
    let readme = readme(version, &folder, &product, &log, tool);
    std::fs::write(s.join("README.md"), readme).map_err(io(&s.join("README.md")))?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    std::fs::rename(scratch.keep(), &target).map_err(io(&target))?;
    let report = verify(&target, &opts.verify);
    Ok(Certified {
        dir: target,
        report,
    })
}

struct Product {
    name: String,
    vendor: String,
    version: String,
    description: String,
}

fn read_product(path: &Path) -> Result<Product, CertifyError> {
    let bad = |reason: String| CertifyError::Product {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let field = |k: &str| match value.get(k) {
        Some(serde_yaml::Value::String(s)) => s.trim().to_string(),
        Some(serde_yaml::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let product = Product {
        name: field("name"),
        vendor: field("vendor"),
        version: field("version"),
        description: field("description"),
    };
    if product.name.is_empty() {
        return Err(bad("field `name` is missing".into()));
    }
    Ok(product)
}

/// A folder name from a product name: lowercase ASCII letters, digits and dashes.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn readme(
    version: Minor,
    folder: &str,
    p: &Product,
    log: &e2e_log::E2eSummary,
    tool: Tool,
) -> String {
    let e2e = log
        .e2e_version
        .clone()
        .unwrap_or_else(|| format!("{version}.x"));
    let apiserver = log
        .apiserver_version
        .as_deref()
        .unwrap_or("(not stated in e2e.log)");
    let mut r = format!(
        "# Conformance results for {version}/{folder}\n\n## {} {}",
        p.name, p.version
    );
    if !p.vendor.is_empty() {
        r.push_str(&format!(" by {}", p.vendor));
    }
    r.push_str("\n\n");
    if !p.description.is_empty() {
        r.push_str(&format!("{}\n\n", p.description));
    }
    r.push_str(&format!(
        "## The run\n\n- kube-apiserver: {apiserver}\n- e2e test binary: {}\n- {}\n- tool: {}\n\n",
        log.e2e_version
            .as_deref()
            .unwrap_or("(not stated in e2e.log)"),
        log.summary_line(),
        match tool {
            Tool::Sonobuoy => "Sonobuoy",
            Tool::Hydrophone => "Hydrophone (a directory holding e2e.log and junit_01.xml)",
            Tool::Trellis => "trellis",
        }
    ));
    r.push_str(&format!(
        "## How to reproduce\n\n1. Create a cluster with {} {} (the product under test) and point \
         `KUBECONFIG` at it.\n2. Run the conformance suite with no skips:\n\n```sh\n",
        p.name, p.version
    ));
    r.push_str(&match tool {
        Tool::Sonobuoy => format!(
            "sonobuoy run --mode=certified-conformance --kubernetes-version={e2e} --wait\n\
             outfile=$(sonobuoy retrieve)\n\
             trellis certify --results \"$outfile\" --product PRODUCT.yaml --out .\n"
        ),
        Tool::Hydrophone => format!(
            "hydrophone --conformance --conformance-image registry.k8s.io/conformance:{e2e} --output-dir results\n\
             trellis certify --results results --product PRODUCT.yaml --out .\n"
        ),
        Tool::Trellis => format!(
            "trellis run conformance --mode certified --kubeconfig \"$KUBECONFIG\" --job {folder}\n\
             trellis certify --results <the run's build directory> --product PRODUCT.yaml --out .\n"
        ),
    });
    r.push_str(&format!(
        "```\n\n3. `trellis verify-submission {version}/{folder}` applies the CNCF review checks \
         before the pull request is opened.\n"
    ));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Azure Kubernetes Service AKS"),
            "azure-kubernetes-service-aks"
        );
        assert_eq!(slug("  k0s (Mirantis)  "), "k0s-mirantis");
    }
}
