//! Plots drawn with plotters into inline SVG: pass rate over time, flake rate over
//! time, build duration p50/p75 per job, failures per day. Every plot has axis labels
//! with units.

use plotters::prelude::*;

/// One named series of (x = Unix seconds, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

const WIDTH: u32 = 560;
/// Series up to this many points also get a dot per point.
const MARKED_POINTS: usize = 60;
const HEIGHT: u32 = 260;
/// The legend's column to the right of the plot, outside the data.
const LEGEND_WIDTH: u32 = 150;
/// Pixels per legend entry.
const LEGEND_LINE: u32 = 14;
/// Series colours. A series keeps its colour on every page (chosen from its name),
/// unless two in one plot would share one.
const PALETTE: [RGBColor; 12] = [
    RGBColor(26, 115, 232),
    RGBColor(217, 48, 37),
    RGBColor(30, 142, 62),
    RGBColor(138, 79, 191),
    RGBColor(249, 171, 0),
    RGBColor(0, 137, 123),
    RGBColor(95, 99, 104),
    RGBColor(233, 30, 99),
    RGBColor(121, 85, 72),
    RGBColor(3, 169, 244),
    RGBColor(205, 220, 57),
    RGBColor(63, 81, 181),
];

/// What the y axis shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum YAxis {
    /// 0 to 100.
    Percent,
    /// Whole numbers from 0 (ticks never fall between two counts).
    Count,
    /// Anything from 0.
    Value,
}

/// Each series' colour: its name's own unless an earlier series of the plot took it.
fn colours(series: &[Series]) -> Vec<RGBColor> {
    let mut taken = [false; PALETTE.len()];
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let own = (crate::model::fnv1a(s.name.as_bytes()) % PALETTE.len() as u64) as usize;
            // Past the palette's size colours repeat, in order.
            let slot = if i >= PALETTE.len() {
                i % PALETTE.len()
            } else {
                (0..PALETTE.len())
                    .map(|k| (own + k) % PALETTE.len())
                    .find(|k| !taken[*k])
                    .unwrap_or(own)
            };
            if slot < taken.len() {
                taken[slot] = true;
            }
            PALETTE[slot]
        })
        .collect()
}

/// The plot's typical spacing between consecutive points of a series (the median
/// over every series), from which a gap is judged.
fn typical_spacing(series: &[Series]) -> Option<i64> {
    let mut gaps: Vec<i64> = series
        .iter()
        .flat_map(|s| s.points.windows(2).map(|w| w[1].0 - w[0].0))
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2].max(1))
}

/// A series cut where it has no data: consecutive points further apart than 2.5
/// times the plot's typical spacing are not joined by a line.
fn segments(points: &[(i64, f64)], typical: Option<i64>) -> Vec<&[(i64, f64)]> {
    let Some(typical) = typical else {
        return vec![points];
    };
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if (points[i].0 - points[i - 1].0) as f64 > 2.5 * typical as f64 {
            out.push(&points[start..i]);
            start = i;
        }
    }
    out.push(&points[start..]);
    out
}

/// Tick positions: `n` evenly spaced from `x0` to `x1`, each on a UTC day start when
/// the span is over a few days.
fn ticks(x0: i64, x1: i64, n: i64) -> Vec<i64> {
    const DAY: i64 = 86_400;
    (0..n)
        .map(|i| x0 + (x1 - x0) * i / (n - 1).max(1))
        .map(|t| {
            if x1 - x0 > 4 * DAY {
                t - t.rem_euclid(DAY)
            } else {
                t
            }
        })
        .filter(|t| *t >= x0 && *t <= x1)
        .collect()
}

/// How far apart a series' points are meant to be, which decides what is a gap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spacing {
    /// One point per UTC day: a day without a point is a gap.
    Daily,
    /// Per build: a gap is a spacing 2.5 times the plot's typical one.
    Irregular,
}

/// A line chart over time as an SVG string.
pub fn line_chart(
    title: &str,
    y_label: &str,
    series: &[Series],
    y: YAxis,
    spacing: Spacing,
) -> String {
    let mut svg = String::new();
    let drawn = draw(&mut svg, title, y_label, series, y, spacing);
    if drawn.is_err() || series.iter().all(|s| s.points.is_empty()) {
        return format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="60"><text x="8" y="30" font-size="13">{}: no data</text></svg>"#,
            super::escape::html(title)
        );
    }
    svg
}

fn year(t: i64) -> Option<i32> {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.year())
}

fn draw(
    svg: &mut String,
    title: &str,
    y_label: &str,
    series: &[Series],
    y: YAxis,
    spacing: Spacing,
) -> Result<(), String> {
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (i64::MAX, i64::MIN, 0.0f64);
    for (x, y) in points {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    if x0 > x1 {
        return Err("no points".into());
    }
    if x0 == x1 {
        x1 = x0 + 3600;
    }
    let (y_top, y_ticks) = match y {
        YAxis::Percent => (100.0, 11),
        YAxis::Count => {
            let top = (y1 * 1.1).ceil().max(4.0);
            // At most 10 ticks, each a whole number apart.
            let step = (top / 10.0).ceil().max(1.0);
            let top = (top / step).ceil() * step;
            (top, (top / step) as usize + 1)
        }
        YAxis::Value => ((y1 * 1.1).max(1.0), 11),
    };
    let legend_lines = series.len() as u32;
    let height = HEIGHT.max(60 + LEGEND_LINE * legend_lines);
    let root = SVGBackend::with_string(svg, (WIDTH + LEGEND_WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (plot_area, legend_area) = root.split_horizontally(WIDTH);
    // The year is on the axis: on every tick when the data spans years.
    let (first_year, last_year) = (year(x0), year(x1));
    let spans_years = first_year != last_year;
    let day = move |x: &i64| {
        let format = if spans_years { "%Y-%m-%d" } else { "%m-%d" };
        chrono::DateTime::from_timestamp(*x, 0)
            .map(|t| t.format(format).to_string())
            .unwrap_or_default()
    };
    let x_desc = match (spans_years, first_year) {
        (true, _) => "date (UTC)".to_string(),
        (false, Some(y)) => format!("date (UTC, {y}, month-day)"),
        (false, None) => "date (UTC, month-day)".to_string(),
    };
    let count_label = |v: &f64| format!("{v:.0}");
    let value_label = |v: &f64| format!("{v:.1}");
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(52)
        .build_cartesian_2d(
            (x0..x1).with_key_points(ticks(x0, x1, if spans_years { 4 } else { 6 })),
            0.0..y_top,
        )
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_label)
        .x_label_formatter(&day)
        .y_labels(y_ticks)
        .y_label_formatter(if y == YAxis::Count {
            &count_label
        } else {
            &value_label
        })
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(|e| e.to_string())?;
    let colours = colours(series);
    let typical = match spacing {
        // 2.5 days apart is a gap; a day apart is not.
        Spacing::Daily => Some(86_400 / 2),
        Spacing::Irregular => typical_spacing(series),
    };
    for (s, colour) in series.iter().zip(&colours) {
        let colour = *colour;
        let parts = segments(&s.points, typical);
        for segment in &parts {
            chart
                .draw_series(LineSeries::new(
                    segment.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
        // A short series, or a lone point between gaps, gets a dot per point: a
        // single build is otherwise invisible.
        let lone = |p: &(i64, f64)| parts.iter().any(|g| g.len() == 1 && g[0] == *p);
        let dots: Vec<(i64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| s.points.len() <= MARKED_POINTS || lone(p))
            .collect();
        chart
            .draw_series(dots.into_iter().map(|p| Circle::new(p, 2, colour.filled())))
            .map_err(|e| e.to_string())?;
    }
    // The legend: every series, beside the plot rather than over its data.
    for (i, (s, colour)) in series.iter().zip(&colours).enumerate() {
        let top = 34 + LEGEND_LINE as i32 * i as i32;
        legend_area
            .draw(&PathElement::new(
                vec![(4, top + 6), (18, top + 6)],
                colour.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        let name: String = s.name.chars().take(22).collect();
        legend_area
            .draw(&Text::new(name, (22, top), ("sans-serif", 11)))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// One row of a timeline: a name and its (from, to) spans, in seconds.
pub struct Lane {
    pub name: String,
    pub spans: Vec<(f64, f64)>,
}

/// A timeline over `0..duration` seconds as an SVG string: a lane per row with its
/// spans as red bars, and a labelled vertical line at each mark (an upgrade step).
pub fn timeline(title: &str, duration: f64, lanes: &[Lane], marks: &[(f64, String)]) -> String {
    let mut svg = String::new();
    match draw_timeline(&mut svg, title, duration, lanes, marks) {
        Ok(()) => svg,
        Err(_) => format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="60"><text x="8" y="30" font-size="13">{}: no data</text></svg>"#,
            super::escape::html(title)
        ),
    }
}

fn draw_timeline(
    svg: &mut String,
    title: &str,
    duration: f64,
    lanes: &[Lane],
    marks: &[(f64, String)],
) -> Result<(), String> {
    if lanes.is_empty() || duration.is_nan() || duration <= 0.0 {
        return Err("nothing to draw".into());
    }
    let height = 90 + 26 * lanes.len() as u32;
    let root = SVGBackend::with_string(svg, (2 * WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = lanes.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..duration, (0..n).into_segmented())
        .map_err(|e| e.to_string())?;
    let names = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => lanes.get(*i).map(|l| l.name.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .x_desc("seconds since the monitor started")
        .y_labels(n)
        .y_label_formatter(&names)
        .disable_y_mesh()
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(|e| e.to_string())?;
    let red = RGBColor(217, 48, 37);
    for (i, lane) in lanes.iter().enumerate() {
        chart
            .draw_series(lane.spans.iter().map(|(from, to)| {
                // A span shorter than a pixel is still drawn.
                let to = to.max(from + duration / 1000.0);
                Rectangle::new(
                    [
                        (*from, SegmentValue::Exact(i)),
                        (to, SegmentValue::Exact(i + 1)),
                    ],
                    red.filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
    }
    let grey = RGBColor(95, 99, 104);
    for (at, label) in marks {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*at, SegmentValue::Exact(0)), (*at, SegmentValue::Exact(n))],
                grey.stroke_width(1),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*at, SegmentValue::Exact(n)),
                ("sans-serif", 10).into_font().color(&grey),
            )))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Value at quantile `q` (0..=1) of `values` (sorted in place).
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let idx = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
    Some(values[idx])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_axes_and_escapes_titles() {
        let s = Series {
            name: "job <a>".into(),
            points: vec![(1_700_000_000, 0.5), (1_700_086_400, 0.75)],
        };
        let svg = line_chart(
            "pass rate",
            "passed builds (%)",
            &[s],
            YAxis::Percent,
            Spacing::Daily,
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("passed builds (%)") && svg.contains("date (UTC, 2023, month-day)"));
        let empty = line_chart("<b>x</b>", "y", &[], YAxis::Value, Spacing::Irregular);
        assert!(empty.contains("&lt;b&gt;x&lt;/b&gt;: no data"));
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0], 0.75), Some(3.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn years_gaps_legends_colours_and_counts() {
        const DAY: i64 = 86_400;
        let at = |d: i64| 1_703_980_800 + d * DAY; // 2023-12-31
                                                   // Daily points with two days missing: three segments, not one line.
        let pts: Vec<(i64, f64)> = [0, 1, 2, 5, 6, 9].iter().map(|d| (at(*d), 1.0)).collect();
        let lens: Vec<usize> = segments(&pts, Some(DAY)).iter().map(|s| s.len()).collect();
        assert_eq!(lens, [3, 2, 1]);
        let a = Series {
            name: "a-job".into(),
            points: pts.clone(),
        };
        let b = Series {
            name: "zeta".into(),
            points: pts,
        };
        let svg = line_chart(
            "failures",
            "failures per day",
            &[a, b],
            YAxis::Count,
            Spacing::Daily,
        );
        // Across a new year: the year on every date; both series named in the legend.
        assert!(
            svg.contains("2024-01-0") && svg.contains("date (UTC)"),
            "{svg}"
        );
        assert!(
            svg.contains("\na-job\n") && svg.contains("\nzeta\n"),
            "{svg}"
        );
        // Counts: whole-number ticks only.
        assert!(
            svg.contains("\n4\n") && !svg.contains(".5\n") && !svg.contains(".0\n"),
            "{svg}"
        );
        // A series has its colour on every page, and two never share one.
        let one = |n: &str| {
            colours(&[Series {
                name: n.into(),
                points: vec![],
            }])[0]
        };
        let both = colours(&[
            Series {
                name: "x".into(),
                points: vec![],
            },
            Series {
                name: "a-job".into(),
                points: vec![],
            },
        ]);
        assert_eq!(both[1], one("a-job"));
        let same = colours(&[
            Series {
                name: "a-job".into(),
                points: vec![],
            },
            Series {
                name: "a-job".into(),
                points: vec![],
            },
        ]);
        assert_ne!(same[0], same[1]);
    }
}
