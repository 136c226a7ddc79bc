//! Scratch directories for archives being extracted and files being fetched.
//!
//! A scratch directory is named for the process that owns it
//! (`trellis-extract-<pid>-…`, `trellis-fetch-<pid>-…`) and is removed when dropped.
//! Ingest also removes them when it is stopped by SIGINT or SIGTERM
//! ([`clean_up_on_signals`]: gigabytes of extracted archive must not stay in /tmp),
//! and the next ingest removes those of a process that was killed outright
//! ([`sweep_orphans`]: no process with that pid is alive any more).

use super::IngestError;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Scratch directories of this process that exist right now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The kinds of scratch directory, as their names begin.
const KINDS: [&str; 2] = ["trellis-extract-", "trellis-fetch-"];

/// Entries of the temporary directory looked at by one sweep.
const MAX_SWEPT_ENTRIES: usize = 100_000;

/// A scratch directory, removed with everything in it when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    dir: Option<tempfile::TempDir>,
}

impl ScratchDir {
    /// A new scratch directory of `kind` ("extract" or "fetch") in the temporary
    /// directory.
    pub fn new(kind: &str) -> Result<ScratchDir, IngestError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("trellis-{kind}-{}-", std::process::id()))
            .tempdir()
            .map_err(|e| IngestError::Io {
                path: std::env::temp_dir(),
                source: e,
            })?;
        live().push(dir.path().to_path_buf());
        Ok(ScratchDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            live().retain(|p| *p != path);
            drop(dir);
        }
    }
}

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// On SIGINT or SIGTERM: remove this process's scratch directories, then exit with
/// the shell's status for the signal (130, 143). The store needs nothing: a build
/// is written in one transaction, which an exit mid-way rolls back.
pub fn clean_up_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("scratch-cleanup".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                for dir in live().drain(..) {
                    // Files may still be appearing in it: a second pass catches them.
                    for _ in 0..2 {
                        if std::fs::remove_dir_all(&dir).is_ok() || !dir.exists() {
                            break;
                        }
                    }
                }
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Removes scratch directories left in `temp` by trellis processes that no longer
/// run (killed with SIGKILL, or the machine went down). Returns how many.
pub fn sweep_orphans(temp: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten().take(MAX_SWEPT_ENTRIES) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = KINDS
            .iter()
            .find_map(|k| name.strip_prefix(k))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = entry.file_type().is_ok_and(|t| t.is_dir());
        if ours
            && pid != std::process::id()
            && !alive(pid)
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Whether a process with this pid exists (Linux: /proc; elsewhere assume it does,
/// so nothing is removed that might be in use).
fn alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_processs_scratch_is_swept_and_a_live_ones_kept() {
        let temp = tempfile::tempdir().unwrap();
        // pid 0 is never a process's; our own pid is alive.
        let dead = temp.path().join("trellis-extract-0-abc");
        let mine = temp
            .path()
            .join(format!("trellis-fetch-{}-abc", std::process::id()));
        let other = temp.path().join("unrelated-0-abc");
        for d in [&dead, &mine, &other] {
            std::fs::create_dir_all(d.join("inner")).unwrap();
        }
        assert_eq!(sweep_orphans(temp.path()), 1);
        assert!(!dead.exists() && mine.exists() && other.exists());
    }

    #[test]
    fn a_scratch_dir_is_registered_until_dropped() {
        let s = ScratchDir::new("extract").unwrap();
        let path = s.path().to_path_buf();
        assert!(path.is_dir());
        assert!(live().contains(&path));
        drop(s);
        assert!(!path.exists() && !live().contains(&path));
    }
}
