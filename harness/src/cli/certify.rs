//! `trellis certify`: package a conformance run as a CNCF submission and verify it.

use super::failure::Failure;
use super::verify_submission::parse_minor;
use crate::certify::{self, CertifyOptions, Minor, Verdict};
use crate::exit;
use std::path::PathBuf;

/// Build OUT/vX.Y/<product>/ (README.md, PRODUCT.yaml, e2e.log, junit_01.xml) from a
/// conformance run and run every `verify-submission` check on it; the folder appears
/// only when they pass, and the pull-request checklist is printed.
///
/// RESULTS is a Hydrophone output directory, a Sonobuoy results tarball, or a trellis
/// conformance run's build directory. The README says what the CNCF instructions ask:
/// how to create the cluster with the product (--setup FILE) and how the tests were
/// run (the tool: from the results where they show it — a Sonobuoy tarball or log, a
/// trellis build — else --tool). Exit code 0 when the submission would pass review,
/// 5 when a check fails (nothing is written then).
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
    #[command(flatten)]
    review: super::verify_submission::ReviewTime,
    /// The tool that ran the tests, when the results do not show it (Hydrophone
    /// leaves no trace in them).
    #[arg(long, value_enum)]
    tool: Option<certify::Tool>,
    /// A Markdown file saying how to create a cluster with the product: the README's
    /// first reproduction step.
    #[arg(long, value_name = "FILE")]
    setup: Option<PathBuf>,
    /// Machine-readable verification report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<i32, Failure> {
    let verify = args.review.options();
    let opts = CertifyOptions {
        results: args.results,
        product_yaml: args.product,
        out: args.out,
        version: args.k8s_version,
        name: args.name,
        force: args.force,
        verify,
        tool: args.tool,
        setup: args.setup,
    };
    let done = certify::certify(&opts)?;
    if args.json {
        super::print_json(&done.report)?;
    } else {
        print!("{}", done.report.render());
        match &done.dir {
            Some(dir) => {
                println!("wrote {}", dir.display());
                for t in &done.todo {
                    println!("README still needs: {t}");
                }
                if let (Some(v), Some(folder)) = (dir.parent(), dir.file_name()) {
                    let version = v
                        .file_name()
                        .and_then(|n| Minor::parse(&n.to_string_lossy()));
                    if let Some(version) = version {
                        print!(
                            "{}",
                            certify::pull_request_checklist(version, &folder.to_string_lossy())
                        );
                    }
                }
            }
            None => println!("nothing written: the submission would be rejected"),
        }
    }
    Ok(match done.report.verdict {
        Verdict::Pass => exit::OK,
        Verdict::Fail => exit::SUBMISSION_REJECTED,
    })
}
