//! What both databases return, and the logic they share: which builds a span takes,
//! how stored cells become a grid, the order `trellis show` lists cells in.

use super::packed::{unpack, Damaged};
use crate::model::{CellStatus, Column, CountBucket, Counts, Grid, Measurement, Span};
use serde::Serialize;
use serde_json::{Map, Value};

/// What [`super::Store::rows_of`] puts where a failing cell's message was one word.
pub const INFRA_MESSAGE: &str = "InfraFailure";

/// One build as `trellis runs` lists it (also its `--json` shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunRow {
    pub job: String,
    pub build: String,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub passed: Option<bool>,
    pub commit: Option<String>,
    pub counts: Counts,
}

/// One build with everything stored about it.
#[derive(Debug, Clone, Serialize)]
pub struct BuildDetail {
    #[serde(flatten)]
    pub run: RunRow,
    pub result: Option<String>,
    pub pr: Option<u64>,
    pub source: String,
    pub metadata: Map<String, Value>,
    pub cells: Vec<StoredCell>,
    /// Skipped testcases counted but not stored as cells.
    #[serde(skip)]
    pub skipped_dropped: u64,
    /// When the build was first stored (Unix seconds).
    #[serde(skip)]
    pub ingested_at: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCell {
    pub test: String,
    pub status: CellStatus,
    pub duration: Option<f64>,
    pub attempts: u32,
    pub message: Option<String>,
}

impl BuildDetail {
    /// The stored build as the model's `Build` (what ingest would have read).
    pub fn into_build(self) -> crate::model::Build {
        crate::model::Build {
            job: self.run.job,
            build: self.run.build,
            started: self.run.started,
            finished: self.run.finished,
            passed: self.run.passed,
            commit: self.run.commit,
            pr: self.pr,
            result: self.result,
            source: self.source,
            metadata: self.metadata,
            skipped_dropped: self.skipped_dropped,
            cells: self
                .cells
                .into_iter()
                .map(|c| crate::model::Cell {
                    test: c.test,
                    status: c.status,
                    duration: c.duration,
                    attempts: c.attempts,
                    message: c.message,
                })
                .collect(),
            measurements: self.measurements,
        }
    }
}

/// A build dated after the time an analysis judges at: not evidence, and worth a look
/// (a wrong clock, or a forged `started.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FutureBuild {
    pub job: String,
    pub build: String,
    pub started: i64,
}

/// What a build page shows beyond its cells.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    pub source: String,
    pub result: Option<String>,
    pub pr: Option<u64>,
    pub metadata: Map<String, Value>,
}

/// Sorts cells as `trellis show` lists them: failures, flakes, other, skips, passes;
/// by name within each.
pub(super) fn sort_for_display(cells: &mut [StoredCell]) {
    fn rank(status: CellStatus) -> u8 {
        match status.bucket() {
            CountBucket::Fail => 0,
            CountBucket::Flaky => 1,
            CountBucket::Other => 2,
            CountBucket::Skip => 3,
            CountBucket::Pass => 4,
        }
    }
    cells.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then_with(|| a.test.cmp(&b.test))
    });
}

/// One stored build as a grid column: its row id in the store, the column, and the
/// counts stored with it.
pub(super) struct SpanBuild {
    pub id: i64,
    pub column: Column,
    pub counts: Counts,
}

/// The builds of a span, newest first: their row ids, columns and stored counts.
#[derive(Default)]
pub(super) struct SpanColumns {
    pub ids: Vec<i64>,
    pub columns: Vec<Column>,
    pub counts: Vec<Counts>,
}

/// Takes what `span` takes from a job's builds, given newest first (unknown start
/// times last) and already limited to those started by `span.until`: the builds
/// started inside the span, or, when none did, the newest one before it. Stops reading
/// at the first build it does not take.
pub(super) fn take_span<E>(
    newest_first: impl Iterator<Item = Result<SpanBuild, E>>,
    span: Span,
) -> Result<SpanColumns, E> {
    let mut out = SpanColumns::default();
    for b in newest_first {
        let b = b?;
        let inside = match (span.since, b.column.started) {
            (None, _) => true,
            (Some(since), Some(t)) => t >= since,
            (Some(_), None) => false,
        };
        if !inside && !out.columns.is_empty() {
            break;
        }
        out.ids.push(b.id);
        out.columns.push(b.column);
        out.counts.push(b.counts);
        if !inside {
            break;
        }
    }
    Ok(out)
}

/// Builds a grid from builds' packed cells: rows made as tests first appear, by
/// interned test id (dense, so a vector beats a hash map on millions of cells).
pub(super) struct GridAssembler<'a> {
    grid: Grid,
    names: &'a [String],
    row_of: Vec<u32>,
}

impl<'a> GridAssembler<'a> {
    pub fn new(job: &str, columns: Vec<Column>, names: &'a [String]) -> Self {
        GridAssembler {
            grid: Grid::new(job.to_string(), columns),
            names,
            row_of: vec![u32::MAX; names.len() + 1],
        }
    }

    /// Fills column `col` from a build's packed cells (`store::packed`), whose
    /// messages and attempts are already only what a grid keeps.
    pub fn packed_column(&mut self, col: usize, bytes: &[u8]) -> Result<(), Damaged> {
        unpack::<Damaged>(bytes, |c| {
            let test = usize::try_from(c.test_id).unwrap_or(0);
            if test >= self.row_of.len() {
                self.row_of.resize(test + 1, u32::MAX);
            }
            let row = match self.row_of[test] {
                u32::MAX => {
                    let name = self.names.get(test).cloned().unwrap_or_default();
                    let row = self.grid.add_row(name);
                    self.row_of[test] = row as u32;
                    row
                }
                row => row as usize,
            };
            self.grid
                .set(row, col, c.status, c.message.map(str::to_string));
            if c.status == CellStatus::Flaky {
                self.grid.set_attempts(row, col, c.attempts);
            }
            Ok(())
        })
    }

    /// The grid, rows sorted by name.
    pub fn finish(mut self) -> Grid {
        self.grid.sort_rows();
        self.grid
    }
}

/// Regroups stored measurement rows (one per statistic, ordered by series) into the
/// items ingest read.
#[derive(Default)]
pub(super) struct MeasurementRows {
    items: Vec<Measurement>,
    series: Option<String>,
}

impl MeasurementRows {
    pub fn push(
        &mut self,
        series: String,
        file: String,
        labels: &str,
        unit: String,
        stat: String,
        value: f64,
    ) {
        if self.series.as_deref() != Some(series.as_str()) {
            self.items.push(Measurement {
                file,
                labels: serde_json::from_str(labels).unwrap_or_default(),
                unit,
                data: Default::default(),
            });
            self.series = Some(series);
        }
        if let Some(item) = self.items.last_mut() {
            item.data.insert(stat, value);
        }
    }

    pub fn finish(self) -> Vec<Measurement> {
        self.items
    }
}
