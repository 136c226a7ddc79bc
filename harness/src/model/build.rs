//! Jobs and builds: the columns of the grid.

use super::{Cell, CountBucket};
use serde::Serialize;
use serde_json::{Map, Value};

/// A build (one grid column) with its cells, ready to be stored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Build {
    /// The job: a named stream of builds.
    pub job: String,
    /// The build id, unique within its job.
    pub build: String,
    /// Unix seconds.
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub passed: Option<bool>,
    /// Prow's result word (`SUCCESS`, `FAILURE`, `ABORTED`, …) when known.
    pub result: Option<String>,
    pub commit: Option<String>,
    pub pr: Option<u64>,
    /// Where the build was read from (a path or URL).
    pub source: String,
    /// finished.json metadata, e2e.log facts, PRODUCT.yaml fields, …
    pub metadata: Map<String, Value>,
    /// Testcases skipped with an empty message: not cells (Ginkgo focus skips), but
    /// counted so totals can be checked against the run's own summary.
    pub skipped_dropped: u64,
    pub cells: Vec<Cell>,
    /// PerfData items found among the build's artifacts (the perf suite's, or a
    /// ClusterLoader2 job's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<super::Measurement>,
}

impl Build {
    /// Tests per bucket, as the run's own summary counts them: the Overall and Pod
    /// rows and Ginkgo's suite nodes are not tests.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            skip: self.skipped_dropped,
            ..Counts::default()
        };
        for cell in &self.cells {
            if super::is_test_row(&cell.test) {
                c.add(cell.status.bucket());
            }
        }
        c
    }
}

/// Cells per coarse bucket, as `trellis runs` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: u64,
    pub fail: u64,
    pub flaky: u64,
    pub skip: u64,
    pub other: u64,
}

impl Counts {
    pub fn add(&mut self, bucket: CountBucket) {
        match bucket {
            CountBucket::Pass => self.pass += 1,
            CountBucket::Fail => self.fail += 1,
            CountBucket::Flaky => self.flaky += 1,
            CountBucket::Skip => self.skip += 1,
            CountBucket::Other => self.other += 1,
        }
    }
}
