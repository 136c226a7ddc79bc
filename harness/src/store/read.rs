//! Reading back what is stored: the run list and one build's cells.

use super::{Store, StoreError};
use crate::model::{CellStatus, CountBucket, Counts};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use serde_json::{Map, Value};

/// One build as `trellis runs` lists it (also its `--json` shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub job: String,
    pub build: String,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub passed: Option<bool>,
    pub commit: Option<String>,
    pub counts: Counts,
}

/// One build with everything stored about it.
#[derive(Debug, Clone, Serialize)]
pub struct BuildDetail {
    #[serde(flatten)]
    pub run: RunRow,
    pub result: Option<String>,
    pub pr: Option<u64>,
    pub source: String,
    pub metadata: Map<String, Value>,
    pub cells: Vec<StoredCell>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCell {
    pub test: String,
    pub status: CellStatus,
    pub duration: Option<f64>,
    pub attempts: u32,
    pub message: Option<String>,
}

impl BuildDetail {
    /// The stored build as the model's `Build` (what ingest would have read).
    pub fn into_build(self) -> crate::model::Build {
        crate::model::Build {
            job: self.run.job,
            build: self.run.build,
            started: self.run.started,
            finished: self.run.finished,
            passed: self.run.passed,
            commit: self.run.commit,
            pr: self.pr,
            result: self.result,
            source: self.source,
            metadata: self.metadata,
            cells: self
                .cells
                .into_iter()
                .map(|c| crate::model::Cell {
                    test: c.test,
                    status: c.status,
                    duration: c.duration,
                    attempts: c.attempts,
                    message: c.message,
                })
                .collect(),
            ..crate::model::Build::default()
        }
    }
}

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

impl Store {
    /// Every stored build (optionally of one job), by job, newest first.
    pub fn runs(&self, job: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
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
    pub fn build_detail(&self, job: &str, build: &str) -> Result<Option<BuildDetail>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS}, b.id, b.result, b.pr, b.source, b.metadata
             FROM builds b JOIN jobs j ON j.id = b.job_id
             WHERE j.name = ?1 AND b.build = ?2"
        );
        let head = self
            .conn
            .query_row(&sql, params![job, build], |r| {
                Ok((
                    run_row(r)?,
                    r.get::<_, i64>(11)?,
                    r.get::<_, Option<String>>(12)?,
                    r.get::<_, Option<i64>>(13)?,
                    r.get::<_, String>(14)?,
                    r.get::<_, String>(15)?,
                ))
            })
            .optional()
            .map_err(|e| self.err("reading a build", e))?;
        let Some((run, id, result, pr, source, metadata)) = head else {
            return Ok(None);
        };
        let mut cells = self.cells_of(id)?;
        cells.sort_by(|a, b| {
            rank(a.status)
                .cmp(&rank(b.status))
                .then_with(|| a.test.cmp(&b.test))
        });
        Ok(Some(BuildDetail {
            run,
            result,
            pr: pr.map(|p| p as u64),
            source,
            metadata: serde_json::from_str(&metadata).unwrap_or_default(),
            cells,
        }))
    }

    /// One statistic (`Perc99`, …) of every stored series, optionally of one job and
    /// of builds started before `until`, by job and then build start (oldest first).
    pub fn measurements(
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

/// Display order of `trellis show`: failures, flakes, other, skips, passes.
fn rank(status: CellStatus) -> u8 {
    match status.bucket() {
        CountBucket::Fail => 0,
        CountBucket::Flaky => 1,
        CountBucket::Other => 2,
        CountBucket::Skip => 3,
        CountBucket::Pass => 4,
    }
}

/// A build dated after the time an analysis judges at: not evidence, and worth a look
/// (a wrong clock, or a forged `started.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FutureBuild {
    pub job: String,
    pub build: String,
    pub started: i64,
}

impl Store {
    /// Builds that started after `at` (Unix seconds), earliest first, at most `limit`,
    /// with how many there are in all.
    pub fn builds_after(
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
