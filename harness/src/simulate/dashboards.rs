//! The dashboards config for simulated jobs, written beside what `trellis simulate`
//! wrote: the first two jobs on a release-blocking dashboard, the rest on an
//! informing one, in TestGrid's format, with TestGrid's Kubernetes defaults beside it.
//! It describes simulated jobs only, so it never lands where real jobs are judged.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// TestGrid's Kubernetes defaults (the copy in the repository's `dashboards/`).
const DEFAULTS: &str = include_str!("../../../dashboards/default.yaml");

/// Tab names for the first simulated jobs; later jobs are named after themselves.
const TAB_NAMES: &[&str] = &["conformance", "e2e", "upgrade"];

/// The `trellis-sim.yaml` text for `jobs`.
pub fn config_yaml(jobs: &[String]) -> String {
    let blocking = jobs.len().min(2);
    let tab = |i: usize| TAB_NAMES.get(i).map_or(jobs[i].as_str(), |t| t);
    let mut y = String::from(
        "# Dashboards for the jobs `trellis simulate` wrote, in TestGrid's format.\n\
         # Unset fields come from default.yaml beside this file.\n\
         dashboard_groups:\n- name: trellis\n  dashboard_names:\n  - trellis-sim-blocking\n",
    );
    if jobs.len() > blocking {
        y.push_str("  - trellis-sim-informing\n");
    }
    y.push_str("\ndashboards:\n- name: trellis-sim-blocking\n  dashboard_tab:\n");
    for (i, job) in jobs.iter().enumerate().take(blocking) {
        let _ = write!(
            y,
            "  - name: {}\n    test_group_name: {job}\n    broken_column_threshold: 0.5\n",
            tab(i)
        );
    }
    if jobs.len() > blocking {
        y.push_str("- name: trellis-sim-informing\n  dashboard_tab:\n");
        for (i, job) in jobs.iter().enumerate().skip(blocking) {
            let _ = write!(
                y,
                "  - name: {}\n    test_group_name: {job}\n    alert_options:\n      alert_stale_results_hours: 24\n",
                tab(i)
            );
        }
    }
    y.push_str("\ntest_groups:\n");
    for (i, job) in jobs.iter().enumerate() {
        let _ = writeln!(
            y,
            "- name: {job}\n  gcs_prefix: kubernetes-ci-logs/logs/{job}"
        );
        // Alert thresholds are the test group's, staleness the tab's (as TestGrid's
        // production deployment reads them).
        if i >= blocking {
            y.push_str("  num_failures_to_alert: 2\n");
        }
    }
    y
}

/// Writes `default.yaml` and `trellis-sim.yaml` into `dir`; returns `dir`.
pub fn write(dir: &Path, jobs: &[String]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("default.yaml"), DEFAULTS)?;
    std::fs::write(dir.join("trellis-sim.yaml"), config_yaml(jobs))?;
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_written_config_loads_and_names_every_job() {
        let dir = tempfile::tempdir().unwrap();
        let jobs: Vec<String> = (1..=4).map(|i| format!("sim-job-{i:02}")).collect();
        super::write(dir.path(), &jobs).unwrap();
        let config = crate::config::load_dir(dir.path()).unwrap();
        let blocking: Vec<_> = config
            .dashboards
            .iter()
            .filter(|d| d.release_blocking)
            .flat_map(|d| d.tabs.iter().map(|t| t.test_group_name.clone()))
            .collect();
        assert_eq!(blocking, ["sim-job-01", "sim-job-02"]);
        assert_eq!(config.jobs_shown(&jobs), jobs);
    }
}
