//! Configuration read from files: TestGrid-format dashboards (which jobs form which
//! tabs, which dashboards are release-blocking, alerting thresholds), the quarantine
//! file of known flaky tests and the labels of known infra failures.

pub mod components;
mod dashboards;
pub mod infra;
pub mod quarantine;

pub use dashboards::{
    load_dir, ConfigError, Dashboard, DashboardConfig, DashboardGroup, Tab, TestGroup,
    RELEASE_BLOCKING_FIELD, UNCONFIGURED,
};

/// A small YAML file given by a flag (`--quarantine`, `--infra`) that could not be read
/// or says something wrong.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
        /// The flag that named the file.
        flag: &'static str,
    },
    #[error("{path}: {reason}")]
    Invalid {
        path: std::path::PathBuf,
        reason: String,
        /// What a right file holds, for the hint.
        format: &'static str,
    },
}

impl FileError {
    pub fn hint(&self) -> String {
        match self {
            FileError::Io { flag, .. } => format!("pass {flag} FILE with a readable file"),
            FileError::Invalid { format, .. } => format!("fix the named line or entry: {format}"),
        }
    }
}

/// Reads the file `flag` names and parses it with `parse`, whose error (a line or an
/// entry, and what is wrong) is reported with the path.
pub(crate) fn load_file<T>(
    path: &std::path::Path,
    flag: &'static str,
    format: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
        flag,
    })?;
    parse(&text).map_err(|reason| FileError::Invalid {
        path: path.to_path_buf(),
        reason,
        format,
    })
}
