//! The smoke suite as a libtest-compatible binary: `trellis-smoke --list`,
//! `trellis-smoke --exact NAME`, or run it all. The cluster comes from KUBECONFIG.

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trellis_suites::smoke::trials()).exit();
}
