//! Ctrl-C and SIGTERM as a flag that long-running steps poll, so `trellis run` can
//! stop what it is doing and still tear the cluster down. A second signal while the
//! first is being handled ends the process at once (exit 130), as users expect.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Which signal asked trellis to stop, if any. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Installs handlers for SIGINT and SIGTERM.
    pub fn install() -> std::io::Result<Interrupt> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let this = Interrupt::default();
        let seen = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as it was before this signal.
            signal_hook::flag::register_conditional_shutdown(sig, 130, seen.clone())?;
            signal_hook::flag::register(sig, seen.clone())?;
            signal_hook::flag::register_usize(sig, this.signal.clone(), sig as usize)?;
        }
        Ok(this)
    }

    /// The signal number, once one arrived.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    pub fn is_set(&self) -> bool {
        self.signal().is_some()
    }

    /// Marks the run as interrupted (for tests and for internal deadlines).
    pub fn trigger(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::SeqCst);
    }

    /// The shell's exit status for death by this signal: 128 + its number.
    pub fn exit_code(&self) -> Option<i32> {
        self.signal().map(|s| 128 + s)
    }
}
