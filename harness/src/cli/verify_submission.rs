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
    #[command(flatten)]
    review: ReviewTime,
    /// Required-test list to use instead of the built-in one for the folder's version.
    #[arg(long, value_name = "FILE")]
    conformance_yaml: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// When the submission is judged: which minor is the newest release then (a
/// submission must be for it or one of the two before).
#[derive(Debug, Clone, clap::Args)]
pub struct ReviewTime {
    #[arg(
        long,
        visible_alias = "as-of",
        value_name = "vX.Y",
        value_parser = parse_minor,
        help = format!(
            "The newest released minor at review time [default: {}, the newest whose \
             conformance.yaml trellis carries]",
            crate::certify::required::newest_embedded()
        )
    )]
    stable: Option<Minor>,
    /// Judge it as it was reviewed: its own version was then the newest release (for
    /// submissions merged in the past).
    #[arg(long, conflicts_with = "stable")]
    as_reviewed: bool,
}

impl ReviewTime {
    /// Verification options judging at this time.
    pub fn options(&self) -> VerifyOptions {
        VerifyOptions {
            stable: self
                .stable
                .unwrap_or_else(crate::certify::required::newest_embedded),
            as_reviewed: self.as_reviewed,
            ..VerifyOptions::default()
        }
    }
}

pub fn parse_minor(text: &str) -> Result<Minor, String> {
    Minor::parse(text).ok_or_else(|| format!("`{text}` is not a Kubernetes minor like v1.30"))
}

pub fn run(args: Args) -> Result<i32, Failure> {
    let opts = VerifyOptions {
        conformance_yaml: args.conformance_yaml,
        ..args.review.options()
    };
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
