//! trellis: a Kubernetes conformance, CI-signal and flake-triage harness.
//!
//! Data flows one way: artifacts → [`ingest`] → [`store`] → analysis → report;
//! [`certify`] checks and builds CNCF conformance submissions from run results.
//! [`model`] holds the types every stage shares; [`cli`] only parses and dispatches.

pub mod analysis;
pub mod bench;
pub mod certify;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod exit;
pub mod ingest;
pub mod interrupt;
pub mod model;
pub mod process;
pub mod prow;
pub mod report;
pub mod reporter;
pub mod run;
pub mod runner;
pub mod simulate;
pub mod store;
pub mod suite;
pub mod xml;
