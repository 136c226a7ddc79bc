//! A randomised differential test of trellis's TestGrid semantics: a small model,
//! written here from the rules as issue #15 states them (TestGrid's `alertRow`,
//! `result.Coalesce`, the tabulator's `dropEmptyColumns`, the summarizer's
//! `gridMetrics`, `overallStatus` and `latestGreen`) and not from trellis's code, is
//! run beside `summarize_tab` on generated histories; they must agree on the tab's
//! status, its `Tab stats` message, every alert (fail count, first and newest failure,
//! last pass) and the latest green build. Histories include RUNNING cells (rule 3: a
//! build still running is a column). A second model gives every row's flip flakiness
//! (rules 8-10: one-word infra messages, outage columns, FLAKY-only rows).

use proptest::prelude::*;
use trellis::analysis::testgrid::{summarize_tab, TabStatus};
use trellis::config::Tab;
use trellis::model::{CellStatus, Column, Grid};

/// What a result is once coalesced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    Empty,
    Pass,
    Fail,
    Flaky,
    Unknown,
    /// RUNNING, kept apart: each reader decides what it is (empty for the grid
    /// metrics, UNKNOWN for alerts and the latest green, a column not yet counted for
    /// the status).
    Running,
}

/// `result.Coalesce`, RUNNING left for the caller.
fn coalesce(s: CellStatus) -> M {
    use CellStatus::*;
    match s {
        NoResult => M::Empty,
        Running => M::Running,
        Flaky => M::Flaky,
        ToolFail | TimedOut | CategorizedFail | BuildFail | Fail => M::Fail,
        Pass | BuildPassed | PassWithErrors | PassWithSkips => M::Pass,
        _ => M::Unknown,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ModelAlert {
    fail_count: u32,
    first_fail: usize,
    latest_fail: usize,
    last_pass: Option<usize>,
}

/// `alertRow` as production runs it, newest first: failures build a streak; a pass
/// while the streak is below the threshold resets it unless `close` passes have been
/// seen (no alert); once the streak reaches the threshold, passes count towards
/// closing and a later failure reopens it (forgetting the pass); a FLAKY result stops
/// the scan when the threshold is reached, else resets; UNKNOWN is skipped.
fn alert(row: &[CellStatus], open: u32, close: u32) -> Option<ModelAlert> {
    if open == 0 {
        return None;
    }
    let (mut streak, mut total, mut passes) = (0u32, 0u32, 0u32);
    let (mut first, mut newest, mut pass) = (None, None, None);
    for (col, s) in row.iter().enumerate() {
        match coalesce(*s) {
            M::Empty | M::Unknown | M::Running => {}
            M::Pass => {
                passes += 1;
                if streak >= open {
                    pass.get_or_insert(col);
                    if passes >= close {
                        break;
                    }
                } else if passes >= close {
                    return None;
                } else {
                    streak = 0;
                }
            }
            M::Fail => {
                passes = 0;
                pass = None;
                streak += 1;
                total += 1;
                newest.get_or_insert(col);
                first = Some(col);
            }
            M::Flaky => {
                passes = 0;
                if streak >= open {
                    break;
                }
                streak = 0;
            }
        }
    }
    if streak < open {
        return None;
    }
    Some(ModelAlert {
        fail_count: total,
        first_fail: first?,
        latest_fail: newest?,
        last_pass: pass,
    })
}

struct ModelSummary {
    status: TabStatus,
    message: String,
    alerts: Vec<(usize, ModelAlert)>,
    latest_green: String,
}

fn summarize(grid: &Grid, include_a: bool, recent: usize, open: u32, close: u32) -> ModelSummary {
    let filtered: Vec<usize> = (0..grid.rows.len())
        .filter(|r| !include_a || grid.rows[*r].starts_with('a'))
        .collect();
    // The tabulator drops the columns the filtered rows leave empty.
    let mut cols: Vec<usize> = (0..grid.columns.len())
        .filter(|c| {
            filtered
                .iter()
                .any(|r| grid.row(*r)[*c] != CellStatus::NoResult)
        })
        .collect();
    if cols.is_empty() && !grid.columns.is_empty() {
        cols.push(0);
    }
    let recent_cols = &cols[..recent.min(cols.len())];
    // The summarizer keeps rows with a result in a recent column.
    let rows: Vec<usize> = filtered
        .into_iter()
        .filter(|r| {
            recent_cols
                .iter()
                .any(|c| grid.row(*r)[*c] != CellStatus::NoResult)
        })
        .collect();
    let (mut passing_cols, mut completed_cols, mut passing_cells, mut filled) = (0, 0, 0, 0);
    for c in recent_cols {
        let (mut p, mut f, mut o) = (0, 0, 0);
        for r in &rows {
            match coalesce(grid.row(*r)[*c]) {
                M::Pass => p += 1,
                M::Fail => f += 1,
                M::Empty | M::Running => {}
                M::Flaky | M::Unknown => o += 1,
            }
        }
        passing_cells += p;
        filled += p + f + o;
        if p + f + o > 0 {
            completed_cols += 1;
        }
        if f == 0 && p > 0 {
            passing_cols += 1;
        }
    }
    let message = if filled == 0 {
        "no completed results".to_string()
    } else {
        format!(
            "Tab stats: {passing_cols} of {completed_cols} ({:.1}%) recent columns passed ({passing_cells} of {filled} or {:.1}% cells)",
            100.0 * passing_cols as f64 / completed_cols as f64,
            100.0 * passing_cells as f64 / filled as f64
        )
    };
    let alerts: Vec<(usize, ModelAlert)> = rows
        .iter()
        .filter_map(|r| alert(grid.row(*r), open, close).map(|a| (*r, a)))
        .collect();
    let status = if !alerts.is_empty() {
        TabStatus::Failing
    } else {
        // `overallStatus`: the newest `recent` columns that hold a pass.
        let mut left = recent;
        let mut found = false;
        let mut status = None;
        for c in &cols {
            if left == 0 {
                break;
            }
            let (mut pass_here, mut running) = (false, false);
            for r in &rows {
                match coalesce(grid.row(*r)[*c]) {
                    M::Empty => {}
                    M::Running => running = true,
                    M::Pass => pass_here = true,
                    _ => status = Some(TabStatus::Flaky),
                }
            }
            if status.is_some() {
                break;
            }
            // A running column is not recent until it finishes.
            if pass_here && !running {
                found = true;
                left -= 1;
            }
        }
        status.unwrap_or(if found {
            TabStatus::Passing
        } else {
            TabStatus::Unknown
        })
    };
    // `latestGreen`: the newest column with a pass and nothing else among the rows.
    let latest_green = (0..grid.columns.len())
        .find(|c| {
            let results: Vec<M> = rows.iter().map(|r| coalesce(grid.row(*r)[*c])).collect();
            results.contains(&M::Pass) && results.iter().all(|m| matches!(m, M::Pass | M::Empty))
        })
        .map_or_else(
            || "no recent greens".to_string(),
            |c| grid.columns[c].build.clone(),
        );
    ModelSummary {
        status,
        message,
        alerts,
        latest_green,
    }
}

fn status() -> impl Strategy<Value = CellStatus> {
    prop_oneof![
        5 => Just(CellStatus::Pass),
        3 => Just(CellStatus::Fail),
        2 => Just(CellStatus::NoResult),
        1 => Just(CellStatus::Flaky),
        1 => Just(CellStatus::PassWithSkips),
        1 => Just(CellStatus::TimedOut),
        1 => Just(CellStatus::Cancel),
        1 => Just(CellStatus::Unknown),
        1 => Just(CellStatus::Running),
    ]
}

fn history() -> impl Strategy<Value = Vec<Vec<CellStatus>>> {
    (1usize..6, 1usize..16).prop_flat_map(|(rows, cols)| {
        proptest::collection::vec(proptest::collection::vec(status(), cols), rows)
    })
}

fn grid_of(rows: &[Vec<CellStatus>]) -> Grid {
    let cols = rows[0].len();
    let columns = (0..cols)
        .map(|i| Column {
            build: format!("{}", 1000 - i),
            started: Some(1_000_000 - i as i64 * 3600),
            ..Column::default()
        })
        .collect();
    let mut g = Grid::new("job".into(), columns);
    for (i, cells) in rows.iter().enumerate() {
        // Rows a… and b…, so a filter on `^a` keeps some and drops others.
        let r = g.add_row(format!("{}{i}", if i % 2 == 0 { 'a' } else { 'b' }));
        for (c, s) in cells.iter().enumerate() {
            g.set(r, c, *s, (coalesce(*s) == M::Fail).then(|| "failed".into()));
        }
    }
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn trellis_agrees_with_the_model(
        rows in history(),
        include_a in any::<bool>(),
        recent in 1usize..7,
        open in 0u32..5,
        close in 1u32..4,
    ) {
        let grid = grid_of(&rows);
        let mut tab = Tab::with_kubernetes_defaults("t", "job");
        tab.latest_green_by_commit = false;
        tab.num_columns_recent = recent as u32;
        tab.num_failures_to_alert = open;
        tab.num_passes_to_disable_alert = close;
        if include_a {
            tab.include = Some(regex::Regex::new("^a").unwrap());
        }
        let got = summarize_tab(&grid, &tab, 1_000_000);
        let want = summarize(&grid, include_a, recent, open, close);
        prop_assert_eq!(&got.message, &want.message);
        let got_alerts: Vec<(usize, ModelAlert)> = got
            .alerts
            .iter()
            .map(|(r, a)| (*r, ModelAlert {
                fail_count: a.fail_count,
                first_fail: a.first_fail,
                latest_fail: a.latest_fail,
                last_pass: a.last_pass,
            }))
            .collect();
        prop_assert_eq!(&got_alerts, &want.alerts);
        prop_assert_eq!(got.status, want.status);
        prop_assert_eq!(&got.latest_green, &want.latest_green);
    }
}

/// TestGrid's flip flakiness of row `r`, from the rules: over the results newest first
/// (passes, FLAKY and failures; a failure whose message is one `\w+` word is infra
/// and dropped, as are the FAIL cells of a column where no row passed or flaked in a
/// grid of more than one row), runs of three or more failures are skipped; every
/// FLAKY result and every failure after a pass (or first) is a flip; flakiness is
/// 100 × flips / results considered. A row with no pass and no non-infra failure is
/// not listed.
fn flip_flakiness(grid: &Grid, r: usize) -> Option<f64> {
    let infra = |c: usize| {
        grid.message(r, c).is_some_and(|m| {
            !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    let outage = |c: usize| {
        grid.rows.len() > 1
            && !(0..grid.rows.len()).any(|o| matches!(coalesce(grid.row(o)[c]), M::Pass | M::Flaky))
    };
    let (mut passed, mut failed) = (0, 0);
    let mut results = Vec::new();
    for (c, s) in grid.row(r).iter().enumerate() {
        match coalesce(*s) {
            M::Pass => {
                passed += 1;
                results.push(M::Pass);
            }
            M::Flaky => results.push(M::Flaky),
            M::Fail if infra(c) => {}
            M::Fail => {
                failed += 1;
                if !outage(c) {
                    results.push(M::Fail);
                }
            }
            M::Empty | M::Unknown | M::Running => {}
        }
    }
    if passed + failed == 0 {
        return None;
    }
    let (mut flips, mut considered, mut after_pass) = (0, 0, true);
    let mut i = 0;
    while i < results.len() {
        let run = results[i..].iter().take_while(|m| **m == M::Fail).count();
        if run >= 3 {
            i += run;
            continue;
        }
        considered += 1;
        match results[i] {
            M::Flaky => {
                flips += 1;
                after_pass = true;
            }
            M::Fail => {
                if after_pass {
                    flips += 1;
                }
                after_pass = false;
            }
            _ => after_pass = true,
        }
        i += 1;
    }
    Some(if considered == 0 {
        0.0
    } else {
        100.0 * f64::from(flips) / f64::from(considered)
    })
}

/// A failure's message: infra (one word) or a test's own words.
fn message() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("Timeout"),
        Just("expected 1, got 2"),
        Just("0/2 runs passed: Timeout")
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn flip_flakiness_agrees_with_the_model(
        rows in history(),
        messages in proptest::collection::vec(message(), 96),
    ) {
        let mut grid = grid_of(&rows);
        let width = grid.columns.len();
        for r in 0..grid.rows.len() {
            for c in 0..width {
                let s = grid.row(r)[c];
                if coalesce(s) == M::Fail {
                    grid.set(r, c, s, Some(messages[(r * width + c) % messages.len()].into()));
                }
            }
        }
        let got = trellis::analysis::flakes::grid_stats(&grid, trellis::analysis::flakes::AlertRule::default());
        for (r, stats) in got.iter().enumerate() {
            let want = flip_flakiness(&grid, r);
            match (stats.flip_flakiness, want) {
                (Some(g), Some(w)) => prop_assert!((g - w).abs() < 1e-9, "row {}: {} vs {}", r, g, w),
                (g, w) => prop_assert_eq!(g, w, "row {}", r),
            }
        }
    }
}
