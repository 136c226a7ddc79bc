//! trellis: a Kubernetes conformance, CI-signal and flake-triage harness.
//!
//! Data flows one way:
//!
//! ```text
//! cluster → suite/runner → reporter sinks → artifacts → ingest → store → analysis → report
//! ```
//!
//! - [`cluster`] makes or borrows a cluster (kind, local, kubeconfig); [`run`] is
//!   `trellis run` as a library: provision, run each [`suite`] (the [`runner`] runs
//!   libtest binaries test by test), export logs, tear down — every step a typed
//!   event that the [`reporter`]'s sinks turn into the terminal, build-log.txt,
//!   [`prow`] metadata, JUnit and the stored build.
//! - [`ingest`] reads any CI's artifacts into [`model`] builds; [`store`] keeps them
//!   (and loads grids); [`analysis`] is pure computation on grids (no store access,
//!   a test holds it); [`report`] renders an analysis snapshot.
//! - [`certify`] checks and builds CNCF conformance submissions from run results.
//! - [`cli`] only parses, calls one library operation, renders and maps failures to
//!   exit codes ([`exit`]), printing each failure once.
//!
//! Words: a **job** is a named stream of builds; a **build** is one grid column
//! (one run of a job); a **run** is one `trellis run`, which produces a build; a
//! **suite** is a manifest in `suites/`; a **test** is one row; an **attempt** is one
//! execution of a test; a **cell** is one test's result in one build.

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
pub mod printable;
pub mod process;
pub mod prow;
pub mod report;
pub mod reporter;
pub mod run;
pub mod runner;
pub mod secrets;
pub mod simulate;
pub mod store;
pub mod suite;
pub mod xml;
pub mod yaml;
