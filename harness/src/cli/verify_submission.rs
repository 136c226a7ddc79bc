//! `trellis verify-submission`: the CNCF review checks on a submission folder.

use super::failure::Failure;
use crate::certify::{self, Minor, Verdict, VerifyOptions};
use crate::exit;
use std::path::PathBuf;

/// Check a CNCF k8s-conformance submission folder (vX.Y/<product>/) the way the
/// review bot does, plus e2e.log version and count checks the bot lacks.
///
/// Every check is listed with pass/fail and a hint. `--json` prints
/// {verdict: "pass"|"fail", version, product, checks: [{id, passed, warning, message, hint?, details?}]}.
/// Exit code 0 when it passes, 5 when any check fails.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The submission folder, e.g. v1.30/mydistro.
    dir: PathBuf,
    /// The newest released minor at review time (supported = it and the two before).
    #[arg(long, value_name = "vX.Y", value_parser = parse_minor)]
    stable: Option<Minor>,
    /// Required-test list to use instead of the built-in one for the folder's version.
    #[arg(long, value_name = "FILE")]
    conformance_yaml: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn parse_minor(text: &str) -> Result<Minor, String> {
    Minor::parse(text).ok_or_else(|| format!("`{text}` is not a Kubernetes minor like v1.30"))
}

pub fn run(args: Args) -> Result<i32, Failure> {
    let mut opts = VerifyOptions {
        conformance_yaml: args.conformance_yaml,
        ..VerifyOptions::default()
    };
    if let Some(stable) = args.stable {
        opts.stable = stable;
    }
    let report = certify::verify(&args.dir, &opts);
    if args.json {
        super::print_json(&report)?;
    } else {
        print!("{}", report.render());
    }
    Ok(match report.verdict {
        Verdict::Pass => exit::OK,
        Verdict::Fail => exit::SUBMISSION_REJECTED,
    })
}
