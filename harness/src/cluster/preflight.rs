//! Preflight: what kind needs from the host, checked before minutes are spent, each
//! failure with its fix.

use serde::Serialize;
use std::path::Path;
use std::process::Command;

/// inotify limits kind's docs ask for (many nodes watch many files).
pub const MIN_MAX_USER_WATCHES: u64 = 524_288;
pub const MIN_MAX_USER_INSTANCES: u64 = 512;
/// Room for node images and container layers.
pub const MIN_FREE_DISK_BYTES: u64 = 10 << 30;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A check's result; `fix` is shown only when it failed.
    pub fn new(name: &'static str, ok: bool, detail: String, fix: &str) -> Check {
        Check {
            name,
            ok,
            detail,
            fix: (!ok).then(|| fix.to_string()),
        }
    }
}

fn check(name: &'static str, ok: bool, detail: String, fix: &str) -> Check {
    Check::new(name, ok, detail, fix)
}

/// Runs `program args…` and returns its first output line, if it succeeds.
fn version_of(program: &Path, args: &[&str]) -> Result<String, String> {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            Ok(text.lines().next().unwrap_or("").trim().to_string())
        }
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .trim()
            .to_string()),
        Err(e) => Err(e.to_string()),
    }
}

pub struct Tools<'a> {
    pub docker: &'a Path,
    pub kind: &'a Path,
    pub kubectl: &'a Path,
}

/// Every check, in the order a person would fix them.
pub fn run(tools: &Tools<'_>, proc_sys: &Path, disk: &Path, host_ports: &[u16]) -> Vec<Check> {
    let mut checks = Vec::new();
    let docker = version_of(tools.docker, &["info", "--format", "{{.ServerVersion}}"]);
    checks.push(check(
        "docker",
        docker.is_ok(),
        match &docker {
            Ok(v) => format!("engine {v} reachable"),
            Err(e) => format!("no engine: {e}"),
        },
        "start the Docker daemon (or podman with KIND_EXPERIMENTAL_PROVIDER=podman)",
    ));
    for (name, program, args, fix) in [
        (
            "kind",
            tools.kind,
            &["version"][..],
            "install kind: go install sigs.k8s.io/kind@latest",
        ),
        (
            "kubectl",
            tools.kubectl,
            &["version", "--client"][..],
            "install kubectl from https://dl.k8s.io",
        ),
    ] {
        let v = version_of(program, args);
        checks.push(check(
            name,
            v.is_ok(),
            v.clone().unwrap_or_else(|e| format!("not usable: {e}")),
            fix,
        ));
    }
    for (file, min) in [
        ("max_user_watches", MIN_MAX_USER_WATCHES),
        ("max_user_instances", MIN_MAX_USER_INSTANCES),
    ] {
        let path = proc_sys.join("fs/inotify").join(file);
        let value: Option<u64> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        checks.push(check(
            if file == "max_user_watches" {
                "inotify watches"
            } else {
                "inotify instances"
            },
            value.is_some_and(|v| v >= min),
            match value {
                Some(v) => format!("fs.inotify.{file} = {v} (need >= {min})"),
                None => format!("cannot read {}", path.display()),
            },
            &format!("sudo sysctl fs.inotify.{file}={min}"),
        ));
    }
    let free = free_bytes(disk);
    checks.push(check(
        "free disk",
        free.is_some_and(|f| f >= MIN_FREE_DISK_BYTES),
        match free {
            Some(f) => format!(
                "{:.1} GiB free under {} (need 10)",
                f as f64 / (1u64 << 30) as f64,
                disk.display()
            ),
            None => format!("cannot stat {}", disk.display()),
        },
        "free space (docker system prune) or point TMPDIR elsewhere",
    ));
    for port in host_ports {
        let free = std::net::TcpListener::bind(("0.0.0.0", *port)).is_ok();
        checks.push(check(
            "host port",
            free,
            format!(
                "port {port} (extraPortMappings) is {}",
                if free { "free" } else { "in use" }
            ),
            &format!("stop what listens on {port}, or change hostPort in the kind config"),
        ));
    }
    checks
}

fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and s a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
}
