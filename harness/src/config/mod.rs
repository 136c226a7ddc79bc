//! Configuration read from files: TestGrid-format dashboards (which jobs form which
//! tabs, which dashboards are release-blocking, alerting thresholds) and the quarantine
//! file of known flaky tests.

mod dashboards;
pub mod quarantine;

pub use dashboards::{
    load_dir, ConfigError, Dashboard, DashboardConfig, DashboardGroup, Tab, TestGroup,
    RELEASE_BLOCKING_FIELD, UNCONFIGURED,
};
