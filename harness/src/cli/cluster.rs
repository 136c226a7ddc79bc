//! `trellis up`, `down`, `janitor` and `preflight`: kind and local clusters by hand.

use super::failure::Failure;
use crate::cluster::local::{self, LocalOptions, LocalProvider};
use crate::cluster::provider::{KindProvider, Provider};
use crate::cluster::{kind, kind_config, preflight, NAME_PREFIX};
use crate::exit;
use std::path::PathBuf;
use std::time::Duration;

/// Where the kind CLI is and how long one kind command may take.
#[derive(Debug, clap::Args)]
pub struct KindArgs {
    /// The kind binary.
    #[arg(
        long,
        env = "TRELLIS_KIND",
        default_value = "kind",
        value_name = "PATH"
    )]
    pub(super) kind: PathBuf,
    /// Deadline for one kind command, in seconds.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub(super) kind_timeout: u64,
    /// The container engine CLI kind drives (checked before a cluster is created).
    #[arg(
        long,
        env = "TRELLIS_DOCKER",
        default_value = "docker",
        value_name = "PATH"
    )]
    pub(super) docker: PathBuf,
}

impl KindArgs {
    pub(super) fn cli(&self) -> kind::Kind {
        kind::Kind {
            program: self.kind.clone(),
            timeout: Duration::from_secs(self.kind_timeout),
        }
    }
}

/// What a `local` cluster is made of (with `--cluster local[:VERSION]`).
#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    /// local: how many kube-apiservers (10.250.0.1, .2, …), 1 to 9.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(super) control_planes: usize,
    /// local: how many kwok-simulated nodes.
    #[arg(long, default_value_t = 2, value_name = "M")]
    pub(super) nodes: usize,
    /// local: what the simulated containers show: DIR/log becomes every pod's log and
    /// DIR/results/ is what they see at /tmp/results (no container really runs).
    #[arg(long, value_name = "DIR")]
    pub(super) container_files: Option<PathBuf>,
}

impl LocalArgs {
    /// The local cluster `spec` asks for, or `None` when it is not `local[:VERSION]`.
    pub(super) fn options(
        &self,
        spec: &str,
        ready_timeout: Duration,
        detached: bool,
    ) -> Option<Result<LocalOptions, crate::cluster::ClusterError>> {
        let version = LocalOptions::parse_spec(spec)?;
        Some(version.map_err(Into::into).map(|version| LocalOptions {
            control_planes: self.control_planes,
            nodes: self.nodes,
            ready_timeout,
            container_files: self.container_files.clone(),
            detached,
            ..LocalOptions::new(version)
        }))
    }
}

/// Which kind config to use.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// A config name in --configs (single-node, multi-node, ha, ipv6, dual-stack) or a path.
    #[arg(long, default_value = "multi-node")]
    config: String,
    /// Where named configs are [default: ./kind-configs, else the one in the
    /// checkout trellis was built from].
    #[arg(long, value_name = "DIR")]
    configs: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> Result<kind_config::KindConfig, crate::cluster::ClusterError> {
        let dir = super::shipped_dir(self.configs.as_deref(), "kind-configs");
        kind_config::load(&kind_config::resolve(&self.config, &dir))
    }
}

/// Create a cluster named trellis-<time>-<hex>: a kind cluster from a config in
/// kind-configs/ (`--cluster kind`, the default) or a local control plane
/// (`--cluster local[:VERSION]`, see `k8s/build.sh`).
///
/// Waits until every node is Ready, then prints the cluster name and leaves its
/// kubeconfig. A cluster that fails to come up is deleted. Delete it with `trellis
/// down NAME` (`--cluster local` for a local one); `trellis janitor` removes any
/// left behind. A local cluster lives in network namespace NAME: reach it with
/// `ip netns exec NAME kubectl --kubeconfig PATH …`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// `kind` or `local[:VERSION]`.
    #[arg(long, default_value = "kind", value_name = "kind|local[:VERSION]")]
    cluster: String,
    #[command(flatten)]
    local: LocalArgs,
    #[command(flatten)]
    kind: KindArgs,
    #[command(flatten)]
    config: ConfigArgs,
    /// Kubernetes version, for kind's node image (kindest/node:vX.Y.Z).
    #[arg(long, value_name = "vX.Y.Z", conflicts_with = "image")]
    k8s_version: Option<String>,
    /// Node image to use as is.
    #[arg(long)]
    image: Option<String>,
    /// Where to write the kubeconfig.
    #[arg(long, default_value = "kubeconfig", value_name = "PATH")]
    kubeconfig: PathBuf,
    /// Seconds to wait for every node to be Ready (kind's own --wait returns 0 even
    /// when it times out, so trellis checks).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    ready_timeout: u64,
}

pub fn up(args: UpArgs) -> Result<i32, Failure> {
    let ready = Duration::from_secs(args.ready_timeout);
    if let Some(opts) = args.local.options(&args.cluster, ready, true) {
        return up_local(opts, &args.kubeconfig);
    }
    if args.cluster != "kind" {
        return Err(Failure::message(
            exit::USAGE,
            format!("--cluster {}: not a cluster trellis can make", args.cluster),
            "use --cluster kind, local or local:VERSION",
        ));
    }
    let config = args.config.load()?;
    let interrupt = install_interrupt()?;
    let image = args
        .image
        .or(args.k8s_version.as_deref().map(kind::node_image_for));
    let mut cluster = KindProvider::new(
        args.kind.cli(),
        config,
        image,
        args.kubeconfig.clone(),
        Duration::from_secs(args.ready_timeout),
    );
    eprintln!("creating {}", cluster.describe());
    if let Err(e) = cluster.provision(&interrupt) {
        // kind --retain keeps a failed cluster for its logs: never leave it behind.
        let _ = cluster.teardown();
        return Err(Failure::new(
            interrupt.exit_code().unwrap_or(exit::FAILURE),
            e,
        ));
    }
    println!("{}", cluster.name);
    eprintln!("all nodes Ready; kubeconfig: {}", args.kubeconfig.display());
    Ok(exit::OK)
}

fn up_local(
    opts: Result<LocalOptions, crate::cluster::ClusterError>,
    kubeconfig: &std::path::Path,
) -> Result<i32, Failure> {
    let mut cluster = opts.and_then(|o| LocalProvider::new(o).map_err(Into::into))?;
    let interrupt = install_interrupt()?;
    eprintln!("creating {}", cluster.describe());
    let started = std::time::Instant::now();
    if let Err(e) = cluster.provision(&interrupt) {
        let _ = cluster.teardown();
        return Err(Failure::new(
            interrupt.exit_code().unwrap_or(exit::FAILURE),
            e,
        ));
    }
    let took = started.elapsed();
    let copied = std::fs::read_to_string(cluster.kubeconfig())
        .map_err(|e| e.to_string())
        .and_then(|text| local::pki::write_private(kubeconfig, &text).map_err(|e| e.to_string()));
    cluster.detach()?;
    println!("{}", cluster.name);
    for (step, d) in &cluster.timings {
        eprintln!("  {step:<24} {:>6.2} s", d.as_secs_f64());
    }
    eprintln!(
        "all nodes Ready in {:.1} s; state in {}",
        took.as_secs_f64(),
        cluster.dir().display()
    );
    match copied {
        Ok(()) => eprintln!(
            "use it: ip netns exec {} kubectl --kubeconfig {} get nodes",
            cluster.name,
            kubeconfig.display()
        ),
        Err(e) => eprintln!("warning: could not write {}: {e}", kubeconfig.display()),
    }
    eprintln!("delete it: trellis down --cluster local {}", cluster.name);
    Ok(exit::OK)
}

/// Delete a cluster (export its logs first with --logs DIR).
#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// `kind`, or `local` for a cluster `trellis up --cluster local` made.
    #[arg(long, default_value = "kind", value_name = "kind|local")]
    cluster: String,
    #[command(flatten)]
    kind: KindArgs,
    name: String,
    /// Export the cluster's logs here before deleting it.
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,
}

pub fn down(args: DownArgs) -> Result<i32, Failure> {
    if args.cluster == "local" {
        return down_local(&args.name, args.logs.as_deref());
    }
    let cli = args.kind.cli();
    if let Some(dir) = &args.logs {
        if let Err(e) = cli.export_logs(&args.name, dir) {
            // Logs are best effort; the delete must still happen.
            eprintln!("warning: {e}");
        }
    }
    cli.delete(&args.name)?;
    Ok(exit::OK)
}

fn down_local(name: &str, logs: Option<&std::path::Path>) -> Result<i32, Failure> {
    let dir = local::state_root().join(name);
    if !dir.exists()
        && !std::path::Path::new(local::netns::NETNS_DIR)
            .join(name)
            .exists()
    {
        return Err(Failure::message(
            exit::NOT_FOUND,
            format!(
                "no local cluster {name} (no {} and no network namespace {name})",
                dir.display()
            ),
            "`ip netns list` shows the namespaces; names look like trellis-<time>-<hex>",
        ));
    }
    if let Some(to) = logs {
        let from = dir.join("logs");
        let copied = std::fs::create_dir_all(to).and_then(|_| {
            for e in std::fs::read_dir(&from)?.flatten() {
                std::fs::copy(e.path(), to.join(e.file_name()))?;
            }
            Ok(())
        });
        if let Err(e) = copied {
            eprintln!("warning: logs from {}: {e}", from.display());
        }
    }
    for n in local::destroy(name, &dir, Duration::from_secs(10))? {
        eprintln!("{n}");
    }
    eprintln!("deleted {name}");
    Ok(exit::OK)
}

/// Delete trellis-made kind clusters (names starting trellis-) older than --older-than.
#[derive(Debug, clap::Args)]
pub struct JanitorArgs {
    #[command(flatten)]
    kind: KindArgs,
    /// Age in hours after which a trellis cluster is deleted.
    #[arg(long, default_value_t = 6.0, value_name = "HOURS", value_parser = super::hours)]
    older_than: f64,
    /// Only list what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

pub fn janitor(args: JanitorArgs) -> Result<i32, Failure> {
    let age = Duration::from_secs_f64(args.older_than * 3600.0);
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    // Local clusters first: they need nothing but this machine.
    let removed = local::janitor(
        &local::state_root(),
        chrono::Utc::now().timestamp(),
        age,
        args.dry_run,
    )?;
    for name in &removed {
        println!("{verb} local {name}");
    }
    let removed = args
        .kind
        .cli()
        .janitor(chrono::Utc::now().timestamp(), age, args.dry_run)?;
    for name in &removed {
        println!("{verb} {name}");
    }
    eprintln!("{} {NAME_PREFIX}* cluster(s) {verb}", removed.len());
    Ok(exit::OK)
}

/// Check what a cluster needs from this host, each failure with its fix. kind:
/// docker, kind, kubectl, inotify limits, free disk, and the host ports the config
/// maps. local (`--cluster local[:VERSION]`): the built binaries and their versions,
/// the right to make a network namespace, a writable state directory. Exit 0 when
/// all pass, 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// `kind` or `local[:VERSION]`.
    #[arg(long, default_value = "kind", value_name = "kind|local[:VERSION]")]
    cluster: String,
    #[command(flatten)]
    kind: KindArgs,
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(
        long,
        env = "TRELLIS_KUBECTL",
        default_value = "kubectl",
        value_name = "PATH"
    )]
    kubectl: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn preflight(args: PreflightArgs) -> Result<i32, Failure> {
    let checks = match LocalOptions::parse_spec(&args.cluster) {
        Some(Ok(version)) => local::preflight(&LocalOptions::new(version)),
        Some(Err(e)) => return Err(e.into()),
        None => {
            let ports = args.config.load()?.host_ports;
            let tools = preflight::Tools {
                docker: &args.kind.docker,
                kind: &args.kind.kind,
                kubectl: &args.kubectl,
            };
            preflight::run(
                &tools,
                std::path::Path::new("/proc/sys"),
                &std::env::temp_dir(),
                &ports,
            )
        }
    };
    if args.json {
        super::print_json(&checks)?;
    } else {
        for c in &checks {
            println!(
                "{} {:<18} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
            if let Some(fix) = &c.fix {
                println!("     {:<18} fix: {fix}", "");
            }
        }
    }
    Ok(if checks.iter().all(|c| c.ok) {
        exit::OK
    } else {
        exit::FAILURE
    })
}

/// Ctrl-C and SIGTERM handlers: what makes teardown on an interrupt possible.
pub fn install_interrupt() -> Result<crate::interrupt::Interrupt, Failure> {
    crate::interrupt::Interrupt::install().map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("cannot handle signals: {e}"),
            "trellis needs SIGINT and SIGTERM handlers to tear clusters down",
        )
    })
}
