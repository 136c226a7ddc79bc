//! The component processes: started in a process group of their own (a Ctrl-C at the
//! terminal reaches trellis, which then stops them in order), output to a log file in
//! the cluster's state directory, and stopped with SIGTERM, then SIGKILL at a
//! deadline. When trellis owns the cluster for one run, each component also gets
//! `PR_SET_PDEATHSIG`, so even a `kill -9` of trellis takes the components with it.

use super::{ComponentLog, LocalError};
use crate::interrupt::Interrupt;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private mount namespace for kwok: "containers" see a fresh `/tmp` with
/// `/tmp/results` bound to a directory of the cluster's, where a test can put the
/// files a real container would have written (e.g. the conformance image's results).
#[derive(Debug, Clone)]
pub struct ContainerFiles {
    pub results: PathBuf,
}

/// One running component.
#[derive(Debug)]
pub struct Component {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
    /// What it was started with, so an upgrade can start it again the same way.
    pub args: Vec<String>,
}

/// How a component is started.
pub struct Launch<'a> {
    pub name: &'a str,
    pub program: &'a Path,
    pub args: Vec<String>,
    pub log: PathBuf,
    /// The cluster outlives trellis (`trellis up`): no parent-death signal.
    pub detached: bool,
    pub container_files: Option<&'a ContainerFiles>,
}

fn cstring(text: &str) -> Result<CString, LocalError> {
    CString::new(text).map_err(|_| LocalError::Io {
        path: PathBuf::from(text),
        source: std::io::Error::other("path contains a NUL byte"),
    })
}

pub fn spawn(launch: Launch<'_>) -> Result<Component, LocalError> {
    let io = |source| LocalError::Io {
        path: launch.log.clone(),
        source,
    };
    let out = std::fs::File::create(&launch.log).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    // With a private /tmp the program itself may be hidden (a cache under /tmp): run it
    // through a descriptor opened now, which the mount cannot hide. Kept open until
    // the spawn returns; the exec resolves it before closing it (it is close-on-exec).
    let program_file = match launch.container_files {
        Some(_) => {
            Some(
                std::fs::File::open(launch.program).map_err(|source| LocalError::Spawn {
                    program: launch.program.display().to_string(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let mut cmd = match &program_file {
        Some(f) => {
            use std::os::fd::AsRawFd;
            let mut c = Command::new(format!("/proc/self/fd/{}", f.as_raw_fd()));
            c.arg0(launch.program);
            c
        }
        None => Command::new(launch.program),
    };
    cmd.args(&launch.args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let detached = launch.detached;
    let mounts = launch
        .container_files
        .map(|f| -> Result<_, LocalError> {
            Ok((
                cstring(&f.results.display().to_string())?,
                cstring("/tmp")?,
                cstring("/tmp/results")?,
                cstring("tmpfs")?,
                cstring("mode=1777")?,
            ))
        })
        .transpose()?;
    // SAFETY: only async-signal-safe system calls run between fork and exec, on
    // strings prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if !detached && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some((results, tmp, target, tmpfs, opts)) = &mounts {
                let check = |rc: libc::c_int| {
                    if rc != 0 {
                        Err(std::io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                };
                check(libc::unshare(libc::CLONE_NEWNS))?;
                check(libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    tmpfs.as_ptr(),
                    tmp.as_ptr(),
                    tmpfs.as_ptr(),
                    0,
                    opts.as_ptr().cast(),
                ))?;
                check(libc::mkdir(target.as_ptr(), 0o755))?;
                check(libc::mount(
                    results.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| LocalError::Spawn {
        program: launch.program.display().to_string(),
        source,
    })?;
    drop(program_file);
    Ok(Component {
        name: launch.name.to_string(),
        child,
        log: launch.log,
        args: launch.args,
    })
}

/// The last `lines` lines of a log, for errors about a component that died.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    // Read only the end: a component that crash-loops can write a lot.
    let start = text.len().saturating_sub(16 * 1024);
    let text = String::from_utf8_lossy(&text[start..]);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Component {
    fn log_tail(&self, lines: usize) -> Box<ComponentLog> {
        Box::new(ComponentLog {
            component: self.name.clone(),
            log: self.log.clone(),
            tail: tail(&self.log, lines),
        })
    }

    /// Fails with the log's tail if the process has already exited.
    pub fn check_alive(&mut self) -> Result<(), LocalError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(LocalError::Exited {
                status: status.to_string(),
                at: self.log_tail(15),
            }),
            _ => Ok(()),
        }
    }
}

/// Polls `ready` every 200 ms until it returns true, the component dies, the deadline
/// passes or the run is interrupted. `ready` errors are the last reason shown.
pub fn wait_until(
    component: &mut Component,
    what: &str,
    deadline: Duration,
    interrupt: &Interrupt,
    mut ready: impl FnMut() -> Result<bool, String>,
) -> Result<Duration, LocalError> {
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    loop {
        component.check_alive()?;
        if interrupt.is_set() {
            return Err(LocalError::Interrupted);
        }
        match ready() {
            Ok(true) => return Ok(start.elapsed()),
            Ok(false) => {}
            Err(e) => last = e,
        }
        if start.elapsed() >= deadline {
            return Err(LocalError::NotReady {
                what: what.to_string(),
                seconds: deadline.as_secs(),
                last,
                at: component.log_tail(10),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Signals every process in `pids`' process groups, and the pids themselves.
/// Sends `signal` once to each pid's process group, or to the pid when it leads no
/// group. Never twice: kube-apiserver takes a second SIGTERM as "exit now", so a
/// group leader signalled as a group *and* as a process (when the two deliveries are
/// not merged by the kernel) skipped its graceful shutdown and dropped connections
/// the front had not yet drained.
fn signal_all(pids: &[i32], signal: i32) {
    for &pid in pids {
        // SAFETY: kill has no memory effects; a gone process is ESRCH, ignored.
        unsafe {
            if libc::kill(-pid, signal) != 0 {
                libc::kill(pid, signal);
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); its state in /proc says it is done.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = state
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'));
    // SAFETY: signal 0 only checks that the process exists.
    !zombie && unsafe { libc::kill(pid, 0) } == 0
}

/// SIGTERM to every pid (and its group), SIGKILL to what is left after `grace`.
/// Returns the pids that needed SIGKILL.
pub fn stop_all(pids: &[i32], grace: Duration) -> Vec<i32> {
    signal_all(pids, libc::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < grace && pids.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    signal_all(&left, libc::SIGKILL);
    left
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const FIXTURE: &str = "TRELLIS_SIGNAL_FIXTURE";
    static SIGNALS: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn count_signal(_: libc::c_int) {
        SIGNALS.fetch_add(1, Ordering::SeqCst);
    }

    /// Run by the test below as a child: counts the real-time signals it receives
    /// for a second and writes the count.
    #[test]
    #[ignore = "fixture for a_group_leader_is_signalled_once"]
    fn signal_counter_fixture() {
        let Some(dir) = std::env::var_os(FIXTURE).map(PathBuf::from) else {
            return;
        };
        // SAFETY: the handler only touches an atomic.
        unsafe {
            libc::signal(
                libc::SIGRTMIN(),
                count_signal as *const () as libc::sighandler_t,
            );
        }
        std::fs::write(dir.join("ready"), "").unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let seen = SIGNALS.load(Ordering::SeqCst).to_string();
        std::fs::write(dir.join("count"), seen).unwrap();
    }

    /// A group leader gets one signal, not one as a group and one as a process. A
    /// real-time signal shows it: unlike two SIGTERMs, two of them are never merged.
    #[test]
    fn a_group_leader_is_signalled_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "cluster::local::process::tests::signal_counter_fixture",
            ])
            .args(["--ignored", "--nocapture"])
            .env(FIXTURE, dir.path())
            .stdout(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !dir.path().join("ready").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "fixture never ready"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_all(&[child.id() as i32], libc::SIGRTMIN());
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
        let seen = std::fs::read_to_string(dir.path().join("count")).unwrap();
        assert_eq!(seen, "1", "signals delivered to the group leader");
    }
}
