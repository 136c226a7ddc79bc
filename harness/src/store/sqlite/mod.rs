//! The embedded store: SQLite (bundled), one file.
//!
//! WAL mode so readers never block the writer; every build is written in one
//! `BEGIN IMMEDIATE` transaction, so a failed ingest leaves nothing behind and several
//! processes may ingest at once (they queue on the write lock, within a deadline).

mod grid;
mod read;
mod schema;
mod write;

use super::StoreError;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An open results store.
pub(super) struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    busy_deadline: Duration,
    /// Interned test names already committed: name → id.
    test_ids: HashMap<String, i64>,
    /// Opened read-only: the file or its directory cannot be written.
    read_only: bool,
}

impl SqliteStore {
    /// Opens the store at `path`, creating and migrating it if needed. A store that
    /// cannot be written (a read-only file or directory) is opened read-only: reading
    /// commands work, a write says why it cannot. A store of a newer schema is refused
    /// before anything in it or beside it is touched.
    pub(super) fn open(path: &Path, busy_deadline: Duration) -> Result<SqliteStore, StoreError> {
        let exists = path.exists();
        if !exists {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            at: path.display().to_string(),
            source,
        })?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            busy_deadline,
            test_ids: HashMap::new(),
            read_only: false,
        };
        store
            .conn
            .busy_timeout(busy_deadline)
            .map_err(|e| store.err("setting the busy timeout", e))?;
        // The version is read before anything is written: a newer store is refused
        // untouched (not even switched to WAL).
        let found = match store.schema_version() {
            Ok(found) => found,
            // A WAL store in a directory that cannot be written cannot make its
            // shared-memory file: read it as an immutable file instead.
            Err(e) if exists && e.is_unwritable() => {
                store.reopen_read_only()?;
                store.schema_version()?
            }
            Err(e) => return Err(e),
        };
        let supported = schema::current_version();
        if found > supported {
            return Err(StoreError::TooNew {
                at: store.at(),
                found,
                supported,
            });
        }
        if !store.read_only && store.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            store.reopen_read_only()?;
        }
        if !store.read_only {
            match store.configure() {
                Ok(()) => {}
                Err(e) if exists && e.is_unwritable() => store.reopen_read_only()?,
                Err(e) => return Err(e),
            }
        }
        if store.read_only {
            if found < supported {
                return Err(StoreError::ReadOnlyOld {
                    at: store.at(),
                    found,
                    supported,
                });
            }
            return Ok(store);
        }
        store.migrate()?;
        Ok(store)
    }

    /// The path as errors show it.
    fn at(&self) -> String {
        self.path.display().to_string()
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err("reading the schema version", e))
    }

    /// Reopens the store read-only, as an immutable file: nothing is created beside
    /// it, nothing in it changes. (A write-ahead log left by a crashed writer is not
    /// read; a clean close leaves none.)
    fn reopen_read_only(&mut self) -> Result<(), StoreError> {
        let uri = format!("file:{}?immutable=1", uri_path(&self.path));
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        self.conn = Connection::open_with_flags(uri, flags).map_err(|source| StoreError::Open {
            at: self.at(),
            source,
        })?;
        self.read_only = true;
        Ok(())
    }

    fn configure(&self) -> Result<(), StoreError> {
        // WAL lets `trellis runs` read while an ingest writes; NORMAL sync is durable
        // against process crashes, which is what matters for a results cache. The mode
        // switch bypasses SQLite's busy handler, so when several processes open a new
        // store at once it is retried here.
        retry_busy(self.busy_deadline, || {
            self.conn.pragma_update(None, "journal_mode", "WAL")
        })
        .map_err(|e| match e {
            WriteError::Busy(waited) => StoreError::Busy {
                at: self.at(),
                waited,
            },
            WriteError::Sqlite(e) => self.err("switching to WAL", e),
        })?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err("setting synchronous", e))?;
        // A build's cells land in every test's part of the by-test index: with SQLite's
        // default 2 MB page cache those writes go to disk page by page. 32 MB (a bound
        // per connection) keeps a release-scale index's hot pages in memory.
        self.conn
            .pragma_update(None, "cache_size", -32_768)
            .map_err(|e| self.err("setting the page cache size", e))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        let supported = schema::current_version();
        if found == supported {
            return Ok(());
        }
        let at = self.at();
        self.with_write(|tx| {
            // Re-read inside the write lock: another process may have migrated first.
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(now as usize) {
                tx.execute_batch(sql)?;
                if i as i64 + 1 == schema::PACKED_VERSION {
                    write::backfill_packed(tx)?;
                }
                tx.pragma_update(None, "user_version", i as i64 + 1)?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            WriteError::Busy(waited) => StoreError::Busy { at, waited },
            WriteError::Sqlite(source) if is_read_only(&source) => StoreError::ReadOnly { at },
            WriteError::Sqlite(source) => StoreError::Sqlite {
                at,
                context: "migrating the schema",
                source,
            },
        })
    }

    /// A stored value that cannot be read back.
    fn damaged(&self, build_id: i64, reason: String) -> StoreError {
        StoreError::Damaged {
            at: self.at(),
            build_id,
            reason,
        }
    }

    /// An SQLite error as the store reports it: a write refused because the store
    /// cannot be written says so, not "may be damaged".
    fn err(&self, context: &'static str, source: rusqlite::Error) -> StoreError {
        if is_read_only(&source) {
            return StoreError::ReadOnly { at: self.at() };
        }
        StoreError::Sqlite {
            at: self.at(),
            context,
            source,
        }
    }
}

/// Whether SQLite refused a write because the store cannot be written.
fn is_read_only(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ffi::ErrorCode::ReadOnly)
}

impl StoreError {
    /// Whether the store exists but cannot be written: read-only, or (a WAL store in a
    /// directory that cannot be written) its shared-memory file cannot be made.
    fn is_unwritable(&self) -> bool {
        match self {
            StoreError::ReadOnly { .. } => true,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } => f.code == rusqlite::ffi::ErrorCode::CannotOpen,
            _ => false,
        }
    }
}

/// A path for an SQLite `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for ch in path.to_string_lossy().chars() {
        match ch {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

enum WriteError {
    Busy(Duration),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        WriteError::Sqlite(e)
    }
}

impl SqliteStore {
    /// Runs `body` in an IMMEDIATE transaction, retrying while another writer holds
    /// the lock, up to the busy deadline. Nothing is kept unless `body` succeeds.
    fn with_write<T>(
        &mut self,
        mut body: impl FnMut(&rusqlite::Transaction<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<T, WriteError> {
        let deadline = self.busy_deadline;
        let conn = &mut self.conn;
        retry_busy(deadline, || {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = body(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

/// Runs `attempt` until it stops failing with SQLITE_BUSY/LOCKED or `deadline` passes.
fn retry_busy<T>(
    deadline: Duration,
    mut attempt: impl FnMut() -> Result<T, rusqlite::Error>,
) -> Result<T, WriteError> {
    let start = std::time::Instant::now();
    let mut backoff = Duration::from_millis(5);
    loop {
        match attempt() {
            Err(e) if is_busy(&e) && start.elapsed() < deadline => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
            Err(e) if is_busy(&e) => return Err(WriteError::Busy(start.elapsed())),
            other => return other.map_err(WriteError::Sqlite),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

backend_by_inherent_methods!(SqliteStore);
