//! The data model: a job is a stream of builds (grid columns); a build holds cells
//! (one test's result in that build), each in one of TestGrid's sixteen states.

mod build;
mod cell;
mod grid;
mod perf;
mod status;

pub use build::{Build, Counts};
pub use cell::{clip_message, Cell, CellMerge, Observation, MAX_MESSAGE_BYTES};
pub use grid::{BuildRef, Column, Grid, Span};
pub use perf::{
    api_call_slo, latency_text, seconds_per, series_name, slo_of, Measurement, PerfPoint,
    POD_STARTUP_SLO,
};
pub use status::{CellStatus, CountBucket};

/// Row name of the synthetic per-build result row (TestGrid's `Overall`).
pub const OVERALL_ROW: &str = "Overall";
/// Row name of the per-build pod row TestGrid makes from Prow's podinfo.json.
pub const POD_ROW: &str = "Pod";

/// The build-metadata key of an upgrade run's disruption timeline (duration, steps,
/// intervals per backend), read from the upgrade monitor's record at ingest.
pub const DISRUPTION_METADATA: &str = "disruption";

/// TestGrid gives up on a build that has not finished a day after it started.
pub const GIVE_UP_ON_BUILD_AFTER_SECS: i64 = 24 * 3600;
/// The `Overall` message of a build given up on.
pub const NOT_COMPLETED_MESSAGE: &str = "Build did not complete within 24 hours";
/// TestGrid waits this long after a build finished for its podinfo.json.
pub const WAIT_FOR_PODINFO_SECS: i64 = 3600;

/// Rows made from a build's own metadata rather than from a test's result.
pub fn is_build_row(name: &str) -> bool {
    name == OVERALL_ROW || name == POD_ROW
}

/// A row as TestGrid names it: a build row is `<job>.Overall`, `<job>.Pod`.
pub fn row_label(job: &str, row: &str) -> String {
    if is_build_row(row) {
        format!("{job}.{row}")
    } else {
        row.to_string()
    }
}

/// A row that is a test: not a build row and not a Ginkgo suite node.
pub fn is_test_row(name: &str) -> bool {
    !is_build_row(name) && !is_suite_node(name)
}

/// The FNV-1a 64-bit offset basis: a digest of nothing yet.
pub const FNV1A_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a 64-bit digest over `bytes`: cheap, stable across runs and
/// platforms (unlike std's hasher), for ids and name digests, not for security.
pub fn fnv1a_continue(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The FNV-1a 64-bit digest of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_continue(FNV1A_START, bytes)
}

/// A Kubernetes spec row's spec text: `Kubernetes e2e suite.[sig-…] …` is the suite,
/// a dot, then the spec, whose text starts at the `[`. Other rows as they are.
pub fn spec_text(row: &str) -> &str {
    row.find(".[").map_or(row, |at| &row[at + 1..])
}

/// Ginkgo v2 reports its suite-level nodes (`[SynchronizedBeforeSuite]`,
/// `[ReportAfterSuite] Kubernetes e2e suite report`, …) as testcases: rows, as in
/// TestGrid, but not specs, so no count of tests includes them. `name` is a testcase
/// name or a row name (`<suite>.<testcase>`).
pub fn is_suite_node(name: &str) -> bool {
    const NODES: [&str; 7] = [
        "[BeforeSuite]",
        "[AfterSuite]",
        "[SynchronizedBeforeSuite]",
        "[SynchronizedAfterSuite]",
        "[ReportBeforeSuite]",
        "[ReportAfterSuite]",
        "[DeferCleanup (Suite)]",
    ];
    // Each `[` that starts the name or follows a `.`, checked against the nodes: a
    // byte scan, where searching for every node in turn costs seven passes per row.
    let bytes = name.as_bytes();
    memchr::memchr_iter(b'[', bytes)
        .filter(|&at| at == 0 || bytes[at - 1] == b'.')
        .any(|at| NODES.iter().any(|node| name[at..].starts_with(node)))
}
