//! `trellis certify`: package a conformance run as a CNCF submission and verify it.

use super::failure::Failure;
use super::verify_submission::parse_minor;
use crate::certify::{self, CertifyOptions, Minor, Verdict, VerifyOptions};
use crate::exit;
use std::path::PathBuf;

/// Build OUT/vX.Y/<product>/ (README.md, PRODUCT.yaml, e2e.log, junit_01.xml) from a
/// conformance run, then run every `verify-submission` check on it.
///
/// RESULTS is a Hydrophone output directory, a Sonobuoy results tarball, or a trellis
/// conformance run's build directory. The README says how to reproduce the run.
/// Exit code 0 when the submission would pass review, 5 when a check fails.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conformance run's results.
    #[arg(long, value_name = "RESULTS")]
    results: String,
    /// The product's PRODUCT.yaml.
    #[arg(long, value_name = "FILE")]
    product: PathBuf,
    /// Where to create vX.Y/<product>/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Kubernetes minor of the run (default: from e2e.log's versions).
    #[arg(long, value_name = "vX.Y", value_parser = parse_minor)]
    k8s_version: Option<Minor>,
    /// Product folder name (default: from PRODUCT.yaml's name, lowercased with dashes).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Replace an existing submission folder.
    #[arg(long)]
    force: bool,
    /// The newest released minor at review time.
    #[arg(long, value_name = "vX.Y", value_parser = parse_minor)]
    stable: Option<Minor>,
    /// Machine-readable verification report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<i32, Failure> {
    let mut verify = VerifyOptions::default();
    if let Some(stable) = args.stable {
        verify.stable = stable;
    }
    let opts = CertifyOptions {
        results: args.results,
        product_yaml: args.product,
        out: args.out,
        version: args.k8s_version,
        name: args.name,
        force: args.force,
        verify,
    };
    let done = certify::certify(&opts)?;
    if args.json {
        super::print_json(&done.report)?;
    } else {
        println!("wrote {}", done.dir.display());
        print!("{}", done.report.render());
    }
    Ok(match done.report.verdict {
        Verdict::Pass => exit::OK,
        Verdict::Fail => exit::SUBMISSION_REJECTED,
    })
}
