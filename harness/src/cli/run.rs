//! `trellis run`: arguments → a validated [`Plan`] and provider → [`run::execute`] →
//! exit code.

use super::cluster::{KindArgs, LocalArgs};
use super::failure::{code, Failure};
use crate::cluster::access::Access;
use crate::cluster::kind_upgrade::{Docker, UpgradeArtifacts};
use crate::cluster::local::LocalProvider;
use crate::cluster::provider::{KindProvider, KubeconfigProvider, Provider};
use crate::cluster::{kind, kind_config, preflight};
use crate::config::quarantine::{AppliedQuarantine, Quarantine};
use crate::exit;
use crate::run::{self, Plan};
use crate::suite::{self, Manifest, Overrides};
use std::path::{Path, PathBuf};
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
/// suite could not run, 3 when a suite or the cluster asked for is refused before
/// anything starts, 130/143 when interrupted by SIGINT/SIGTERM.
#[derive(Debug, clap::Args)]
// A later flag overrides an earlier one: `--config FILE`'s options come first.
#[command(args_override_self = true)]
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
        required_unless_present_any = ["kubeconfig", "list_images"],
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
    /// Where kind configs named by --cluster kind:NAME are [default: ./kind-configs,
    /// else the one in the checkout trellis was built from].
    #[arg(long, value_name = "DIR")]
    configs: Option<PathBuf>,
    /// Kubernetes version for kind's node image (kindest/node:vX.Y.Z).
    #[arg(long, value_name = "vX.Y.Z", conflicts_with = "image")]
    k8s_version: Option<String>,
    /// kind node image to use as is.
    #[arg(long)]
    image: Option<String>,
    /// Seconds to wait for every node to be Ready.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    ready_timeout: u64,
    /// Where suite manifests are [default: ./suites, else the one in the checkout
    /// trellis was built from].
    #[arg(long, value_name = "DIR")]
    suites_dir: Option<PathBuf>,
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
    /// Run exactly the specs that failed in an earlier build (Sonobuoy's
    /// --rerun-failed): its directory or JUnit file, or JOB/BUILD of a stored one.
    /// Conformance and e2e suites; both builds are kept, and the verdict per spec is
    /// printed at the end.
    #[arg(long, value_name = "BUILD", conflicts_with_all = ["mode", "focus"])]
    rerun_failed: Option<String>,
    /// Skip the tests listed (unexpired, for --job or every job) in this quarantine
    /// file (`trellis gate --quarantine`'s format): libtest suites report them skipped
    /// with the entry's owner and reason; conformance and e2e suites add them to
    /// Ginkgo's skip. Not with --mode certified, which skips nothing.
    #[arg(long, value_name = "FILE", conflicts_with = "mode")]
    skip_quarantined: Option<PathBuf>,
    /// Upgrade suite: the version the control plane is upgraded to (one minor up from
    /// the cluster's, built by k8s/build.sh).
    #[arg(long, value_name = "vX.Y.Z")]
    upgrade_to: Option<String>,
    /// Upgrade suite on kind: the directory holding --upgrade-to's kubeadm, kubelet and
    /// kubectl (and optionally images/*.tar to preload into the nodes) [default: the
    /// k8s/build.sh cache of that version, built with --node-binaries].
    #[arg(long, value_name = "DIR", requires = "upgrade_to")]
    upgrade_artifacts: Option<PathBuf>,
    /// Upgrade suite (`--cluster local:…`): upgrade in two passes, first to
    /// --upgrade-to's binaries emulating this version (the cluster's MAJOR.MINOR, e.g.
    /// 1.36; KEP-4330 compatibility versions), then lifting the emulation.
    #[arg(
        long,
        value_name = "MAJOR.MINOR",
        requires = "upgrade_to",
        conflicts_with = "probe_only"
    )]
    emulated_version: Option<String>,
    /// Upgrade suite on a cluster trellis does not run (any --kubeconfig, kind): do not
    /// upgrade it, measure its availability for --duration while it is upgraded
    /// another way; with --upgrade-to, the server must report that version at the end.
    #[arg(long, requires = "duration")]
    probe_only: bool,
    /// How long --probe-only measures, e.g. 90s, 20m.
    #[arg(long, value_name = "DURATION", requires = "probe_only", value_parser = probe_duration)]
    duration: Option<Duration>,
    /// Conformance: the conformance image, e.g. a mirror's copy [default:
    /// registry.k8s.io/conformance:<server version>].
    #[arg(long, value_name = "IMAGE")]
    conformance_image: Option<String>,
    /// Conformance: the image of the pod's helper container [default:
    /// registry.k8s.io/e2e-test-images/busybox:1.37.0-1].
    #[arg(long, value_name = "IMAGE")]
    busybox_image: Option<String>,
    /// Conformance and e2e: every test image as a tag of this one repository (the e2e
    /// framework's KUBE_TEST_REPO).
    #[arg(long, value_name = "REGISTRY/REPOSITORY")]
    test_repo: Option<String>,
    /// Conformance and e2e: registries replaced by mirrors, a YAML file of registry key:
    /// mirror (the e2e framework's KUBE_TEST_REPO_LIST, e.g. `promoterE2eRegistry:
    /// mirror.example.com/e2e-test-images`).
    #[arg(long, value_name = "FILE")]
    test_repo_list: Option<PathBuf>,
    /// Conformance on an existing cluster: re-attach to the pod an earlier run left
    /// running (after a lost connection or a killed trellis) and finish the run:
    /// follow its log from the start, collect the results, clean up.
    #[arg(long = "continue", requires = "kubeconfig", conflicts_with = "cleanup")]
    reattach: bool,
    /// Conformance on an existing cluster: remove what an earlier run left (its
    /// namespace, cluster role and binding), say what was removed, and exit.
    #[arg(long, requires = "kubeconfig")]
    cleanup: bool,
    /// Conformance: seconds the pod may take to start its test container (pulling
    /// images, being scheduled) before the run fails saying why [default: 600].
    #[arg(long, value_name = "SECS")]
    startup_timeout: Option<u64>,
    /// Conformance and e2e: seconds between progress lines (specs done of the total,
    /// failures so far, time left) [default: 30].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    progress_interval: Option<u64>,
    /// Read options from this YAML file, keyed by their long names (`job: …`,
    /// `conformance-image: …`, `suites: [conformance]`); flags given here win. A key
    /// that is not an option is refused.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print every image the run would pull, one per line, and exit: nothing is
    /// created. The version is --cluster local:VERSION's, --k8s-version, or the
    /// --kubeconfig cluster's; the test images are what that version's e2e.test
    /// reports, with --test-repo / --test-repo-list applied.
    #[arg(long)]
    list_images: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Certified,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    // `--config` is read before parsing (see run_config); here only when misplaced.
    if let Some(file) = &args.config {
        return Err(Failure::message(
            exit::USAGE,
            format!("--config {} was not read", file.display()),
            "put --config FILE after `run` and before any `--`",
        ));
    }
    let manifests = load_manifests(&args).map_err(code(exit::INPUT_REJECTED))?;
    let kind_upgrade = check_upgrade(&args, &manifests).map_err(code(exit::INPUT_REJECTED))?;
    let overrides = Overrides {
        focus: args.focus.clone(),
        skip: args.skip.clone(),
        parallel: args.parallel,
        certified: matches!(args.mode, Some(Mode::Certified)),
        dry_run: args.dry_run,
        upgrade_to: args.upgrade_to.clone(),
        emulated_version: args.emulated_version.clone(),
        probe_for: args.duration,
        rerun_failed: match &args.rerun_failed {
            Some(build) => Some(failed_specs(build, db)?),
            None => None,
        },
        quarantine: match &args.skip_quarantined {
            Some(path) => load_quarantine(path, &args.job, chrono::Utc::now().timestamp())?,
            None => Default::default(),
        },
        images: image_overrides(&args).map_err(code(exit::INPUT_REJECTED))?,
        reattach: args.reattach,
        startup_timeout: args.startup_timeout.map(Duration::from_secs),
        progress_every: args.progress_interval.map(Duration::from_secs),
    };
    // Resolved once, before any cluster exists: a refused combination costs nothing.
    let manifests = manifests
        .iter()
        .map(|m| overrides.resolve(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(code(exit::INPUT_REJECTED))?;
    if args.list_images {
        return list_images(&args, &manifests, &overrides.images);
    }
    if args.cleanup {
        return cleanup_leftovers(&args, &manifests);
    }
    preflight(&args)?;
    // An existing cluster's kubeconfig holds credentials that errors can quote.
    let redactor = match &args.kubeconfig {
        Some(path) => crate::secrets::Redactor::for_kubeconfig(path),
        None => crate::secrets::Redactor::default(),
    };
    let (mut provider, scratch_kubeconfig) = provider(&args, kind_upgrade)
        .map_err(code(exit::INPUT_REJECTED))
        .map_err(|f| f.redacted(&redactor))?;
    let interrupt = super::cluster::install_interrupt()?;
    let plan = Plan {
        job: args.job.clone(),
        out: args.out.clone(),
        manifests,
        overrides,
        bin_dirs: args.bin_dir.clone(),
        kind_config: kind_config_path(&args),
        scratch_kubeconfig,
    };
    let (reporter, stored) = run::standard_reporter(db, &args.job);
    let reporter = reporter.redacting(redactor.clone());
    let summary = run::execute(&plan, provider.as_mut(), &reporter, &interrupt)?;
    super::print_stored(
        &stored.lock().map(|s| s.clone()).unwrap_or_default(),
        &summary.result.build_dir,
    );
    if let (Some(earlier), Some(specs)) = (&args.rerun_failed, &plan.overrides.rerun_failed) {
        print_rerun_verdicts(earlier, specs, &args.job, &summary.result.build_dir, db)?;
    }
    if let Some(code) = interrupt.exit_code() {
        return Ok(code);
    }
    match (summary.error, summary.result.passed, summary.teardown) {
        (Some(e), _, _) => Err(Failure::new(exit::FAILURE, e).redacted(&redactor)),
        (None, _, Err(_)) => Ok(exit::FAILURE),
        (None, true, Ok(())) => Ok(exit::OK),
        (None, false, Ok(())) => Ok(exit::TESTS_FAILED),
    }
}

/// Where the run's images come from (`--conformance-image`, `--busybox-image`,
/// `--test-repo`, `--test-repo-list`), checked before anything starts.
fn image_overrides(args: &Args) -> Result<suite::images::ImageOverrides, suite::SuiteError> {
    if let Some(repo) = &args.test_repo {
        suite::images::check_test_repo(repo)?;
    }
    Ok(suite::images::ImageOverrides {
        conformance: args.conformance_image.clone(),
        busybox: args.busybox_image.clone(),
        test_repo: args.test_repo.clone(),
        test_repo_list: args
            .test_repo_list
            .as_deref()
            .map(suite::images::read_test_repo_list)
            .transpose()?,
    })
}

/// `--list-images`: the images of the run, one per line; no cluster is made.
fn list_images(
    args: &Args,
    manifests: &[Manifest],
    images: &suite::images::ImageOverrides,
) -> Result<i32, Failure> {
    let local = args
        .cluster
        .as_deref()
        .and_then(crate::cluster::local::LocalOptions::parse_spec)
        .transpose()
        .map_err(|e| Failure::from(crate::cluster::ClusterError::from(e)))?;
    let version = match (local, &args.k8s_version, &args.kubeconfig) {
        (Some(v), _, _) => v,
        (None, Some(v), _) => v.clone(),
        (None, None, Some(path)) => {
            let access = Access {
                kubeconfig: path.clone(),
                context: args.context.clone(),
            };
            let rt = crate::cluster::access::runtime().map_err(Failure::from)?;
            rt.block_on(access.server_version())
                .map_err(Failure::from)?
        }
        (None, None, None) => {
            return Err(Failure::message(
                exit::USAGE,
                "--list-images: which Kubernetes version?".to_string(),
                "give --k8s-version vX.Y.Z, --cluster local:vX.Y.Z or --kubeconfig PATH",
            ))
        }
    };
    let list = suite::images::run_images(manifests, &version, images, &args.bin_dir)
        .map_err(code(exit::FAILURE))?;
    for image in list {
        println!("{image}");
    }
    Ok(exit::OK)
}

/// `--cleanup`: removes what earlier conformance runs left on the `--kubeconfig`
/// cluster, saying what; no suite runs.
fn cleanup_leftovers(args: &Args, manifests: &[Manifest]) -> Result<i32, Failure> {
    let Some(kubeconfig) = &args.kubeconfig else {
        return Ok(exit::USAGE);
    };
    let access = Access {
        kubeconfig: kubeconfig.clone(),
        context: args.context.clone(),
    };
    let redactor = crate::secrets::Redactor::for_kubeconfig(kubeconfig);
    let rt = crate::cluster::access::runtime().map_err(Failure::from)?;
    let mut namespaces: Vec<&str> = manifests
        .iter()
        .filter(|m| m.kind == suite::SuiteKind::Conformance)
        .map(|m| m.namespace.as_str())
        .collect();
    namespaces.dedup();
    if namespaces.is_empty() {
        return Err(Failure::message(
            exit::USAGE,
            "--cleanup removes what conformance runs leave; no conformance suite was named"
                .to_string(),
            "trellis run conformance --cleanup --kubeconfig PATH",
        ));
    }
    for namespace in namespaces {
        let removed = rt
            .block_on(async {
                let client = access.client().await?;
                suite::conformance::cleanup(&client, namespace, CLEANUP_DEADLINE).await
            })
            .map_err(|e| Failure::from(e).redacted(&redactor))?;
        if removed.is_empty() {
            println!("nothing left by a conformance run in namespace {namespace}");
        }
        for what in removed {
            println!("removed {what}");
        }
    }
    Ok(exit::OK)
}

/// How long `--cleanup` waits for the namespace to be gone.
const CLEANUP_DEADLINE: Duration = Duration::from_secs(300);

/// The failed tests (not the Overall row or Ginkgo's suite nodes) of the build
/// `--rerun-failed` names: a directory or file (read, not stored), else JOB/BUILD.
fn failed_specs(build: &str, db: &crate::store::Location) -> Result<Vec<String>, Failure> {
    let earlier = if Path::new(build).exists() {
        let opts = crate::ingest::IngestOptions::default();
        let mut builds = crate::ingest::read_all(build, &opts, chrono::Utc::now().timestamp())?;
        if builds.len() != 1 {
            return Err(Failure::message(
                exit::USAGE,
                format!(
                    "--rerun-failed {build}: holds {} builds, not one",
                    builds.len()
                ),
                "pass one build's directory or JUnit file, or JOB/BUILD of a stored build",
            ));
        }
        builds.remove(0)
    } else {
        let (job, id) = build.rsplit_once('/').ok_or_else(|| {
            Failure::message(
                exit::USAGE,
                format!("--rerun-failed {build}: no such file or directory, and not JOB/BUILD"),
                "pass a build's directory or JUnit file, or JOB/BUILD (`trellis runs` lists them)",
            )
        })?;
        super::open_store(db)?
            .build_detail(job, id)?
            .ok_or_else(|| {
                Failure::message(
                    exit::NOT_FOUND,
                    format!("--rerun-failed: no build {job}/{id} in {}", db),
                    "`trellis runs --job JOB` lists the stored builds",
                )
            })?
            .into_build()
    };
    let mut failed: Vec<String> = earlier
        .cells
        .iter()
        .filter(|c| {
            c.status.bucket() == crate::model::CountBucket::Fail
                && crate::model::is_test_row(&c.test)
        })
        .map(|c| c.test.clone())
        .collect();
    failed.sort();
    failed.dedup();
    if failed.is_empty() {
        return Err(Failure::message(
            exit::NOT_FOUND,
            format!("--rerun-failed {build}: no test failed in it; nothing to re-run"),
            "name a build with failed specs",
        ));
    }
    Ok(failed)
}

/// After a `--rerun-failed` run: each re-run spec's verdict, from the build just
/// stored (both builds stay in the store).
fn print_rerun_verdicts(
    earlier: &str,
    specs: &[String],
    job: &str,
    build_dir: &Path,
    db: &crate::store::Location,
) -> Result<(), Failure> {
    let id = build_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(detail) = super::open_store(db)?.build_detail(job, &id)? else {
        return Ok(());
    };
    let now: Vec<(&str, crate::model::CountBucket)> = detail
        .cells
        .iter()
        .map(|c| (crate::model::spec_text(&c.test), c.status.bucket()))
        .collect();
    let (mut passed, mut failed, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    for spec in specs {
        let text = crate::model::spec_text(spec);
        match now.iter().find(|(t, _)| *t == text).map(|(_, b)| *b) {
            Some(crate::model::CountBucket::Fail) => failed.push(text),
            Some(crate::model::CountBucket::Pass | crate::model::CountBucket::Flaky) => {
                passed.push(text)
            }
            _ => missing.push(text),
        }
    }
    println!(
        "re-run of {} failed spec(s) from {}: {} passed now, {} failed again, {} not run",
        specs.len(),
        crate::printable::line(earlier),
        passed.len(),
        failed.len(),
        missing.len()
    );
    for (word, list) in [
        ("FAILED AGAIN", &failed),
        ("not run", &missing),
        ("passed", &passed),
    ] {
        for spec in list {
            println!("  {word:<12} {}", crate::printable::line(spec));
        }
    }
    Ok(())
}

/// A quarantine file as a run of `job` starting at `now` applies it; expired entries
/// are warned about and skip nothing.
pub fn load_quarantine(path: &Path, job: &str, now: i64) -> Result<AppliedQuarantine, Failure> {
    let q = Quarantine::load(path)?;
    let today = crate::config::quarantine::day(now);
    for expired in q.expired(&today) {
        eprintln!("warning: quarantine entry expired, the test runs: {expired}");
    }
    Ok(q.applied(job, &today))
}

/// What creating a kind cluster needs from this machine (a container engine, kind),
/// checked before a build directory, a store entry or a teardown exists: a run that
/// cannot start says what is missing and leaves nothing behind. Soft limits (inotify,
/// disk) only warn. A local cluster checks its own needs as it is made, each with the
/// exit code the README gives, before any process starts.
fn preflight(args: &Args) -> Result<(), Failure> {
    if args.kubeconfig.is_some() || kind_config_path(args).is_none() {
        return Ok(());
    }
    let spec = args.cluster.as_deref().unwrap_or("kind");
    let tools = preflight::Tools {
        docker: &args.kind.docker,
        kind: &args.kind.kind,
        kubectl: Path::new("kubectl"),
    };
    let checks = preflight::run(&tools, Path::new("/proc/sys"), &std::env::temp_dir(), &[]);
    // kubectl is checked by `trellis preflight` only: a run does not use it.
    const REQUIRED: [&str; 2] = ["docker", "kind"];
    let mut missing = Vec::new();
    for c in checks.iter().filter(|c| !c.ok) {
        if REQUIRED.contains(&c.name) {
            missing.push(c);
        } else {
            tracing::warn!("preflight: {}: {}", c.name, c.detail);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::message(
        exit::FAILURE,
        format!(
            "cannot create the cluster ({spec}); nothing was started: {}",
            missing
                .iter()
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        missing
            .iter()
            .filter_map(|c| c.fix.clone())
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

fn load_manifests(args: &Args) -> Result<Vec<Manifest>, suite::SuiteError> {
    args.suites
        .iter()
        .map(|s| {
            let dir = super::shipped_dir(args.suites_dir.as_deref(), "suites");
            suite::manifest::load(&suite::manifest::resolve(s, &dir))
        })
        .collect()
}

/// An upgrade suite needs a cluster trellis makes (`local:VERSION`, or kind with the
/// new version's kubeadm, kubelet and kubectl), `--upgrade-to` a version one minor
/// up that is built: all checked before anything starts. Returns what a kind
/// cluster is upgraded with.
fn check_upgrade(
    args: &Args,
    manifests: &[Manifest],
) -> Result<Option<UpgradeArtifacts>, suite::SuiteError> {
    let Some(m) = manifests
        .iter()
        .find(|m| m.kind == suite::SuiteKind::Upgrade)
    else {
        return Ok(None);
    };
    let bad = |reason: String| suite::SuiteError::Manifest {
        path: m.path.clone(),
        reason,
    };
    if args.probe_only {
        // Someone else upgrades the cluster: nothing of ours to locate or check.
        return Ok(None);
    }
    let Some(to) = &args.upgrade_to else {
        return Err(bad("the upgrade suite needs --upgrade-to VERSION".into()));
    };
    if args.kubeconfig.is_none() && kind_config_path(args).is_some() {
        if args.emulated_version.is_some() {
            return Err(bad(
                "--emulated-version is for --cluster local:VERSION: on kind, kubeadm writes the control plane's flags".into(),
            ));
        }
        // The node image's version when the command line says it; else the suite
        // checks the skew once the nodes say what they run.
        if let Some(from) = kind_node_version(args) {
            suite::upgrade::check_skew(&from, to).map_err(bad)?;
        }
        let dir = args.upgrade_artifacts.clone().unwrap_or_else(|| {
            crate::cluster::local::binaries::cache_root()
                .join(to)
                .join("bin")
        });
        return UpgradeArtifacts::locate(&dir, to)
            .map(Some)
            .map_err(suite::SuiteError::Cluster);
    }
    if args.upgrade_artifacts.is_some() {
        return Err(bad(
            "--upgrade-artifacts is for kind clusters (--cluster kind[:CONFIG]); a local cluster takes its programs from k8s/build.sh's cache".into(),
        ));
    }
    let spec = args.cluster.as_deref().unwrap_or("");
    let Some(Ok(from)) = crate::cluster::local::LocalOptions::parse_spec(spec) else {
        return Err(bad(format!(
            "the upgrade suite upgrades a cluster trellis makes, --cluster local:VERSION or kind[:CONFIG] (got {}); to measure a cluster upgraded another way, add --probe-only --duration D",
            if spec.is_empty() { "--kubeconfig" } else { spec }
        )));
    };
    suite::upgrade::check_skew(&from, to).map_err(bad)?;
    if let Some(e) = &args.emulated_version {
        suite::upgrade::check_emulated_version(&from, to, e).map_err(bad)?;
    }
    crate::cluster::local::binaries::Binaries::locate(
        &crate::cluster::local::binaries::cache_root(),
        to,
    )
    .map_err(|e| suite::SuiteError::Cluster(e.into()))?;
    Ok(None)
}

/// The Kubernetes version of the kind node image the command line names
/// (`--k8s-version`, or an `--image` tagged `:vX.Y.Z`), if it names one.
fn kind_node_version(args: &Args) -> Option<String> {
    if let Some(v) = &args.k8s_version {
        let v = v.trim();
        return Some(if v.starts_with('v') {
            v.to_string()
        } else {
            format!("v{v}")
        });
    }
    let image = args.image.as_deref()?;
    let image = image.split('@').next()?;
    let tag = image.rsplit_once(':')?.1;
    (tag.starts_with("v1.") && !tag.contains('/')).then(|| tag.to_string())
}

/// `--duration`: 90s, 20m, 1h, at least a second and at most a day.
fn probe_duration(text: &str) -> Result<Duration, String> {
    match suite::manifest::parse_duration(text) {
        Some(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(86_400) => Ok(d),
        _ => Err(format!(
            "`{text}`: give a duration from 1s to 24h, such as 90s or 20m"
        )),
    }
}

fn kind_config_path(args: &Args) -> Option<PathBuf> {
    let spec = args.cluster.as_deref()?;
    let name = spec
        .strip_prefix("kind")
        .map(|r| r.trim_start_matches(':'))?;
    let name = if name.is_empty() { "multi-node" } else { name };
    let dir = super::shipped_dir(args.configs.as_deref(), "kind-configs");
    Some(kind_config::resolve(name, &dir))
}

/// The provider, and the kubeconfig file it writes that the run must remove.
type ChosenProvider = (Box<dyn Provider>, Option<PathBuf>);

fn provider(
    args: &Args,
    kind_upgrade: Option<UpgradeArtifacts>,
) -> Result<ChosenProvider, crate::cluster::ClusterError> {
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
    let mut provider = KindProvider::new(args.kind.cli(), config, image, kubeconfig.clone(), ready);
    if let Some(artifacts) = kind_upgrade {
        // The same deadline per command as kind's own: kubeadm's upgrade of a node
        // pulls images and replaces static pods.
        let docker = Docker {
            program: args.kind.docker.clone(),
            timeout: Duration::from_secs(args.kind.kind_timeout),
        };
        provider.prepare_upgrade(docker, artifacts);
    }
    Ok((Box::new(provider), Some(kubeconfig)))
}
