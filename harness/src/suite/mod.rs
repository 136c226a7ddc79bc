//! Suites: what `trellis run` runs on a cluster. Each is declared by a manifest in
//! `suites/` ([`manifest`]) and is one of three kinds:
//!
//! - [`libtest`]: a libtest-compatible binary (trellis's own smoke suite), run test
//!   by test by the nextest-style [`crate::runner`], the cluster given by KUBECONFIG;
//! - [`conformance`]: the official conformance image as a pod, Hydrophone-style;
//! - [`e2e`]: a local `e2e.test` binary, directly or under `ginkgo`.
//!
//! Every suite leaves its JUnit (and logs) in the run's `artifacts/` directory.

pub mod conformance;
pub mod e2e;
pub mod images;
pub mod libtest;
pub mod manifest;
pub mod perf;
pub mod progress;
pub mod upgrade;
pub mod verdict;

use crate::cluster::access::Access;
use crate::interrupt::Interrupt;
use crate::reporter::Reporter;
pub use crate::reporter::SuiteSummary;
use std::path::{Path, PathBuf};

pub use manifest::{Manifest, SuiteKind};

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("no suite manifest {path}{}", if .available.is_empty() { String::new() } else { format!(" (suites there: {})", .available.join(", ")) })]
    NoManifest {
        path: PathBuf,
        available: Vec<String>,
    },
    #[error(
        "--mode certified runs the [Conformance] specs, and suite {suite} ({kind:?}) has none"
    )]
    NotCertifiable { suite: String, kind: SuiteKind },
    #[error("suite binary `{name}` not found (looked at {})", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Binary {
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Pod(String),
    #[error("namespace {namespace} already exists: an earlier run left it, or is still running")]
    NamespaceExists { namespace: String },
    #[error("--continue: no conformance pod in namespace {namespace} to re-attach to")]
    NothingToContinue { namespace: String },
    #[error("{what} did not finish within {seconds} s")]
    Deadline { what: String, seconds: u64 },
    #[error("{what}: {reason}")]
    ImageOption { what: String, reason: String },
    #[error("the perf load cannot run here: {reason}")]
    Perf { reason: String },
    #[error("{what}: {reason}")]
    ListImages { what: String, reason: String },
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Sink(#[from] crate::reporter::SinkError),
}

impl SuiteError {
    pub fn hint(&self) -> std::borrow::Cow<'static, str> {
        if let SuiteError::Cluster(e) = self {
            return e.hint();
        }
        let text = match self {
            SuiteError::Manifest { .. } => "fix the named field; suites/README.md describes the manifest",
            SuiteError::NoManifest { .. } => "name a suite from suites/ (or --suites-dir DIR), or give a manifest's path",
            SuiteError::NotCertifiable { .. } => "run the conformance or e2e suite with --mode certified, and this one without it",
            SuiteError::Binary { .. } => "build it (cargo build --workspace puts trellis-smoke next to trellis) or give `binary:` a path",
            SuiteError::Runner(e) => e.hint(),
            SuiteError::Cluster(_) => unreachable!("handled above"),
            SuiteError::Api { .. } => "check the cluster is reachable and the kubeconfig user may create namespaces, RBAC and pods",
            SuiteError::Io { .. } => "check that the run's output directory is writable",
            SuiteError::NamespaceExists { .. } => "re-attach to the run still going with --continue, or remove what it left with --cleanup, then retry",
            SuiteError::NothingToContinue { .. } => "the earlier run has ended and been cleaned up: run the suite again without --continue",
            SuiteError::Pod(_) => "look at the pod's log in artifacts/ and `kubectl describe pod` while it runs",
            SuiteError::Deadline { .. } => "raise the manifest's `timeout`",
            SuiteError::Perf { .. } => "lower the load in the manifest's `perf:` settings, or give the cluster more (or schedulable) nodes (--nodes M for a local cluster)",
            SuiteError::ImageOption { .. } => "--test-repo takes REGISTRY/REPOSITORY; --test-repo-list a YAML file of registry key: mirror (the e2e framework's KUBE_TEST_REPO_LIST)",
            SuiteError::ListImages { .. } => "--list-images asks e2e.test of the cluster's version: k8s/build.sh VERSION builds it, or put one in --bin-dir",
            SuiteError::Interrupted => "the run was stopped by Ctrl-C or SIGTERM",
            SuiteError::Sink(e) => e.hint(),
        };
        text.into()
    }
}

/// Run-wide choices that override manifests.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub focus: Option<String>,
    pub skip: Option<String>,
    pub parallel: Option<usize>,
    /// The certified run (focus [Conformance], no skips): conformance and e2e
    /// suites; refused by the others.
    pub certified: bool,
    /// Conformance and e2e: list what would run without running it.
    pub dry_run: bool,
    /// Upgrade: the version to upgrade the control plane to.
    pub upgrade_to: Option<String>,
    /// Upgrade: first run the new binaries emulating this `MAJOR.MINOR`
    /// (`--emulated-version`), then lift the emulation in a second pass.
    pub emulated_version: Option<String>,
    /// Upgrade: measure for this long while the cluster is upgraded another way
    /// (`--probe-only --duration D`), instead of upgrading it.
    pub probe_for: Option<std::time::Duration>,
    /// Tests not to run (`--skip-quarantined`): libtest suites report them skipped
    /// with the reason; conformance and e2e suites add them to Ginkgo's skip.
    pub quarantine: crate::config::quarantine::AppliedQuarantine,
    /// Exactly these specs (`--rerun-failed`: an earlier build's failures), for
    /// conformance and e2e suites; refused by the others.
    pub rerun_failed: Option<Vec<String>>,
    /// Where the conformance pod's and the tests' images come from (air-gapped runs).
    pub images: images::ImageOverrides,
    /// Conformance: re-attach to the pod an earlier run left running (`--continue`)
    /// instead of making one; refused by the other kinds.
    pub reattach: bool,
    /// Conformance: how long the pod may take to start its test container.
    pub startup_timeout: Option<std::time::Duration>,
    /// How often a running Ginkgo suite's progress is told.
    pub progress_every: Option<std::time::Duration>,
}

/// The focus of the certified run: every conformance spec.
pub const CONFORMANCE_FOCUS: &str = r"\[Conformance\]";

impl Overrides {
    /// The manifest as this run runs it, resolved once for every suite kind: the
    /// run's focus, skip and parallelism over the manifest's, then `--mode certified`
    /// (every [Conformance] spec, nothing skipped) — which a suite kind that has no
    /// conformance specs refuses rather than ignores.
    pub fn resolve(&self, m: &Manifest) -> Result<Manifest, SuiteError> {
        let mut m = m.clone();
        if let Some(focus) = &self.focus {
            m.focus = focus.clone();
            m.allowlist = None;
            m.allowlisted = 0;
        }
        if let Some(skip) = &self.skip {
            m.skip = skip.clone();
        }
        if let Some(parallel) = self.parallel {
            m.parallel = parallel;
        }
        if let Some(specs) = &self.rerun_failed {
            if !matches!(m.kind, SuiteKind::Conformance | SuiteKind::E2e) {
                return Err(SuiteError::Manifest {
                    path: m.path.clone(),
                    reason: format!(
                        "--rerun-failed focuses Ginkgo specs; suite {} ({:?}) has none (its failures re-run with `trellis gate BUILD --retry N`)",
                        m.name, m.kind
                    ),
                });
            }
            let names: Vec<&str> = specs.iter().map(|s| crate::model::spec_text(s)).collect();
            m.focus = manifest::allowlist_focus(&names);
            m.allowlist = None;
            m.allowlisted = names.len();
        }
        if self.reattach && m.kind != SuiteKind::Conformance {
            return Err(SuiteError::Manifest {
                path: m.path.clone(),
                reason: format!(
                    "--continue re-attaches to a conformance pod; suite {} ({:?}) has none",
                    m.name, m.kind
                ),
            });
        }
        if let (SuiteKind::Conformance | SuiteKind::E2e, Some(quarantined)) =
            (m.kind, self.quarantine.spec_regex())
        {
            m.skip = if m.skip.is_empty() {
                quarantined
            } else {
                format!("(?:{})|{quarantined}", m.skip)
            };
        }
        if self.certified {
            match m.kind {
                SuiteKind::Conformance | SuiteKind::E2e => {
                    m.focus = CONFORMANCE_FOCUS.into();
                    m.skip.clear();
                    m.label_filter.clear();
                    m.allowlist = None;
                    m.allowlisted = 0;
                }
                SuiteKind::Libtest | SuiteKind::Upgrade | SuiteKind::Perf => {
                    return Err(SuiteError::NotCertifiable {
                        suite: m.name.clone(),
                        kind: m.kind,
                    })
                }
            }
        }
        for (field, re) in [("focus", &m.focus), ("skip", &m.skip)] {
            if let Err(e) = regex::Regex::new(re) {
                return Err(SuiteError::Manifest {
                    path: m.path.clone(),
                    reason: format!("--{field} `{re}` is not a regular expression: {e}"),
                });
            }
        }
        Ok(m)
    }
}

/// A JUnit report's counts for a suite's summary line.
fn junit_counts(path: &Path) -> String {
    match crate::ingest::junit::parse_file(path) {
        Ok(r) => format!(
            "{} passed, {} failed, {} skipped",
            r.tally.passed, r.tally.failed, r.tally.skipped
        ),
        Err(e) => format!("no readable JUnit report: {e}"),
    }
}

/// What a suite gets to run with.
pub struct SuiteContext<'a> {
    pub access: &'a Access,
    /// The server's version, when the run could read it.
    pub server_version: Option<&'a str>,
    /// A kubeconfig whose current context is the run's (for child processes).
    pub kubeconfig: &'a Path,
    pub artifacts: &'a Path,
    pub interrupt: &'a Interrupt,
    /// Where suite binaries named without a path are looked for first.
    pub bin_dirs: &'a [PathBuf],
    pub overrides: &'a Overrides,
    /// Where the suite's progress and test events go.
    pub reporter: &'a Reporter,
}

/// Runs one suite, as [`Overrides::resolve`] made it. The upgrade suite also gets the
/// control plane, when trellis runs it.
pub fn run(
    m: &Manifest,
    ctx: &SuiteContext,
    control_plane: Option<&mut dyn crate::cluster::provider::Upgradable>,
) -> Result<SuiteSummary, SuiteError> {
    match m.kind {
        SuiteKind::Libtest => libtest::run(m, ctx),
        SuiteKind::Conformance => conformance::run(m, ctx),
        SuiteKind::E2e => e2e::run(m, ctx),
        SuiteKind::Upgrade => upgrade::run(m, ctx, control_plane),
        SuiteKind::Perf => perf::run(m, ctx),
    }
}

/// A wait that ended without its value, as the suite's error: a timeout says what
/// and how long it really waited.
pub(crate) fn waited<E: Into<SuiteError>>(w: trellis_wait::Waited<E>) -> SuiteError {
    match w {
        trellis_wait::Waited::Failed(e) => e.into(),
        trellis_wait::Waited::TimedOut { what, waited, last } => SuiteError::Deadline {
            what: if last.is_empty() {
                what
            } else {
                format!("{what} ({last})")
            },
            seconds: waited.as_secs(),
        },
        trellis_wait::Waited::Stopped => SuiteError::Interrupted,
    }
}

impl From<std::convert::Infallible> for SuiteError {
    fn from(never: std::convert::Infallible) -> SuiteError {
        match never {}
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SuiteError + '_ {
    move |source| SuiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}
