//! 1,000 trivial libtest-mimic tests, for timing test runners against each other
//! (`trellis bench runner`): what is measured is the runner's overhead per test.

use libtest_mimic::{Arguments, Trial};

fn main() {
    let args = Arguments::from_args();
    let trials = (0..1000)
        .map(|i| {
            Trial::test(format!("trivial_{i:04}"), move || {
                std::hint::black_box(i);
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
