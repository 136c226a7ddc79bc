//! `trellis store`: managing stores themselves.

use super::failure::Failure;
use crate::exit;
use crate::store::{copy_store, Location, Store};
use std::ffi::OsString;

/// Manage stores: copy every build between SQLite and PostgreSQL.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StoreCommand {
    Migrate(MigrateArgs),
}

/// Copy every build from one store into another, exactly (cells, messages, metadata,
/// measurements, when each was stored): SQLite to PostgreSQL or back. Build by
/// build, each in its own transaction: an interrupted copy keeps what it finished, and
/// running it again copies the rest (builds already there are skipped), so it is
/// resumable and idempotent. The source is only read.
///
/// `--json` prints {total, copied, already, cells}.
#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// The store to copy from (a path, sqlite:PATH or postgres://…).
    #[arg(long, value_name = "PATH|URL")]
    from: OsString,
    /// The store to copy into (created and migrated if needed).
    #[arg(long, value_name = "PATH|URL")]
    to: OsString,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<i32, Failure> {
    match args.command {
        StoreCommand::Migrate(args) => migrate(args),
    }
}

fn migrate(args: MigrateArgs) -> Result<i32, Failure> {
    let from = Location::parse(&args.from)?;
    let to = Location::parse(&args.to)?;
    if from == to {
        return Err(Failure::message(
            exit::USAGE,
            format!("--from and --to are both {from}"),
            "copy into another store",
        ));
    }
    if !from.may_exist() {
        return Err(Failure::message(
            exit::NOT_FOUND,
            format!("--from: no store at {from}"),
            "name an existing store to copy from",
        ));
    }
    let source = Store::open(&from)?;
    let mut dest = Store::open(&to)?;
    let mut last_said = std::time::Instant::now();
    let done = copy_store(&source, &mut dest, |p| {
        // A line every few seconds on a long copy, so it is seen to move.
        if last_said.elapsed() >= std::time::Duration::from_secs(5) {
            eprintln!(
                "{} of {} builds ({} copied, {} there already)",
                p.copied + p.already,
                p.total,
                p.copied,
                p.already
            );
            last_said = std::time::Instant::now();
        }
    })?;
    if args.json {
        return super::print_json(&done);
    }
    println!(
        "copied {} builds ({} cells) from {from} to {to}; {} were there already",
        done.copied, done.cells, done.already
    );
    Ok(exit::OK)
}
