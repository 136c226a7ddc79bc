//! trellis's own test suites: libtest-mimic binaries that `trellis test` runs the way
//! cargo-nextest runs test binaries, and the manifests that declare each suite. So far
//! it holds `tests/trivial.rs`, 1,000 trivial tests that `trellis bench runner` times
//! trellis and cargo-nextest on; the smoke, perf and upgrade suites come with the
//! cluster work.
