//! Ingestion: from CI artifacts (JUnit in every dialect, Prow build directories and
//! trees, Sonobuoy tarballs, Hydrophone output, CNCF submissions, e2e.log, URLs) to
//! [`Build`]s ready for the store.
//!
//! Work is split so memory stays bounded on big trees: [`discover`] finds the builds an
//! input holds (cheap), [`read_unit`] reads one build at a time.

mod archive;
mod assemble;
pub mod bounded_text;
pub mod e2e_log;
mod error;
pub mod junit;
mod layout;
pub mod perfdata;
pub mod product;
pub mod prow;
pub mod remote;
pub mod scratch;
pub mod upgrade_monitor;

pub use assemble::{parse_timestamp, read_unit, RUNNING_RESULT};
pub use error::IngestError;
pub use layout::{Unit, UnitKind};
pub use remote::HttpOptions;

use crate::model::Build;
use std::path::Path;

/// How the user asked inputs to be read.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Job name for every build read (else taken from the path).
    pub job: Option<String>,
    /// Build id, for an input that holds exactly one build.
    pub build: Option<String>,
    pub http: HttpOptions,
}

/// Finds the builds one input (a path or URL) holds, applying `--job`/`--build`.
pub fn discover(input: &str, opts: &IngestOptions) -> Result<Vec<Unit>, IngestError> {
    let mut units = if remote::is_remote(input) {
        remote::discover(input, &opts.http)?
    } else {
        layout::discover(Path::new(input), input)?
    };
    if let Some(build) = &opts.build {
        if units.len() != 1 {
            return Err(IngestError::BuildOverrideAmbiguous {
                input: input.to_string(),
                build: build.clone(),
                count: units.len(),
            });
        }
        units[0].build = Some(build.clone());
    }
    if let Some(job) = &opts.job {
        for u in &mut units {
            u.job = job.clone();
        }
    }
    Ok(units)
}

/// Reads every build of one input, stopping at the first broken one.
pub fn read_all(input: &str, opts: &IngestOptions, now: i64) -> Result<Vec<Build>, IngestError> {
    discover(input, opts)?
        .iter()
        .map(|u| read_unit(u, now))
        .collect()
}
