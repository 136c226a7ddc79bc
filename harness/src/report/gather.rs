//! Everything the site shows, gathered once from the store and the analysis.

use crate::analysis::{self, flakes::FlakeStats, triage::Cluster, Grid, StatusReport};
use crate::config::{Dashboard, DashboardConfig, DashboardGroup, Tab};
use crate::store::{BuildInfo, Store};
use std::collections::HashMap;
use std::path::Path;

pub struct Site {
    pub config: DashboardConfig,
    pub grids: HashMap<String, Grid>,
    /// Per job, one entry per grid row.
    pub flakes: HashMap<String, Vec<FlakeStats>>,
    /// Flake rate over the older half of the window, by (job, test): the trend basis.
    pub previous: HashMap<(String, String), f64>,
    pub status: StatusReport,
    pub clusters: Vec<Cluster>,
    pub builds: HashMap<String, HashMap<String, BuildInfo>>,
    pub now: i64,
}

/// Without a dashboards config every stored job becomes a tab of one dashboard.
fn implicit_config(jobs: &[String]) -> DashboardConfig {
    let tabs = jobs.iter().map(|j| Tab::with_defaults(j, j)).collect();
    DashboardConfig {
        dashboards: vec![Dashboard {
            name: "all-jobs".into(),
            tabs,
            release_blocking: false,
        }],
        groups: vec![DashboardGroup {
            name: "trellis".into(),
            dashboard_names: vec!["all-jobs".into()],
        }],
        ..DashboardConfig::default()
    }
}

/// Loads grids (builds started at or after `since`; all when `None`) and analyses them.
pub fn gather(
    db: &Path,
    config: DashboardConfig,
    since: Option<i64>,
    now: i64,
) -> Result<Site, crate::store::StoreError> {
    let store = Store::open(db)?;
    let jobs = store.jobs()?;
    let config = if config.dashboards.is_empty() {
        implicit_config(&jobs)
    } else {
        config
    };
    let wanted = config.jobs_shown(&jobs);
    let step = std::time::Instant::now();
    let grids_list = analysis::load_grids(db, &wanted, since, 2)?;
    tracing::info!(elapsed = ?step.elapsed(), "report: grids loaded");
    let step = std::time::Instant::now();
    let flakes = analysis::flake_table(&config, &grids_list, 2);
    let previous = previous_rates(&grids_list);
    tracing::info!(elapsed = ?step.elapsed(), "report: flake tables");
    let step = std::time::Instant::now();
    let clusters = analysis::triage::cluster(&analysis::failures(&grids_list));
    tracing::info!(elapsed = ?step.elapsed(), "report: failure clusters");
    let step = std::time::Instant::now();
    let mut builds = HashMap::new();
    for job in &wanted {
        builds.insert(job.clone(), store.build_infos(job)?);
    }
    tracing::info!(elapsed = ?step.elapsed(), "report: build metadata");
    let grids: HashMap<String, Grid> = grids_list.into_iter().map(|g| (g.job.clone(), g)).collect();
    let status = analysis::status(&config, &grids, &flakes, now);
    Ok(Site {
        config,
        grids,
        flakes,
        previous,
        status,
        clusters,
        builds,
        now,
    })
}

/// Flake rates over the older half of each grid's columns.
fn previous_rates(grids: &[Grid]) -> HashMap<(String, String), f64> {
    use crate::analysis::flakes::{row_stats_in, AlertRule, GridContext, Scratch};
    let mut out = HashMap::new();
    for g in grids {
        let ctx = GridContext::new(g);
        let mut scratch = Scratch::default();
        let older = g.columns.len() / 2..g.columns.len();
        for r in 0..g.rows.len() {
            let s = row_stats_in(
                g,
                r,
                older.clone(),
                &ctx,
                AlertRule::default(),
                &mut scratch,
            );
            if s.runs > 0 {
                out.insert((s.job, s.test), s.flake_rate);
            }
        }
    }
    out
}
