//! Writing builds to PostgreSQL: names interned first (committed on their own, in
//! sorted order), then the build, its cells and measurements in one transaction.

use super::{pg_text, PgStore};
use crate::model::{self, Build, CellStatus};
use crate::store::packed::{pack, CellIn};
use crate::store::{InsertOutcome, StoreError};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use std::collections::{BTreeMap, HashMap};

/// Names interned per statement.
const NAMES_PER_STATEMENT: usize = 5_000;

impl PgStore {
    pub(super) fn insert_build(
        &mut self,
        build: &Build,
        ingested_at: i64,
    ) -> Result<InsertOutcome, StoreError> {
        let job_id = self.intern("jobs", &[pg_text(&build.job).into_owned()])?[0];
        let names: Vec<String> = build
            .cells
            .iter()
            .map(|c| pg_text(&c.test).into_owned())
            .collect();
        let test_ids = self.intern_tests(&names)?;
        let at = self.at.clone();
        let mut client = self.client.borrow_mut();
        write_build(&mut client, build, job_id, &test_ids, ingested_at).map_err(|source| {
            StoreError::Postgres {
                at,
                context: "storing a build",
                source,
            }
        })
    }

    /// The ids of `names` in `tests`, interning the new ones (cached per store).
    fn intern_tests(&mut self, names: &[String]) -> Result<Vec<i64>, StoreError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !self.test_ids.contains_key(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let ids = self.intern("tests", &missing)?;
            self.test_ids.extend(missing.into_iter().zip(ids));
        }
        Ok(names.iter().map(|n| self.test_ids[n]).collect())
    }

    /// The ids of `names` in `table` (`jobs` or `tests`), in order, inserting those
    /// not there. Existing names are looked up first so that re-ingesting does not burn
    /// sequence values; new ones are inserted sorted, each statement committed on its
    /// own, so two writers interning overlapping names wait for each other in one
    /// order and never deadlock.
    fn intern(&self, table: &'static str, names: &[String]) -> Result<Vec<i64>, StoreError> {
        let err = |e| self.err("interning names", e);
        let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let select = format!(
            "SELECT t.id, t.name FROM {table} t
             JOIN unnest($1::text[]) AS n(name) ON md5(t.name) = md5(n.name) AND t.name = n.name"
        );
        let insert = format!(
            "INSERT INTO {table} (name) SELECT n FROM unnest($1::text[]) AS n
             ON CONFLICT ((md5(name))) DO NOTHING"
        );
        let mut client = self.client.borrow_mut();
        let mut found: HashMap<String, i64> = HashMap::with_capacity(sorted.len());
        for chunk in sorted.chunks(NAMES_PER_STATEMENT) {
            let read = |client: &mut postgres::Client,
                        found: &mut HashMap<String, i64>,
                        chunk: &[&str]| {
                for row in client.query(&select, &[&chunk])? {
                    found.insert(row.get(1), row.get(0));
                }
                Ok::<(), postgres::Error>(())
            };
            read(&mut client, &mut found, chunk).map_err(err)?;
            let new: Vec<&str> = chunk
                .iter()
                .copied()
                .filter(|n| !found.contains_key(*n))
                .collect();
            if new.is_empty() {
                continue;
            }
            client.execute(&insert, &[&new]).map_err(err)?;
            read(&mut client, &mut found, &new).map_err(err)?;
        }
        names
            .iter()
            .map(|n| {
                found.get(n).copied().ok_or_else(|| StoreError::NameClash {
                    at: self.at.clone(),
                    name: n.chars().take(200).collect(),
                })
            })
            .collect()
    }
}

fn write_build(
    client: &mut postgres::Client,
    build: &Build,
    job_id: i64,
    test_ids: &[i64],
    ingested_at: i64,
) -> Result<InsertOutcome, postgres::Error> {
    let mut tx = client.transaction()?;
    let build_name = pg_text(&build.build);
    let existing = tx.query_opt(
        "SELECT id FROM builds WHERE job_id = $1 AND md5(build) = md5($2) AND build = $2
         FOR UPDATE",
        &[&job_id, &build_name],
    )?;
    let replaced = match existing {
        Some(row) => {
            let id: i64 = row.get(0);
            if !is_provisional(&mut tx, id)? {
                return Ok(InsertOutcome::AlreadyStored);
            }
            tx.execute("DELETE FROM cells WHERE build_id = $1", &[&id])?;
            tx.execute("DELETE FROM measurements WHERE build_id = $1", &[&id])?;
            tx.execute("DELETE FROM packed_cells WHERE build_id = $1", &[&id])?;
            tx.execute("DELETE FROM builds WHERE id = $1", &[&id])?;
            true
        }
        None => false,
    };
    let counts = build.counts();
    let metadata = serde_json::Value::Object(build.metadata.clone()).to_string();
    let n = |v: u64| v as i64;
    let inserted = tx.query_opt(
        "INSERT INTO builds (job_id, build, started, finished, passed, result, commit_id, pr,
             source, metadata, skipped_dropped, n_pass, n_fail, n_flaky, n_skip, n_other,
             ingested_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (job_id, (md5(build))) DO NOTHING
         RETURNING id",
        &[
            &job_id,
            &build_name,
            &build.started,
            &build.finished,
            &build.passed,
            &build.result.as_deref().map(pg_text),
            &build.commit.as_deref().map(pg_text),
            &build.pr.map(|p| p as i64),
            &pg_text(&build.source),
            &pg_text(&metadata),
            &n(build.skipped_dropped),
            &n(counts.pass),
            &n(counts.fail),
            &n(counts.flaky),
            &n(counts.skip),
            &n(counts.other),
            &ingested_at,
        ],
    )?;
    // Another writer stored the same build since the look above: theirs stands.
    let Some(row) = inserted else {
        return Ok(InsertOutcome::AlreadyStored);
    };
    let build_id: i64 = row.get(0);
    // COPY in binary: several times the rows per second of INSERT … unnest.
    let sink = tx.copy_in(
        "COPY cells (build_id, test_id, status, duration, attempts, message)
         FROM STDIN (FORMAT binary)",
    )?;
    let mut rows = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT2,
            Type::FLOAT8,
            Type::INT4,
            Type::TEXT,
        ],
    );
    for (cell, test_id) in build.cells.iter().zip(test_ids) {
        rows.write(&[
            &build_id,
            test_id,
            &(cell.status.code() as i16),
            &cell.duration,
            &i32::try_from(cell.attempts).unwrap_or(i32::MAX),
            &cell.message.as_deref().map(pg_text),
        ])?;
    }
    rows.finish()?;
    let packed = build
        .cells
        .iter()
        .zip(test_ids)
        .map(|(c, id)| CellIn {
            test_id: *id,
            status: c.status,
            attempts: c.attempts,
            message: c.message.as_deref(),
        })
        .collect();
    tx.execute(
        "INSERT INTO packed_cells (build_id, cells) VALUES ($1, $2)",
        &[&build_id, &pack(packed)],
    )?;
    write_measurements(&mut tx, build_id, &build.measurements)?;
    tx.commit()?;
    let cells = build.cells.len();
    Ok(if replaced {
        InsertOutcome::Updated { cells }
    } else {
        InsertOutcome::Inserted { cells }
    })
}

/// A build's PerfData items, a row per statistic. Two items of one series keep the
/// later one's figures (as SQLite's `INSERT OR REPLACE` does).
fn write_measurements(
    tx: &mut postgres::Transaction<'_>,
    build_id: i64,
    items: &[model::Measurement],
) -> Result<(), postgres::Error> {
    let mut rows: BTreeMap<(String, String), (&model::Measurement, String, f64)> = BTreeMap::new();
    for m in items {
        let labels = serde_json::to_string(&m.labels).unwrap_or_default();
        for (stat, value) in &m.data {
            rows.insert((m.series(), stat.clone()), (m, labels.clone(), *value));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut series = Vec::new();
    let mut stat = Vec::new();
    let mut file = Vec::new();
    let mut labels = Vec::new();
    let mut unit = Vec::new();
    let mut value = Vec::new();
    for ((s, st), (m, l, v)) in rows {
        series.push(pg_text(&s).into_owned());
        stat.push(pg_text(&st).into_owned());
        file.push(pg_text(&m.file).into_owned());
        labels.push(pg_text(&l).into_owned());
        unit.push(pg_text(&m.unit).into_owned());
        value.push(v);
    }
    tx.execute(
        "INSERT INTO measurements (build_id, series, file, labels, unit, stat, value)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::float8[])",
        &[&build_id, &series, &file, &labels, &unit, &stat, &value],
    )?;
    Ok(())
}

/// Whether stored build `id` was still running when read: a RUNNING `Overall` or
/// `Pod` cell.
fn is_provisional(tx: &mut postgres::Transaction<'_>, id: i64) -> Result<bool, postgres::Error> {
    let row = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM cells c JOIN tests t ON t.id = c.test_id
             WHERE c.build_id = $1 AND t.name IN ($2, $3) AND c.status = $4)",
        &[
            &id,
            &model::OVERALL_ROW,
            &model::POD_ROW,
            &(CellStatus::Running.code() as i16),
        ],
    )?;
    Ok(row.get(0))
}

/// Packs the cells of every build that has no packed value yet, inside the
/// migration's transaction.
pub(super) fn backfill_packed(tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
    let ids: Vec<i64> = tx
        .query(
            "SELECT id FROM builds WHERE id NOT IN (SELECT build_id FROM packed_cells)",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in ids {
        let rows = tx.query(
            "SELECT test_id, status, attempts, message FROM cells WHERE build_id = $1",
            &[&id],
        )?;
        let packed = rows
            .iter()
            .map(|r| CellIn {
                test_id: r.get(0),
                status: CellStatus::from_code(r.get::<_, i16>(1).into())
                    .unwrap_or(CellStatus::Unknown),
                attempts: r.get::<_, i32>(2).max(0) as u32,
                message: r.get(3),
            })
            .collect();
        tx.execute(
            "INSERT INTO packed_cells (build_id, cells) VALUES ($1, $2)",
            &[&id, &pack(packed)],
        )?;
    }
    Ok(())
}
