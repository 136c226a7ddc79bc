//! Where a store is: an SQLite file, or a PostgreSQL database named by a URL
//! (`postgres://USER@HOST:PORT/DB?sslmode=…`), as `--db` and `TRELLIS_DB` give it.
//!
//! The password may come from the URL, `PGPASSWORD` or `~/.pgpass` (`PGPASSFILE`), in
//! that order, as libpq reads them; it is kept apart from everything printable, so a
//! location can be shown in any message.

use super::StoreError;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A store's location.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}

/// Where the SQLite store lives when neither `--db` nor `TRELLIS_DB` says:
/// `$XDG_DATA_HOME/trellis/trellis.db`, else `~/.local/share/trellis/trellis.db`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("trellis").join("trellis.db")
}

impl Location {
    /// Reads a `--db` value: `postgres://…` or `postgresql://…` is a server,
    /// `sqlite:PATH` or anything else a file.
    pub fn parse(value: &OsStr) -> Result<Location, StoreError> {
        let Some(text) = value.to_str() else {
            return Ok(Location::Sqlite(PathBuf::from(value)));
        };
        if let Some(rest) = text
            .strip_prefix("postgres://")
            .or_else(|| text.strip_prefix("postgresql://"))
        {
            return PgTarget::parse(rest).map(Location::Postgres);
        }
        Ok(Location::Sqlite(PathBuf::from(
            text.strip_prefix("sqlite:").unwrap_or(text),
        )))
    }

    /// The SQLite file, when the store is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// Whether a store may be there: an SQLite file exists; a server is asked when
    /// opened.
    pub fn may_exist(&self) -> bool {
        match self {
            Location::Sqlite(path) => path.exists(),
            Location::Postgres(_) => true,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(t) => t.fmt(f),
        }
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Self {
        Location::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Location::Sqlite(path.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::Sqlite(path)
    }
}

impl From<&Location> for Location {
    fn from(at: &Location) -> Self {
        at.clone()
    }
}

/// How the connection to the server is protected, as libpq's `sslmode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    /// TLS or nothing (`require`, `verify-ca` and `verify-full`: trellis always checks
    /// the server's certificate against the system's roots or `sslrootcert`).
    Require,
}

/// A PostgreSQL database and how to reach it.
#[derive(Clone, PartialEq)]
pub struct PgTarget {
    pub user: String,
    /// A host name or address, or a directory holding the server's Unix socket.
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
    /// CA certificates (PEM) to check the server against instead of the system's.
    pub sslrootcert: Option<PathBuf>,
    /// How long connecting may take before the server counts as unreachable.
    pub connect_timeout: Duration,
    password: Option<Password>,
}

/// A password: never printed, not even by `Debug`.
#[derive(Clone, PartialEq)]
struct Password(String);

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("user", &self.user)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') && !self.host.starts_with('/') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.user, host, self.port, self.dbname
        )
    }
}

/// The default connect timeout: long enough for a server across a data centre,
/// short enough that a wrong address is reported promptly.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PgTarget {
    /// Parses what follows `postgres://`: `[USER[:PASSWORD]@][HOST][:PORT][/DB][?K=V&…]`.
    fn parse(rest: &str) -> Result<PgTarget, StoreError> {
        let bad = |reason: String| StoreError::BadLocation {
            // Never echo a password: show the URL up to the user info's end.
            value: redact_url(rest),
            reason,
        };
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = main.split_once('/').unwrap_or((main, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (mut user, mut password) = (None, None);
        if let Some(info) = userinfo {
            let (u, p) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            user = Some(percent_decode(u).map_err(bad)?).filter(|u| !u.is_empty());
            password = p.map(percent_decode).transpose().map_err(bad)?;
        }
        let (mut host, mut port) = split_host_port(hostport).map_err(bad)?;
        let mut dbname = Some(percent_decode(path).map_err(bad)?).filter(|d| !d.is_empty());
        let mut sslmode = SslMode::Prefer;
        let mut sslrootcert = None;
        let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).map_err(bad)?;
            match key {
                "sslmode" => {
                    sslmode = match value.as_str() {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" | "verify-ca" | "verify-full" => SslMode::Require,
                        other => {
                            return Err(bad(format!(
                                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                            )))
                        }
                    }
                }
                "sslrootcert" => sslrootcert = Some(PathBuf::from(value)),
                "connect_timeout" => {
                    let secs: u64 = value.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        bad(format!(
                            "connect_timeout={value} is not a positive number of seconds"
                        ))
                    })?;
                    connect_timeout = Duration::from_secs(secs);
                }
                "host" => host = Some(value),
                "port" => port = Some(parse_port(&value).map_err(bad)?),
                "user" => user = Some(value),
                "password" => password = Some(value),
                "dbname" => dbname = Some(value),
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?} (trellis reads sslmode, sslrootcert, connect_timeout, host, port, user, password, dbname)"
                    )))
                }
            }
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let user = user
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_string());
        let host = host
            .or_else(|| env("PGHOST"))
            .unwrap_or_else(|| "localhost".to_string());
        let port = match port {
            Some(p) => p,
            None => match env("PGPORT") {
                Some(p) => parse_port(&p).map_err(|r| bad(format!("PGPORT: {r}")))?,
                None => 5432,
            },
        };
        let dbname = dbname
            .or_else(|| env("PGDATABASE"))
            .unwrap_or_else(|| user.clone());
        let mut target = PgTarget {
            user,
            host,
            port,
            dbname,
            sslmode,
            sslrootcert,
            connect_timeout,
            password: password.map(Password),
        };
        if target.password.is_none() {
            target.password = env("PGPASSWORD")
                .or_else(|| pgpass_lookup(&target))
                .map(Password);
        }
        Ok(target)
    }

    /// The password, for the connection only.
    pub(super) fn password(&self) -> Option<&str> {
        self.password.as_ref().map(|p| p.0.as_str())
    }
}

fn split_host_port(hostport: &str) -> Result<(Option<String>, Option<u16>), String> {
    if hostport.is_empty() {
        return Ok((None, None));
    }
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{hostport:?}: an IPv6 address needs its closing ]"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => {
                return Err(format!(
                    "{hostport:?}: unexpected {after:?} after the address"
                ))
            }
        };
        return Ok((Some(host.to_string()), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => Ok((
            Some(percent_decode(host)?).filter(|h| !h.is_empty()),
            Some(parse_port(port)?),
        )),
        None => Ok((Some(percent_decode(hostport)?), None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port {text:?} is not a number from 1 to 65535"))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "a % in the URL must be followed by two hex digits".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL decodes to text that is not UTF-8".to_string())
}

/// The URL with any password replaced, for error messages.
fn redact_url(rest: &str) -> String {
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let main = match main.split_once('@') {
        Some((info, after)) => {
            let user = info.split_once(':').map_or(info, |(u, _)| u);
            format!("{user}@{after}")
        }
        None => main.to_string(),
    };
    let query: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some(("password", _)) => "password=[redacted]".to_string(),
            _ => p.to_string(),
        })
        .collect();
    if query.is_empty() {
        format!("postgres://{main}")
    } else {
        format!("postgres://{main}?{}", query.join("&"))
    }
}

/// The password `~/.pgpass` (or `PGPASSFILE`) gives `target`: the first line whose
/// `host:port:database:user` fields match (`*` matches anything), as libpq reads it.
/// A file others can read is ignored, as libpq ignores it.
fn pgpass_lookup(target: &PgTarget) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "{}: ignored: others can read it (chmod 0600 it)",
                path.display()
            );
            return None;
        }
    }
    // A password file is small; a huge one is not read.
    if meta.len() > 1 << 20 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let port = target.port.to_string();
    let wanted = [
        target.host.as_str(),
        port.as_str(),
        target.dbname.as_str(),
        target.user.as_str(),
    ];
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(pgpass_fields)
        .find(|fields| {
            wanted
                .iter()
                .zip(fields.iter())
                .all(|(want, field)| field == "*" || field == want)
        })
        .map(|mut fields| fields.pop().unwrap_or_default())
}

/// A `.pgpass` line's five fields (`:` separates, `\` escapes), or `None` when it
/// does not have five.
fn pgpass_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    (fields.len() == 5).then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> PgTarget {
        match Location::parse(OsStr::new(url)).unwrap() {
            Location::Postgres(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_parse_and_never_print_the_password() {
        let t = pg("postgres://ci:s3cr%40t@db.example:6543/trellis?sslmode=require");
        assert_eq!(
            (t.user.as_str(), t.host.as_str(), t.port, t.dbname.as_str()),
            ("ci", "db.example", 6543, "trellis")
        );
        assert_eq!(t.password(), Some("s3cr@t"));
        assert_eq!(t.sslmode, SslMode::Require);
        assert_eq!(t.to_string(), "postgres://ci@db.example:6543/trellis");
        assert!(!format!("{t:?}").contains("s3cr"));
        let v6 = pg("postgresql://u@[::1]:5433/d?sslmode=disable");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5433));
        assert_eq!(v6.to_string(), "postgres://u@[::1]:5433/d");
        let socket = pg("postgres://u@/d?host=/run/postgresql");
        assert_eq!(socket.host, "/run/postgresql");
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_the_password() {
        for (url, says) in [
            ("postgres://u:pw@h:99999/d", "port"),
            ("postgres://u:pw@h/d?sslmode=maybe", "sslmode=maybe"),
            ("postgres://u:pw@h/d?colour=red", "unknown parameter"),
            ("postgres://u:pw@h/d?connect_timeout=0", "connect_timeout"),
            ("postgres://u:pw@[::1/d", "closing ]"),
            ("postgres://u:pw@h/d%zz", "hex digits"),
        ] {
            let e = Location::parse(OsStr::new(url)).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("pw"), "{url}: {e}");
        }
    }

    #[test]
    fn paths_and_sqlite_urls_are_files() {
        assert_eq!(
            Location::parse(OsStr::new("sqlite:/tmp/x.db")).unwrap(),
            Location::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            Location::parse(OsStr::new("t.db")).unwrap(),
            Location::Sqlite(PathBuf::from("t.db"))
        );
    }

    #[test]
    fn pgpass_fields_honour_escapes() {
        assert_eq!(
            pgpass_fields(r"h:5432:*:u:pa\:ss\\word").unwrap(),
            ["h", "5432", "*", "u", r"pa:ss\word"]
        );
        assert!(pgpass_fields("h:5432:db").is_none());
    }
}
