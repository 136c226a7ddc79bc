//! Copying every build from one store to another (`trellis store migrate`): SQLite to
//! PostgreSQL when a CI fleet outgrows one file, and back.
//!
//! Build by build, each in its own transaction on the destination, so memory stays
//! one build's worth and an interrupted copy keeps what it finished; the next run of
//! the same copy skips what is there (re-ingest is a no-op), which makes it both
//! resumable and idempotent.

use super::{BuildDetail, InsertOutcome, Store, StoreError};
use crate::model::{CellStatus, OVERALL_ROW, POD_ROW};
use std::collections::HashSet;

/// How far a copy has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyProgress {
    /// Builds in the source.
    pub total: usize,
    /// Builds written to the destination by this copy.
    pub copied: usize,
    /// Builds the destination held already (from an earlier, interrupted copy).
    pub already: usize,
    /// Cells written.
    pub cells: usize,
}

/// Copies every build of `from` into `to`, exactly: cells (messages, durations,
/// attempts), metadata, counts, measurements and when each was first stored.
/// `progress` is called after each build.
pub fn copy_store(
    from: &Store,
    to: &mut Store,
    mut progress: impl FnMut(&CopyProgress),
) -> Result<CopyProgress, StoreError> {
    let runs = from.runs(None)?;
    let there: HashSet<(String, String)> = to
        .runs(None)?
        .into_iter()
        .map(|r| (r.job, r.build))
        .collect();
    let mut done = CopyProgress {
        total: runs.len(),
        ..CopyProgress::default()
    };
    for run in &runs {
        let Some(detail) = from.backend.build_detail(&run.job, &run.build)? else {
            // Deleted while copying (nothing deletes builds today): nothing to copy.
            continue;
        };
        let ingested_at = detail.ingested_at;
        // A build still running when stored is replaced by a newer reading of it, so
        // it is copied again only when the source holds a newer reading than the
        // destination (else a second copy would rewrite every running build).
        if there.contains(&(run.job.clone(), run.build.clone())) && is_provisional(&detail) {
            let theirs = to.backend.build_detail(&run.job, &run.build)?;
            if theirs.is_some_and(|t| t.ingested_at >= ingested_at) {
                done.already += 1;
                progress(&done);
                continue;
            }
        }
        match to.insert_build_at(&detail.into_build(), ingested_at)? {
            InsertOutcome::Inserted { cells } | InsertOutcome::Updated { cells } => {
                done.copied += 1;
                done.cells += cells;
            }
            InsertOutcome::AlreadyStored => done.already += 1,
        }
        progress(&done);
    }
    Ok(done)
}

/// Whether a stored build was still running when read (a RUNNING `Overall` or `Pod`
/// cell), as the stores judge it when replacing one.
fn is_provisional(detail: &BuildDetail) -> bool {
    detail
        .cells
        .iter()
        .any(|c| (c.test == OVERALL_ROW || c.test == POD_ROW) && c.status == CellStatus::Running)
}
