//! The data model: a job is a stream of builds (grid columns); a build holds cells
//! (one test's result in that build), each in one of TestGrid's sixteen states.

mod build;
mod cell;
mod grid;
mod status;

pub use build::{Build, Counts};
pub use cell::{clip_message, Cell, CellMerge, Observation, MAX_MESSAGE_BYTES};
pub use grid::{BuildRef, Column, Grid};
pub use status::{CellStatus, CountBucket};

/// Row name of the synthetic per-build result row (TestGrid's `Overall`).
pub const OVERALL_ROW: &str = "Overall";
