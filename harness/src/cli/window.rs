//! Options shared by the analysis commands: where the dashboards are, the time window,
//! and the decision time.

use super::failure::Failure;
use crate::config::{self, DashboardConfig};
use crate::model::{Grid, Span};
use crate::store::Store;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// TestGrid-format dashboard configs (test_groups, dashboards, dashboard_groups).
    #[arg(long, default_value = "dashboards", value_name = "DIR")]
    pub dashboards: PathBuf,
    /// Days of results to analyse, back from the decision time [default: the longest
    /// days_of_results in the dashboards, TestGrid's built-in 7 without any].
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Decision time in Unix seconds: builds that started later are not seen
    /// [default: now].
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

    /// The window: `--days` (else the dashboards' `days_of_results`) back from `--at`.
    /// Without `--days`, each job is then cut to its own test group's
    /// `days_of_results` ([`Window::per_test_group`]).
    pub fn window(&self, config: &DashboardConfig) -> Window {
        let days = self.days.unwrap_or_else(|| config.days_of_results());
        let until = self.now();
        Window {
            days,
            since: until - i64::from(days) * 86_400,
            until,
            per_test_group: self.days.is_none() && !config.test_groups.is_empty(),
        }
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

/// The builds an analysis command looked at: started within `days` before `until`
/// (Unix seconds), each job's newest build even when older. Printed on every human
/// report and carried in `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub days: u32,
    pub since: i64,
    pub until: i64,
    /// Each job is cut to its test group's own `days_of_results` (TestGrid keeps a
    /// window per group); `days` is then the longest of them.
    pub per_test_group: bool,
}

impl Window {
    pub fn span(&self) -> Span {
        Span {
            since: Some(self.since),
            until: Some(self.until),
        }
    }

    /// `window: builds started 2026-11-17 10:00 – 2026-12-02 10:00 UTC (15 days) …`
    pub fn describe(&self) -> String {
        format!(
            "window: builds started {} – {} UTC ({} days{}; --days N, --at UNIX_SECONDS); \
             a job with no build in it shows its newest",
            utc(self.since),
            utc(self.until),
            self.days,
            if self.per_test_group {
                ", or a job's test group's days_of_results"
            } else {
                ""
            }
        )
    }
}

/// `2026-12-02 10:00`, or the raw number when it is not a representable time.
pub fn utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// Loads the grids of `jobs` (all stored jobs when `None`) in `span`, with cells
/// stored while a build ran re-read as at the span's end ([`Grid::expire_running`]). A
/// job the store does not have is an error naming the closest stored ones.
pub fn grids(
    db: &crate::store::Location,
    jobs: Option<Vec<String>>,
    span: Span,
) -> Result<Vec<Grid>, Failure> {
    let stored = Store::open(db).and_then(|s| s.jobs())?;
    let jobs = match jobs {
        Some(j) => {
            for job in &j {
                known_job(&stored, job, db)?;
            }
            j
        }
        None => stored,
    };
    let mut grids = crate::store::load_grids(db, &jobs, span, 2)?;
    let now = span.until.unwrap_or_else(|| chrono::Utc::now().timestamp());
    for g in &mut grids {
        g.expire_running(now);
    }
    Ok(grids)
}

/// Fails with NOT_FOUND unless `job` is stored, naming the stored jobs closest to it.
pub fn known_job(stored: &[String], job: &str, db: &crate::store::Location) -> Result<(), Failure> {
    if stored.iter().any(|j| j == job) {
        return Ok(());
    }
    let close = closest(stored, job, 3);
    let hint = if close.is_empty() {
        "`trellis runs` lists the stored jobs".to_string()
    } else {
        format!(
            "did you mean {}? (`trellis runs` lists the stored jobs)",
            close.join(", ")
        )
    };
    Err(Failure::message(
        crate::exit::NOT_FOUND,
        format!("no job {job} in {}", db),
        hint,
    ))
}

/// Up to `n` of `names` nearest to `wanted` by edit distance, nearest first; only
/// those a typo away (a third of the name's length, at least 2 edits) or containing it.
fn closest(names: &[String], wanted: &str, n: usize) -> Vec<String> {
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .map(|name| (edit_distance(name, wanted), name))
        .filter(|(d, name)| *d <= limit || name.contains(wanted))
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(n)
        .map(|(_, name)| name.clone())
        .collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub fn at(build: &crate::model::BuildRef) -> String {
    use crate::printable::line;
    match &build.commit {
        Some(c) => format!("build {} (commit {})", line(&build.build), line(c)),
        None => format!("build {}", line(&build.build)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typo_finds_the_job_it_meant() {
        let stored: Vec<String> = [
            "ci-kubernetes-e2e-gce",
            "ci-kubernetes-e2e-kind",
            "sim-job-01",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            super::closest(&stored, "ci-kubernetes-e2e-gcee", 3),
            ["ci-kubernetes-e2e-gce", "ci-kubernetes-e2e-kind"]
        );
        assert_eq!(super::closest(&stored, "sim", 3), ["sim-job-01"]);
        assert!(super::closest(&stored, "nothing-like-it", 3).is_empty());
        assert_eq!(super::edit_distance("kitten", "sitting"), 3);
    }
}
