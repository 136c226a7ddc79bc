//! Loading many jobs' grids at once: one read connection per thread.

use super::{Location, Store, StoreError};
use crate::model::{Grid, Span};

/// Loads the grids of `jobs` (the builds `span` takes, see [`Store::grid`]) from the
/// store at `at`, using up to `threads` connections.
pub fn load_grids(
    at: impl Into<Location>,
    jobs: &[String],
    span: Span,
    threads: usize,
) -> Result<Vec<Grid>, StoreError> {
    let at = at.into();
    let threads = threads.clamp(1, jobs.len().max(1));
    let names = Store::open(&at)?.test_names()?;
    let chunks: Vec<Vec<(usize, &String)>> = (0..threads)
        .map(|t| {
            jobs.iter()
                .enumerate()
                .filter(|(i, _)| i % threads == t)
                .collect()
        })
        .collect();
    let results: Vec<Result<Vec<(usize, Grid)>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let names = &names;
                let at = &at;
                s.spawn(move || {
                    let store = Store::open(at)?;
                    chunk
                        .iter()
                        .map(|(i, job)| Ok((*i, store.grid(job, span, names)?)))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new())))
            .collect()
    });
    let mut grids: Vec<(usize, Grid)> = Vec::new();
    for r in results {
        grids.extend(r?);
    }
    grids.sort_by_key(|g| g.0);
    Ok(grids.into_iter().map(|g| g.1).collect())
}
