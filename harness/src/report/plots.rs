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
const PALETTE: [RGBColor; 8] = [
    RGBColor(26, 115, 232),
    RGBColor(217, 48, 37),
    RGBColor(30, 142, 62),
    RGBColor(138, 79, 191),
    RGBColor(249, 171, 0),
    RGBColor(0, 137, 123),
    RGBColor(95, 99, 104),
    RGBColor(233, 30, 99),
];

/// A line chart over time as an SVG string; `y_max` fixes the top of the y axis.
pub fn line_chart(title: &str, y_label: &str, series: &[Series], y_max: Option<f64>) -> String {
    let mut svg = String::new();
    let drawn = draw(&mut svg, title, y_label, series, y_max);
    if drawn.is_err() || series.iter().all(|s| s.points.is_empty()) {
        return format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="60"><text x="8" y="30" font-size="13">{}: no data</text></svg>"#,
            super::escape::html(title)
        );
    }
    svg
}

fn draw(
    svg: &mut String,
    title: &str,
    y_label: &str,
    series: &[Series],
    y_max: Option<f64>,
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
    let y_top = y_max.unwrap_or((y1 * 1.1).max(1.0));
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let day = |x: &i64| {
        chrono::DateTime::from_timestamp(*x, 0)
            .map(|t| t.format("%m-%d").to_string())
            .unwrap_or_default()
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, 0.0..y_top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("date (UTC, month-day)")
        .y_desc(y_label)
        .x_labels(6)
        .x_label_formatter(&day)
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, s) in series.iter().enumerate().take(PALETTE.len()) {
        let color = PALETTE[i];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
        // A short series gets a dot per point: a single build is otherwise invisible.
        if s.points.len() <= MARKED_POINTS {
            chart
                .draw_series(s.points.iter().map(|p| Circle::new(*p, 2, color.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 11))
            .draw()
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
        let svg = line_chart("pass rate", "passed builds (%)", &[s], Some(100.0));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("passed builds (%)") && svg.contains("date (UTC, month-day)"));
        let empty = line_chart("<b>x</b>", "y", &[], None);
        assert!(empty.contains("&lt;b&gt;x&lt;/b&gt;: no data"));
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0, 4.0], 0.75), Some(3.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
}
