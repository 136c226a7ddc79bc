//! One job's results as TestGrid draws them: columns are builds (newest first), rows
//! are tests, each cell one state.

use super::CellStatus;
use std::collections::HashMap;

/// Which builds an analysis sees: those started in `[since, until]` (an open end when
/// `None`). As in TestGrid's updater, a job none of whose builds started inside still
/// shows its newest one, so old results are never silently empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Span {
    /// Every stored build.
    pub const ALL: Span = Span {
        since: None,
        until: None,
    };
}

/// A build, as a grid column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub build: String,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub passed: Option<bool>,
    pub commit: Option<String>,
    /// The pull request a presubmit build tested.
    pub pr: Option<u64>,
}

impl Column {
    pub fn duration_secs(&self) -> Option<i64> {
        Some(self.finished? - self.started?).filter(|d| *d >= 0)
    }
}

/// A job's grid. Cells are stored row-major; absent cells are NO_RESULT.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub job: String,
    pub columns: Vec<Column>,
    pub rows: Vec<String>,
    statuses: Vec<CellStatus>,
    messages: HashMap<(u32, u32), String>,
    /// Runs of a cell, where more than one (retries).
    attempts: HashMap<(u32, u32), u32>,
}

impl Grid {
    pub fn new(job: String, columns: Vec<Column>) -> Grid {
        Grid {
            job,
            columns,
            ..Grid::default()
        }
    }

    /// Adds a row of NO_RESULT cells and returns its index.
    pub fn add_row(&mut self, name: String) -> usize {
        self.rows.push(name);
        self.statuses.extend(std::iter::repeat_n(
            CellStatus::NoResult,
            self.columns.len(),
        ));
        self.rows.len() - 1
    }

    pub fn set(&mut self, row: usize, col: usize, status: CellStatus, message: Option<String>) {
        let width = self.columns.len();
        self.statuses[row * width + col] = status;
        if let Some(m) = message {
            self.messages.insert((row as u32, col as u32), m);
        }
    }

    /// One row's cells, newest first.
    pub fn row(&self, row: usize) -> &[CellStatus] {
        let width = self.columns.len();
        &self.statuses[row * width..(row + 1) * width]
    }

    pub fn set_attempts(&mut self, row: usize, col: usize, attempts: u32) {
        if attempts > 1 {
            self.attempts.insert((row as u32, col as u32), attempts);
        }
    }

    /// How many times the test ran in that build (1 unless retried).
    pub fn attempts(&self, row: usize, col: usize) -> u32 {
        self.attempts
            .get(&(row as u32, col as u32))
            .copied()
            .unwrap_or(1)
    }

    pub fn message(&self, row: usize, col: usize) -> Option<&str> {
        self.messages
            .get(&(row as u32, col as u32))
            .map(String::as_str)
    }

    /// Every (row, column, message) of a failing cell.
    pub fn messages(&self) -> impl Iterator<Item = (usize, usize, &str)> {
        self.messages
            .iter()
            .map(|((r, c), m)| (*r as usize, *c as usize, m.as_str()))
    }

    /// Keeps the columns started at or after `since` (columns are newest first, so a
    /// prefix), and always the newest one: TestGrid shows a group's newest build
    /// however old it is.
    pub fn keep_since(&mut self, since: i64) {
        let width = self.columns.len();
        let keep = self
            .columns
            .iter()
            .take_while(|c| c.started.is_some_and(|t| t >= since))
            .count()
            .max(width.min(1));
        if keep == width {
            return;
        }
        let mut statuses = Vec::with_capacity(self.rows.len() * keep);
        for r in 0..self.rows.len() {
            statuses.extend_from_slice(&self.statuses[r * width..r * width + keep]);
        }
        self.statuses = statuses;
        self.columns.truncate(keep);
        self.messages.retain(|(_, c), _| (*c as usize) < keep);
        self.attempts.retain(|(_, c), _| (*c as usize) < keep);
    }

    /// Removes the row named `name`, if there is one.
    pub fn remove_row(&mut self, name: &str) {
        let Some(at) = self.rows.iter().position(|r| r == name) else {
            return;
        };
        let width = self.columns.len();
        self.statuses.drain(at * width..(at + 1) * width);
        self.rows.remove(at);
        let at = at as u32;
        shift_rows_after(&mut self.messages, at);
        shift_rows_after(&mut self.attempts, at);
    }

    /// Re-reads, as at `now`, the cells stored while their build was running (TestGrid
    /// re-reads such builds every cycle): an `Overall` still RUNNING a day after the
    /// build started is FAIL "Build did not complete within 24 hours", and a `Pod`
    /// still waiting for podinfo.json past its deadline (an hour after the build
    /// finished, a day after it started) is PASS_WITH_SKIPS.
    pub fn expire_running(&mut self, now: i64) {
        let find = |name: &str| self.rows.iter().position(|r| r == name);
        let (overall, pod) = (find(super::OVERALL_ROW), find(super::POD_ROW));
        for col in 0..self.columns.len() {
            let c = &self.columns[col];
            let Some(started) = c.started else { continue };
            let day_after_start = started.saturating_add(super::GIVE_UP_ON_BUILD_AFTER_SECS);
            if let Some(r) = overall.filter(|r| self.row(*r)[col] == CellStatus::Running) {
                if now >= day_after_start {
                    self.set(
                        r,
                        col,
                        CellStatus::Fail,
                        Some(super::NOT_COMPLETED_MESSAGE.to_string()),
                    );
                }
            }
            let c = &self.columns[col];
            let pod_deadline = c.finished.map_or(day_after_start, |f| {
                f.saturating_add(super::WAIT_FOR_PODINFO_SECS)
            });
            if let Some(r) = pod.filter(|r| self.row(*r)[col] == CellStatus::Running) {
                if now >= pod_deadline {
                    self.set(r, col, CellStatus::PassWithSkips, None);
                }
            }
        }
    }

    /// Undoes the merging of a test's repeated results in one build, as TestGrid shows
    /// them under `disable_merged_status`: a cell of N results becomes the rows `name`,
    /// `name [1]`, … `name [N-1]` (at most 20, the 20th `name [overflow]`). The store
    /// keeps the merged cell, so the order is the one retries write: the failures
    /// first, then the passes (a FLAKY cell's count of passes is in its `p/N runs
    /// passed` message).
    pub fn split_merged(&mut self) {
        let width = self.columns.len();
        let mut repeated: Vec<(usize, usize, u32)> = self
            .attempts
            .iter()
            .map(|((r, c), n)| (*r as usize, *c as usize, *n))
            .collect();
        repeated.sort_unstable();
        let mut extra_rows: HashMap<(usize, u32), usize> = HashMap::new();
        for (row, col, attempts) in repeated {
            let status = self.row(row)[col];
            let message = self.message(row, col).map(str::to_string);
            let (passes, runs) =
                message
                    .as_deref()
                    .and_then(runs_passed)
                    .unwrap_or_else(|| match status.bucket() {
                        super::CountBucket::Pass | super::CountBucket::Skip => (attempts, attempts),
                        _ if status == CellStatus::Flaky => (1, attempts),
                        _ => (0, attempts),
                    });
            let text = message.as_deref().map(strip_runs_passed);
            let runs = runs.min(MAX_SPLIT_ROWS);
            for i in 0..runs {
                let (cell, cell_message) = if status != CellStatus::Flaky {
                    (status, text.clone())
                } else if i < runs.saturating_sub(passes) {
                    (CellStatus::Fail, text.clone())
                } else {
                    (CellStatus::Pass, None)
                };
                let (cell, cell_message) = if i + 1 == MAX_SPLIT_ROWS {
                    (
                        CellStatus::Fail,
                        Some("Too many duplicately named rows".to_string()),
                    )
                } else {
                    (cell, cell_message)
                };
                let target = if i == 0 {
                    row
                } else {
                    let name = if i + 1 == MAX_SPLIT_ROWS {
                        format!("{} [overflow]", self.rows[row])
                    } else {
                        format!("{} [{i}]", self.rows[row])
                    };
                    *extra_rows.entry((row, i)).or_insert_with(|| {
                        self.rows.push(name);
                        self.statuses
                            .extend(std::iter::repeat_n(CellStatus::NoResult, width));
                        self.rows.len() - 1
                    })
                };
                self.statuses[target * width + col] = cell;
                self.messages.remove(&(target as u32, col as u32));
                if let Some(m) = cell_message {
                    self.messages.insert((target as u32, col as u32), m);
                }
            }
            self.attempts.remove(&(row as u32, col as u32));
        }
    }

    /// Sorts rows by name (stable output regardless of storage order).
    pub fn sort_rows(&mut self) {
        let width = self.columns.len();
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by(|a, b| self.rows[*a].cmp(&self.rows[*b]));
        let mut new_index = vec![0u32; order.len()];
        for (new, old) in order.iter().enumerate() {
            new_index[*old] = new as u32;
        }
        let mut statuses = Vec::with_capacity(self.statuses.len());
        let mut rows = Vec::with_capacity(self.rows.len());
        for old in &order {
            statuses.extend_from_slice(&self.statuses[old * width..(old + 1) * width]);
            rows.push(std::mem::take(&mut self.rows[*old]));
        }
        self.messages = std::mem::take(&mut self.messages)
            .into_iter()
            .map(|((r, c), m)| ((new_index[r as usize], c), m))
            .collect();
        self.attempts = std::mem::take(&mut self.attempts)
            .into_iter()
            .map(|((r, c), n)| ((new_index[r as usize], c), n))
            .collect();
        self.statuses = statuses;
        self.rows = rows;
    }
}

/// TestGrid's cap on rows of one name (`maxDuplicates`).
const MAX_SPLIT_ROWS: u32 = 20;

/// `(p, N)` from a merged cell's `p/N runs passed: …` message.
fn runs_passed(message: &str) -> Option<(u32, u32)> {
    let (counts, _) = message.split_once(" runs passed")?;
    let (p, n) = counts.split_once('/')?;
    Some((p.parse().ok()?, n.parse().ok()?))
}

/// A merged cell's message without its `p/N runs passed: ` prefix.
fn strip_runs_passed(message: &str) -> String {
    match message.split_once(" runs passed: ") {
        Some((counts, rest)) if runs_passed(&format!("{counts} runs passed")).is_some() => {
            rest.to_string()
        }
        _ => message.to_string(),
    }
}

/// Drops the entries of row `at` and moves the later rows' entries up one.
fn shift_rows_after<V>(map: &mut HashMap<(u32, u32), V>, at: u32) {
    *map = std::mem::take(map)
        .into_iter()
        .filter(|((r, _), _)| *r != at)
        .map(|((r, c), v)| ((if r > at { r - 1 } else { r }, c), v))
        .collect();
}

/// A build, as something a person can look up: its id, and its commit when known.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuildRef {
    pub build: String,
    pub commit: Option<String>,
}
