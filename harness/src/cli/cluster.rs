//! `trellis up`, `down`, `janitor` and `preflight`: kind clusters by hand.

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
}

impl KindArgs {
    pub(super) fn cli(&self) -> kind::Kind {
        kind::Kind {
            program: self.kind.clone(),
            timeout: Duration::from_secs(self.kind_timeout),
        }
    }
}

/// Which kind config to use.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// A config name in --configs (single-node, multi-node, ha, ipv6, dual-stack) or a path.
    #[arg(long, default_value = "multi-node")]
    config: String,
    #[arg(long, default_value = "kind-configs", value_name = "DIR")]
    configs: PathBuf,
}

impl ConfigArgs {
    fn load(&self) -> Result<kind_config::KindConfig, crate::cluster::ClusterError> {
        kind_config::load(&kind_config::resolve(&self.config, &self.configs))
    }
}

/// Create a kind cluster (named trellis-<time>-<hex>) from a config in kind-configs/.
///
/// Waits until every node is Ready, then prints the cluster name and leaves its
/// kubeconfig. A cluster that fails to come up is deleted. Delete it with `trellis
/// down NAME`; `trellis janitor` removes any left behind.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
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

pub fn up(args: UpArgs) -> i32 {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let interrupt = match crate::interrupt::Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: cannot handle signals: {e}");
            return exit::FAILURE;
        }
    };
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
        let code = fail(&e);
        return interrupt.exit_code().unwrap_or(code);
    }
    println!("{}", cluster.name);
    eprintln!("all nodes Ready; kubeconfig: {}", args.kubeconfig.display());
    exit::OK
}

/// Delete a kind cluster (export its logs first with --logs DIR).
#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    kind: KindArgs,
    name: String,
    /// Export the cluster's logs here before deleting it.
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,
}

pub fn down(args: DownArgs) -> i32 {
    let cli = args.kind.cli();
    if let Some(dir) = &args.logs {
        if let Err(e) = cli.export_logs(&args.name, dir) {
            // Logs are best effort; the delete must still happen.
            eprintln!("warning: {e}");
        }
    }
    match cli.delete(&args.name) {
        Ok(()) => exit::OK,
        Err(e) => fail(&e),
    }
}

/// Delete trellis-made kind clusters (names starting trellis-) older than --older-than.
#[derive(Debug, clap::Args)]
pub struct JanitorArgs {
    #[command(flatten)]
    kind: KindArgs,
    /// Age in hours after which a trellis cluster is deleted.
    #[arg(long, default_value_t = 6.0, value_name = "HOURS")]
    older_than: f64,
    /// Only list what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

pub fn janitor(args: JanitorArgs) -> i32 {
    let age = Duration::from_secs_f64(args.older_than.max(0.0) * 3600.0);
    match args
        .kind
        .cli()
        .janitor(chrono::Utc::now().timestamp(), age, args.dry_run)
    {
        Ok(removed) => {
            let verb = if args.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            for name in &removed {
                println!("{verb} {name}");
            }
            eprintln!("{} {NAME_PREFIX}* cluster(s) {verb}", removed.len());
            exit::OK
        }
        Err(e) => fail(&e),
    }
}

/// Check what kind needs from this host: docker, kind, kubectl, inotify limits, free
/// disk, and the host ports the config maps. Exit 0 when all pass, 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    #[command(flatten)]
    kind: KindArgs,
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(
        long,
        env = "TRELLIS_DOCKER",
        default_value = "docker",
        value_name = "PATH"
    )]
    docker: PathBuf,
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

pub fn preflight(args: PreflightArgs) -> i32 {
    let ports = match args.config.load() {
        Ok(c) => c.host_ports,
        Err(e) => return fail(&e),
    };
    let tools = preflight::Tools {
        docker: &args.docker,
        kind: &args.kind.kind,
        kubectl: &args.kubectl,
    };
    let checks = preflight::run(
        &tools,
        std::path::Path::new("/proc/sys"),
        &std::env::temp_dir(),
        &ports,
    );
    if args.json {
        let code = super::print_json(&checks);
        if code != exit::OK {
            return code;
        }
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
    if checks.iter().all(|c| c.ok) {
        exit::OK
    } else {
        exit::FAILURE
    }
}

fn fail(e: &crate::cluster::ClusterError) -> i32 {
    eprintln!("error: {e}\n  hint: {}", e.hint());
    exit::FAILURE
}
