//! Waiting for a child process under a deadline, stopping early on Ctrl-C/SIGTERM:
//! the one wait loop that kind commands, test attempts and e2e.test share.

use crate::interrupt::Interrupt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How a wait ended. For `TimedOut` and `Interrupted` the child has been killed and
/// reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Exited(ExitStatus),
    TimedOut,
    Interrupted,
}

/// Starts the command in a process group of its own, so that [`wait`] can take its
/// children and grandchildren along: a test that forks, or ginkgo's workers, must not
/// outlive a deadline (or write into the next test's log).
pub fn own_group(cmd: &mut Command) -> &mut Command {
    cmd.process_group(0)
}

/// Kills what is left of the process group `pid` leads, if it leads one ([`own_group`]).
/// A pid is never handed out while a group of that id lives, so a child that never
/// led a group gets ESRCH here, harmlessly.
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// How a captured run ended: its output, or why there is none (the process group
/// has been killed).
#[derive(Debug)]
pub enum Captured {
    Exited(std::process::Output),
    TimedOut,
    Interrupted,
}

/// Runs `cmd` to the end with stdin closed and its output captured, in a process
/// group of its own that is killed at `timeout` or when `interrupt` is set.
pub fn run_captured(
    cmd: &mut Command,
    timeout: Duration,
    interrupt: Option<&Interrupt>,
) -> std::io::Result<Captured> {
    use std::io::Read;
    let mut child = own_group(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // Both pipes drained on threads of their own: a child filling one while we
    // read the other would never end.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    Ok(match wait(&mut child, timeout, interrupt)? {
        Waited::Exited(status) => Captured::Exited(std::process::Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }),
        Waited::TimedOut => Captured::TimedOut,
        Waited::Interrupted => Captured::Interrupted,
    })
}

/// Runs `cmd` to the end with its output captured, in a process group of its own
/// that is killed at `timeout`; the error says why there is no output.
pub fn output_within(cmd: &mut Command, timeout: Duration) -> Result<std::process::Output, String> {
    match run_captured(cmd, timeout, None).map_err(|e| format!("cannot start it: {e}"))? {
        Captured::Exited(output) => Ok(output),
        Captured::TimedOut | Captured::Interrupted => {
            Err(format!("did not finish within {} s", timeout.as_secs()))
        }
    }
}

/// Polls `child` until it exits, `timeout` passes or `interrupt` is set. Polling
/// starts fast (a trivial test ends in well under a millisecond) and backs off to 5 ms.
pub fn wait(
    child: &mut Child,
    timeout: Duration,
    interrupt: Option<&Interrupt>,
) -> std::io::Result<Waited> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        if let Some(status) = child.try_wait()? {
            // The leader is reaped, so its pid cannot be reused while the group it
            // named still has members: whatever it left running goes too.
            kill_group(child.id());
            return Ok(Waited::Exited(status));
        }
        let ended = if interrupt.is_some_and(Interrupt::is_set) {
            Some(Waited::Interrupted)
        } else if start.elapsed() >= timeout {
            Some(Waited::TimedOut)
        } else {
            None
        };
        if let Some(ended) = ended {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Ok(ended);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}
