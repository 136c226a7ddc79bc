//! Process exit codes. Scripts and CI rely on these; never renumber one.

/// Everything asked for was done.
pub const OK: i32 = 0;
/// An operation failed outright (the store could not be opened, a write failed).
pub const FAILURE: i32 = 1;
/// The command line was wrong (clap's own code).
pub const USAGE: i32 = 2;
/// At least one input could not be ingested; the others were stored.
pub const INPUT_REJECTED: i32 = 3;
/// The job or build asked for is not in the store.
pub const NOT_FOUND: i32 = 4;
/// A conformance submission failed verification.
pub const SUBMISSION_REJECTED: i32 = 5;
/// `trellis status`: the release is blocked.
pub const RELEASE_BLOCKED: i32 = 6;
/// `trellis test`: at least one test failed (after its retries).
pub const TESTS_FAILED: i32 = 7;
/// `trellis gate`: the build has a `new` failure, one neither flakiness, base breakage,
/// infra nor quarantine explains.
pub const GATE_BLOCKED: i32 = 8;

/// `trellis run` was stopped by SIGINT (Ctrl-C); the cluster was torn down first.
pub const INTERRUPTED_SIGINT: i32 = 130;

/// `trellis run` was stopped by SIGTERM; the cluster was torn down first.
pub const INTERRUPTED_SIGTERM: i32 = 143;
