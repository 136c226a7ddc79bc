//! `build-log.txt`: every event's text, stamped, in the build directory the run
//! started.

use super::{text, Event, EventKind, Sink, SinkError};
use std::io::Write;
use std::path::PathBuf;

#[derive(Default)]
pub struct BuildLog {
    file: Option<(PathBuf, std::fs::File)>,
}

impl Sink for BuildLog {
    fn event(&mut self, event: &Event) -> Result<(), SinkError> {
        if let EventKind::RunStarted { build_dir, .. } = &event.kind {
            let path = build_dir.join("build-log.txt");
            let file = std::fs::File::create(&path).map_err(|source| SinkError::Io {
                path: path.clone(),
                source,
            })?;
            self.file = Some((path, file));
        }
        let (Some((path, file)), Some(text)) = (&mut self.file, text::line(&event.kind)) else {
            return Ok(());
        };
        let stamp = event.at.format("%H:%M:%S");
        writeln!(file, "{stamp} {text}").map_err(|source| SinkError::Io {
            path: path.clone(),
            source,
        })?;
        if matches!(event.kind, EventKind::RunFinished(_)) {
            // The log is complete: whatever reads the build next (the store) sees it all.
            file.sync_all().map_err(|source| SinkError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}
