//! The results store: one interface, two databases behind it.
//!
//! - **SQLite** (embedded, bundled, one file): the default, for a developer, a vendor
//!   or one CI runner.
//! - **PostgreSQL** (`--db postgres://…`): a server shared by a CI fleet's many
//!   writers and readers.
//!
//! Both give the same guarantees: versioned migrations (a newer schema refused with
//! nothing touched), one transaction per build (a reader never sees half of one, a
//! failed write leaves nothing), re-ingesting a build is a no-op, concurrent writers
//! lose nothing. What differs lives in [`sqlite`] and [`postgres`]; what both share
//! (the span a grid takes, how cells become a grid, the order `show` lists them in)
//! lives here and in [`assemble`].

/// Implements [`Backend`] for a store type whose inherent methods of the same names
/// and signatures do the work (each database keeps its reads and writes in files of
/// their own, and a trait impl must be one block).
macro_rules! backend_by_inherent_methods {
    ($store:ty) => {
        impl $crate::store::Backend for $store {
            fn insert_build(
                &mut self,
                build: &$crate::model::Build,
                ingested_at: i64,
            ) -> Result<$crate::store::InsertOutcome, $crate::store::StoreError> {
                <$store>::insert_build(self, build, ingested_at)
            }
            fn jobs(&self) -> Result<Vec<String>, $crate::store::StoreError> {
                <$store>::jobs(self)
            }
            fn jobs_with_pr_builds(&self) -> Result<Vec<String>, $crate::store::StoreError> {
                <$store>::jobs_with_pr_builds(self)
            }
            fn test_names(&self) -> Result<Vec<String>, $crate::store::StoreError> {
                <$store>::test_names(self)
            }
            fn runs(
                &self,
                job: Option<&str>,
            ) -> Result<Vec<$crate::store::RunRow>, $crate::store::StoreError> {
                <$store>::runs(self, job)
            }
            fn build_detail(
                &self,
                job: &str,
                build: &str,
            ) -> Result<Option<$crate::store::BuildDetail>, $crate::store::StoreError> {
                <$store>::build_detail(self, job, build)
            }
            fn measurements(
                &self,
                job: Option<&str>,
                stat: &str,
                until: Option<i64>,
            ) -> Result<Vec<$crate::model::PerfPoint>, $crate::store::StoreError> {
                <$store>::measurements(self, job, stat, until)
            }
            fn builds_after(
                &self,
                at: i64,
                limit: usize,
            ) -> Result<(Vec<$crate::store::FutureBuild>, u64), $crate::store::StoreError> {
                <$store>::builds_after(self, at, limit)
            }
            fn grid(
                &self,
                job: &str,
                span: $crate::model::Span,
                names: &[String],
            ) -> Result<$crate::model::Grid, $crate::store::StoreError> {
                <$store>::grid(self, job, span, names)
            }
            fn rows_of(
                &self,
                job: &str,
                span: $crate::model::Span,
                tests: &[String],
            ) -> Result<($crate::model::Grid, Vec<$crate::model::Counts>), $crate::store::StoreError>
            {
                <$store>::rows_of(self, job, span, tests)
            }
            fn build_infos(
                &self,
                job: &str,
            ) -> Result<
                std::collections::HashMap<String, $crate::store::BuildInfo>,
                $crate::store::StoreError,
            > {
                <$store>::build_infos(self, job)
            }
        }
    };
}

mod assemble;
mod copy;
mod error;
mod load;
mod location;
mod packed;
mod postgres;
mod sqlite;

pub use assemble::{BuildDetail, BuildInfo, FutureBuild, RunRow, StoredCell, INFRA_MESSAGE};
pub use copy::{copy_store, CopyProgress};
pub use error::StoreError;
pub use load::load_grids;
pub use location::{default_path, Location, PgTarget};

use crate::model::{Build, Counts, Grid, PerfPoint, Span};
use std::collections::HashMap;
use std::time::Duration;

/// How long one write may wait for another writer (SQLite's lock; PostgreSQL's row
/// locks are waited for by the server).
pub const DEFAULT_BUSY_DEADLINE: Duration = Duration::from_secs(60);

/// What happened to a build handed to [`Store::insert_build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted {
        cells: usize,
    },
    /// The same (job, build) is stored already; nothing was changed.
    AlreadyStored,
    /// The stored build was provisional (a RUNNING `Overall` or `Pod` cell) and has
    /// been replaced, in the same transaction, by this one.
    Updated {
        cells: usize,
    },
}

/// What a database must do to be a trellis store. Each method is one read or one
/// transaction; [`Store`] adds what is common to both.
trait Backend: Send {
    /// Stores `build` in one transaction (see [`Store::insert_build`]), recording
    /// `ingested_at` (Unix seconds) as when it was stored.
    fn insert_build(
        &mut self,
        build: &Build,
        ingested_at: i64,
    ) -> Result<InsertOutcome, StoreError>;
    fn jobs(&self) -> Result<Vec<String>, StoreError>;
    fn jobs_with_pr_builds(&self) -> Result<Vec<String>, StoreError>;
    fn test_names(&self) -> Result<Vec<String>, StoreError>;
    fn runs(&self, job: Option<&str>) -> Result<Vec<RunRow>, StoreError>;
    /// One build, its cells in no particular order, and its measurements.
    fn build_detail(&self, job: &str, build: &str) -> Result<Option<BuildDetail>, StoreError>;
    fn measurements(
        &self,
        job: Option<&str>,
        stat: &str,
        until: Option<i64>,
    ) -> Result<Vec<PerfPoint>, StoreError>;
    fn builds_after(&self, at: i64, limit: usize) -> Result<(Vec<FutureBuild>, u64), StoreError>;
    fn grid(&self, job: &str, span: Span, names: &[String]) -> Result<Grid, StoreError>;
    fn rows_of(
        &self,
        job: &str,
        span: Span,
        tests: &[String],
    ) -> Result<(Grid, Vec<Counts>), StoreError>;
    fn build_infos(&self, job: &str) -> Result<HashMap<String, BuildInfo>, StoreError>;
}

/// An open results store.
pub struct Store {
    backend: Box<dyn Backend>,
    location: Location,
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `at`: a path (SQLite) or
    /// a [`Location`].
    pub fn open(at: impl Into<Location>) -> Result<Store, StoreError> {
        Self::open_with_deadline(at, DEFAULT_BUSY_DEADLINE)
    }

    /// Opens the store at `at`, creating and migrating it if needed. A newer schema is
    /// refused before anything is touched. An SQLite file that cannot be written is
    /// opened read-only: reading commands work, a write says why it cannot.
    pub fn open_with_deadline(
        at: impl Into<Location>,
        busy_deadline: Duration,
    ) -> Result<Store, StoreError> {
        let location = at.into();
        let backend: Box<dyn Backend> = match &location {
            Location::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path, busy_deadline)?),
            Location::Postgres(target) => Box::new(postgres::PgStore::open(target)?),
        };
        Ok(Store { backend, location })
    }

    /// Where the store is (printable: a PostgreSQL password is never part of it).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Stores `build` and its cells in one transaction. Re-ingesting a build that is
    /// already stored changes nothing; a provisional one (still running when read) is
    /// replaced.
    pub fn insert_build(&mut self, build: &Build) -> Result<InsertOutcome, StoreError> {
        self.backend
            .insert_build(build, chrono::Utc::now().timestamp())
    }

    /// Stores `build` recording `ingested_at` as when it was first stored: what a
    /// copy between stores keeps.
    pub(crate) fn insert_build_at(
        &mut self,
        build: &Build,
        ingested_at: i64,
    ) -> Result<InsertOutcome, StoreError> {
        self.backend.insert_build(build, ingested_at)
    }

    /// Every job name in the store.
    pub fn jobs(&self) -> Result<Vec<String>, StoreError> {
        self.backend.jobs()
    }

    /// Jobs with at least one PR build (pre-submit jobs), by name.
    pub fn jobs_with_pr_builds(&self) -> Result<Vec<String>, StoreError> {
        self.backend.jobs_with_pr_builds()
    }

    /// Interned test names, indexed by id (index 0 is unused; ids without a name are
    /// empty).
    pub fn test_names(&self) -> Result<Vec<String>, StoreError> {
        self.backend.test_names()
    }

    /// Every stored build (optionally of one job), by job, newest first.
    pub fn runs(&self, job: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
        self.backend.runs(job)
    }

    /// One build and its cells, failures first; `None` when not stored.
    pub fn build_detail(&self, job: &str, build: &str) -> Result<Option<BuildDetail>, StoreError> {
        let mut detail = self.backend.build_detail(job, build)?;
        if let Some(d) = &mut detail {
            assemble::sort_for_display(&mut d.cells);
        }
        Ok(detail)
    }

    /// One statistic (`Perc99`, …) of every stored series, optionally of one job and
    /// of builds started before `until`, by job and then build start (oldest first).
    pub fn measurements(
        &self,
        job: Option<&str>,
        stat: &str,
        until: Option<i64>,
    ) -> Result<Vec<PerfPoint>, StoreError> {
        self.backend.measurements(job, stat, until)
    }

    /// Builds that started after `at` (Unix seconds), earliest first, at most `limit`,
    /// with how many there are in all.
    pub fn builds_after(
        &self,
        at: i64,
        limit: usize,
    ) -> Result<(Vec<FutureBuild>, u64), StoreError> {
        self.backend.builds_after(at, limit)
    }

    /// The grid of `job`: the builds `span` takes (its newest build when none started
    /// inside), newest first; rows sorted by name. Failure messages are kept for
    /// failing cells only. `names` is [`Store::test_names`].
    pub fn grid(&self, job: &str, span: Span, names: &[String]) -> Result<Grid, StoreError> {
        self.backend.grid(job, span, names)
    }

    /// The rows of `tests` only (those stored; others are absent) in `job`'s builds in
    /// `span`, with each build's stored counts: what judging a few tests against a long
    /// history needs, read by test instead of the whole grid. Messages are not read: a
    /// failing cell whose message is one word (an infra failure) gets
    /// [`INFRA_MESSAGE`] in its place, the others none.
    pub fn rows_of(
        &self,
        job: &str,
        span: Span,
        tests: &[String],
    ) -> Result<(Grid, Vec<Counts>), StoreError> {
        self.backend.rows_of(job, span, tests)
    }

    /// Source, result, PR and metadata of every build of `job`, by build id.
    pub fn build_infos(&self, job: &str) -> Result<HashMap<String, BuildInfo>, StoreError> {
        self.backend.build_infos(job)
    }
}
