//! TestGrid's semantics, exactly: coalescing, alerts, tab status and its message,
//! latest green, and flip flakiness (TestGrid's healthiness "flip analyzer").

use crate::config::Tab;
use crate::model::CellStatus;
use crate::model::Grid;
use serde::Serialize;

/// TestGrid's `result.Coalesce`: every state becomes NO_RESULT, PASS, FAIL, FLAKY or
/// UNKNOWN. RUNNING is NO_RESULT when `ignore_running`, else UNKNOWN; the passing
/// states are PASS, the failing ones FAIL, and what is neither (UNKNOWN, CANCEL,
/// BLOCKED, CATEGORIZED_ABORT, a shown RUNNING) stays UNKNOWN, which alerts and
/// flakiness skip and the tab summary counts as neither a pass nor a failure.
pub fn coalesce(status: CellStatus, ignore_running: bool) -> CellStatus {
    use CellStatus::*;
    match status {
        NoResult => NoResult,
        Running if ignore_running => NoResult,
        Flaky => Flaky,
        s if is_failing(s) => Fail,
        s if is_passing(s) => Pass,
        _ => Unknown,
    }
}

/// PASS through PASS_WITH_SKIPS in TestGrid's severity order.
pub fn is_passing(s: CellStatus) -> bool {
    (CellStatus::Pass.severity()..=CellStatus::PassWithSkips.severity()).contains(&s.severity())
}

/// TOOL_FAIL through FAIL in TestGrid's severity order.
pub fn is_failing(s: CellStatus) -> bool {
    (CellStatus::ToolFail.severity()..=CellStatus::Fail.severity()).contains(&s.severity())
}

/// An open alert on a row: the failure streak at the top of its results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Consecutive failing results (empty cells skipped).
    pub fail_count: u32,
    /// Column of the oldest failure in the streak (the first bad build).
    pub first_fail: usize,
    /// Column of the newest failure.
    pub latest_fail: usize,
    /// Column of the newest pass before the streak (the last good build), if any.
    pub last_pass: Option<usize>,
}

/// Whether `row` (newest first) alerts, as TestGrid's updater (`alertRow`) decides.
/// Scanning from the newest result: a FAIL adds to the open streak and to the total;
/// a PASS while the streak is still below `failures_to_open` resets it (the scan goes
/// on) unless `passes_to_close` passes have been seen, which means no alert; once the
/// streak is long enough, passes are counted until `passes_to_close` end the scan
/// (a FAIL among them resets the count and extends the outage). A FLAKY result ends
/// the scan when the streak is already long enough, else resets it. `fail_count` is
/// every failure seen, `first_fail` the oldest of them.
pub fn alert(row: &[CellStatus], failures_to_open: u32, passes_to_close: u32) -> Option<Alert> {
    if failures_to_open == 0 {
        return None;
    }
    let passes_to_close = passes_to_close.max(1);
    let (mut streak, mut total, mut passes) = (0u32, 0u32, 0u32);
    let (mut first_fail, mut latest_fail, mut last_pass) = (None, None, None);
    for (col, status) in row.iter().enumerate() {
        match coalesce(*status, true) {
            CellStatus::NoResult => continue,
            CellStatus::Fail => {
                passes = 0;
                last_pass = None;
                streak += 1;
                total += 1;
                latest_fail.get_or_insert(col);
                first_fail = Some(col);
            }
            CellStatus::Flaky => {
                passes = 0;
                if streak >= failures_to_open {
                    break;
                }
                streak = 0;
            }
            CellStatus::Pass => {
                passes += 1;
                if streak >= failures_to_open {
                    last_pass.get_or_insert(col);
                    if passes >= passes_to_close {
                        break;
                    }
                } else if passes >= passes_to_close {
                    return None;
                } else {
                    streak = 0;
                }
            }
            // UNKNOWN (an aborted or cancelled result) neither passes nor fails.
            _ => continue,
        }
    }
    if streak < failures_to_open {
        return None;
    }
    Some(Alert {
        fail_count: total,
        first_fail: first_fail?,
        latest_fail: latest_fail?,
        last_pass,
    })
}

/// A tab's overall status, TestGrid's precedence: BROKEN > STALE > FAILING > FLAKY >
/// PASSING > UNKNOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TabStatus {
    Unknown,
    Passing,
    Flaky,
    Failing,
    Stale,
    Broken,
}

impl TabStatus {
    pub fn name(self) -> &'static str {
        match self {
            TabStatus::Unknown => "UNKNOWN",
            TabStatus::Passing => "PASSING",
            TabStatus::Flaky => "FLAKY",
            TabStatus::Failing => "FAILING",
            TabStatus::Stale => "STALE",
            TabStatus::Broken => "BROKEN",
        }
    }

    /// Worse statuses rank higher; a dashboard shows its worst tab. As in TestGrid's
    /// summary API, PASSING outranks UNKNOWN: a dashboard of passing tabs and tabs
    /// with no results is PASSING.
    pub fn rank(self) -> u8 {
        match self {
            TabStatus::Unknown => 0,
            TabStatus::Passing => 1,
            TabStatus::Flaky => 2,
            TabStatus::Failing => 3,
            TabStatus::Stale => 4,
            TabStatus::Broken => 5,
        }
    }
}

/// Column and cell counts over the recent columns (TestGrid's `gridStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GridStats {
    pub passing_cols: u32,
    pub completed_cols: u32,
    pub passing_cells: u64,
    pub filled_cells: u64,
}

/// What a tab shows at the top.
#[derive(Debug, Clone, Serialize)]
pub struct TabSummary {
    pub status: TabStatus,
    /// `Tab stats: P of C (x%) recent columns passed (p of f or y% cells)`.
    pub message: String,
    pub stats: GridStats,
    /// Rows with an open alert, with the alert.
    pub alerts: Vec<(usize, Alert)>,
    /// The newest column with a pass and nothing failing, flaky or unknown: its build
    /// id, or its commit's first 9 characters when the tab names builds by commit;
    /// [`NO_GREENS`] when there is none.
    pub latest_green: String,
    pub last_run: Option<i64>,
    pub stale: Option<String>,
}

const NO_RUNS: &str = "no completed results";

/// The columns a tab shows, newest first: TestGrid's tabulator drops every column
/// where no row the tab's filters keep has a result (`dropEmptyColumns`), keeping the
/// newest one when that would drop them all.
pub fn tab_columns(grid: &Grid, tab: &Tab) -> Vec<usize> {
    let shown: Vec<usize> = visible_rows_all(grid, tab);
    let cols: Vec<usize> = (0..grid.columns.len())
        .filter(|c| {
            shown
                .iter()
                .any(|r| grid.row(*r)[*c] != CellStatus::NoResult)
        })
        .collect();
    if cols.is_empty() && !grid.columns.is_empty() {
        return vec![0];
    }
    cols
}

/// Rows the tab shows: matching its filters, and with a result in one of its recent
/// columns (of [`tab_columns`]).
pub fn visible_rows(grid: &Grid, tab: &Tab) -> Vec<usize> {
    rows_with_recent_results(grid, tab, &tab_columns(grid, tab))
}

fn rows_with_recent_results(grid: &Grid, tab: &Tab, cols: &[usize]) -> Vec<usize> {
    let recent = &cols[..(tab.num_columns_recent as usize).min(cols.len())];
    (0..grid.rows.len())
        .filter(|r| tab.shows_row(&grid.rows[*r]))
        .filter(|r| {
            let row = grid.row(*r);
            recent.iter().any(|c| row[*c] != CellStatus::NoResult)
        })
        .collect()
}

/// Rows the tab's filters show, whether or not they have recent results (the grid
/// page shows history, not only the recent window).
pub fn visible_rows_all(grid: &Grid, tab: &Tab) -> Vec<usize> {
    (0..grid.rows.len())
        .filter(|r| tab.shows_row(&grid.rows[*r]))
        .collect()
}

/// Summarises a tab the way TestGrid's summarizer does.
pub fn summarize_tab(grid: &Grid, tab: &Tab, now: i64) -> TabSummary {
    let cols = tab_columns(grid, tab);
    let rows = rows_with_recent_results(grid, tab, &cols);
    let recent = (tab.num_columns_recent as usize).min(cols.len());
    let (stats, broken) = grid_stats(grid, &rows, &cols[..recent], tab.broken_column_threshold);
    let last_run = cols.first().and_then(|c| grid.columns[*c].started);
    // TestGrid's summarizer: a tab with no runs or no rows is STALE once staleness is
    // on, whatever the age of its columns.
    let stale = if rows.is_empty() && tab.alert_stale_results_hours > 0 {
        Some(NO_RUNS.to_string())
    } else {
        stale_message(last_run, tab.alert_stale_results_hours, now)
    };
    let alerts: Vec<(usize, Alert)> = rows
        .iter()
        .filter_map(|r| {
            alert(
                grid.row(*r),
                tab.failures_to_alert(grid.columns.len()),
                tab.num_passes_to_disable_alert,
            )
            .map(|a| (*r, a))
        })
        .collect();
    let status = if broken {
        TabStatus::Broken
    } else if stale.is_some() {
        TabStatus::Stale
    } else if !alerts.is_empty() {
        TabStatus::Failing
    } else {
        recent_status(grid, &rows, &cols, recent)
    };
    let message = if stats.filled_cells == 0 {
        NO_RUNS.to_string()
    } else {
        format!(
            "Tab stats: {} of {} ({:.1}%) recent columns passed ({} of {} or {:.1}% cells)",
            stats.passing_cols,
            stats.completed_cols,
            100.0 * f64::from(stats.passing_cols) / f64::from(stats.completed_cols),
            stats.passing_cells,
            stats.filled_cells,
            100.0 * stats.passing_cells as f64 / stats.filled_cells as f64
        )
    };
    TabSummary {
        status,
        message,
        stats,
        alerts,
        latest_green: latest_green(grid, &rows).map_or_else(
            || NO_GREENS.to_string(),
            |col| column_name(&grid.columns[col], tab.latest_green_by_commit),
        ),
        last_run,
        stale,
    }
}

fn grid_stats(
    grid: &Grid,
    rows: &[usize],
    recent: &[usize],
    broken_threshold: f64,
) -> (GridStats, bool) {
    let mut stats = GridStats::default();
    let mut broken = false;
    for &col in recent {
        let (mut passes, mut failures, mut other) = (0u64, 0u64, 0u64);
        for r in rows {
            match coalesce(grid.row(*r)[col], true) {
                CellStatus::Pass => passes += 1,
                CellStatus::Fail => failures += 1,
                CellStatus::NoResult => {}
                _ => other += 1,
            }
        }
        stats.passing_cells += passes;
        stats.filled_cells += passes + failures + other;
        if passes + failures + other > 0 {
            stats.completed_cols += 1;
        }
        if failures == 0 && passes > 0 {
            stats.passing_cols += 1;
        }
        if passes + failures > 0
            && broken_threshold > 0.0
            && failures as f64 / (passes + failures + other) as f64 > broken_threshold
        {
            broken = true;
        }
    }
    (stats, broken)
}

/// TestGrid's `overallStatus` past alerts: FLAKY when a recent column has a cell that
/// is not a pass, PASSING when the recent columns are green, UNKNOWN when there is
/// nothing to judge. Recent columns are the newest `recent` that hold a pass; a column
/// still running does not count as one (its finished cells are still judged).
fn recent_status(grid: &Grid, rows: &[usize], cols: &[usize], recent: usize) -> TabStatus {
    let mut left = recent;
    let mut passing = false;
    for &col in cols {
        if left == 0 {
            break;
        }
        let (mut found, mut running) = (false, false);
        for r in rows {
            let raw = grid.row(*r)[col];
            if raw == CellStatus::Running {
                running = true;
                continue;
            }
            match coalesce(raw, true) {
                CellStatus::NoResult => {}
                CellStatus::Pass => found = true,
                _ => return TabStatus::Flaky,
            }
        }
        if running || !found {
            continue;
        }
        passing = true;
        left -= 1;
    }
    if passing {
        TabStatus::Passing
    } else {
        TabStatus::Unknown
    }
}

fn stale_message(last_run: Option<i64>, stale_hours: u32, now: i64) -> Option<String> {
    if stale_hours == 0 {
        return None;
    }
    let Some(ran) = last_run else {
        return Some(NO_RUNS.to_string());
    };
    let age = now - ran;
    (age > i64::from(stale_hours) * 3600).then(|| format!("latest column is {} h old", age / 3600))
}

/// What TestGrid's summary says when no recent column is green.
pub const NO_GREENS: &str = "no recent greens";

/// How the summary names a column: its build id, or with `by_commit` (Kubernetes's
/// `use_kubernetes_client`) the first 9 characters of its commit when it has one.
pub fn column_name(column: &crate::model::Column, by_commit: bool) -> String {
    match column.commit.as_deref().filter(|_| by_commit) {
        Some(commit) => commit.chars().take(9).collect(),
        None => column.build.clone(),
    }
}

fn latest_green(grid: &Grid, rows: &[usize]) -> Option<usize> {
    (0..grid.columns.len()).find(|col| {
        let mut passes = false;
        for r in rows {
            match coalesce(grid.row(*r)[*col], false) {
                CellStatus::Pass => passes = true,
                CellStatus::NoResult => {}
                _ => return false,
            }
        }
        passes
    })
}

/// A result as the flip analyzer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flip {
    Pass,
    Fail,
    Flaky,
}

/// Runs of at least this many failures are breakage, not flakiness.
pub const IGNORE_FAILURES_IN_A_ROW: usize = 3;

/// TestGrid's flip flakiness, 0-100: over results newest first, skipping runs of three
/// or more failures, count flips — every FLAKY result, and every failure that follows a
/// pass (or starts the window) — per considered result.
pub fn flip_flakiness(results: &[Flip]) -> f64 {
    let mut flips = 0u32;
    let mut considered = 0u32;
    let mut last_passing = true;
    let mut i = 0;
    while i < results.len() {
        let run = results[i..]
            .iter()
            .take_while(|r| **r == Flip::Fail)
            .count();
        if run >= IGNORE_FAILURES_IN_A_ROW {
            i += run;
            if i >= results.len() {
                break;
            }
        }
        considered += 1;
        match results[i] {
            Flip::Pass => last_passing = true,
            Flip::Flaky => {
                flips += 1;
                last_passing = true;
            }
            Flip::Fail => {
                if last_passing {
                    flips += 1;
                }
                last_passing = false;
            }
        }
        i += 1;
    }
    if considered == 0 {
        0.0
    } else {
        100.0 * f64::from(flips) / f64::from(considered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;
    use CellStatus::{Fail as F, Flaky as K, NoResult as N, Pass as P};

    fn flips(text: &str) -> f64 {
        let results: Vec<Flip> = text
            .split_whitespace()
            .map(|w| match w {
                "p" => Flip::Pass,
                "f" => Flip::Fail,
                "fl" => Flip::Flaky,
                other => panic!("{other}"),
            })
            .collect();
        flip_flakiness(&results)
    }

    /// Rule 5b: an UNKNOWN result (an aborted or cancelled run) between failures is
    /// skipped by the alert scan, not taken for a pass that ends the streak.
    #[test]
    fn an_unknown_result_neither_opens_nor_closes_an_alert() {
        let u = CellStatus::Cancel;
        let a = alert(&[F, u, F, F, P], 3, 1).expect("three failures around a cancel alert");
        assert_eq!((a.fail_count, a.first_fail, a.latest_fail), (3, 3, 0));
        assert_eq!(alert(&[u, u, P], 1, 1), None);
        assert_eq!(alert(&[F, u], 1, 1).map(|a| a.fail_count), Some(1));
    }

    #[test]
    fn flip_flakiness_matches_testgrids_published_values() {
        assert_eq!(flips("p f p p fl p p p p f"), 30.0);
        assert_eq!(flips("p f f p p p p f p p"), 20.0);
        assert_eq!(flips("p f f f f f p f p f"), 40.0);
        assert_eq!(flips("p f f fl f f p f p f"), 50.0);
        assert_eq!(flips("p p p"), 0.0);
        assert_eq!(flips(""), 0.0);
        assert_eq!(flips("f f f"), 0.0);
    }

    #[test]
    fn coalescing() {
        assert_eq!(coalesce(CellStatus::TimedOut, true), F);
        assert_eq!(coalesce(CellStatus::ToolFail, true), F);
        assert_eq!(coalesce(CellStatus::PassWithSkips, true), P);
        // UNKNOWN and its kin stay UNKNOWN; a shown RUNNING is UNKNOWN, not FAIL.
        for s in [
            CellStatus::Unknown,
            CellStatus::Cancel,
            CellStatus::Blocked,
            CellStatus::CategorizedAbort,
        ] {
            assert_eq!(coalesce(s, true), CellStatus::Unknown, "{s:?}");
        }
        assert_eq!(coalesce(CellStatus::Running, true), N);
        assert_eq!(coalesce(CellStatus::Running, false), CellStatus::Unknown);
        assert_eq!(coalesce(K, true), K);
    }

    #[test]
    fn passing_outranks_unknown_and_an_empty_stale_tab_is_stale() {
        let worst = [TabStatus::Passing, TabStatus::Unknown]
            .into_iter()
            .max_by_key(|s| s.rank());
        assert_eq!(worst, Some(TabStatus::Passing));
        // Every row filtered out, staleness on: STALE, however new the columns are.
        let g = grid(&[("a", &[P, P])]);
        let mut t = tab();
        t.alert_stale_results_hours = 24;
        t.exclude = Some(regex::Regex::new("a").unwrap());
        let s = summarize_tab(&g, &t, 0);
        assert_eq!(s.status, TabStatus::Stale);
        t.alert_stale_results_hours = 0;
        assert_eq!(summarize_tab(&g, &t, 0).status, TabStatus::Unknown);
    }

    #[test]
    fn alerts_open_and_close() {
        // Newest three non-empty results fail: alert, empty cells skipped.
        let a = alert(&[F, N, F, F, P, P], 3, 1).unwrap();
        assert_eq!(
            (a.fail_count, a.first_fail, a.latest_fail, a.last_pass),
            (3, 3, 0, Some(4))
        );
        // Two failures are not enough at the default threshold.
        assert!(alert(&[F, F, P], 3, 1).is_none());
        assert!(alert(&[F, F, P], 2, 1).is_some());
        // One pass closes it by default…
        assert!(alert(&[P, F, F, F], 3, 1).is_none());
        // …but with num_passes_to_disable_alert = 2, one pass is not enough.
        assert!(alert(&[P, F, F, F], 3, 2).is_some());
        assert!(alert(&[P, P, F, F, F], 3, 2).is_none());
        // A failure streak reaching the oldest column has no last pass.
        assert_eq!(alert(&[F, F, F], 3, 1).unwrap().last_pass, None);
        // A FLAKY result ends the streak like a pass.
        assert!(alert(&[F, F, K, F], 3, 1).is_none());
        // TestGrid's alertRow: with passes-to-close 3, a lone pass inside the outage
        // does not end it; every failure counts, the oldest is the first.
        let a = alert(&[F, F, F, F, P, F], 3, 3).unwrap();
        assert_eq!(
            (a.fail_count, a.first_fail, a.latest_fail, a.last_pass),
            (5, 5, 0, None)
        );
        // A pass below the threshold resets the streak without ending the scan.
        let a = alert(&[F, P, F, F, F], 3, 2).unwrap();
        assert_eq!((a.fail_count, a.first_fail), (4, 4));
        // FLAKY once the streak is long enough ends the scan with the alert open.
        assert_eq!(alert(&[F, F, F, K, F], 3, 1).unwrap().fail_count, 3);
        // num_failures_to_alert 0: never.
        assert!(alert(&[F, F, F], 0, 1).is_none());
    }

    fn grid(rows: &[(&str, &[CellStatus])]) -> Grid {
        let cols = rows[0].1.len();
        let columns = (0..cols)
            .map(|i| Column {
                build: format!("b{}", cols - i),
                started: Some(1_000_000 - i as i64 * 3600),
                ..Column::default()
            })
            .collect();
        let mut g = Grid::new("job".into(), columns);
        for (name, cells) in rows {
            let r = g.add_row(name.to_string());
            for (c, s) in cells.iter().enumerate() {
                g.set(r, c, *s, None);
            }
        }
        g
    }

    fn tab() -> Tab {
        Tab::with_kubernetes_defaults("t", "job")
    }

    /// Rule 18: a tab's filters empty the newest columns (another test group's rows
    /// ran there); TestGrid drops them, so the tab's recent columns are its own.
    #[test]
    fn columns_the_filters_empty_are_dropped() {
        let g = grid(&[
            ("other.x", &[P, P, P, N, N, N]),
            ("mine.a", &[N, N, N, P, F, P]),
            ("mine.b", &[N, N, N, P, P, P]),
        ]);
        let mut t = tab();
        t.num_columns_recent = 3;
        t.include = Some(regex::Regex::new("^mine").unwrap());
        assert_eq!(tab_columns(&g, &t), vec![3, 4, 5]);
        let s = summarize_tab(&g, &t, 1_000_000);
        assert_eq!(
            s.message,
            "Tab stats: 2 of 3 (66.7%) recent columns passed (5 of 6 or 83.3% cells)"
        );
        assert_eq!(s.status, TabStatus::Flaky);
        // Its last run is its own newest column's, not the other rows'.
        assert_eq!(s.last_run, g.columns[3].started);
        // Filters that keep nothing leave the newest column.
        t.include = Some(regex::Regex::new("^none").unwrap());
        assert_eq!(tab_columns(&g, &t), vec![0]);
    }

    /// Rule 18: the recent columns the status judges are the newest that hold a pass;
    /// a column still running is not one of them.
    #[test]
    fn the_status_counts_columns_with_a_pass() {
        let r = CellStatus::Running;
        let g = grid(&[("a", &[r, P, F]), ("b", &[P, P, P])]);
        let mut t = tab();
        t.num_columns_recent = 2;
        t.num_failures_to_alert = 0;
        // The running column is skipped, so the failure two columns back is recent.
        assert_eq!(summarize_tab(&g, &t, 1_000_000).status, TabStatus::Flaky);
        // A column with no pass (all empty for these rows) does not use up the window.
        let g = grid(&[("a", &[P, N, F]), ("b", &[P, N, P]), ("c", &[N, P, N])]);
        t.include = Some(regex::Regex::new("^[ab]$").unwrap());
        assert_eq!(summarize_tab(&g, &t, 1_000_000).status, TabStatus::Flaky);
    }

    /// #15 "Also": with Kubernetes's default.yaml (`use_kubernetes_client`) the
    /// latest green is the commit's first 9 characters; none is "no recent greens".
    #[test]
    fn latest_green_by_commit_or_none() {
        let mut g = grid(&[("a", &[F, P, P])]);
        g.columns[1].commit = Some("0123456789abcdef".into());
        let mut t = tab();
        assert_eq!(summarize_tab(&g, &t, 1_000_000).latest_green, "012345678");
        t.latest_green_by_commit = false;
        assert_eq!(summarize_tab(&g, &t, 1_000_000).latest_green, "b2");
        let red = grid(&[("a", &[F, F, F])]);
        assert_eq!(summarize_tab(&red, &t, 1_000_000).latest_green, NO_GREENS);
    }

    #[test]
    fn tab_status_precedence_and_message() {
        let passing = grid(&[("a", &[P, P, P]), ("b", &[P, N, P])]);
        let s = summarize_tab(&passing, &tab(), 1_000_000);
        assert_eq!(s.status, TabStatus::Passing);
        assert_eq!(
            s.message,
            "Tab stats: 3 of 3 (100.0%) recent columns passed (5 of 5 or 100.0% cells)"
        );
        assert_eq!(s.latest_green, "b3");

        let flaky = grid(&[("a", &[P, F, P]), ("b", &[P, P, P])]);
        let s = summarize_tab(&flaky, &tab(), 1_000_000);
        assert_eq!(s.status, TabStatus::Flaky);
        assert_eq!(
            s.message,
            "Tab stats: 2 of 3 (66.7%) recent columns passed (5 of 6 or 83.3% cells)"
        );

        let failing = grid(&[("a", &[F, F, F, P]), ("b", &[P, P, P, P])]);
        let s = summarize_tab(&failing, &tab(), 1_000_000);
        assert_eq!(s.status, TabStatus::Failing);
        assert_eq!(s.alerts.len(), 1);
        assert_eq!(s.latest_green, "b1");

        // A column where most cells fail makes the tab BROKEN, above FAILING.
        let mut broken_tab = tab();
        broken_tab.broken_column_threshold = 0.5;
        let broken = grid(&[
            ("a", &[F, F, F, P]),
            ("b", &[F, P, P, P]),
            ("c", &[F, P, P, P]),
        ]);
        assert_eq!(
            summarize_tab(&broken, &broken_tab, 1_000_000).status,
            TabStatus::Broken
        );

        // Old results make it STALE, above FAILING too.
        let mut stale_tab = tab();
        stale_tab.alert_stale_results_hours = 24;
        let s = summarize_tab(&failing, &stale_tab, 1_000_000 + 48 * 3600);
        assert_eq!(s.status, TabStatus::Stale);

        let empty = grid(&[("a", &[N, N])]);
        let s = summarize_tab(&empty, &tab(), 1_000_000);
        assert_eq!(
            (s.status, s.message.as_str()),
            (TabStatus::Unknown, "no completed results")
        );
    }

    #[test]
    fn only_recent_columns_count() {
        let mut t = tab();
        t.num_columns_recent = 2;
        // The failure is in the third column: outside the recent window.
        let g = grid(&[("a", &[P, P, F]), ("b", &[P, P, P])]);
        let s = summarize_tab(&g, &t, 1_000_000);
        assert_eq!(s.status, TabStatus::Passing);
        assert_eq!(s.stats.completed_cols, 2);
    }
}
