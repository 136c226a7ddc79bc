//! Waiting for a child process under a deadline, stopping early on Ctrl-C/SIGTERM:
//! the one wait loop that kind commands, test attempts and e2e.test share.

use crate::interrupt::Interrupt;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How a wait ended. For `TimedOut` and `Interrupted` the child has been killed and
/// reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Exited(ExitStatus),
    TimedOut,
    Interrupted,
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
            let _ = child.kill();
            let _ = child.wait();
            return Ok(ended);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}
