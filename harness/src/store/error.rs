//! What can go wrong with a store, each with the fix.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--db {value}: {reason}")]
    BadLocation { value: String, reason: String },
    #[error("{path}: cannot create the store's directory: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: cannot open the store: {source}")]
    Open {
        at: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{at}: schema version {found} is newer than this trellis understands ({supported})")]
    TooNew {
        at: String,
        found: i64,
        supported: i64,
    },
    #[error("{at}: the store is read-only (the file or its directory cannot be written), and this command writes to it")]
    ReadOnly { at: String },
    #[error(
        "{at}: schema version {found} needs migrating to {supported}, but the store is read-only"
    )]
    ReadOnlyOld {
        at: String,
        found: i64,
        supported: i64,
    },
    #[error("{at}: still locked by another writer after {waited:?}")]
    Busy { at: String, waited: Duration },
    #[error("{at}: build {build_id}'s {reason}")]
    Damaged {
        at: String,
        build_id: i64,
        reason: String,
    },
    #[error("{at}: {context}: {source}")]
    Sqlite {
        at: String,
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{at}: cannot reach the server at {host}:{port}: {reason}")]
    Unreachable {
        at: String,
        host: String,
        port: u16,
        reason: String,
    },
    #[error("{at}: TLS: {reason}")]
    Tls { at: String, reason: String },
    #[error("{at}: the server refused the login: {reason}")]
    Login { at: String, reason: String },
    #[error("{at}: this database is not a trellis store: it holds tables trellis did not make ({tables})")]
    NotTrellis { at: String, tables: String },
    #[error("{at}: the server is PostgreSQL {version}; trellis's schema needs 12 or newer")]
    ServerTooOld { at: String, version: String },
    #[error("{at}: two different names share one MD5 digest, so {name:?} cannot be stored")]
    NameClash { at: String, name: String },
    #[error("{at}: {context}: {source}")]
    Postgres {
        at: String,
        context: &'static str,
        #[source]
        source: postgres::Error,
    },
}

impl StoreError {
    pub fn hint(&self) -> &'static str {
        match self {
            StoreError::BadLocation { .. } => {
                "--db takes a file path, sqlite:PATH, or postgres://USER@HOST:PORT/DB[?sslmode=…]"
            }
            StoreError::CreateDir { .. } | StoreError::Open { .. } => {
                "pass a writable location with --db or TRELLIS_DB"
            }
            StoreError::TooNew { .. } => "upgrade trellis, or point --db at another store (this one was not touched)",
            StoreError::ReadOnly { .. } => {
                "reading commands work on it as it is; to write, make the file and its directory writable, or copy it"
            }
            StoreError::ReadOnlyOld { .. } => {
                "open it once with write access (any trellis command migrates it), or use a copy"
            }
            StoreError::Busy { .. } => {
                "another trellis holds the store; writes wait up to 60 s for it: let it finish, then retry"
            }
            StoreError::Damaged { .. } => {
                "the store is damaged: copy what it holds with `trellis store migrate` or re-ingest into a new one"
            }
            StoreError::Sqlite { .. } => {
                "the store may be damaged; check `sqlite3 FILE 'PRAGMA integrity_check'`"
            }
            StoreError::Unreachable { .. } => {
                "check the host and port in --db and that the server accepts connections from here (connect_timeout=SECONDS in the URL waits longer)"
            }
            StoreError::Tls { .. } => {
                "trellis checks the server's certificate: add sslrootcert=FILE (the CA that signed it, PEM) to the URL, or sslmode=disable on a network you trust"
            }
            StoreError::Login { .. } => {
                "check the user, and the password in the URL, PGPASSWORD or ~/.pgpass (mode 0600); sslmode=disable if the server has no TLS"
            }
            StoreError::NotTrellis { .. } => {
                "point --db at an empty database or one trellis made (createdb trellis); nothing was changed"
            }
            StoreError::ServerTooOld { .. } => "use PostgreSQL 12 or newer; nothing was changed",
            StoreError::NameClash { .. } => {
                "rename the test or job (a deliberate MD5 collision is the only way here); nothing was stored"
            }
            StoreError::Postgres { .. } => {
                "the connection may have dropped or the server refused the statement; what was being written was not stored: run the command again"
            }
        }
    }
}
