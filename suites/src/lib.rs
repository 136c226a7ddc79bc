//! trellis's own test suites: libtest-mimic binaries (smoke, perf, upgrade checks) that
//! `trellis test` runs the way cargo-nextest runs test binaries, and the manifests that
//! declare each suite. The suites arrive with the cluster-and-suites work; this crate
//! holds the workspace place for them so the layout is fixed from the start.
