//! The `kind` provider: shells out to the kind CLI. kind's `--wait` returns 0 even
//! when it times out, and it reports failures as an `ERROR:` line followed by the
//! failing command's output; both are handled here.

use super::{ClusterError, NAME_PREFIX};
use crate::interrupt::Interrupt;
use crate::process::Captured;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The kind CLI with a deadline for each invocation.
#[derive(Debug, Clone)]
pub struct Kind {
    pub program: PathBuf,
    pub timeout: Duration,
}

/// What `kind create cluster` is asked for.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub config: PathBuf,
    /// Node image; `node_image_for` gives the one of a Kubernetes version.
    pub image: Option<String>,
    pub kubeconfig: PathBuf,
}

/// kind's published node image for a Kubernetes version (`v1.31.0` → `kindest/node:v1.31.0`).
pub fn node_image_for(version: &str) -> String {
    let v = version.trim();
    let v = if v.starts_with('v') {
        v.to_string()
    } else {
        format!("v{v}")
    };
    format!("kindest/node:{v}")
}

/// A unique cluster name that carries its creation time (for the janitor):
/// `trellis-<unix seconds>-<4 hex>`.
pub fn new_cluster_name(now: i64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{NAME_PREFIX}{now}-{salt:04x}")
}

/// When a trellis cluster was created, from its name — only for a name exactly in
/// trellis's own format (`trellis-<unix seconds>-<4 lowercase hex>`), so the janitor
/// never takes `trellis-2-production` or `trellis-1` for one of its own.
pub fn created_at(name: &str) -> Option<i64> {
    let (secs, salt) = name.strip_prefix(NAME_PREFIX)?.split_once('-')?;
    let digits = secs.len() >= 9 && secs.len() <= 11 && secs.bytes().all(|b| b.is_ascii_digit());
    let hex = salt.len() == 4 && salt.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !(digits && hex) {
        return None;
    }
    secs.parse().ok()
}

impl Kind {
    fn run(&self, stage: &'static str, args: &[&str]) -> Result<String, ClusterError> {
        self.run_until(stage, args, &Interrupt::default())
    }

    /// Runs one kind command; kills it at the deadline or when `interrupt` is set.
    fn run_until(
        &self,
        stage: &'static str,
        args: &[&str],
        interrupt: &Interrupt,
    ) -> Result<String, ClusterError> {
        // Its own process group: at the deadline kind and whatever it started go,
        // so nothing keeps the output pipes open past it.
        let spawn_error = |source| ClusterError::Spawn {
            program: self.program.display().to_string(),
            source,
        };
        let captured = crate::process::run_captured(
            Command::new(&self.program).args(args),
            self.timeout,
            Some(interrupt),
        )
        .map_err(spawn_error)?;
        let output = match captured {
            Captured::Exited(output) => output,
            Captured::Interrupted => return Err(ClusterError::Interrupted),
            Captured::TimedOut => {
                return Err(ClusterError::Timeout {
                    stage,
                    seconds: self.timeout.as_secs(),
                })
            }
        };
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(ClusterError::Kind {
            stage,
            code: output.status.code().unwrap_or(-1),
            summary: error_summary(&String::from_utf8_lossy(&output.stderr)),
        })
    }

    pub fn create(&self, req: &CreateRequest) -> Result<(), ClusterError> {
        self.create_interruptible(req, &Interrupt::default())
    }

    /// `kind create cluster`, stopped early by Ctrl-C or SIGTERM.
    pub fn create_interruptible(
        &self,
        req: &CreateRequest,
        interrupt: &Interrupt,
    ) -> Result<(), ClusterError> {
        let config = req.config.display().to_string();
        let kubeconfig = req.kubeconfig.display().to_string();
        let mut args = vec![
            "create",
            "cluster",
            "--name",
            &req.name,
            "--config",
            &config,
            "--kubeconfig",
            &kubeconfig,
            "--retain",
        ];
        if let Some(image) = &req.image {
            args.extend(["--image", image.as_str()]);
        }
        // --retain keeps failed nodes for `export logs`; trellis deletes them after.
        self.run_until("create cluster", &args, interrupt)
            .map(|_| ())
    }

    pub fn export_logs(&self, name: &str, dir: &Path) -> Result<(), ClusterError> {
        let dir = dir.display().to_string();
        self.run("export logs", &["export", "logs", &dir, "--name", name])
            .map(|_| ())
    }

    pub fn delete(&self, name: &str) -> Result<(), ClusterError> {
        self.run("delete cluster", &["delete", "cluster", "--name", name])
            .map(|_| ())
    }

    pub fn clusters(&self) -> Result<Vec<String>, ClusterError> {
        let out = self.run("get clusters", &["get", "clusters"])?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("No kind clusters"))
            .map(str::to_string)
            .collect())
    }

    /// Deletes trellis clusters created more than `max_age` before `now`; returns
    /// their names. Clusters not made by trellis are never touched.
    pub fn janitor(
        &self,
        now: i64,
        max_age: Duration,
        dry_run: bool,
    ) -> Result<Vec<String>, ClusterError> {
        let mut removed = Vec::new();
        for name in self.clusters()? {
            let Some(created) = created_at(&name) else {
                continue;
            };
            if now - created < max_age.as_secs() as i64 {
                continue;
            }
            if !dry_run {
                self.delete(&name)?;
            }
            removed.push(name);
        }
        Ok(removed)
    }
}

/// kind's `ERROR: …` line and the `Command Output: …` after it, else the last lines.
pub fn error_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut picked: Vec<&str> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("ERROR:") || l.starts_with("Command Output:") {
            picked.push(l.trim());
            // Command Output continues on the following lines until a blank one.
            if l.starts_with("Command Output:") {
                picked.extend(
                    lines[i + 1..]
                        .iter()
                        .take_while(|x| !x.trim().is_empty())
                        .take(10)
                        .map(|x| x.trim()),
                );
            }
        }
    }
    if picked.is_empty() {
        picked = lines.iter().rev().take(5).rev().map(|l| l.trim()).collect();
    }
    picked.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_images_and_errors() {
        let name = new_cluster_name(1_700_000_000);
        assert!(name.starts_with("trellis-1700000000-"), "{name}");
        assert_eq!(created_at(&name), Some(1_700_000_000));
        assert_eq!(created_at("kind"), None);
        // Names merely starting with the prefix are someone else's.
        for other in [
            "trellis-2-production",
            "trellis-1",
            "trellis-1700000000-prod",
            "trellis-1700000000-7e14-x",
            "trellis-1700000000-7E14",
        ] {
            assert_eq!(created_at(other), None, "{other}");
        }
        assert_eq!(node_image_for("1.31.0"), "kindest/node:v1.31.0");
        let stderr = "Creating cluster \"x\" ...\n ✗ Starting control-plane 🕹️\nERROR: failed to create cluster: failed to init node with kubeadm\nCommand Output: I1122 kubeadm init\n[kubelet-check] timed out\n\nStack Trace: ...";
        assert_eq!(
            error_summary(stderr),
            "ERROR: failed to create cluster: failed to init node with kubeadm | Command Output: I1122 kubeadm init | [kubelet-check] timed out"
        );
    }
}
