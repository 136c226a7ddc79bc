//! The performance page: per job, every stored p99 series judged against the job's
//! baseline (as `trellis regressions` judges it), and perfdash-like trend plots of
//! p50/p90/p99 per build with the SLO drawn where the figure has one.

use super::escape::{self, html};
use super::plots::{self, Series};
use super::{ReportError, Site, Writer};
use crate::analysis::perf::{SeriesCheck, Verdict};
use crate::model::PerfPoint;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Plots per job: regressed series first, then the rest by their recent p99.
const PLOTS_PER_JOB: usize = 12;

/// The p50, p90 and p99 histories and the checks of the newest builds.
#[derive(Debug, Default)]
pub struct PerfHistory {
    /// Statistic (`Perc50`, `Perc90`, `Perc99`) → points, by job then build start.
    pub points: BTreeMap<String, Vec<PerfPoint>>,
    pub checks: Vec<SeriesCheck>,
}

pub const STATS: [&str; 3] = ["Perc50", "Perc90", "Perc99"];
/// The upgrade suite's per-backend disruption, in seconds (its PerfData files).
pub const DISRUPTION: &str = "Disruption";

pub fn href() -> &'static str {
    "perf.html"
}

pub fn write(site: &Site, w: &mut Writer) -> Result<(), ReportError> {
    let perf = &site.perf;
    let mut body = String::from(
        "<h1>Performance</h1><p class=\"muted\">Each job's p99 per build, the newest 3 builds \
         against up to 30 before them: one-sided Mann-Whitney p ≤ 0.05, and a median rise of \
         at least 20% and of a tenth of the figure's SLO. Plots show p50, p90 and p99 per \
         build, and the SLO where one applies.</p>",
    );
    let disruption = perf.points.get(DISRUPTION).map_or(&[][..], Vec::as_slice);
    let jobs: std::collections::BTreeSet<&str> = perf
        .checks
        .iter()
        .map(|c| c.job.as_str())
        .chain(disruption.iter().map(|p| p.job.as_str()))
        .collect();
    if jobs.is_empty() {
        body.push_str(
            "<p>No performance figures are stored. <code>trellis run perf</code> stores its \
             own; <code>trellis ingest</code> reads the PerfData files ClusterLoader2 jobs \
             leave in their artifacts.</p>",
        );
        return w.page(href(), "Performance", &body);
    }
    for job in jobs {
        let upgrades: Vec<&PerfPoint> = disruption.iter().filter(|p| p.job == job).collect();
        if !upgrades.is_empty() {
            let _ = write!(
                body,
                "<h2 id=\"{}\">{}</h2>",
                escape::attr(&escape::slug(job)),
                html(job)
            );
            body.push_str(&disruption_plot(&upgrades));
        }
        let mut checks: Vec<&SeriesCheck> = perf.checks.iter().filter(|c| c.job == job).collect();
        checks.sort_by(|a, b| {
            (a.verdict != Verdict::Regressed)
                .cmp(&(b.verdict != Verdict::Regressed))
                .then_with(|| b.recent.median.total_cmp(&a.recent.median))
        });
        if checks.is_empty() {
            continue;
        }
        let regressed = checks
            .iter()
            .filter(|c| c.verdict == Verdict::Regressed)
            .count();
        if upgrades.is_empty() {
            let _ = write!(
                body,
                "<h2 id=\"{}\">{}</h2>",
                escape::attr(&escape::slug(job)),
                html(job)
            );
        }
        let _ = write!(
            body,
            "<p>{} series; {}</p>",
            checks.len(),
            match regressed {
                0 => "none regressed".to_string(),
                n => format!("<strong>{n} regressed</strong>"),
            }
        );
        body.push_str(
            "<table class=\"list\"><tr><th>series</th><th>baseline p99 (median)</th>\
             <th>recent p99 (median)</th><th>change</th><th>p-value</th><th>builds</th>\
             <th>verdict</th></tr>",
        );
        for c in &checks {
            let verdict = match c.verdict {
                Verdict::Regressed => "<span class=\"chip FAILING\">REGRESSED</span>",
                Verdict::Unchanged => "unchanged",
                Verdict::TooLittleHistory => "<span class=\"muted\">too little history</span>",
            };
            let over = if c.over_slo { " (over the SLO)" } else { "" };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}{over}</td><td>{}</td><td>{}</td><td>{} vs {}</td><td>{verdict}</td></tr>",
                html(&c.series),
                if c.baseline.builds == 0 {
                    "-".to_string()
                } else {
                    figure(c.baseline.median, &c.unit)
                },
                figure(c.recent.median, &c.unit),
                c.change
                    .map_or_else(|| "from 0".to_string(), |x| format!("{:+.0}%", x * 100.0)),
                c.p_value.map_or_else(|| "-".to_string(), |p| format!("{p:.1e}")),
                c.recent.builds,
                c.baseline.builds,
            );
        }
        body.push_str("</table><div class=\"plots\">");
        for c in checks.iter().take(PLOTS_PER_JOB) {
            body.push_str(&plot(perf, c));
        }
        body.push_str("</div>");
        if checks.len() > PLOTS_PER_JOB {
            let _ = write!(
                body,
                "<p class=\"muted\">… and {} more series in the table above, not plotted.</p>",
                checks.len() - PLOTS_PER_JOB
            );
        }
    }
    w.page(href(), "Performance", &body)
}

/// An upgrade job's disruption per backend over its builds, in seconds.
fn disruption_plot(points: &[&PerfPoint]) -> String {
    let mut series: Vec<Series> = Vec::new();
    for p in points {
        let Some(at) = p.started else { continue };
        let name = p
            .labels
            .get("Backend")
            .cloned()
            .unwrap_or_else(|| p.series.clone());
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((at, p.value)),
            None => series.push(Series {
                name,
                points: vec![(at, p.value)],
            }),
        }
    }
    plots::line_chart(
        "Upgrade disruption per backend",
        "seconds unavailable per build",
        &series,
        plots::YAxis::Value,
        plots::Spacing::Irregular,
    )
}

/// p50/p90/p99 of one series over its job's builds, and its SLO as a flat line.
fn plot(perf: &PerfHistory, c: &SeriesCheck) -> String {
    let mut series: Vec<Series> = STATS
        .iter()
        .map(|stat| Series {
            name: stat.replace("Perc", "p"),
            points: perf
                .points
                .get(*stat)
                .into_iter()
                .flatten()
                .filter(|p| p.job == c.job && p.series == c.series)
                .filter_map(|p| Some((p.started?, p.value)))
                .collect(),
        })
        .collect();
    if let Some(slo) = c.slo {
        let xs: Vec<i64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        if let (Some(first), Some(last)) = (xs.iter().min(), xs.iter().max()) {
            series.push(Series {
                name: "SLO".into(),
                points: vec![(*first, slo), (*last, slo)],
            });
        }
    }
    plots::line_chart(
        &plot_title(&c.series),
        &c.unit,
        &series,
        plots::YAxis::Value,
        plots::Spacing::Irregular,
    )
}

/// A title that fits over a plot: the measurement's name and the labels that say
/// something ("PodStartupLatency: Metric=pod_startup"), cut at 72 characters (the
/// table above has the full name).
fn plot_title(series: &str) -> String {
    let (file, labels) = series.split_once(" {").unwrap_or((series, ""));
    let measurement = file.split('_').next().unwrap_or(file);
    let said: Vec<&str> = labels
        .trim_end_matches('}')
        .split(", ")
        .filter(|kv| !kv.is_empty() && !kv.ends_with('='))
        .collect();
    let title = if said.is_empty() {
        measurement.to_string()
    } else {
        format!("{measurement}: {}", said.join(", "))
    };
    match title.char_indices().nth(72) {
        Some((cut, _)) => format!("{}…", &title[..cut]),
        None => title,
    }
}

/// A figure with its unit, as the page shows it ("1.20 s"); escaped, since the unit
/// comes from the results.
fn figure(value: f64, unit: &str) -> String {
    html(&crate::model::latency_text(value, unit, 2))
}
