//! A kinder-style kubeadm upgrade of a kind cluster, node by node, in the order the
//! kubeadm upgrade guide gives: the first control-plane node (`kubeadm upgrade
//! apply`), the other control-plane nodes, then the workers (`kubeadm upgrade node`).
//! On each node the new kubeadm, kubelet and kubectl (and any images to preload) are
//! copied into the node container, kubeadm is replaced and run — it rewrites the
//! node's control-plane static pods and kubelet configuration — then the kubelet is
//! replaced and restarted, and the node must come back Ready at the new version.
//!
//! kinder bakes the new version into a node-image variant beforehand; trellis copies
//! it into the running nodes instead, so any kind node image can be upgraded to any
//! version built with `k8s/build.sh --node-binaries`.

use super::access::{self, Access};
use super::provider::{Endpoint, Upgradable, UpgradeStep, UpgradeTarget, UpgradeUnit};
use super::ClusterError;
use crate::interrupt::Interrupt;
use crate::process::Captured;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the new version's files wait inside a node.
const STAGING: &str = "/kind/trellis-upgrade";
/// The programs an upgrade copies into every node.
const PROGRAMS: [&str; 3] = ["kubeadm", "kubelet", "kubectl"];
/// kind's labels on its node containers.
const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
const ROLE_LABEL: &str = "io.x-k8s.kind.role";

/// The container engine CLI kind's nodes run under, with a deadline per command.
#[derive(Debug, Clone)]
pub struct Docker {
    pub program: PathBuf,
    pub timeout: Duration,
}

impl Docker {
    /// Runs `docker ARGS` about `node`; its stdout, or an error naming the node,
    /// the command and the last lines it printed.
    fn run(
        &self,
        node: &str,
        args: &[&str],
        interrupt: &Interrupt,
    ) -> Result<String, ClusterError> {
        let command = args.join(" ");
        let captured = crate::process::run_captured(
            Command::new(&self.program).args(args),
            self.timeout,
            Some(interrupt),
        )
        .map_err(|source| ClusterError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        let output = match captured {
            Captured::Exited(output) => output,
            Captured::Interrupted => return Err(ClusterError::Interrupted),
            Captured::TimedOut => {
                return Err(ClusterError::NodeTimeout {
                    node: node.into(),
                    command,
                    seconds: self.timeout.as_secs(),
                })
            }
        };
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Err(ClusterError::NodeCommand {
            node: node.into(),
            command,
            code: output.status.code().unwrap_or(-1),
            output: last_lines(&text, 12),
        })
    }

    fn exec(
        &self,
        node: &str,
        cmd: &[&str],
        interrupt: &Interrupt,
    ) -> Result<String, ClusterError> {
        let mut args = vec!["exec", node];
        args.extend_from_slice(cmd);
        self.run(node, &args, interrupt)
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    ControlPlane,
    Worker,
}

/// One node container of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindNode {
    pub name: String,
    pub role: Role,
}

/// The cluster's nodes in upgrade order: control-plane nodes (kind's bootstrap node,
/// `<cluster>-control-plane`, first), then workers; the load balancer in front of an
/// HA control plane is not a node and is left alone. `listing` is `docker ps`'s
/// `NAME<TAB>ROLE` lines.
pub fn parse_nodes(cluster: &str, listing: &str) -> Result<Vec<KindNode>, ClusterError> {
    let bad = |reason: String| ClusterError::KindNodes {
        cluster: cluster.into(),
        reason,
    };
    let mut nodes = Vec::new();
    for line in listing.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, role) = line.split_once('\t').unwrap_or((line, ""));
        let role = match role.trim() {
            "control-plane" => Role::ControlPlane,
            "worker" => Role::Worker,
            "external-load-balancer" => continue,
            other => {
                return Err(bad(format!(
                    "node container {name} has {ROLE_LABEL}={other:?}, not control-plane, worker or external-load-balancer"
                )))
            }
        };
        nodes.push(KindNode {
            name: name.trim().to_string(),
            role,
        });
    }
    // control-plane before control-plane2 before control-plane10.
    nodes.sort_by(|a, b| (a.role, a.name.len(), &a.name).cmp(&(b.role, b.name.len(), &b.name)));
    if !nodes.iter().any(|n| n.role == Role::ControlPlane) {
        return Err(bad("no control-plane node container found".into()));
    }
    Ok(nodes)
}

/// The new version's programs on this machine: `kubeadm`, `kubelet` and `kubectl`,
/// and optionally `images/*.tar` (image archives loaded into every node's
/// containerd, for nodes that cannot pull `registry.k8s.io`).
#[derive(Debug, Clone)]
pub struct UpgradeArtifacts {
    pub dir: PathBuf,
    pub version: String,
}

impl UpgradeArtifacts {
    /// Checks the programs are there and that `kubeadm version -o short` says
    /// `version`, before anything starts.
    pub fn locate(dir: &Path, version: &str) -> Result<UpgradeArtifacts, ClusterError> {
        use std::os::unix::fs::PermissionsExt;
        let bad = |reason: String| ClusterError::UpgradeArtifacts {
            dir: dir.to_path_buf(),
            version: version.into(),
            reason,
        };
        // The version names a directory in the nodes and is part of shell lines run
        // there: only what a release tag holds.
        let tag_like = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+');
        if !version.starts_with('v') || !version.chars().all(tag_like) {
            return Err(bad(format!("{version:?} is not a version like v1.37.2")));
        }
        for program in PROGRAMS {
            let path = dir.join(program);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
                Ok(_) => return Err(bad(format!("{program} is not an executable file"))),
                Err(_) => return Err(bad(format!("no {program}"))),
            }
        }
        let kubeadm = dir.join("kubeadm");
        let said = crate::process::output_within(
            Command::new(&kubeadm).args(["version", "-o", "short"]),
            Duration::from_secs(30),
        )
        .map_err(|e| bad(format!("kubeadm version: {e}")))?;
        let said = String::from_utf8_lossy(&said.stdout).trim().to_string();
        if said != version {
            return Err(bad(format!("kubeadm version -o short says {said:?}")));
        }
        Ok(UpgradeArtifacts {
            dir: dir.to_path_buf(),
            version: version.into(),
        })
    }

    /// Image archives to preload, in name order.
    fn images(&self) -> Vec<PathBuf> {
        let mut tars: Vec<PathBuf> = std::fs::read_dir(self.dir.join("images"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tar"))
            .collect();
        tars.sort();
        tars
    }
}

/// A kind cluster being upgraded: its nodes, what they run now, and the way in.
pub struct KindUpgrade {
    pub docker: Docker,
    pub artifacts: UpgradeArtifacts,
    pub access: Access,
    pub nodes: Vec<KindNode>,
    /// What the nodes run now (`/kind/version` of the first control-plane node).
    pub version: String,
    /// How long a node may take to come back Ready after its kubelet restarts.
    pub ready_timeout: Duration,
}

impl KindUpgrade {
    /// Finds the cluster's node containers and the version they run.
    pub fn discover(
        docker: Docker,
        artifacts: UpgradeArtifacts,
        access: Access,
        cluster: &str,
        ready_timeout: Duration,
        interrupt: &Interrupt,
    ) -> Result<KindUpgrade, ClusterError> {
        let filter = format!("label={CLUSTER_LABEL}={cluster}");
        let format = format!("{{{{.Names}}}}\t{{{{.Label \"{ROLE_LABEL}\"}}}}");
        let listing = docker.run(
            cluster,
            &["ps", "--all", "--filter", &filter, "--format", &format],
            interrupt,
        )?;
        let nodes = parse_nodes(cluster, &listing)?;
        let version = docker
            .exec(&nodes[0].name, &["cat", "/kind/version"], interrupt)?
            .trim()
            .to_string();
        Ok(KindUpgrade {
            docker,
            artifacts,
            access,
            nodes,
            version,
            ready_timeout,
        })
    }

    pub fn order(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn rank(&self, node: &str) -> u8 {
        match self.nodes.iter().find(|n| n.name == node).map(|n| n.role) {
            Some(Role::ControlPlane) => 0,
            _ => 1,
        }
    }

    /// One node to `target`: copy, `kubeadm upgrade`, new kubelet, Ready again.
    pub fn upgrade_node(
        &mut self,
        node: &str,
        target: &UpgradeTarget,
        interrupt: &Interrupt,
    ) -> Result<UpgradeStep, ClusterError> {
        let version = target.version.as_str();
        if target.emulated_version.is_some() {
            return Err(ClusterError::KindNodes {
                cluster: node.into(),
                reason: "--emulated-version is not supported on kind: kubeadm sets the control plane's flags".into(),
            });
        }
        if version != self.artifacts.version {
            return Err(ClusterError::UpgradeArtifacts {
                dir: self.artifacts.dir.clone(),
                version: version.into(),
                reason: format!("these are {}'s programs", self.artifacts.version),
            });
        }
        let first_control_plane = self.nodes.first().is_some_and(|n| n.name == node);
        let staging = format!("{STAGING}/{version}");
        let d = &self.docker;
        d.exec(
            node,
            &["mkdir", "-p", &format!("{staging}/images")],
            interrupt,
        )?;
        let images = self.artifacts.images();
        let programs = PROGRAMS
            .iter()
            .map(|p| (self.artifacts.dir.join(p), format!("{staging}/{p}")));
        let archives = images.iter().map(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            (p.clone(), format!("{staging}/images/{name}"))
        });
        for (from, to) in programs.chain(archives.clone()) {
            let from = from.display().to_string();
            d.run(node, &["cp", &from, &format!("{node}:{to}")], interrupt)?;
        }
        for (_, archive) in archives {
            // How `kind load image-archive` loads them: into containerd's k8s.io
            // namespace, where the kubelet's images live.
            d.exec(
                node,
                &[
                    "ctr",
                    "--namespace=k8s.io",
                    "images",
                    "import",
                    "--all-platforms",
                    &archive,
                ],
                interrupt,
            )?;
        }
        d.exec(
            node,
            &["sh", "-c", &install(&staging, &["kubeadm"])],
            interrupt,
        )?;
        // kind makes its nodes with kubeadm's preflight skipped (a container fails
        // several host checks); the upgrade keeps to that. Version skew is checked
        // by trellis before anything starts.
        let kubeadm: Vec<&str> = if first_control_plane {
            vec![
                "kubeadm",
                "upgrade",
                "apply",
                version,
                "--yes",
                "--ignore-preflight-errors=all",
            ]
        } else {
            vec![
                "kubeadm",
                "upgrade",
                "node",
                "--ignore-preflight-errors=all",
            ]
        };
        let upgrading = Instant::now();
        d.exec(node, &kubeadm, interrupt)?;
        let upgraded_after = upgrading.elapsed();
        d.exec(
            node,
            &["sh", "-c", &install(&staging, &["kubelet", "kubectl"])],
            interrupt,
        )?;
        d.exec(node, &["systemctl", "daemon-reload"], interrupt)?;
        d.exec(node, &["systemctl", "restart", "kubelet"], interrupt)?;
        let ready_after = access::runtime()?.block_on(access::wait_node_at_version(
            &self.access,
            node,
            version,
            self.ready_timeout,
            interrupt,
        ))?;
        d.exec(
            node,
            &["sh", "-c", &format!("echo {version} > /kind/version")],
            interrupt,
        )?;
        let from = self.version.clone();
        if self.nodes.last().is_some_and(|n| n.name == node) {
            self.version = version.to_string();
        }
        Ok(UpgradeStep {
            component: node.to_string(),
            unit: UpgradeUnit::Node,
            from,
            to: version.to_string(),
            emulated_version: None,
            stopped_after: upgraded_after.as_secs_f64(),
            ready_after: ready_after.as_secs_f64(),
        })
    }
}

impl Upgradable for KindUpgrade {
    fn version(&self) -> String {
        self.version.clone()
    }

    fn upgrade_order(&self) -> Vec<String> {
        self.order()
    }

    fn policy_rank(&self, node: &str) -> u8 {
        self.rank(node)
    }

    fn upgrade(
        &mut self,
        node: &str,
        target: &UpgradeTarget,
        interrupt: &Interrupt,
    ) -> Result<UpgradeStep, ClusterError> {
        self.upgrade_node(node, target, interrupt)
    }

    fn endpoint(&self) -> Result<Endpoint, ClusterError> {
        access::runtime()?.block_on(self.access.endpoint())
    }
}

/// A shell line that puts staged programs in place: copied beside the old one, then
/// renamed over it, so a running kubelet's binary is never written into.
fn install(staging: &str, programs: &[&str]) -> String {
    programs
        .iter()
        .map(|p| format!("cp {staging}/{p} /usr/bin/{p}.new && chmod 0755 /usr/bin/{p}.new && mv -f /usr/bin/{p}.new /usr/bin/{p}"))
        .collect::<Vec<_>>()
        .join(" && ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_come_control_plane_first_and_the_load_balancer_is_skipped() {
        let listing = "c-worker2\tworker\nc-control-plane2\tcontrol-plane\nc-external-load-balancer\texternal-load-balancer\nc-control-plane10\tcontrol-plane\nc-worker\tworker\nc-control-plane\tcontrol-plane\n";
        let names: Vec<String> = parse_nodes("c", listing)
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(
            names,
            [
                "c-control-plane",
                "c-control-plane2",
                "c-control-plane10",
                "c-worker",
                "c-worker2"
            ]
        );
        let e = parse_nodes("c", "c-worker\tworker\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no control-plane node"), "{e}");
        let e = parse_nodes("c", "c-x\tgremlin\n").unwrap_err().to_string();
        assert!(e.contains("\"gremlin\""), "{e}");
    }

    #[test]
    fn a_version_that_is_not_a_tag_is_refused_before_any_program_runs() {
        let dir = tempfile::tempdir().unwrap();
        let e = UpgradeArtifacts::locate(dir.path(), "v1.37.2-$(reboot)").unwrap_err();
        assert!(
            e.to_string().contains("is not a version like v1.37.2"),
            "{e}"
        );
    }

    #[test]
    fn installing_renames_over_the_old_program() {
        assert_eq!(
            install("/s", &["kubelet"]),
            "cp /s/kubelet /usr/bin/kubelet.new && chmod 0755 /usr/bin/kubelet.new && mv -f /usr/bin/kubelet.new /usr/bin/kubelet"
        );
    }
}
