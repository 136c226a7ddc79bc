//! `trellis run` as a library: provision → run suites → export logs → tear down, every
//! step reported as a typed event. What the run leaves behind (build log, Prow
//! metadata, JUnit, the stored build) is written by the reporter's sinks; this module
//! prints nothing and chooses no exit code.
//!
//! Teardown runs whatever happened before it: a failed provision, a failed suite, an
//! interrupt.

mod build_dir;

pub use build_dir::child_kubeconfig;

use crate::cluster::provider::Provider;
use crate::cluster::ClusterError;
use crate::interrupt::Interrupt;
use crate::prow::ProwResult;
use crate::reporter::{self, EventKind, Reporter, RunResult, SinkError, SuiteSummary};
use crate::suite::{self, Manifest, Overrides, SuiteContext, SuiteError};
use std::path::{Path, PathBuf};

/// A validated `trellis run`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The job the build is stored under; the build directory is OUT/JOB/BUILD.
    pub job: String,
    pub out: PathBuf,
    /// The suites, resolved against the overrides ([`Overrides::resolve`]).
    pub manifests: Vec<Manifest>,
    pub overrides: Overrides,
    /// Where suite binaries named without a path are looked for first.
    pub bin_dirs: Vec<PathBuf>,
    /// The kind config used, copied into the artifacts.
    pub kind_config: Option<PathBuf>,
    /// A kubeconfig the provider writes outside the build directory (it holds
    /// credentials): removed after teardown.
    pub scratch_kubeconfig: Option<PathBuf>,
}

/// How a run went.
#[derive(Debug)]
pub struct RunSummary {
    pub result: RunResult,
    /// Why the suites stopped early, if they did.
    pub error: Option<SuiteError>,
    pub teardown: Result<(), ClusterError>,
}

/// Why a run could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: cannot make the build directory: {source}")]
    BuildDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl RunError {
    pub fn hint(&self) -> &'static str {
        match self {
            RunError::BuildDir { .. } => "check that --out is writable",
            RunError::Sink(e) => e.hint(),
        }
    }
}

/// The sinks every `trellis run` reports to: the terminal, build-log.txt, Prow
/// metadata, per-suite JUnit and the store (last: it reads what the others wrote).
pub fn standard_reporter(
    db: &crate::store::Location,
    job: &str,
) -> (
    Reporter,
    std::sync::Arc<std::sync::Mutex<Vec<reporter::store::Stored>>>,
) {
    let (store, stored) = reporter::store::StoreBuild::new(db.clone(), job.to_string());
    let reporter = Reporter::new(vec![
        Box::new(reporter::terminal::Terminal::lines()),
        Box::new(reporter::build_log::BuildLog::default()),
        Box::new(reporter::prow::ProwMetadata::default()),
        Box::new(reporter::junit::Junit::per_suite()),
        Box::new(store),
    ]);
    (reporter, stored)
}

/// Runs `plan` on the cluster `provider` makes. Returns an error only when the run
/// could not be recorded (no build directory, a sink that failed at the start or the
/// end); everything else, including a failed provision, is in the summary.
pub fn execute(
    plan: &Plan,
    provider: &mut dyn Provider,
    reporter: &Reporter,
    interrupt: &Interrupt,
) -> Result<RunSummary, RunError> {
    let started = chrono::Utc::now().timestamp();
    let job_dir = plan.out.join(&plan.job);
    let build = build_dir::create(&job_dir, started)
        .and_then(|b| std::fs::create_dir_all(b.join("artifacts")).map(|()| b))
        .map_err(|source| RunError::BuildDir {
            path: job_dir.clone(),
            source,
        })?;
    let artifacts = build.join("artifacts");
    reporter.report(EventKind::RunStarted {
        job: plan.job.clone(),
        build_dir: build.clone(),
        cluster: provider.describe(),
        suites: plan.manifests.iter().map(|m| m.name.clone()).collect(),
        started,
    })?;
    if let Some(config) = &plan.kind_config {
        // Worth having, not worth failing the run for.
        let _ = std::fs::copy(config, artifacts.join("kind-config.yaml"));
    }

    let suites = provision_and_run(plan, provider, reporter, interrupt, &artifacts);

    reporter.report(EventKind::TeardownStarted)?;
    let warning = provider
        .export_logs(&artifacts.join("logs"))
        .err()
        .map(|e| e.to_string());
    reporter.report(EventKind::LogsExported { warning })?;
    let teardown = provider.teardown();
    reporter.report(EventKind::TeardownFinished {
        error: teardown
            .as_ref()
            .err()
            .map(|e| format!("{e}\n  hint: {}", e.hint())),
    })?;
    if let Some(path) = &plan.scratch_kubeconfig {
        // Credentials of a deleted cluster: nothing may use them, nobody should find them.
        let _ = std::fs::remove_file(path);
    }

    let all_passed = suites.error.is_none()
        && !suites.outcomes.is_empty()
        && suites.outcomes.iter().all(|o| o.passed);
    let result = RunResult {
        build_dir: build,
        result: if interrupt.is_set() {
            ProwResult::Aborted
        } else if all_passed {
            ProwResult::Success
        } else {
            ProwResult::Failure
        },
        passed: all_passed && !interrupt.is_set(),
        finished: chrono::Utc::now().timestamp(),
        version: suites.version,
        suites: suites.outcomes,
        error: suites
            .error
            .as_ref()
            .map(|e| format!("{e}\n  hint: {}", e.hint())),
        rerun: suites
            .rerun
            .as_ref()
            .map(crate::runner::RerunSpec::to_metadata),
    };
    reporter.report(EventKind::RunFinished(result.clone()))?;
    Ok(RunSummary {
        result,
        error: suites.error,
        teardown,
    })
}

/// What provisioning and the suites came to.
struct SuitesRun {
    outcomes: Vec<SuiteSummary>,
    /// How to run the libtest suites' tests again, when the cluster outlives the run.
    rerun: Option<crate::runner::RerunSpec>,
    /// The first error; the suites after it did not run.
    error: Option<SuiteError>,
    /// The server's version, when the cluster came up and said.
    version: Option<String>,
}

/// Provisions and runs every suite; stops at the first error or interrupt.
fn provision_and_run(
    plan: &Plan,
    provider: &mut dyn Provider,
    reporter: &Reporter,
    interrupt: &Interrupt,
    artifacts: &Path,
) -> SuitesRun {
    let mut run = SuitesRun {
        outcomes: Vec::new(),
        rerun: None,
        error: None,
        version: None,
    };
    if let Err(e) = reporter.report(EventKind::Provisioning) {
        run.error = Some(e.into());
        return run;
    }
    let access = match provider.provision(interrupt) {
        Ok(a) => a,
        Err(e) => {
            run.error = Some(e.into());
            return run;
        }
    };
    run.version = crate::cluster::access::runtime()
        .ok()
        .and_then(|rt| rt.block_on(access.server_version()).ok());
    if let Err(e) = reporter.report(EventKind::ClusterReady {
        version: run.version.clone(),
    }) {
        run.error = Some(e.into());
        return run;
    }
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(source) => {
            run.error = Some(SuiteError::Io {
                path: std::env::temp_dir(),
                source,
            });
            return run;
        }
    };
    let kubeconfig = match build_dir::child_kubeconfig(&access, scratch.path()) {
        Ok(k) => k,
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    let mut bin_dirs = plan.bin_dirs.clone();
    bin_dirs.extend(provider.program_dirs());
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        bin_dirs.push(dir);
    }
    let ctx = SuiteContext {
        access: &access,
        server_version: run.version.as_deref(),
        kubeconfig: &kubeconfig,
        artifacts,
        interrupt,
        bin_dirs: &bin_dirs,
        overrides: &plan.overrides,
        reporter,
    };
    for m in &plan.manifests {
        if interrupt.is_set() || run.error.is_some() {
            break;
        }
        let started = reporter.report(EventKind::SuiteStarted {
            name: m.name.clone(),
            kind: format!("{:?}", m.kind),
        });
        let outcome = started
            .map_err(SuiteError::from)
            .and_then(|()| suite::run(m, &ctx, provider.upgradable()));
        match outcome {
            Ok(o) => {
                if let Err(e) = reporter.report(EventKind::SuiteFinished(o.clone())) {
                    run.error = Some(e.into());
                }
                run.outcomes.push(o);
            }
            Err(e) => run.error = Some(e),
        }
    }
    run.rerun = rerun_spec(plan, &*provider, &access, &bin_dirs);
    run
}

/// How the run's libtest suites can be run again: only against a cluster that
/// outlives the run; their binaries as this run found them.
fn rerun_spec(
    plan: &Plan,
    provider: &dyn Provider,
    access: &crate::cluster::access::Access,
    bin_dirs: &[PathBuf],
) -> Option<crate::runner::RerunSpec> {
    if !provider.outlives_the_run() {
        return None;
    }
    let libtest: Vec<&suite::Manifest> = plan
        .manifests
        .iter()
        .filter(|m| m.kind == suite::SuiteKind::Libtest)
        .collect();
    let binaries: Vec<PathBuf> = libtest
        .iter()
        .filter_map(|m| {
            suite::manifest::find_binary(m.binary.as_deref().unwrap_or_default(), bin_dirs).ok()
        })
        .map(|b| std::path::absolute(&b).unwrap_or(b))
        .collect();
    let timeout = libtest
        .iter()
        .map(|m| m.test_timeout.unwrap_or(m.timeout))
        .max()?;
    (!binaries.is_empty()).then(|| crate::runner::RerunSpec {
        binaries,
        ignored: false,
        timeout,
        kubeconfig: Some(
            std::path::absolute(&access.kubeconfig).unwrap_or(access.kubeconfig.clone()),
        ),
        context: access.context.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::access::Access;
    use crate::reporter::Recording;

    /// A provider that records what the run asked of it; provisioning fails.
    #[derive(Default)]
    struct FailingProvider {
        calls: Vec<&'static str>,
    }

    impl Provider for FailingProvider {
        fn describe(&self) -> String {
            "a cluster that never comes up".into()
        }
        fn provision(&mut self, _: &Interrupt) -> Result<Access, ClusterError> {
            self.calls.push("provision");
            Err(ClusterError::UnknownCluster {
                spec: "nowhere".into(),
            })
        }
        fn export_logs(&self, _: &Path) -> Result<(), ClusterError> {
            Err(ClusterError::UnknownCluster {
                spec: "no logs".into(),
            })
        }
        fn teardown(&mut self) -> Result<(), ClusterError> {
            self.calls.push("teardown");
            Ok(())
        }
    }

    fn plan(out: &Path) -> Plan {
        Plan {
            job: "job".into(),
            out: out.to_path_buf(),
            manifests: Vec::new(),
            overrides: Overrides::default(),
            bin_dirs: Vec::new(),
            kind_config: None,
            scratch_kubeconfig: None,
        }
    }

    fn names(kinds: &[EventKind]) -> Vec<&'static str> {
        kinds
            .iter()
            .map(|k| match k {
                EventKind::RunStarted { .. } => "RunStarted",
                EventKind::Provisioning => "Provisioning",
                EventKind::ClusterReady { .. } => "ClusterReady",
                EventKind::SuiteStarted { .. } => "SuiteStarted",
                EventKind::Note { .. } => "Note",
                EventKind::Test(_) => "Test",
                EventKind::Specs(_) => "Specs",
                EventKind::SuiteFinished(_) => "SuiteFinished",
                EventKind::TeardownStarted => "TeardownStarted",
                EventKind::LogsExported { .. } => "LogsExported",
                EventKind::TeardownFinished { .. } => "TeardownFinished",
                EventKind::RunFinished(_) => "RunFinished",
            })
            .collect()
    }

    #[test]
    fn a_failed_provision_is_still_torn_down_and_recorded_as_a_failure() {
        let out = tempfile::tempdir().unwrap();
        let recording = Recording::default();
        let reporter = Reporter::new(vec![
            Box::new(recording.clone()),
            Box::new(reporter::prow::ProwMetadata::default()),
        ]);
        let mut provider = FailingProvider::default();
        let summary = execute(
            &plan(out.path()),
            &mut provider,
            &reporter,
            &Interrupt::default(),
        )
        .unwrap();
        assert_eq!(provider.calls, ["provision", "teardown"]);
        let kinds = recording.kinds();
        assert_eq!(
            names(&kinds),
            [
                "RunStarted",
                "Provisioning",
                "TeardownStarted",
                "LogsExported",
                "TeardownFinished",
                "RunFinished"
            ]
        );
        assert!(matches!(
            &kinds[3],
            EventKind::LogsExported { warning: Some(w) } if w.contains("no logs")
        ));
        assert_eq!(summary.result.result, ProwResult::Failure);
        assert!(!summary.result.passed);
        assert!(matches!(summary.error, Some(SuiteError::Cluster(_))));
        // finished.json says what the summary says.
        let finished =
            crate::ingest::prow::read_finished(&summary.result.build_dir.join("finished.json"))
                .unwrap();
        assert_eq!(finished.result, Some(ProwResult::Failure));
        assert_eq!(finished.passed, Some(false));
        let error = finished.metadata["error"].as_str().unwrap_or_default();
        assert!(error.contains("nowhere"), "{error}");
    }

    #[test]
    fn an_interrupted_run_is_aborted() {
        let out = tempfile::tempdir().unwrap();
        let recording = Recording::default();
        let reporter = Reporter::new(vec![Box::new(recording.clone())]);
        let interrupt = Interrupt::default();
        interrupt.trigger(2);
        let summary = execute(
            &plan(out.path()),
            &mut FailingProvider::default(),
            &reporter,
            &interrupt,
        )
        .unwrap();
        assert_eq!(summary.result.result, ProwResult::Aborted);
        assert!(matches!(
            recording.kinds().last(),
            Some(EventKind::RunFinished(r)) if r.result == ProwResult::Aborted
        ));
    }

    #[test]
    fn the_build_log_and_finished_json_tell_the_same_ending() {
        let out = tempfile::tempdir().unwrap();
        let reporter = Reporter::new(vec![
            Box::new(reporter::build_log::BuildLog::default()),
            Box::new(reporter::prow::ProwMetadata::default()),
        ]);
        let summary = execute(
            &plan(out.path()),
            &mut FailingProvider::default(),
            &reporter,
            &Interrupt::default(),
        )
        .unwrap();
        let dir = &summary.result.build_dir;
        let log = std::fs::read_to_string(dir.join("build-log.txt")).unwrap();
        let last = log.lines().last().unwrap_or_default();
        assert!(
            last.ends_with(&format!("FAILURE: {}", dir.display())),
            "{log}"
        );
    }
}
