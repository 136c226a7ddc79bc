//! Options shared by the analysis commands: where the dashboards are, the time window,
//! and the decision time.

use super::failure::Failure;
use crate::config::{self, DashboardConfig};
use crate::model::Grid;
use crate::store::Store;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// TestGrid-format dashboard configs (test_groups, dashboards, dashboard_groups).
    #[arg(long, default_value = "dashboards", value_name = "DIR")]
    pub dashboards: PathBuf,
    /// Days of results to analyse, back from the decision time.
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Decision time in Unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub at: Option<i64>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl WindowArgs {
    pub fn now(&self) -> i64 {
        self.at.unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    pub fn since(&self, default_days: u32) -> i64 {
        self.now() - i64::from(self.days.unwrap_or(default_days)) * 86_400
    }

    /// The dashboards config; a missing default directory means "no dashboards".
    pub fn config(&self) -> Result<DashboardConfig, Failure> {
        let is_default = self.dashboards == Path::new("dashboards");
        match config::load_dir(&self.dashboards) {
            Ok(c) => Ok(c),
            // The default location may be absent or empty: no dashboards then.
            Err(config::ConfigError::Empty { .. }) if is_default => Ok(DashboardConfig::default()),
            Err(config::ConfigError::Io { .. }) if is_default && !self.dashboards.exists() => {
                Ok(DashboardConfig::default())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Loads the grids of `jobs` (all stored jobs when `None`) since `since`.
pub fn grids(db: &Path, jobs: Option<Vec<String>>, since: i64) -> Result<Vec<Grid>, Failure> {
    let jobs = match jobs {
        Some(j) => j,
        None => Store::open(db).and_then(|s| s.jobs())?,
    };
    Ok(crate::store::load_grids(db, &jobs, Some(since), 2)?)
}

pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub fn at(build: &crate::model::BuildRef) -> String {
    match &build.commit {
        Some(c) => format!("build {} (commit {c})", build.build),
        None => format!("build {}", build.build),
    }
}
