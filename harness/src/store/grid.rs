//! Reading a job's builds and cells back as a grid, for analysis.

use super::{Store, StoreError};
use crate::model::{CellStatus, CountBucket};
use crate::model::{Column, Grid, Span};
use rusqlite::params;

impl Store {
    /// Every job name in the store.
    pub fn jobs(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM jobs ORDER BY name")
            .map_err(|e| self.err("listing jobs", e))?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(|e| self.err("listing jobs", e))?;
        Ok(names)
    }

    /// Interned test names, indexed by id (ids are dense from 1; index 0 is unused).
    pub fn test_names(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name FROM tests ORDER BY id")
            .map_err(|e| self.err("reading test names", e))?;
        let mut names = vec![String::new()];
        let mut rows = stmt
            .query([])
            .map_err(|e| self.err("reading test names", e))?;
        while let Some(row) = rows.next().map_err(|e| self.err("reading test names", e))? {
            let id: i64 = row.get(0).map_err(|e| self.err("reading test names", e))?;
            let name: String = row.get(1).map_err(|e| self.err("reading test names", e))?;
            let id = id as usize;
            if names.len() <= id {
                names.resize(id + 1, String::new());
            }
            names[id] = name;
        }
        Ok(names)
    }

    /// The grid of `job`: the builds `span` takes (its newest build when none started
    /// inside), newest first; rows sorted by name. Failure messages are kept for failing
    /// cells only.
    pub fn grid(&self, job: &str, span: Span, names: &[String]) -> Result<Grid, StoreError> {
        let err = |e| self.err("reading a grid", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.id, b.build, b.started, b.finished, b.passed, b.commit_id, b.pr
                 FROM builds b JOIN jobs j ON j.id = b.job_id
                 WHERE j.name = ?1 AND (?2 IS NULL OR b.started <= ?2)
                 ORDER BY b.started DESC, b.build DESC",
            )
            .map_err(err)?;
        let mut ids = Vec::new();
        let mut columns = Vec::new();
        let mut rows = stmt.query(params![job, span.until]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            let started: Option<i64> = r.get(2).map_err(err)?;
            // Newest first (SQLite sorts unknown start times last): the first build
            // before the window ends it, kept only when nothing inside came before it.
            let inside = match (span.since, started) {
                (None, _) => true,
                (Some(since), Some(t)) => t >= since,
                (Some(_), None) => false,
            };
            if !inside && !columns.is_empty() {
                break;
            }
            ids.push(r.get::<_, i64>(0).map_err(err)?);
            columns.push(Column {
                build: r.get(1).map_err(err)?,
                started,
                finished: r.get(3).map_err(err)?,
                passed: r.get(4).map_err(err)?,
                commit: r.get(5).map_err(err)?,
                pr: r.get::<_, Option<i64>>(6).map_err(err)?.map(|p| p as u64),
            });
            if !inside {
                break;
            }
        }
        drop(rows);
        let mut grid = Grid::new(job.to_string(), columns);
        // Test ids are dense: a vector beats a hash map on millions of cells.
        let mut row_of: Vec<u32> = vec![u32::MAX; names.len() + 1];
        let mut cells = self
            .conn
            .prepare_cached(
                "SELECT test_id, status, message, attempts FROM cells WHERE build_id = ?1",
            )
            .map_err(err)?;
        for (col, build_id) in ids.iter().enumerate() {
            let mut rows = cells.query([build_id]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                let test = usize::try_from(r.get::<_, i64>(0).map_err(err)?).unwrap_or(0);
                let status =
                    CellStatus::from_code(r.get(1).map_err(err)?).unwrap_or(CellStatus::Unknown);
                if test >= row_of.len() {
                    row_of.resize(test + 1, u32::MAX);
                }
                let row = match row_of[test] {
                    u32::MAX => {
                        let name = names.get(test).cloned().unwrap_or_default();
                        let row = grid.add_row(name);
                        row_of[test] = row as u32;
                        row
                    }
                    row => row as usize,
                };
                let message = if status.bucket() == CountBucket::Fail {
                    r.get::<_, Option<String>>(2).map_err(err)?
                } else {
                    None
                };
                grid.set(row, col, status, message);
                if status == CellStatus::Flaky {
                    grid.set_attempts(row, col, r.get(3).map_err(err)?);
                }
            }
        }
        grid.sort_rows();
        Ok(grid)
    }
}

/// What a build page shows beyond its cells.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    pub source: String,
    pub result: Option<String>,
    pub pr: Option<u64>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Store {
    /// Source, result, PR and metadata of every build of `job`, by build id.
    pub fn build_infos(
        &self,
        job: &str,
    ) -> Result<std::collections::HashMap<String, BuildInfo>, StoreError> {
        let err = |e| self.err("reading build metadata", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.build, b.source, b.result, b.pr, b.metadata FROM builds b
                 JOIN jobs j ON j.id = b.job_id WHERE j.name = ?1",
            )
            .map_err(err)?;
        let mut rows = stmt.query([job]).map_err(err)?;
        let mut out = std::collections::HashMap::new();
        while let Some(r) = rows.next().map_err(err)? {
            let metadata: String = r.get(4).map_err(err)?;
            out.insert(
                r.get::<_, String>(0).map_err(err)?,
                BuildInfo {
                    source: r.get(1).map_err(err)?,
                    result: r.get(2).map_err(err)?,
                    pr: r.get::<_, Option<i64>>(3).map_err(err)?.map(|p| p as u64),
                    metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                },
            );
        }
        Ok(out)
    }
}
