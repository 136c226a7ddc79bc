//! Reading back what is stored: the run list and one build's cells.

use super::SqliteStore;
use crate::model::{CellStatus, Counts, Measurement};
use crate::store::{BuildDetail, FutureBuild, RunRow, StoreError, StoredCell};
use rusqlite::{params, OptionalExtension, Row};

const RUN_COLUMNS: &str = "j.name, b.build, b.started, b.finished, b.passed, b.commit_id,
     b.n_pass, b.n_fail, b.n_flaky, b.n_skip, b.n_other";

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        job: r.get(0)?,
        build: r.get(1)?,
        started: r.get(2)?,
        finished: r.get(3)?,
        passed: r.get(4)?,
        commit: r.get(5)?,
        counts: Counts {
            pass: r.get::<_, i64>(6)? as u64,
            fail: r.get::<_, i64>(7)? as u64,
            flaky: r.get::<_, i64>(8)? as u64,
            skip: r.get::<_, i64>(9)? as u64,
            other: r.get::<_, i64>(10)? as u64,
        },
    })
}

impl SqliteStore {
    /// Every stored build (optionally of one job), by job, newest first.
    pub(super) fn runs(&self, job: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id
             WHERE ?1 IS NULL OR j.name = ?1
             ORDER BY j.name, b.started DESC, b.build DESC"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| self.err("listing runs", e))?;
        let rows = stmt
            .query_map([job], run_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err("listing runs", e))?;
        Ok(rows)
    }

    /// One build and its cells, failures first; `None` when not stored.
    pub(super) fn build_detail(
        &self,
        job: &str,
        build: &str,
    ) -> Result<Option<BuildDetail>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS}, b.id, b.result, b.pr, b.source, b.metadata,
                    b.skipped_dropped, b.ingested_at
             FROM builds b JOIN jobs j ON j.id = b.job_id
             WHERE j.name = ?1 AND b.build = ?2"
        );
        let head = self
            .conn
            .query_row(&sql, params![job, build], |r| {
                Ok((
                    run_row(r)?,
                    r.get::<_, i64>(11)?,
                    BuildDetail {
                        run: RunRow::default(),
                        result: r.get(12)?,
                        pr: r.get::<_, Option<i64>>(13)?.map(|p| p as u64),
                        source: r.get(14)?,
                        metadata: serde_json::from_str(&r.get::<_, String>(15)?)
                            .unwrap_or_default(),
                        cells: Vec::new(),
                        skipped_dropped: r.get::<_, i64>(16)?.max(0) as u64,
                        ingested_at: r.get(17)?,
                        measurements: Vec::new(),
                    },
                ))
            })
            .optional()
            .map_err(|e| self.err("reading a build", e))?;
        let Some((run, id, mut detail)) = head else {
            return Ok(None);
        };
        detail.run = run;
        detail.cells = self.cells_of(id)?;
        detail.measurements = self.measurements_of(id)?;
        Ok(Some(detail))
    }

    /// A build's measurements as ingest read them: one item per series.
    fn measurements_of(&self, build_row: i64) -> Result<Vec<Measurement>, StoreError> {
        let err = |e| self.err("reading a build's measurements", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT series, file, labels, unit, stat, value FROM measurements
                 WHERE build_id = ?1 ORDER BY series, stat",
            )
            .map_err(err)?;
        let mut rows = stmt.query([build_row]).map_err(err)?;
        let mut items = crate::store::assemble::MeasurementRows::default();
        while let Some(r) = rows.next().map_err(err)? {
            items.push(
                r.get(0).map_err(err)?,
                r.get(1).map_err(err)?,
                &r.get::<_, String>(2).map_err(err)?,
                r.get(3).map_err(err)?,
                r.get(4).map_err(err)?,
                r.get(5).map_err(err)?,
            );
        }
        Ok(items.finish())
    }

    /// One statistic (`Perc99`, …) of every stored series, optionally of one job and
    /// of builds started before `until`, by job and then build start (oldest first).
    pub(super) fn measurements(
        &self,
        job: Option<&str>,
        stat: &str,
        until: Option<i64>,
    ) -> Result<Vec<crate::model::PerfPoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT j.name, b.build, b.started, b.commit_id, m.series, m.labels, m.unit, m.value
                 FROM measurements m JOIN builds b ON b.id = m.build_id
                 JOIN jobs j ON j.id = b.job_id
                 WHERE m.stat = ?1 AND (?2 IS NULL OR j.name = ?2)
                   AND (?3 IS NULL OR b.started IS NULL OR b.started <= ?3)
                 ORDER BY j.name, b.started, b.build, m.series",
            )
            .map_err(|e| self.err("reading measurements", e))?;
        let rows = stmt
            .query_map(params![stat, job, until], |r| {
                Ok(crate::model::PerfPoint {
                    job: r.get(0)?,
                    build: r.get(1)?,
                    started: r.get(2)?,
                    commit: r.get(3)?,
                    series: r.get(4)?,
                    labels: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
                    unit: r.get(6)?,
                    stat: stat.to_string(),
                    value: r.get(7)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err("reading measurements", e))?;
        Ok(rows)
    }

    fn cells_of(&self, build_row: i64) -> Result<Vec<StoredCell>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.name, c.status, c.duration, c.attempts, c.message
                 FROM cells c JOIN tests t ON t.id = c.test_id WHERE c.build_id = ?1",
            )
            .map_err(|e| self.err("reading cells", e))?;
        let cells = stmt
            .query_map([build_row], |r| {
                Ok(StoredCell {
                    test: r.get(0)?,
                    status: CellStatus::from_code(r.get(1)?).unwrap_or(CellStatus::Unknown),
                    duration: r.get(2)?,
                    attempts: r.get(3)?,
                    message: r.get(4)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err("reading cells", e))?;
        Ok(cells)
    }
}

impl SqliteStore {
    /// Builds that started after `at` (Unix seconds), earliest first, at most `limit`,
    /// with how many there are in all.
    pub(super) fn builds_after(
        &self,
        at: i64,
        limit: usize,
    ) -> Result<(Vec<FutureBuild>, u64), StoreError> {
        let err = |e| self.err("listing builds dated after the decision time", e);
        let total: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM builds WHERE started > ?1",
                [at],
                |r| r.get(0),
            )
            .map_err(err)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT j.name, b.build, b.started FROM builds b JOIN jobs j ON j.id = b.job_id
                 WHERE b.started > ?1 ORDER BY b.started, j.name, b.build LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![at, limit as i64], |r| {
                Ok(FutureBuild {
                    job: r.get(0)?,
                    build: r.get(1)?,
                    started: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(err)?;
        Ok((rows, total.max(0) as u64))
    }
}
