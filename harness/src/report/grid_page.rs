//! Tab grid pages: rows are tests, columns builds (newest first), cells coloured by
//! state with TestGrid's short text; the data travels as escaped JSON and `grid.js`
//! draws only the rows in view.

use super::escape::{self, html};
use super::pages::{build_href, tab_href};
use super::{ReportError, Site, Writer};
use crate::analysis::testgrid;
use crate::config::Tab;
use crate::model::CellStatus;
use crate::model::Grid;
use serde::Serialize;
use std::collections::BTreeMap;

/// Longest failure message carried into a grid page (the build page has it whole).
const MESSAGE_CHARS: usize = 400;

#[derive(Serialize)]
struct GridColumn {
    build: String,
    date: String,
    commit: Option<String>,
    href: String,
}

/// One row as a JSON array, not an object: a 5,000-row grid would otherwise spend
/// ~250 kB on field names. `[name, cells, fails, flake, flags, messages]`:
/// - `name` without the grid's `prefix` when flag 4 is set;
/// - `cells` run-length coded: `12P1F137P` is 12 passes, a failure, 137 passes (P
///   pass, S skipped, F fail, K flaky, O other, N none; a run of one has no count);
/// - `fails`, and `flake` (the flake rate, 3 decimals);
/// - `flags`: 1 alerting, 2 a row of the build itself (Overall, Pod: pinned first),
///   4 the prefix was taken off the name;
/// - `messages`: for each F or K cell in order, 1 + its index into `texts`, or 0.
#[derive(Serialize)]
struct GridRow<'a>(&'a str, String, u32, f64, u8, Vec<u32>);

#[derive(Serialize)]
struct GridData<'a> {
    /// The start every row name shares, shown once instead of on every row.
    prefix: String,
    columns: Vec<GridColumn>,
    rows: Vec<GridRow<'a>>,
    /// Each distinct message once (an outage fails every row with the same text).
    texts: Vec<String>,
    /// "row,column" → attempts, where a cell ran more than once.
    attempts: BTreeMap<String, u32>,
}

/// `cells` run-length coded (see [`GridRow`]).
fn run_length(cells: &str) -> String {
    let mut out = String::new();
    let mut chars = cells.chars().peekable();
    while let Some(c) = chars.next() {
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        if n > 1 {
            out.push_str(&n.to_string());
        }
        out.push(c);
    }
    out
}

fn code(s: CellStatus) -> char {
    match s {
        CellStatus::NoResult => 'N',
        CellStatus::PassWithSkips => 'S',
        CellStatus::Flaky => 'K',
        s if testgrid::is_failing(s) => 'F',
        s if testgrid::is_passing(s) => 'P',
        _ => 'O',
    }
}

pub fn tabs(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    for d in &site.config.dashboards {
        for tab in &d.tabs {
            let report = site
                .snapshot
                .status
                .dashboards
                .iter()
                .find(|x| x.name == d.name)
                .and_then(|x| x.tabs.iter().find(|t| t.name == tab.name));
            let Some(report) = report else { continue };
            let grid = report.job.as_ref().and_then(|j| site.snapshot.grids.get(j));
            let body = match grid {
                Some(g) => grid_body(site, &d.name, tab, g, report.status.name(), &report.message),
                None => format!(
                    "<h1>{} / {}</h1><p>no stored results for this tab</p>",
                    html(&d.name),
                    html(&tab.name)
                ),
            };
            w.page(
                &tab_href(&d.name, &tab.name),
                &format!("{} / {}", d.name, tab.name),
                &body,
            )?;
        }
    }
    Ok(())
}

fn grid_body(
    site: &Site,
    dashboard: &str,
    tab: &Tab,
    g: &Grid,
    status: &str,
    message: &str,
) -> String {
    let stats = site.snapshot.flakes.get(&g.job);
    let rows: Vec<usize> = testgrid::visible_rows_all(g, tab);
    let mut data = GridData {
        prefix: common_prefix(
            rows.iter()
                .map(|r| g.rows[*r].as_str())
                .filter(|n| !crate::model::is_build_row(n)),
        ),
        columns: g
            .columns
            .iter()
            .map(|c| GridColumn {
                build: c.build.clone(),
                date: c
                    .started
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                commit: c.commit.clone(),
                href: format!("../{}", build_href(&g.job, &c.build)),
            })
            .collect(),
        rows: Vec::with_capacity(rows.len()),
        texts: Vec::new(),
        attempts: BTreeMap::new(),
    };
    let prefix = data.prefix.clone();
    let mut text_ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: String = g.row(*r).iter().map(|s| code(*s)).collect();
        let fails = cells.chars().filter(|c| *c == 'F').count() as u32;
        let mut messages = Vec::new();
        for (c, _) in cells
            .char_indices()
            .filter(|(_, ch)| *ch == 'F' || *ch == 'K')
        {
            let id = g.message(*r, c).map_or(0, |m| {
                let text: String = m.chars().take(MESSAGE_CHARS).collect();
                let next = data.texts.len();
                let id = *text_ids.entry(text).or_insert_with_key(|t| {
                    data.texts.push(t.clone());
                    next
                });
                id as u32 + 1
            });
            messages.push(id);
            let n = g.attempts(*r, c);
            if n > 1 {
                data.attempts.insert(format!("{i},{c}"), n);
            }
        }
        let full = g.rows[*r].as_str();
        let alert = testgrid::alert(
            g.row(*r),
            tab.failures_to_alert(g.columns.len()),
            tab.num_passes_to_disable_alert,
        )
        .is_some();
        let build = crate::model::is_build_row(full);
        let (name, stripped) = match full.strip_prefix(prefix.as_str()) {
            Some(rest) if !prefix.is_empty() && !build => (rest, true),
            _ => (full, false),
        };
        let flake = stats.and_then(|s| s.get(*r)).map_or(0.0, |s| s.flake_rate);
        let flags = u8::from(alert) | (u8::from(build) << 1) | (u8::from(stripped) << 2);
        data.rows.push(GridRow(
            name,
            run_length(&cells),
            fails,
            (flake * 1000.0).round() / 1000.0,
            flags,
            messages,
        ));
    }
    format!(
        "<h1>{} / {} <span class=\"chip {status}\">{status}</span></h1><div>{}</div>\
         <div id=\"controls\"><label>include <input id=\"include\" placeholder=\"regular expression\"></label>\
         <label>exclude <input id=\"exclude\" placeholder=\"regular expression\"></label>\
         <label><input type=\"checkbox\" id=\"only-failing\"> only failing</label>\
         <label><input type=\"checkbox\" id=\"hide-passing\"> hide passing</label>\
         <label><input type=\"checkbox\" id=\"hide-skipped\"> hide skipped</label>\
         <label>sort <select id=\"sort\"><option value=\"name\">name</option>\
         <option value=\"failures\">failures</option><option value=\"flakiness\">flakiness</option>\
         <option value=\"alerts\">alerting first</option></select></label><span id=\"row-count\"></span>\
         <span id=\"filter-error\"></span><a href=\"../{}\">dashboard</a></div>\
         <div id=\"grid\"><div class=\"head\" id=\"grid-head\"></div><div id=\"grid-body\"></div></div>\
         <div id=\"detail\" class=\"msg\"></div>\
         <script type=\"application/json\" id=\"grid-data\">{}</script><script src=\"../assets/grid.js\"></script>",
        html(dashboard),
        html(&tab.name),
        html(message),
        escape::attr(&super::pages::dashboard_href(dashboard)),
        escape::script_json(&data),
        status = html(status),
    )
}

/// The longest shared start of `names`, cut back to just after a `.`, `]` or space so
/// no word is split; empty for a single name.
pub(super) fn common_prefix<'a>(mut names: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = names.next() else {
        return String::new();
    };
    let mut len = first.len();
    let mut any_other = false;
    for n in names {
        any_other = true;
        len = first
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| (i + a.len_utf8()).min(len));
    }
    if !any_other {
        return String::new();
    }
    let cut = first[..len].rfind(['.', ']', ' ']).map_or(0, |i| i + 1);
    first[..cut].to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes() {
        let names = [
            "Kubernetes e2e suite.[It] [sig-apps] a",
            "Kubernetes e2e suite.[It] [sig-node] b",
        ];
        assert_eq!(
            super::common_prefix(names.into_iter()),
            "Kubernetes e2e suite.[It] "
        );
        assert_eq!(super::common_prefix(["x.a", "y.b"].into_iter()), "");
        assert_eq!(super::common_prefix(["only one"].into_iter()), "");
    }

    #[test]
    fn cells_are_run_length_coded() {
        assert_eq!(super::run_length("PPPPFPP"), "4PF2P");
        assert_eq!(super::run_length(""), "");
        assert_eq!(super::run_length(&"N".repeat(150)), "150N");
    }
}
