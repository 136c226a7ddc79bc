//! Writing builds: one transaction per build, idempotent on (job, build), except that
//! a build stored while it was still running (or waiting for its podinfo.json) is
//! replaced by the next ingest of it, as TestGrid re-reads such builds.

use super::{SqliteStore, WriteError};
use crate::model::{self, Build, CellStatus};
use crate::store::packed::{pack, CellIn};
use crate::store::{InsertOutcome, StoreError};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::HashMap;

impl SqliteStore {
    /// Stores `build` and its cells in one transaction. Re-ingesting a build that is
    /// already stored changes nothing.
    pub(super) fn insert_build(
        &mut self,
        build: &Build,
        ingested_at: i64,
    ) -> Result<InsertOutcome, StoreError> {
        let known = std::mem::take(&mut self.test_ids);
        let result = self.with_write(|tx| write_build(tx, build, &known, ingested_at));
        self.test_ids = known;
        match result {
            Ok((outcome, new_ids)) => {
                // Only names whose insert committed may enter the cache.
                self.test_ids.extend(new_ids);
                Ok(outcome)
            }
            Err(WriteError::Busy(waited)) => Err(StoreError::Busy {
                at: self.at(),
                waited,
            }),
            Err(WriteError::Sqlite(source)) => Err(self.err("storing a build", source)),
        }
    }
}

fn write_build(
    tx: &Transaction<'_>,
    build: &Build,
    known: &HashMap<String, i64>,
    ingested_at: i64,
) -> Result<(InsertOutcome, HashMap<String, i64>), rusqlite::Error> {
    let mut new_ids = HashMap::new();
    let job_id = job_id(tx, &build.job)?;
    let exists: Option<i64> = tx
        .query_row(
            "SELECT id FROM builds WHERE job_id = ?1 AND build = ?2",
            params![job_id, build.build],
            |r| r.get(0),
        )
        .optional()?;
    let replaced = match exists {
        Some(id) if is_provisional(tx, id)? => {
            tx.execute("DELETE FROM cells WHERE build_id = ?1", [id])?;
            tx.execute("DELETE FROM measurements WHERE build_id = ?1", [id])?;
            tx.execute("DELETE FROM packed_cells WHERE build_id = ?1", [id])?;
            tx.execute("DELETE FROM builds WHERE id = ?1", [id])?;
            true
        }
        Some(_) => return Ok((InsertOutcome::AlreadyStored, new_ids)),
        None => false,
    };
    let counts = build.counts();
    let metadata = serde_json::Value::Object(build.metadata.clone()).to_string();
    tx.execute(
        "INSERT INTO builds (job_id, build, started, finished, passed, result, commit_id, pr,
             source, metadata, skipped_dropped, n_pass, n_fail, n_flaky, n_skip, n_other,
             ingested_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            job_id,
            build.build,
            build.started,
            build.finished,
            build.passed,
            build.result,
            build.commit,
            build.pr.map(|p| p as i64),
            build.source,
            metadata,
            build.skipped_dropped as i64,
            counts.pass as i64,
            counts.fail as i64,
            counts.flaky as i64,
            counts.skip as i64,
            counts.other as i64,
            ingested_at,
        ],
    )?;
    let build_row = tx.last_insert_rowid();

    let mut find_test = tx.prepare_cached("SELECT id FROM tests WHERE name = ?1")?;
    let mut add_test = tx.prepare_cached("INSERT INTO tests (name) VALUES (?1)")?;
    let mut add_cell = tx.prepare_cached(
        "INSERT INTO cells (build_id, test_id, status, duration, attempts, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut packed = Vec::with_capacity(build.cells.len());
    for cell in &build.cells {
        let test_id = match known.get(&cell.test).or_else(|| new_ids.get(&cell.test)) {
            Some(id) => *id,
            None => {
                let id = match find_test
                    .query_row([&cell.test], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    Some(id) => id,
                    None => {
                        add_test.execute([&cell.test])?;
                        tx.last_insert_rowid()
                    }
                };
                new_ids.insert(cell.test.clone(), id);
                id
            }
        };
        add_cell.execute(params![
            build_row,
            test_id,
            cell.status.code(),
            cell.duration,
            cell.attempts,
            cell.message,
        ])?;
        packed.push(CellIn {
            test_id,
            status: cell.status,
            attempts: cell.attempts,
            message: cell.message.as_deref(),
        });
    }
    tx.execute(
        "INSERT INTO packed_cells (build_id, cells) VALUES (?1, ?2)",
        params![build_row, pack(packed)],
    )?;
    write_measurements(tx, build_row, &build.measurements)?;
    let cells = build.cells.len();
    let outcome = if replaced {
        InsertOutcome::Updated { cells }
    } else {
        InsertOutcome::Inserted { cells }
    };
    Ok((outcome, new_ids))
}

/// A build's PerfData items, a row per statistic. Two files of one series (a
/// measurement CL2 took twice) keep the later file's figures: names sort by time.
fn write_measurements(
    tx: &Transaction<'_>,
    build_row: i64,
    items: &[model::Measurement],
) -> Result<(), rusqlite::Error> {
    let mut add = tx.prepare_cached(
        "INSERT OR REPLACE INTO measurements (build_id, series, file, labels, unit, stat, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for m in items {
        let series = m.series();
        let labels = serde_json::to_string(&m.labels).unwrap_or_default();
        for (stat, value) in &m.data {
            add.execute(params![
                build_row, series, m.file, labels, m.unit, stat, value
            ])?;
        }
    }
    Ok(())
}

/// Whether stored build `id` was still running when read: a RUNNING `Overall` or
/// `Pod` cell (two primary-key lookups).
fn is_provisional(tx: &Transaction<'_>, id: i64) -> Result<bool, rusqlite::Error> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM cells c JOIN tests t ON t.id = c.test_id
             WHERE c.build_id = ?1 AND t.name IN (?2, ?3) AND c.status = ?4)",
        params![
            id,
            model::OVERALL_ROW,
            model::POD_ROW,
            CellStatus::Running.code()
        ],
        |r| r.get(0),
    )
}

fn job_id(tx: &Transaction<'_>, name: &str) -> Result<i64, rusqlite::Error> {
    if let Some(id) = tx
        .query_row("SELECT id FROM jobs WHERE name = ?1", [name], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    tx.execute("INSERT INTO jobs (name) VALUES (?1)", [name])?;
    Ok(tx.last_insert_rowid())
}

/// Packs the cells of every build that has no packed value yet (a store from before
/// schema 4), inside the migration's transaction.
pub(super) fn backfill_packed(tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM builds WHERE id NOT IN (SELECT build_id FROM packed_cells)")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut cells =
        tx.prepare("SELECT test_id, status, attempts, message FROM cells WHERE build_id = ?1")?;
    let mut add = tx.prepare("INSERT INTO packed_cells (build_id, cells) VALUES (?1, ?2)")?;
    for id in ids {
        let rows: Vec<(i64, i64, u32, Option<String>)> = cells
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let packed = rows
            .iter()
            .map(|(test_id, status, attempts, message)| CellIn {
                test_id: *test_id,
                status: CellStatus::from_code(*status).unwrap_or(CellStatus::Unknown),
                attempts: *attempts,
                message: message.as_deref(),
            })
            .collect();
        add.execute(params![id, pack(packed)])?;
    }
    Ok(())
}
