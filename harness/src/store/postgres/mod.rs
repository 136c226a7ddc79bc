//! The shared store: a PostgreSQL database (12 or newer), for a CI fleet's many
//! writers and readers.
//!
//! The guarantees are SQLite's, kept the server's way: a build is one transaction (a
//! reader never sees half of one; a writer killed or cut off mid-build leaves nothing,
//! the server rolls it back); re-ingesting is a no-op because `(job, build)` is a
//! unique index and the insert says `ON CONFLICT DO NOTHING` (no read-then-write
//! race); job and test names are interned before the build's transaction, in sorted
//! order, so concurrent writers never deadlock on them. Migrations run under an
//! advisory lock; a newer schema, a database holding other tables and a server too
//! old are refused before anything is written.

mod read;
mod schema;
mod write;

use super::location::{PgTarget, SslMode};
use super::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The advisory lock migrations hold ("trellis" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_7265_6c6c_6973;

/// The oldest server the schema runs on (`INCLUDE` indexes).
const MIN_SERVER_VERSION: i32 = 120_000;

pub(super) struct PgStore {
    /// Queries need `&mut`; the store's reads take `&self`. One connection per
    /// store, never shared between threads.
    client: RefCell<postgres::Client>,
    at: String,
    /// Interned names already committed: name → id.
    test_ids: HashMap<String, i64>,
}

impl PgStore {
    pub(super) fn open(target: &PgTarget) -> Result<PgStore, StoreError> {
        let at = target.to_string();
        let client = connect(target, &at)?;
        let mut store = PgStore {
            client: RefCell::new(client),
            at,
            test_ids: HashMap::new(),
        };
        store.check_server()?;
        store.migrate()?;
        Ok(store)
    }

    /// A stored value that cannot be read back.
    fn damaged(&self, build_id: i64, reason: String) -> StoreError {
        StoreError::Damaged {
            at: self.at.clone(),
            build_id,
            reason,
        }
    }

    fn err(&self, context: &'static str, source: postgres::Error) -> StoreError {
        StoreError::Postgres {
            at: self.at.clone(),
            context,
            source,
        }
    }

    fn check_server(&self) -> Result<(), StoreError> {
        let row = self
            .client
            .borrow_mut()
            .query_one(
                "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
                &[],
            )
            .map_err(|e| self.err("reading the server's version", e))?;
        let num: i32 = row.get(0);
        if num < MIN_SERVER_VERSION {
            return Err(StoreError::ServerTooOld {
                at: self.at.clone(),
                version: row.get(1),
            });
        }
        Ok(())
    }

    /// The stored schema version, `None` when the database has no trellis schema.
    fn schema_version(
        client: &mut impl postgres::GenericClient,
    ) -> Result<Option<i64>, postgres::Error> {
        // pg_class read as a table, with this statement's snapshot: `to_regclass`
        // consults a catalog cache that may not yet know of a table another migrator
        // just committed.
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relname = 'trellis_schema' AND n.nspname = current_schema())",
                &[],
            )?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let row = client.query_one("SELECT coalesce(max(version), 0) FROM trellis_schema", &[])?;
        Ok(Some(row.get(0)))
    }

    /// Brings the schema to this trellis's version. Read first without a lock (the
    /// usual case: nothing to do); otherwise under the advisory lock, re-read, so of
    /// several processes opening a new database at once one migrates.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let supported = schema::current_version();
        let found = Self::schema_version(&mut *self.client.borrow_mut())
            .map_err(|e| self.err("reading the schema version", e))?;
        match found {
            Some(v) if v > supported => {
                return Err(StoreError::TooNew {
                    at: self.at.clone(),
                    found: v,
                    supported,
                })
            }
            Some(v) if v == supported => return Ok(()),
            _ => {}
        }
        let at = self.at.clone();
        let mut client = self.client.borrow_mut();
        let result = (|| -> Result<Result<(), StoreError>, postgres::Error> {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            let now = match Self::schema_version(&mut tx)? {
                Some(v) if v > supported => {
                    return Ok(Err(StoreError::TooNew {
                        at: at.clone(),
                        found: v,
                        supported,
                    }))
                }
                Some(v) => v,
                None => {
                    // Checked under the lock: another process may have just made
                    // trellis's tables, which are not foreign.
                    if let Some(tables) = foreign_tables(&mut tx)? {
                        return Ok(Err(StoreError::NotTrellis {
                            at: at.clone(),
                            tables,
                        }));
                    }
                    tx.batch_execute(
                        "CREATE TABLE trellis_schema (version BIGINT NOT NULL);
                         INSERT INTO trellis_schema VALUES (0);",
                    )?;
                    0
                }
            };
            for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(now as usize) {
                tx.batch_execute(sql)?;
                if i as i64 + 1 == schema::PACKED_VERSION {
                    write::backfill_packed(&mut tx)?;
                }
                tx.execute("UPDATE trellis_schema SET version = $1", &[&(i as i64 + 1)])?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })();
        match result {
            Ok(outcome) => outcome,
            Err(source) => Err(StoreError::Postgres {
                at,
                context: "migrating the schema",
                source,
            }),
        }
    }
}

/// A database without trellis's schema must hold no tables at all (trellis does not
/// mix its tables with an application's): the first few names of those it holds.
fn foreign_tables(
    client: &mut impl postgres::GenericClient,
) -> Result<Option<String>, postgres::Error> {
    let rows = client.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
         ORDER BY tablename LIMIT 6",
        &[],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut names: Vec<String> = rows.iter().take(5).map(|r| r.get(0)).collect();
    if rows.len() > 5 {
        names.push("…".to_string());
    }
    Ok(Some(names.join(", ")))
}

/// Connects, within the target's connect timeout, and says which of "cannot reach",
/// "login refused" or another failure it was.
fn connect(target: &PgTarget, at: &str) -> Result<postgres::Client, StoreError> {
    let mut config = postgres::Config::new();
    config
        .user(&target.user)
        .host(&target.host)
        .port(target.port)
        .dbname(&target.dbname)
        .application_name("trellis")
        .connect_timeout(target.connect_timeout)
        .ssl_mode(match target.sslmode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require => postgres::config::SslMode::Require,
        });
    if let Some(password) = target.password() {
        config.password(password);
    }
    let tls = (target.sslmode != SslMode::Disable)
        .then(|| tls(target, at))
        .transpose()?;
    // The connect timeout bounds the TCP connect only: a server that accepts and
    // never answers would hold the start-up forever. So the whole handshake runs on
    // a thread waited for under the deadline; one that overruns is left to end (or
    // not) on its own, its connection dropped when it does.
    let (send, receive) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("pg-connect".into())
        .spawn(move || {
            let result = match tls {
                Some(tls) => config.connect(tls),
                None => config.connect(postgres::NoTls),
            };
            let _ = send.send(result);
        });
    if let Err(e) = spawned {
        return Err(StoreError::Unreachable {
            at: at.to_string(),
            host: target.host.clone(),
            port: target.port,
            reason: format!("cannot start a thread to connect: {e}"),
        });
    }
    match receive.recv_timeout(target.connect_timeout) {
        Ok(result) => result.map_err(|e| classify_connect_error(target, at, e)),
        Err(_) => Err(StoreError::Unreachable {
            at: at.to_string(),
            host: target.host.clone(),
            port: target.port,
            reason: format!("no answer within {} s", target.connect_timeout.as_secs()),
        }),
    }
}

fn classify_connect_error(target: &PgTarget, at: &str, e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let login = e.as_db_error().is_some_and(|db| {
        // Class 28: invalid authorization (wrong password, no such role, pg_hba).
        db.code().code().starts_with("28")
    }) || e.to_string().contains("password missing");
    if login {
        return StoreError::Login {
            at: at.to_string(),
            reason: error_chain(&e),
        };
    }
    let chain = error_chain(&e);
    if e.as_db_error().is_none() && (chain.contains("certificate") || chain.contains("TLS")) {
        return StoreError::Tls {
            at: at.to_string(),
            reason: chain,
        };
    }
    if e.as_db_error().is_some() || e.code() == Some(&SqlState::INVALID_CATALOG_NAME) {
        return StoreError::Postgres {
            at: at.to_string(),
            context: "connecting",
            source: e,
        };
    }
    StoreError::Unreachable {
        at: at.to_string(),
        host: target.host.clone(),
        port: target.port,
        reason: error_chain(&e),
    }
}

/// An error and its causes on one line (a postgres I/O error names its cause only
/// as a source).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let causes = std::iter::successors(e.source(), |s| s.source());
    for cause in causes.take(8) {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

/// TLS that checks the server's certificate: against `sslrootcert` when given, else
/// the system's roots.
fn tls(
    target: &PgTarget,
    at: &str,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::{pem::PemObject as _, CertificateDer};
    let bad = |reason: String| StoreError::Tls {
        at: at.to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    match &target.sslrootcert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Text PostgreSQL can store: it has no NUL character (SQLite does), so one becomes
/// U+FFFD.
fn pg_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

backend_by_inherent_methods!(PgStore);
