//! trellis's own test suites: libtest-mimic binaries that `trellis test` and `trellis
//! run` execute the way cargo-nextest runs test binaries (one process per test).
//!
//! - `trellis-smoke` ([`smoke`]): a quick check that a cluster works, written with
//!   kube-rs; it reaches the cluster through `KUBECONFIG`.
//! - `tests/trivial.rs`: 1,000 trivial tests that `trellis bench runner` times trellis
//!   and cargo-nextest on.
//!
//! The manifests that declare each suite for `trellis run` are in `suites/*.yaml`.

pub mod smoke;
