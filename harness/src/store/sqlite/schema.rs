//! Versioned schema migrations, tracked in SQLite's `user_version`.
//!
//! Each entry moves the schema from version `i` to `i + 1`. Append new migrations;
//! never edit one that has shipped.

pub const MIGRATIONS: &[&str] = &[
    // 1: jobs, builds (grid columns), interned test names, cells.
    r#"
    CREATE TABLE jobs (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE builds (
        id              INTEGER PRIMARY KEY,
        job_id          INTEGER NOT NULL REFERENCES jobs(id),
        build           TEXT NOT NULL,
        started         INTEGER,
        finished        INTEGER,
        passed          INTEGER,
        result          TEXT,
        commit_id       TEXT,
        pr              INTEGER,
        source          TEXT NOT NULL,
        metadata        TEXT NOT NULL,
        skipped_dropped INTEGER NOT NULL,
        n_pass          INTEGER NOT NULL,
        n_fail          INTEGER NOT NULL,
        n_flaky         INTEGER NOT NULL,
        n_skip          INTEGER NOT NULL,
        n_other         INTEGER NOT NULL,
        ingested_at     INTEGER NOT NULL,
        UNIQUE (job_id, build)
    );
    CREATE TABLE tests (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE cells (
        build_id INTEGER NOT NULL REFERENCES builds(id),
        test_id  INTEGER NOT NULL REFERENCES tests(id),
        status   INTEGER NOT NULL,
        duration REAL,
        attempts INTEGER NOT NULL,
        message  TEXT,
        PRIMARY KEY (build_id, test_id)
    ) WITHOUT ROWID;
    "#,
    // 2: a test's results across builds, read by key: `trellis gate` judges a few
    // failing tests against thousands of base builds, which by build would touch every
    // page of the cells table. `cells_by_test` covers status and attempts; the small
    // partial `cells_infra` lists the failures whose message is one word (infra
    // failures, `analysis::flakes::is_infra_message`), so no message is read. (An
    // expression column in the first index is not covering in practice: SQLite reads
    // the row to compute it, ten times slower.)
    r#"
    CREATE INDEX cells_by_test ON cells (test_id, build_id, status, attempts);
    CREATE INDEX cells_infra ON cells (test_id, build_id)
        WHERE length(message) > 0 AND message NOT GLOB '*[^A-Za-z0-9_]*';
    "#,
    // 3: performance measurements (ClusterLoader2 PerfData items), one row per
    // statistic; `series` is the file and labels (`model::Measurement::series`), so a
    // job's history of one figure is a range scan of `measurements_by_series`.
    r#"
    CREATE TABLE measurements (
        build_id INTEGER NOT NULL REFERENCES builds(id),
        series   TEXT NOT NULL,
        file     TEXT NOT NULL,
        labels   TEXT NOT NULL,
        unit     TEXT NOT NULL,
        stat     TEXT NOT NULL,
        value    REAL NOT NULL,
        PRIMARY KEY (build_id, series, stat)
    ) WITHOUT ROWID;
    "#,
    // 4: each build's cells packed into one value as the grid reads them
    // (`store::packed`): loading a job's grid reads a value per build, not a row per
    // cell. Existing builds are packed by `backfill_packed` in the same transaction.
    r#"
    CREATE TABLE packed_cells (
        build_id INTEGER PRIMARY KEY REFERENCES builds(id),
        cells    BLOB NOT NULL
    );
    "#,
];

/// The version whose migration needs existing builds' cells packed after its SQL.
pub const PACKED_VERSION: i64 = 4;

/// The schema version this trellis writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}
