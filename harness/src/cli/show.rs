//! `trellis show`: one build's cells, failures first.

use super::failure::Failure;
use crate::exit;
use crate::model::CountBucket;

/// Show one stored build: its metadata and cells, failures first.
///
/// By default passing and skipped cells are counted, not listed; `--all` lists them.
/// `--json` prints the build with every cell.
#[derive(Debug, clap::Args)]
pub struct Args {
    job: String,
    build: String,
    /// List passing and skipped cells too.
    #[arg(long)]
    all: bool,
    /// Machine-readable output (always every cell).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let store = super::open_store(db)?;
    let detail = match store.build_detail(&args.job, &args.build) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Err(Failure::message(
                exit::NOT_FOUND,
                format!("no build {}/{} in {}", args.job, args.build, db),
                "`trellis runs` lists what is stored",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        return super::print_json(&detail);
    }
    let r = &detail.run;
    use crate::printable::line;
    println!("{}/{}", line(&r.job), line(&r.build));
    println!("  source:   {}", line(&detail.source));
    println!("  started:  {}", super::format_time(r.started));
    println!("  finished: {}", super::format_time(r.finished));
    let verdict = match r.passed {
        Some(true) => "PASSED",
        Some(false) => "FAILED",
        None => "-",
    };
    println!(
        "  result:   {verdict} {}",
        detail.result.as_deref().unwrap_or("")
    );
    if let Some(c) = &r.commit {
        println!("  commit:   {}", line(c));
    }
    if let Some(pr) = detail.pr {
        println!("  pr:       {pr}");
    }
    let c = &r.counts;
    println!(
        "  cells:    {} pass, {} fail, {} flaky, {} skip, {} other",
        c.pass, c.fail, c.flaky, c.skip, c.other
    );
    let mut hidden = 0;
    for cell in &detail.cells {
        let quiet = matches!(cell.status.bucket(), CountBucket::Pass | CountBucket::Skip);
        if quiet && !args.all {
            hidden += 1;
            continue;
        }
        let attempts = if cell.attempts > 1 {
            format!(" ({} attempts)", cell.attempts)
        } else {
            String::new()
        };
        println!("{:<16} {}{attempts}", cell.status.name(), line(&cell.test));
        if let Some(m) = cell.message.as_deref().filter(|_| !quiet || args.all) {
            let first = m.lines().next().unwrap_or("");
            println!(
                "                 {}",
                line(&first.chars().take(200).collect::<String>())
            );
        }
    }
    if hidden > 0 {
        println!("({hidden} passing or skipped cells not listed; --all lists them)");
    }
    Ok(exit::OK)
}
