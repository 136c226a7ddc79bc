//! Reading a job's builds and cells back as a grid, for analysis.

use super::SqliteStore;
use crate::model::{CellStatus, Column, CountBucket, Counts, Grid, Span};
use crate::store::assemble::{take_span, GridAssembler, SpanBuild, SpanColumns};
use crate::store::{BuildInfo, StoreError, INFRA_MESSAGE};
use rusqlite::{params, OptionalExtension};

impl SqliteStore {
    /// Every job name in the store.
    pub(super) fn jobs(&self) -> Result<Vec<String>, StoreError> {
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

    /// Jobs with at least one PR build (pre-submit jobs), by name.
    pub(super) fn jobs_with_pr_builds(&self) -> Result<Vec<String>, StoreError> {
        let err = |e| self.err("listing pre-submit jobs", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT j.name FROM jobs j WHERE EXISTS
                 (SELECT 1 FROM builds b WHERE b.job_id = j.id AND b.pr IS NOT NULL)
                 ORDER BY j.name",
            )
            .map_err(err)?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(err)?;
        Ok(names)
    }

    /// Interned test names, indexed by id (ids are dense from 1; index 0 is unused).
    pub(super) fn test_names(&self) -> Result<Vec<String>, StoreError> {
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

    /// The grid of `job` (see [`crate::store::Store::grid`]).
    pub(super) fn grid(&self, job: &str, span: Span, names: &[String]) -> Result<Grid, StoreError> {
        let err = |e| self.err("reading a grid", e);
        let SpanColumns { ids, columns, .. } = self.columns_in(job, span)?;
        let mut grid = GridAssembler::new(job, columns, names);
        let mut packed = self
            .conn
            .prepare_cached("SELECT cells FROM packed_cells WHERE build_id = ?1")
            .map_err(err)?;
        for (col, build_id) in ids.iter().enumerate() {
            let mut rows = packed.query([build_id]).map_err(err)?;
            let Some(row) = rows.next().map_err(err)? else {
                return Err(self.damaged(*build_id, "packed cells are missing".into()));
            };
            let bytes = row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(err)?;
            grid.packed_column(col, bytes)
                .map_err(|e| self.damaged(*build_id, e.to_string()))?;
        }
        Ok(grid.finish())
    }

    /// The builds `span` takes of `job`, newest first: their row ids, their columns
    /// and their stored counts.
    fn columns_in(&self, job: &str, span: Span) -> Result<SpanColumns, StoreError> {
        let err = |e| self.err("reading a grid", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.id, b.build, b.started, b.finished, b.passed, b.commit_id, b.pr,
                        b.n_pass, b.n_fail, b.n_flaky, b.n_skip, b.n_other
                 FROM builds b JOIN jobs j ON j.id = b.job_id
                 WHERE j.name = ?1 AND (?2 IS NULL OR b.started <= ?2)
                 ORDER BY b.started DESC, b.build DESC",
            )
            .map_err(err)?;
        // SQLite sorts unknown start times last when descending, as take_span wants.
        let rows = stmt
            .query_map(params![job, span.until], |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                Ok(SpanBuild {
                    id: r.get(0)?,
                    column: Column {
                        build: r.get(1)?,
                        started: r.get(2)?,
                        finished: r.get(3)?,
                        passed: r.get(4)?,
                        commit: r.get(5)?,
                        pr: r.get::<_, Option<i64>>(6)?.map(|p| p as u64),
                    },
                    counts: Counts {
                        pass: n(7)?,
                        fail: n(8)?,
                        flaky: n(9)?,
                        skip: n(10)?,
                        other: n(11)?,
                    },
                })
            })
            .map_err(err)?;
        take_span(rows, span).map_err(err)
    }

    /// The rows of `tests` only (those stored; others are absent) in `job`'s builds in
    /// `span`, with each build's stored counts: what judging a few tests against a long
    /// history needs, read from the by-test index instead of the whole grid. Messages
    /// are not read: a failing cell whose message is one word (an infra failure) gets
    /// [`INFRA_MESSAGE`] in its place, the others none.
    pub(super) fn rows_of(
        &self,
        job: &str,
        span: Span,
        tests: &[String],
    ) -> Result<(Grid, Vec<Counts>), StoreError> {
        let err = |e| self.err("reading test rows", e);
        let SpanColumns {
            ids,
            columns,
            counts,
        } = self.columns_in(job, span)?;
        let mut grid = Grid::new(job.to_string(), columns);
        let mut test_id = self
            .conn
            .prepare_cached("SELECT id FROM tests WHERE name = ?1")
            .map_err(err)?;
        let mut wanted = Vec::new();
        for name in tests {
            if let Some(id) = test_id
                .query_row([name], |r| r.get::<_, i64>(0))
                .optional()
                .map_err(err)?
            {
                wanted.push((grid.add_row(name.clone()), id));
            }
        }
        // By test through the `cells_by_test` index: a test's results in every build
        // lie together, where by build they are spread over the whole table.
        // Build row id → column, searched 200,000 times for 40 tests × 5,000 builds:
        // a sorted vector, not a SipHash map.
        let mut col_of: Vec<(i64, usize)> =
            ids.iter().enumerate().map(|(c, id)| (*id, c)).collect();
        col_of.sort_unstable();
        let col_of = |build_id: i64| {
            col_of
                .binary_search_by_key(&build_id, |e| e.0)
                .ok()
                .map(|i| col_of[i].1)
        };
        let mut by_test = self
            .conn
            .prepare_cached(
                "SELECT build_id, status, attempts FROM cells INDEXED BY cells_by_test
                 WHERE test_id = ?1",
            )
            .map_err(err)?;
        let mut infra = self
            .conn
            .prepare_cached(
                "SELECT build_id FROM cells INDEXED BY cells_infra WHERE test_id = ?1
                 AND length(message) > 0 AND message NOT GLOB '*[^A-Za-z0-9_]*'",
            )
            .map_err(err)?;
        for &(row, test) in &wanted {
            let mut rows = by_test.query([test]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                let Some(col) = col_of(r.get::<_, i64>(0).map_err(err)?) else {
                    continue;
                };
                let status =
                    CellStatus::from_code(r.get(1).map_err(err)?).unwrap_or(CellStatus::Unknown);
                grid.set(row, col, status, None);
                grid.set_attempts(row, col, r.get(2).map_err(err)?);
            }
            let mut rows = infra.query([test]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                if let Some(col) = col_of(r.get::<_, i64>(0).map_err(err)?) {
                    let status = grid.row(row)[col];
                    if status.bucket() == CountBucket::Fail {
                        grid.set(row, col, status, Some(INFRA_MESSAGE.to_string()));
                    }
                }
            }
        }
        Ok((grid, counts))
    }
}

impl SqliteStore {
    /// Source, result, PR and metadata of every build of `job`, by build id.
    pub(super) fn build_infos(
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
