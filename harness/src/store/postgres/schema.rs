//! The PostgreSQL schema, versioned in the `trellis_schema` table.
//!
//! Each entry moves the schema from version `i` to `i + 1`; append new migrations,
//! never edit one that has shipped. Names (jobs, builds, tests) are unique by their
//! MD5, not their text: a B-tree entry holds at most ~2.7 kB and a hostile JUnit file
//! may name a test with more. Every lookup compares the text as well.

pub const MIGRATIONS: &[&str] = &[
    // 1: what SQLite's schema holds at its version 3: jobs, builds (grid columns),
    // interned test names, cells with the by-test index `trellis gate` reads, and
    // performance measurements.
    r#"
    CREATE TABLE jobs (
        id   BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL
    );
    CREATE UNIQUE INDEX jobs_name ON jobs ((md5(name)));
    CREATE TABLE builds (
        id              BIGSERIAL PRIMARY KEY,
        job_id          BIGINT NOT NULL REFERENCES jobs(id),
        build           TEXT NOT NULL,
        started         BIGINT,
        finished        BIGINT,
        passed          BOOLEAN,
        result          TEXT,
        commit_id       TEXT,
        pr              BIGINT,
        source          TEXT NOT NULL,
        metadata        TEXT NOT NULL,
        skipped_dropped BIGINT NOT NULL,
        n_pass          BIGINT NOT NULL,
        n_fail          BIGINT NOT NULL,
        n_flaky         BIGINT NOT NULL,
        n_skip          BIGINT NOT NULL,
        n_other         BIGINT NOT NULL,
        ingested_at     BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX builds_key ON builds (job_id, (md5(build)));
    CREATE INDEX builds_by_start ON builds (job_id, started DESC NULLS LAST);
    CREATE INDEX builds_started ON builds (started);
    CREATE TABLE tests (
        id   BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL
    );
    CREATE UNIQUE INDEX tests_name ON tests ((md5(name)));
    CREATE TABLE cells (
        build_id BIGINT NOT NULL REFERENCES builds(id),
        test_id  BIGINT NOT NULL REFERENCES tests(id),
        status   SMALLINT NOT NULL,
        duration DOUBLE PRECISION,
        attempts INTEGER NOT NULL,
        message  TEXT,
        PRIMARY KEY (build_id, test_id)
    );
    CREATE INDEX cells_by_test ON cells (test_id, build_id) INCLUDE (status, attempts);
    CREATE TABLE measurements (
        build_id BIGINT NOT NULL REFERENCES builds(id),
        series   TEXT NOT NULL,
        file     TEXT NOT NULL,
        labels   TEXT NOT NULL,
        unit     TEXT NOT NULL,
        stat     TEXT NOT NULL,
        value    DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX measurements_by_build ON measurements (build_id);
    CREATE INDEX measurements_by_stat ON measurements (stat, build_id);
    "#,
    // 2: each build's cells packed into one value as the grid reads them
    // (`store::packed`); existing builds are packed by `backfill_packed` in the same
    // transaction.
    r#"
    CREATE TABLE packed_cells (
        build_id BIGINT PRIMARY KEY REFERENCES builds(id),
        cells    BYTEA NOT NULL
    );
    "#,
];

/// The version whose migration needs existing builds' cells packed after its SQL.
pub const PACKED_VERSION: i64 = 2;

/// The schema version this trellis writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}
