//! Everything the site shows, gathered once: the analysis [`Snapshot`], failure
//! clusters, and each build's stored metadata.

use crate::analysis::{self, pass_rates, triage::Cluster, Snapshot};
use crate::config::components::Components;
use crate::config::DashboardConfig;
use crate::model::Span;
use crate::store::{self, BuildInfo, Store};
use std::collections::HashMap;

pub struct Site {
    pub config: DashboardConfig,
    pub snapshot: Snapshot,
    /// Flake rate over the older half of the window, by (job, test): the trend basis.
    pub previous: HashMap<(String, String), f64>,
    pub clusters: Vec<Cluster>,
    pub builds: HashMap<String, HashMap<String, BuildInfo>>,
    pub perf: super::perf_page::PerfHistory,
    /// Sippy's numbers, when the window has a start to compare with what came before.
    pub sippy: Option<Sippy>,
    /// When the site was made (Unix seconds).
    pub generated_at: i64,
    /// Where the site will be served (`report --site-url`), for links that leave it
    /// (a filed bug's `<test-url>`); without it they are site-relative.
    pub site_url: Option<String>,
}

/// Pass rates against the previous window and component readiness.
pub struct Sippy {
    pub windows: pass_rates::Windows,
    pub jobs: Vec<pass_rates::JobRates>,
    pub tests: Vec<pass_rates::TestRates>,
    pub readiness: pass_rates::Readiness,
}

/// The regression basis `trellis regressions` uses by default.
const BASIS_DAYS: i64 = 28;

/// Loads the window before `span` (and the 28-day regression basis) beside it and
/// computes Sippy's numbers; `None` for a window without a start.
fn sippy(
    db: &crate::store::Location,
    config: &DashboardConfig,
    components: &Components,
    wanted: &[String],
    span: Span,
    now: i64,
) -> Result<Option<Sippy>, store::StoreError> {
    let (Some(since), until) = (span.since, span.until.unwrap_or(now)) else {
        return Ok(None);
    };
    let length = (until - since).max(1);
    let windows = pass_rates::Windows {
        previous: since - length,
        current: since,
        until,
        basis: since - BASIS_DAYS * 86_400,
    };
    let history = Span {
        since: Some(windows.previous.min(windows.basis)),
        until: Some(until),
    };
    let mut grids = store::load_grids(db, wanted, history, 2)?;
    config.as_testgrid_reads(&mut grids, now);
    let grids: Vec<&crate::model::Grid> = grids.iter().collect();
    Ok(Some(Sippy {
        windows,
        jobs: pass_rates::jobs(&grids, &windows),
        tests: pass_rates::tests(&grids, &windows, components),
        readiness: pass_rates::readiness(&grids, &windows, components),
    }))
}

/// `config` plus the stored jobs it does not show ([`DashboardConfig::with_unconfigured`]).
pub fn with_stored_jobs(
    db: &crate::store::Location,
    config: DashboardConfig,
) -> Result<DashboardConfig, store::StoreError> {
    Ok(config.with_unconfigured(&Store::open(db)?.jobs()?))
}

/// Loads the grids of the jobs `config` shows (the builds `span` takes; with
/// `group_windows`, each cut to its test group's `days_of_results` back from `now`)
/// and analyses them at `now`.
pub fn snapshot(
    db: &crate::store::Location,
    config: &DashboardConfig,
    span: Span,
    now: i64,
    group_windows: bool,
) -> Result<Snapshot, store::StoreError> {
    let jobs = Store::open(db)?.jobs()?;
    let wanted = config.jobs_shown(&jobs);
    let step = std::time::Instant::now();
    let mut grids = store::load_grids(db, &wanted, span, 2)?;
    config.as_testgrid_reads(&mut grids, now);
    if group_windows {
        config.cut_to_group_windows(&mut grids, now);
    }
    tracing::info!(elapsed = ?step.elapsed(), "grids loaded");
    let step = std::time::Instant::now();
    let snapshot = Snapshot::compute(config, grids, now);
    tracing::info!(elapsed = ?step.elapsed(), "snapshot computed");
    Ok(snapshot)
}

/// Everything the site needs: the snapshot, failure clusters and build metadata, and
/// Sippy's numbers with tests grouped by `components`.
pub fn gather(
    db: &crate::store::Location,
    config: DashboardConfig,
    components: &Components,
    span: Span,
    now: i64,
    group_windows: bool,
) -> Result<Site, store::StoreError> {
    let config = with_stored_jobs(db, config)?;
    let snapshot = snapshot(db, &config, span, now, group_windows)?;
    let step = std::time::Instant::now();
    // In job order, as the store lists them, so clusters come out the same every time.
    let mut grids: Vec<_> = snapshot.grids.values().collect();
    grids.sort_by(|a, b| a.job.cmp(&b.job));
    let clusters = analysis::triage::cluster(&analysis::failures(grids));
    tracing::info!(elapsed = ?step.elapsed(), "failure clusters");
    let store = Store::open(db)?;
    let mut builds = HashMap::new();
    for job in snapshot.grids.keys() {
        builds.insert(job.clone(), store.build_infos(job)?);
    }
    let mut perf = super::perf_page::PerfHistory::default();
    let stats = super::perf_page::STATS
        .iter()
        .chain(std::iter::once(&super::perf_page::DISRUPTION));
    for stat in stats {
        perf.points
            .insert(stat.to_string(), store.measurements(None, stat, Some(now))?);
    }
    perf.checks = analysis::perf::check(
        perf.points.get("Perc99").map_or(&[][..], Vec::as_slice),
        &analysis::perf::Settings::default(),
    );
    let step = std::time::Instant::now();
    let wanted: Vec<String> = snapshot.grids.keys().cloned().collect();
    let sippy = sippy(db, &config, components, &wanted, span, now)?;
    tracing::info!(elapsed = ?step.elapsed(), "pass rates and component readiness");
    Ok(Site {
        perf,
        sippy,
        generated_at: chrono::Utc::now().timestamp(),
        site_url: None,
        config,
        previous: snapshot.previous_rates(),
        snapshot,
        clusters,
        builds,
    })
}
