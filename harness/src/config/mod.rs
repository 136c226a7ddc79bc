//! Configuration read from files: TestGrid-format dashboards (which jobs form which
//! tabs, which dashboards are release-blocking, alerting thresholds), the quarantine
//! file of known flaky tests and the labels of known infra failures.

mod dashboards;
pub mod infra;
pub mod quarantine;

pub use dashboards::{
    load_dir, ConfigError, Dashboard, DashboardConfig, DashboardGroup, Tab, TestGroup,
    RELEASE_BLOCKING_FIELD, UNCONFIGURED,
};
