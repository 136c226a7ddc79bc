//! `trellis certify`: turn a conformance run's results into a submission folder
//! `OUT/vX.Y/<product>/`, with the README the CNCF instructions ask for (how to make
//! the cluster with the product, how the tests were run), then verify it.
//!
//! The folder is built and verified in a scratch directory under OUT and renamed into
//! place only when it passes: a failure never leaves a submission (whole or half)
//! behind.

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
    /// The tool that ran the tests, when the results cannot show it.
    pub tool: Option<Tool>,
    /// Markdown: how to create a cluster with the product (the README's first step).
    pub setup: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Certified {
    /// Where the submission is; `None` when it failed verification (nothing written).
    pub dir: Option<PathBuf>,
    pub report: Report,
    pub tool: Option<Tool>,
    /// What the README still lacks, for the vendor to add before the pull request.
    pub todo: Vec<String>,
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
    #[error("`{name}` is not a usable folder name: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("refusing to replace {dir}: it holds {file}, which trellis does not write")]
    NotOurs { dir: PathBuf, file: String },
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
            CertifyError::BadName { .. } => {
                "pass --name with one folder name of ASCII letters, digits, dots and dashes"
            }
            CertifyError::NotOurs { .. } => "move those files away, or choose another --out",
            CertifyError::Io { .. } => "check that --out is writable",
        }
    }
}

/// Which tool ran the conformance tests (for the reproduction steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    Sonobuoy,
    Hydrophone,
    Trellis,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Sonobuoy => "Sonobuoy",
            Tool::Hydrophone => "Hydrophone",
            Tool::Trellis => "trellis",
        }
    }
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
    // What the results prove: a trellis build directory, a Sonobuoy tarball.
    let (dir, shown) = match unit.kind {
        UnitKind::Prow => (unit.path.join("artifacts"), Some(Tool::Trellis)),
        _ if unit.scratch.is_some() => (unit.path.clone(), Some(Tool::Sonobuoy)),
        _ => (unit.path.clone(), None),
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
    // --tool first; else what the results show. Sonobuoy leaves its pods' names in
    // the log it collects; Hydrophone leaves no trace, so only --tool can say it.
    let tool = opts
        .tool
        .or(shown)
        .or(log.sonobuoy_seen.then_some(Tool::Sonobuoy));
    let setup = match &opts.setup {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| CertifyError::Io {
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let version = opts
        .version
        .or_else(|| log.apiserver_version.as_deref().and_then(Minor::parse))
        .or_else(|| log.e2e_version.as_deref().and_then(Minor::parse))
        .ok_or(CertifyError::UnknownVersion)?;
    let product = read_product(&opts.product_yaml)?;
    let folder = opts.name.clone().unwrap_or_else(|| slug(&product.name));
    check_folder_name(&folder)?;
    let version_dir = opts.out.join(version.to_string());
    let target = version_dir.join(&folder);
    if target.exists() && !opts.force {
        return Err(CertifyError::Exists { dir: target });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertifyError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    // Built as OUT/.trellis-certify-*/vX.Y/<product>/ so the review checks see the
    // real layout, then renamed into place only if they pass. Dropping `scratch`
    // removes whatever is left.
    let scratch = tempfile::Builder::new()
        .prefix(".trellis-certify-")
        .tempdir_in(&opts.out)
        .map_err(io(&opts.out))?;
    let s = scratch.path().join(version.to_string()).join(&folder);
    std::fs::create_dir_all(&s).map_err(io(&s))?;
    std::fs::copy(&opts.product_yaml, s.join("PRODUCT.yaml")).map_err(io(&opts.product_yaml))?;
    std::fs::copy(&junit, s.join("junit_01.xml")).map_err(io(&junit))?;
    std::fs::copy(&log_path, s.join("e2e.log")).map_err(io(&log_path))?;
    let (readme, todo) = readme(version, &folder, &product, &log, tool, setup.as_deref());
    std::fs::write(s.join("README.md"), readme).map_err(io(&s.join("README.md")))?;
    let report = verify(&s, &opts.verify);
    if report.verdict != super::Verdict::Pass {
        return Ok(Certified {
            dir: None,
            report,
            tool,
            todo,
        });
    }
    std::fs::create_dir_all(&version_dir).map_err(io(&version_dir))?;
    if target.exists() {
        only_ours(&target)?;
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    std::fs::rename(&s, &target).map_err(io(&target))?;
    Ok(Certified {
        dir: Some(target),
        report,
        tool,
        todo,
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
    let value: serde_json::Value =
        crate::yaml::from_str(&text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let field = |k: &str| match value.get(k) {
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
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

/// A submission folder's name must be one path component that stays inside
/// `OUT/vX.Y/`: `--force` removes it, so `..`, `/` or an empty name (a product name
/// with no ASCII letter or digit) would remove something else.
fn check_folder_name(name: &str) -> Result<(), CertifyError> {
    let bad = |reason| {
        Err(CertifyError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty (the product name has no ASCII letter or digit)");
    }
    if name.starts_with('.') {
        return bad("it starts with a dot");
    }
    if name.len() > 100 {
        return bad("it is over 100 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return bad("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    Ok(())
}

/// `--force` replaces a submission folder only when everything in it is a file
/// trellis writes there: never another vendor's work, never a directory tree.
fn only_ours(dir: &Path) -> Result<(), CertifyError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| CertifyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(CertifyError::NotOurs {
            dir: dir.to_path_buf(),
            file: "itself (not a directory)".into(),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|source| CertifyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file || !super::SUBMISSION_FILES.contains(&name.as_str()) {
            return Err(CertifyError::NotOurs {
                dir: dir.to_path_buf(),
                file: name,
            });
        }
    }
    Ok(())
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

/// The submission's README, as the CNCF instructions ask: how to create a cluster
/// with the product and how the tests were run, so a reviewer can reproduce the
/// results. Returns it with what is still left for the vendor to write.
fn readme(
    version: Minor,
    folder: &str,
    p: &Product,
    log: &e2e_log::E2eSummary,
    tool: Option<Tool>,
    setup: Option<&str>,
) -> (String, Vec<String>) {
    let mut todo = Vec::new();
    let e2e = log
        .e2e_version
        .clone()
        .unwrap_or_else(|| format!("{version}.0"));
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
    r.push_str("## How to reproduce the results\n\n### 1. Create a cluster\n\n");
    match setup {
        Some(text) => {
            r.push_str(text.trim_end());
            r.push_str("\n\n");
        }
        None => {
            todo.push("how to create a cluster with the product (pass --setup FILE)".to_string());
            r.push_str(&format!(
                "<!-- TODO: the steps that create a Kubernetes {version} cluster with {} {}. \
                 `trellis certify --setup FILE` puts them here. -->\n\n",
                p.name, p.version
            ));
        }
    }
    r.push_str(
        "### 2. Run the conformance tests\n\nWith `KUBECONFIG` pointing at the cluster, \
         every `[Conformance]` test and no skips:\n\n```sh\n",
    );
    r.push_str(&match tool {
        Some(Tool::Sonobuoy) => format!(
            "sonobuoy run --mode=certified-conformance --kubernetes-version={e2e} --wait\n\
             outfile=$(sonobuoy retrieve)\n\
             mkdir ./results && tar xzf \"$outfile\" -C ./results\n\
             # e2e.log and junit_01.xml are in ./results/plugins/e2e/results/global/\n"
        ),
        Some(Tool::Hydrophone) => format!(
            "hydrophone --conformance --conformance-image registry.k8s.io/conformance:{e2e} --output-dir results\n\
             # e2e.log and junit_01.xml are in ./results/\n"
        ),
        Some(Tool::Trellis) => format!(
            "trellis run conformance --mode certified --kubeconfig \"$KUBECONFIG\" --job {folder}\n\
             # e2e.log and junit_01.xml are in the run's build directory, under artifacts/\n"
        ),
        None => {
            todo.push("the tool that ran the tests (pass --tool)".to_string());
            format!(
                "# TODO: the commands that ran registry.k8s.io/conformance:{e2e} \
                 (`trellis certify --tool sonobuoy|hydrophone|trellis` fills this in)\n"
            )
        }
    });
    r.push_str("```\n\n## The results\n\n");
    r.push_str(&format!(
        "- tool: {}\n- kube-apiserver: {}\n- e2e test binary: {}\n- {}\n",
        tool.map_or("(not stated)", Tool::name),
        log.apiserver_version
            .as_deref()
            .unwrap_or("(not stated in e2e.log)"),
        log.e2e_version
            .as_deref()
            .unwrap_or("(not stated in e2e.log)"),
        log.summary_line()
    ));
    (r, todo)
}

/// What the vendor does next: the pull request the CNCF instructions describe.
pub fn pull_request_checklist(version: Minor, folder: &str) -> String {
    format!(
        "Next, a pull request to https://github.com/cncf/k8s-conformance:\n\
         - add {version}/{folder}/ with exactly README.md, PRODUCT.yaml, e2e.log and junit_01.xml\n\
         - title it \"Conformance results for {version}/{folder}\"\n\
         - one product and one version per pull request\n\
         - sign off every commit (DCO: git commit -s)\n\
         - the review bot re-runs these checks and labels the pull request\n"
    )
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
