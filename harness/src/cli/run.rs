//! `trellis run`: provision → run suites → export logs → tear down → store.

use super::cluster::{KindArgs, LocalArgs};
use crate::cluster::access::Access;
use crate::cluster::local::LocalProvider;
use crate::cluster::provider::{KindProvider, KubeconfigProvider, Provider};
use crate::cluster::{kind, kind_config};
use crate::exit;
use crate::interrupt::Interrupt;
use crate::suite::{self, Manifest, Overrides, SuiteContext, SuiteOutcome};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Run suites on a cluster: a kind cluster made for the run (`--cluster
/// kind[:CONFIG]`, always deleted afterwards), a local control plane made for the run
/// (`--cluster local[:VERSION]`: real kube-apiserver, etcd, controller-manager and
/// scheduler built by k8s/build.sh, kwok-simulated nodes, all in a network namespace
/// of its own; always deleted afterwards) or an existing one (`--kubeconfig`, never
/// deleted).
///
/// Every run leaves a Prow-layout build directory OUT/JOB/BUILD (started.json,
/// finished.json, build-log.txt, artifacts/ with each suite's JUnit, logs and the
/// kind config used) and is stored under JOB. Teardown runs on success, on failure,
/// and on Ctrl-C or SIGTERM (a second signal exits at once).
///
/// Exit code 0 when every suite passed, 7 when one failed, 1 when the cluster or a
/// suite could not run, 130/143 when interrupted by SIGINT/SIGTERM.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Suites to run, by name (suites/NAME.yaml) or manifest path.
    #[arg(required = true, value_name = "SUITE")]
    suites: Vec<String>,
    /// Create a cluster for the run: `kind` (multi-node) or `kind:CONFIG`, CONFIG
    /// being a name in --configs (single-node, multi-node, ha, ipv6, dual-stack) or a
    /// path; or `local` / `local:VERSION` (default v1.37.2).
    #[arg(
        long,
        value_name = "kind[:CONFIG]|local[:VERSION]",
        required_unless_present = "kubeconfig",
        conflicts_with = "kubeconfig"
    )]
    cluster: Option<String>,
    /// Use an existing cluster (never deleted).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, requires = "kubeconfig")]
    context: Option<String>,
    #[command(flatten)]
    kind: KindArgs,
    #[command(flatten)]
    local: LocalArgs,
    #[arg(long, default_value = "kind-configs", value_name = "DIR")]
    configs: PathBuf,
    /// Kubernetes version for kind's node image (kindest/node:vX.Y.Z).
    #[arg(long, value_name = "vX.Y.Z", conflicts_with = "image")]
    k8s_version: Option<String>,
    /// kind node image to use as is.
    #[arg(long)]
    image: Option<String>,
    /// Seconds to wait for every node to be Ready.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    ready_timeout: u64,
    /// Where suite manifests are.
    #[arg(long, default_value = "suites", value_name = "DIR")]
    suites_dir: PathBuf,
    /// Where suite binaries named without a path are looked for (default: next to
    /// trellis, then PATH).
    #[arg(long, value_name = "DIR")]
    bin_dir: Vec<PathBuf>,
    /// Where build directories go: OUT/JOB/BUILD.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    out: PathBuf,
    /// Job name the run is stored under.
    #[arg(long, default_value = "trellis-run", value_name = "NAME")]
    job: String,
    /// Override the suites' focus regex.
    #[arg(long, value_name = "REGEX")]
    focus: Option<String>,
    /// Override the suites' skip regex.
    #[arg(long, value_name = "REGEX", conflicts_with = "mode")]
    skip: Option<String>,
    /// Override the suites' parallelism.
    #[arg(short = 'j', long, value_name = "N")]
    parallel: Option<usize>,
    /// `certified`: the conformance run a CNCF submission needs ([Conformance], no skips).
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Conformance and e2e: list the specs without running them.
    #[arg(long)]
    dry_run: bool,
    /// Upgrade suite: the version the control plane is upgraded to (one minor up from
    /// the cluster's, built by k8s/build.sh).
    #[arg(long, value_name = "vX.Y.Z")]
    upgrade_to: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Certified,
}

/// The build log: each line to build-log.txt and to stderr.
struct BuildLog(Mutex<std::fs::File>);

impl BuildLog {
    fn line(&self, text: &str) {
        let stamp = chrono::Utc::now().format("%H:%M:%S");
        eprintln!("{stamp} {text}");
        if let Ok(mut f) = self.0.lock() {
            let _ = writeln!(f, "{stamp} {text}");
        }
    }
}

pub fn run(args: Args, db: &Path) -> i32 {
    let manifests = match load_manifests(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            return exit::INPUT_REJECTED;
        }
    };
    if let Err(e) = check_upgrade(&args, &manifests) {
        eprintln!("error: {e}\n  hint: {}", e.hint());
        return exit::INPUT_REJECTED;
    }
    let (mut provider, scratch_kubeconfig) = match provider(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            return exit::INPUT_REJECTED;
        }
    };
    let interrupt = match Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: cannot handle signals: {e}");
            return exit::FAILURE;
        }
    };
    let started = chrono::Utc::now().timestamp();
    let build = match new_build_dir(&args.out.join(&args.job), started) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: {}: {e}\n  hint: check that --out is writable",
                args.out.display()
            );
            return exit::FAILURE;
        }
    };
    let artifacts = build.join("artifacts");
    let log = match std::fs::create_dir_all(&artifacts)
        .and_then(|_| std::fs::File::create(build.join("build-log.txt")))
    {
        Ok(f) => BuildLog(Mutex::new(f)),
        Err(e) => {
            eprintln!(
                "error: {}: {e}\n  hint: check that --out is writable",
                build.display()
            );
            return exit::FAILURE;
        }
    };
    let line = |t: &str| log.line(t);
    line(&format!("build {} of job {}", build.display(), args.job));
    line(&format!("cluster: {}", provider.describe()));
    if let Some(config) = kind_config_path(&args) {
        let _ = std::fs::copy(&config, artifacts.join("kind-config.yaml"));
    }
    let _ = write_json(
        &build.join("started.json"),
        &serde_json::json!({
            "timestamp": started,
            "metadata": {"cluster": provider.describe(), "suites": manifests.iter().map(|m| &m.name).collect::<Vec<_>>()},
        }),
    );

    let run = RunState {
        args: &args,
        manifests: &manifests,
        artifacts: &artifacts,
        interrupt: &interrupt,
        log: &line,
    };
    let (outcomes, error, version) = run.provision_and_run(provider.as_mut());

    line("exporting cluster logs");
    if let Err(e) = provider.export_logs(&artifacts.join("logs")) {
        line(&format!("warning: could not export logs: {e}"));
    }
    line("tearing down");
    let teardown = provider.teardown();
    if let Err(e) = &teardown {
        line(&format!(
            "error: teardown failed: {e}\n  hint: {}",
            e.hint()
        ));
    }
    if let Some(path) = scratch_kubeconfig {
        // Credentials of a deleted cluster: nothing may use them, nobody should find them.
        let _ = std::fs::remove_file(path);
    }

    let all_passed = error.is_none() && !outcomes.is_empty() && outcomes.iter().all(|o| o.passed);
    let result = if interrupt.is_set() {
        "ABORTED"
    } else if all_passed {
        "SUCCESS"
    } else {
        "FAILURE"
    };
    let finished = chrono::Utc::now().timestamp();
    let _ = write_json(
        &build.join("finished.json"),
        &serde_json::json!({
            "timestamp": finished,
            "passed": all_passed && !interrupt.is_set(),
            "result": result,
            "metadata": {
                "job-version": version,
                "suites": outcomes.iter().map(|o| serde_json::json!({"name": o.name, "passed": o.passed, "summary": o.summary})).collect::<Vec<_>>(),
                "error": error.as_ref().map(|e| e.to_string()),
            },
        }),
    );
    line(&format!("{result}: {}", build.display()));
    drop(log);
    if let Err(code) = super::store_build_dir(&build, &args.job, finished, db) {
        return code;
    }
    if let Some(code) = interrupt.exit_code() {
        return code;
    }
    match (&error, all_passed, teardown) {
        (Some(e), _, _) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            exit::FAILURE
        }
        (None, _, Err(_)) => exit::FAILURE,
        (None, true, Ok(())) => exit::OK,
        (None, false, Ok(())) => exit::TESTS_FAILED,
    }
}

struct RunState<'a> {
    args: &'a Args,
    manifests: &'a [Manifest],
    artifacts: &'a Path,
    interrupt: &'a Interrupt,
    log: &'a (dyn Fn(&str) + Sync),
}

impl RunState<'_> {
    /// Provisions and runs every suite; stops at the first error or interrupt.
    fn provision_and_run(
        &self,
        provider: &mut dyn Provider,
    ) -> (Vec<SuiteOutcome>, Option<suite::SuiteError>, Option<String>) {
        let log = self.log;
        log("provisioning");
        let access = match provider.provision(self.interrupt) {
            Ok(a) => a,
            Err(e) => return (Vec::new(), Some(e.into()), None),
        };
        let version = crate::cluster::access::runtime()
            .ok()
            .and_then(|rt| rt.block_on(access.server_version()).ok());
        log(&format!(
            "cluster ready: server {}",
            version.as_deref().unwrap_or("(unknown)")
        ));
        let scratch = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                return (
                    Vec::new(),
                    Some(suite::SuiteError::Io {
                        path: std::env::temp_dir(),
                        source: e,
                    }),
                    version,
                )
            }
        };
        let kubeconfig = match child_kubeconfig(&access, scratch.path()) {
            Ok(k) => k,
            Err(e) => return (Vec::new(), Some(e), version),
        };
        let overrides = Overrides {
            focus: self.args.focus.clone(),
            skip: self.args.skip.clone(),
            parallel: self.args.parallel,
            certified: matches!(self.args.mode, Some(Mode::Certified)),
            dry_run: self.args.dry_run,
            upgrade_to: self.args.upgrade_to.clone(),
        };
        let mut bin_dirs = self.args.bin_dir.clone();
        bin_dirs.extend(provider.program_dirs());
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            bin_dirs.push(dir);
        }
        let ctx = SuiteContext {
            access: &access,
            server_version: version.as_deref(),
            kubeconfig: &kubeconfig,
            artifacts: self.artifacts,
            interrupt: self.interrupt,
            bin_dirs: &bin_dirs,
            overrides: &overrides,
            log,
        };
        let mut outcomes = Vec::new();
        for m in self.manifests {
            if self.interrupt.is_set() {
                break;
            }
            log(&format!("suite {} ({:?})", m.name, m.kind));
            match suite::run(m, &ctx, provider.upgradable()) {
                Ok(o) => {
                    log(&format!(
                        "suite {}: {} — {}",
                        o.name,
                        if o.passed { "PASSED" } else { "FAILED" },
                        o.summary
                    ));
                    outcomes.push(o);
                }
                Err(e) => return (outcomes, Some(e), version),
            }
        }
        (outcomes, None, version)
    }
}

fn load_manifests(args: &Args) -> Result<Vec<Manifest>, suite::SuiteError> {
    args.suites
        .iter()
        .map(|s| suite::manifest::load(&suite::manifest::resolve(s, &args.suites_dir)))
        .collect()
}

/// An upgrade suite needs a local cluster, `--upgrade-to` a version one minor up
/// that is built: all checked before anything starts.
fn check_upgrade(args: &Args, manifests: &[Manifest]) -> Result<(), suite::SuiteError> {
    let Some(m) = manifests
        .iter()
        .find(|m| m.kind == suite::SuiteKind::Upgrade)
    else {
        return Ok(());
    };
    let bad = |reason: String| suite::SuiteError::Manifest {
        path: m.path.clone(),
        reason,
    };
    let Some(to) = &args.upgrade_to else {
        return Err(bad("the upgrade suite needs --upgrade-to VERSION".into()));
    };
    let spec = args.cluster.as_deref().unwrap_or("");
    let Some(Ok(from)) = crate::cluster::local::LocalOptions::parse_spec(spec) else {
        return Err(bad(format!(
            "the upgrade suite runs on a control plane trellis runs: --cluster local:VERSION (got {})",
            if spec.is_empty() { "--kubeconfig" } else { spec }
        )));
    };
    suite::upgrade::check_skew(&from, to).map_err(bad)?;
    crate::cluster::local::binaries::Binaries::locate(
        &crate::cluster::local::binaries::cache_root(),
        to,
    )
    .map_err(|e| suite::SuiteError::Cluster(e.into()))?;
    Ok(())
}

fn kind_config_path(args: &Args) -> Option<PathBuf> {
    let spec = args.cluster.as_deref()?;
    let name = spec
        .strip_prefix("kind")
        .map(|r| r.trim_start_matches(':'))?;
    let name = if name.is_empty() { "multi-node" } else { name };
    Some(kind_config::resolve(name, &args.configs))
}

/// The provider, and the kubeconfig file it writes that the run must remove.
type ChosenProvider = (Box<dyn Provider>, Option<PathBuf>);

fn provider(args: &Args) -> Result<ChosenProvider, crate::cluster::ClusterError> {
    let ready = Duration::from_secs(args.ready_timeout);
    if let Some(path) = &args.kubeconfig {
        let access = Access {
            kubeconfig: path.clone(),
            context: args.context.clone(),
        };
        access.check()?;
        return Ok((Box::new(KubeconfigProvider::new(access, ready)), None));
    }
    let spec = args.cluster.as_deref().unwrap_or("kind");
    if let Some(opts) = args.local.options(spec, ready, false) {
        let provider = LocalProvider::new(opts?)?;
        // The kubeconfig lives in the cluster's state directory, removed at teardown.
        return Ok((Box::new(provider), None));
    }
    let Some(config) = kind_config_path(args) else {
        return Err(crate::cluster::ClusterError::UnknownCluster { spec: spec.into() });
    };
    let config = kind_config::load(&config)?;
    let image = args
        .image
        .clone()
        .or(args.k8s_version.as_deref().map(kind::node_image_for));
    // The kubeconfig holds credentials: it stays out of the artifacts.
    let kubeconfig =
        std::env::temp_dir().join(format!("trellis-kubeconfig-{}", std::process::id()));
    let provider = KindProvider::new(args.kind.cli(), config, image, kubeconfig.clone(), ready);
    Ok((Box::new(provider), Some(kubeconfig)))
}

/// A kubeconfig for suite processes: the given one, or a copy whose current context
/// is --context (so tools that only read the current context use the right cluster).
fn child_kubeconfig(access: &Access, scratch: &Path) -> Result<PathBuf, suite::SuiteError> {
    let Some(context) = &access.context else {
        return Ok(access.kubeconfig.clone());
    };
    let bad = |reason: String| {
        suite::SuiteError::Cluster(crate::cluster::ClusterError::Kubeconfig {
            path: access.kubeconfig.clone(),
            reason,
        })
    };
    let text = std::fs::read_to_string(&access.kubeconfig).map_err(|e| bad(e.to_string()))?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    doc["current-context"] = serde_yaml::Value::String(context.clone());
    let path = scratch.join("kubeconfig");
    let text = serde_yaml::to_string(&doc).map_err(|e| bad(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| bad(e.to_string()))?;
    Ok(path)
}

/// OUT/JOB/<start time>, with a suffix if a run started in the same second.
fn new_build_dir(job_dir: &Path, started: i64) -> std::io::Result<PathBuf> {
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

fn write_json(path: &Path, value: &serde_json::Value) -> std::io::Result<()> {
    std::fs::write(
        path,
        serde_json::to_string_pretty(value).unwrap_or_default(),
    )
}
