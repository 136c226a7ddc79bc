//! The network namespace a local cluster lives in: named (`ip netns add`, so
//! `ip netns exec NAME …` and the janitor can find it), with its own `lo` carrying
//! 10.250.0.x addresses and **no default route**. A dial from inside to anything else
//! (a fake pod IP, a kwok node's address, the internet) fails at once with
//! ENETUNREACH instead of leaving the machine.
//!
//! trellis enters the namespace itself ([`Netns::enter`]) before it starts the
//! components: every thread it starts afterwards and every child process is inside,
//! so the suites, e2e.test and trellis's own kube-rs calls reach 10.250.0.x and
//! nothing else.

use super::LocalError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `ip netns` keeps its named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A named network namespace this run created.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
    /// The namespace trellis was in before [`Netns::enter`], to go back to.
    home: Option<OwnedFd>,
}

fn ip(args: &[&str]) -> Result<(), LocalError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| LocalError::Spawn {
            program: "ip".into(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(LocalError::Netns {
        command: format!("ip {}", args.join(" ")),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

impl Netns {
    /// Creates the namespace with `lo` up and each address as a /32 on `lo`.
    pub fn create(name: &str, addresses: &[String]) -> Result<Netns, LocalError> {
        ip(&["netns", "add", name])?;
        let ns = Netns {
            name: name.to_string(),
            home: None,
        };
        // From here on a failure must remove the namespace: `ns` is returned only
        // when it is whole, so the caller cannot tear it down otherwise.
        let set_up = || -> Result<(), LocalError> {
            ip(&["-n", name, "link", "set", "lo", "up"])?;
            for a in addresses {
                ip(&["-n", name, "addr", "add", &format!("{a}/32"), "dev", "lo"])?;
            }
            Ok(())
        };
        if let Err(e) = set_up() {
            let _ = delete(name);
            return Err(e);
        }
        Ok(ns)
    }

    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Moves the calling thread into the namespace. Threads and processes it starts
    /// afterwards are inside too; ones started before stay outside.
    pub fn enter(&mut self) -> Result<(), LocalError> {
        let home =
            std::fs::File::open("/proc/thread-self/ns/net").map_err(|source| LocalError::Io {
                path: "/proc/thread-self/ns/net".into(),
                source,
            })?;
        setns(&self.path())?;
        self.home = Some(home.into());
        Ok(())
    }

    /// Returns the calling thread to where it was before [`Netns::enter`]; the
    /// namespace and what runs in it stay.
    pub fn leave(&mut self) -> Result<(), LocalError> {
        if let Some(home) = self.home.take() {
            // SAFETY: `home` is an open namespace file descriptor.
            let rc = unsafe { libc::setns(home.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(LocalError::Io {
                    path: "/proc/thread-self/ns/net".into(),
                    source: std::io::Error::last_os_error(),
                });
            }
        }
        Ok(())
    }

    /// Leaves the namespace, then removes its name. The kernel frees it when its
    /// last process ends.
    pub fn delete(mut self) -> Result<(), LocalError> {
        self.leave()?;
        delete(&self.name)
    }
}

fn setns(path: &Path) -> Result<(), LocalError> {
    let file = std::fs::File::open(path).map_err(|source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: `file` is an open namespace file descriptor; setns only changes the
    // calling thread's namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(LocalError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Removes a namespace's name (`ip netns delete`); a missing one is not an error.
pub fn delete(name: &str) -> Result<(), LocalError> {
    if !Path::new(NETNS_DIR).join(name).exists() {
        return Ok(());
    }
    ip(&["netns", "delete", name])
}

/// The named namespaces whose names start with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// The processes inside a named namespace (as `ip netns pids` finds them: by the
/// namespace inode each process's `/proc/PID/ns/net` points at), this one excepted.
pub fn pids(name: &str) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(Path::new(NETNS_DIR).join(name)) else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}
