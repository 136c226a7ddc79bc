//! Reading PostgreSQL back: the same answers, in the same order, as the SQLite store.
//! Text sorts byte-wise (`COLLATE "C"`, SQLite's order) and unknown start times sort
//! as SQLite sorts NULL: first ascending, last descending.

use super::PgStore;
use crate::model::{CellStatus, Column, CountBucket, Counts, Grid, PerfPoint, Span};
use crate::store::assemble::{take_span, GridAssembler, MeasurementRows, SpanBuild, SpanColumns};
use crate::store::{
    BuildDetail, BuildInfo, FutureBuild, RunRow, StoreError, StoredCell, INFRA_MESSAGE,
};
use postgres::Row;
use std::collections::HashMap;

const RUN_COLUMNS: &str = "j.name, b.build, b.started, b.finished, b.passed, b.commit_id,
     b.n_pass, b.n_fail, b.n_flaky, b.n_skip, b.n_other";

/// The codes of the statuses whose message a grid keeps.
fn failing_codes() -> Vec<i16> {
    (0..64)
        .filter_map(CellStatus::from_code)
        .filter(|s| s.bucket() == CountBucket::Fail)
        .map(|s| s.code() as i16)
        .collect()
}

fn counts(r: &Row, first: usize) -> Counts {
    let n = |i: usize| r.get::<_, i64>(first + i).max(0) as u64;
    Counts {
        pass: n(0),
        fail: n(1),
        flaky: n(2),
        skip: n(3),
        other: n(4),
    }
}

fn run_row(r: &Row) -> RunRow {
    RunRow {
        job: r.get(0),
        build: r.get(1),
        started: r.get(2),
        finished: r.get(3),
        passed: r.get(4),
        commit: r.get(5),
        counts: counts(r, 6),
    }
}

impl PgStore {
    fn query(
        &self,
        context: &'static str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.client
            .borrow_mut()
            .query(sql, params)
            .map_err(|e| self.err(context, e))
    }

    pub(super) fn jobs(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.query(
            "listing jobs",
            r#"SELECT name FROM jobs ORDER BY name COLLATE "C""#,
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(super) fn jobs_with_pr_builds(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.query(
            "listing pre-submit jobs",
            r#"SELECT j.name FROM jobs j WHERE EXISTS
               (SELECT 1 FROM builds b WHERE b.job_id = j.id AND b.pr IS NOT NULL)
               ORDER BY j.name COLLATE "C""#,
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(super) fn test_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.query(
            "reading test names",
            "SELECT id, name FROM tests ORDER BY id",
            &[],
        )?;
        let mut names = vec![String::new()];
        for r in &rows {
            let id = usize::try_from(r.get::<_, i64>(0)).unwrap_or(0);
            if names.len() <= id {
                names.resize(id + 1, String::new());
            }
            names[id] = r.get(1);
        }
        Ok(names)
    }

    pub(super) fn runs(&self, job: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            r#"SELECT {RUN_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id
               WHERE $1::text IS NULL OR j.name = $1
               ORDER BY j.name COLLATE "C", b.started DESC NULLS LAST, b.build COLLATE "C" DESC"#
        );
        let rows = self.query("listing runs", &sql, &[&job])?;
        Ok(rows.iter().map(run_row).collect())
    }

    pub(super) fn build_detail(
        &self,
        job: &str,
        build: &str,
    ) -> Result<Option<BuildDetail>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS}, b.id, b.result, b.pr, b.source, b.metadata,
                    b.skipped_dropped, b.ingested_at
             FROM builds b JOIN jobs j ON j.id = b.job_id
             WHERE j.name = $1 AND b.build = $2"
        );
        let rows = self.query("reading a build", &sql, &[&job, &build])?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let id: i64 = r.get(11);
        let cells = self
            .query(
                "reading cells",
                "SELECT t.name, c.status, c.duration, c.attempts, c.message
                 FROM cells c JOIN tests t ON t.id = c.test_id WHERE c.build_id = $1",
                &[&id],
            )?
            .iter()
            .map(|c| StoredCell {
                test: c.get(0),
                status: CellStatus::from_code(c.get::<_, i16>(1).into())
                    .unwrap_or(CellStatus::Unknown),
                duration: c.get(2),
                attempts: c.get::<_, i32>(3).max(0) as u32,
                message: c.get(4),
            })
            .collect();
        let mut measurements = MeasurementRows::default();
        for m in self.query(
            "reading a build's measurements",
            r#"SELECT series, file, labels, unit, stat, value FROM measurements
               WHERE build_id = $1 ORDER BY series COLLATE "C", stat COLLATE "C""#,
            &[&id],
        )? {
            measurements.push(
                m.get(0),
                m.get(1),
                m.get::<_, &str>(2),
                m.get(3),
                m.get(4),
                m.get(5),
            );
        }
        Ok(Some(BuildDetail {
            run: run_row(r),
            result: r.get(12),
            pr: r.get::<_, Option<i64>>(13).map(|p| p as u64),
            source: r.get(14),
            metadata: serde_json::from_str(r.get::<_, &str>(15)).unwrap_or_default(),
            cells,
            skipped_dropped: r.get::<_, i64>(16).max(0) as u64,
            ingested_at: r.get(17),
            measurements: measurements.finish(),
        }))
    }

    pub(super) fn measurements(
        &self,
        job: Option<&str>,
        stat: &str,
        until: Option<i64>,
    ) -> Result<Vec<PerfPoint>, StoreError> {
        let rows = self.query(
            "reading measurements",
            r#"SELECT j.name, b.build, b.started, b.commit_id, m.series, m.labels, m.unit, m.value
               FROM measurements m JOIN builds b ON b.id = m.build_id
               JOIN jobs j ON j.id = b.job_id
               WHERE m.stat = $1 AND ($2::text IS NULL OR j.name = $2)
                 AND ($3::bigint IS NULL OR b.started IS NULL OR b.started <= $3)
               ORDER BY j.name COLLATE "C", b.started NULLS FIRST, b.build COLLATE "C",
                        m.series COLLATE "C""#,
            &[&stat, &job, &until],
        )?;
        Ok(rows
            .iter()
            .map(|r| PerfPoint {
                job: r.get(0),
                build: r.get(1),
                started: r.get(2),
                commit: r.get(3),
                series: r.get(4),
                labels: serde_json::from_str(r.get::<_, &str>(5)).unwrap_or_default(),
                unit: r.get(6),
                stat: stat.to_string(),
                value: r.get(7),
            })
            .collect())
    }

    pub(super) fn builds_after(
        &self,
        at: i64,
        limit: usize,
    ) -> Result<(Vec<FutureBuild>, u64), StoreError> {
        let context = "listing builds dated after the decision time";
        let total: i64 = self
            .query(
                context,
                "SELECT COUNT(*) FROM builds WHERE started > $1",
                &[&at],
            )?
            .first()
            .map_or(0, |r| r.get(0));
        let rows = self.query(
            context,
            r#"SELECT j.name, b.build, b.started FROM builds b JOIN jobs j ON j.id = b.job_id
               WHERE b.started > $1
               ORDER BY b.started, j.name COLLATE "C", b.build COLLATE "C" LIMIT $2"#,
            &[&at, &(limit as i64)],
        )?;
        let builds = rows
            .iter()
            .map(|r| FutureBuild {
                job: r.get(0),
                build: r.get(1),
                started: r.get(2),
            })
            .collect();
        Ok((builds, total.max(0) as u64))
    }

    /// The builds `span` takes of `job`, newest first.
    fn columns_in(&self, job: &str, span: Span) -> Result<SpanColumns, StoreError> {
        let rows = self.query(
            "reading a grid",
            r#"SELECT b.id, b.build, b.started, b.finished, b.passed, b.commit_id, b.pr,
                      b.n_pass, b.n_fail, b.n_flaky, b.n_skip, b.n_other
               FROM builds b JOIN jobs j ON j.id = b.job_id
               WHERE j.name = $1 AND ($2::bigint IS NULL OR b.started <= $2)
               ORDER BY b.started DESC NULLS LAST, b.build COLLATE "C" DESC"#,
            &[&job, &span.until],
        )?;
        let builds = rows.iter().map(|r| {
            Ok::<_, StoreError>(SpanBuild {
                id: r.get(0),
                column: Column {
                    build: r.get(1),
                    started: r.get(2),
                    finished: r.get(3),
                    passed: r.get(4),
                    commit: r.get(5),
                    pr: r.get::<_, Option<i64>>(6).map(|p| p as u64),
                },
                counts: counts(r, 7),
            })
        });
        take_span(builds, span)
    }

    pub(super) fn grid(&self, job: &str, span: Span, names: &[String]) -> Result<Grid, StoreError> {
        let SpanColumns { ids, columns, .. } = self.columns_in(job, span)?;
        let col_of: HashMap<i64, usize> = ids.iter().enumerate().map(|(c, id)| (*id, c)).collect();
        let mut grid = GridAssembler::new(job, columns, names);
        // One statement for the whole span, streamed: a packed value per build.
        let mut client = self.client.borrow_mut();
        let err = |e| self.err("reading a grid", e);
        let params: [&(dyn postgres::types::ToSql + Sync); 1] = [&ids];
        let mut rows = client
            .query_raw(
                "SELECT build_id, cells FROM packed_cells WHERE build_id = ANY($1)",
                params,
            )
            .map_err(err)?;
        let mut seen = std::collections::HashSet::new();
        use postgres::fallible_iterator::FallibleIterator as _;
        while let Some(r) = rows.next().map_err(err)? {
            let build_id: i64 = r.get(0);
            let Some(&col) = col_of.get(&build_id) else {
                continue;
            };
            seen.insert(build_id);
            grid.packed_column(col, r.get::<_, &[u8]>(1))
                .map_err(|e| self.damaged(build_id, e.to_string()))?;
        }
        if let Some(missing) = ids.iter().find(|id| !seen.contains(*id)) {
            return Err(self.damaged(*missing, "packed cells are missing".into()));
        }
        Ok(grid.finish())
    }

    pub(super) fn rows_of(
        &self,
        job: &str,
        span: Span,
        tests: &[String],
    ) -> Result<(Grid, Vec<Counts>), StoreError> {
        let SpanColumns {
            ids,
            columns,
            counts,
        } = self.columns_in(job, span)?;
        let mut grid = Grid::new(job.to_string(), columns);
        let found = self.query(
            "reading test rows",
            "SELECT t.id, t.name FROM tests t
             JOIN unnest($1::text[]) AS n(name) ON md5(t.name) = md5(n.name) AND t.name = n.name",
            &[&tests],
        )?;
        let id_of: HashMap<String, i64> = found.iter().map(|r| (r.get(1), r.get(0))).collect();
        let mut row_of: HashMap<i64, usize> = HashMap::new();
        for name in tests {
            if let Some(id) = id_of.get(name) {
                row_of
                    .entry(*id)
                    .or_insert_with(|| grid.add_row(name.clone()));
            }
        }
        let col_of: HashMap<i64, usize> = ids.iter().enumerate().map(|(c, id)| (*id, c)).collect();
        let wanted: Vec<i64> = row_of.keys().copied().collect();
        let codes = failing_codes();
        let cells = self.query(
            "reading test rows",
            "SELECT test_id, build_id, status, attempts,
                    status = ANY($2) AND message ~ '^[A-Za-z0-9_]+$'
             FROM cells WHERE test_id = ANY($1) AND build_id = ANY($3)",
            &[&wanted, &codes, &ids],
        )?;
        for r in &cells {
            let (Some(&row), Some(&col)) = (
                row_of.get(&r.get::<_, i64>(0)),
                col_of.get(&r.get::<_, i64>(1)),
            ) else {
                continue;
            };
            let status =
                CellStatus::from_code(r.get::<_, i16>(2).into()).unwrap_or(CellStatus::Unknown);
            let infra: Option<bool> = r.get(4);
            let message = infra.unwrap_or(false).then(|| INFRA_MESSAGE.to_string());
            grid.set(row, col, status, message);
            grid.set_attempts(row, col, r.get::<_, i32>(3).max(0) as u32);
        }
        Ok((grid, counts))
    }

    pub(super) fn build_infos(&self, job: &str) -> Result<HashMap<String, BuildInfo>, StoreError> {
        let rows = self.query(
            "reading build metadata",
            "SELECT b.build, b.source, b.result, b.pr, b.metadata FROM builds b
             JOIN jobs j ON j.id = b.job_id WHERE j.name = $1",
            &[&job],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    BuildInfo {
                        source: r.get(1),
                        result: r.get(2),
                        pr: r.get::<_, Option<i64>>(3).map(|p| p as u64),
                        metadata: serde_json::from_str(r.get::<_, &str>(4)).unwrap_or_default(),
                    },
                )
            })
            .collect())
    }
}
