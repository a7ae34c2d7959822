//! A terminal line chart of time series: one marker (and colour) per
//! series, a y axis labelled with the minimum and maximum, an x axis with
//! the start and end times, and a legend.

use std::fmt::Write;

use chrono::DateTime;

/// Markers of the series, in order; they repeat after the last.
const MARKERS: [char; 10] = ['*', 'o', 'x', '#', '@', '%', '&', '=', '~', '$'];

/// ANSI colours of the series, in order (red, green, yellow, blue, magenta, cyan).
const COLOURS: [u8; 6] = [31, 32, 33, 34, 35, 36];

/// The chart as plain text. `series` are `(name, [(unix seconds, value)])`;
/// `width` and `height` size the plot area. Values that are not finite
/// (NaN, infinities) are left out.
pub(crate) fn chart(series: &[(String, Vec<(f64, f64)>)], width: usize, height: usize) -> String {
    render(series, width, height, false)
}

/// [`chart`], with each series' marker in its own colour when `colour`.
pub(crate) fn render(
    series: &[(String, Vec<(f64, f64)>)],
    width: usize,
    height: usize,
    colour: bool,
) -> String {
    let width = width.max(2);
    let height = height.max(2);
    let finite = |&&(t, v): &&(f64, f64)| t.is_finite() && v.is_finite();
    let points = || {
        series
            .iter()
            .flat_map(|(_, points)| points.iter().filter(finite))
    };
    let (mut t_min, mut t_max) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(t, v) in points() {
        t_min = t_min.min(t);
        t_max = t_max.max(t);
        y_min = y_min.min(v);
        y_max = y_max.max(v);
    }
    if !t_min.is_finite() {
        return "no data\n".to_owned();
    }
    // A flat line is drawn in the middle of the plot.
    let (lo, hi) = if y_max > y_min {
        (y_min, y_max)
    } else {
        (y_min - 1.0, y_max + 1.0)
    };
    let column = |t: f64| -> usize {
        if t_max > t_min {
            scale((t - t_min) / (t_max - t_min), width)
        } else {
            0
        }
    };
    let row = |v: f64| -> usize { height - 1 - scale((v - lo) / (hi - lo), height) };

    // Each cell holds the index of the series drawn there (the last wins).
    let mut grid: Vec<Vec<Option<usize>>> = vec![vec![None; width]; height];
    for (index, (_, points)) in series.iter().enumerate() {
        let mut previous: Option<(usize, usize)> = None;
        for &(t, v) in points.iter().filter(finite) {
            let (c, r) = (column(t), row(v));
            match previous {
                // Consecutive points are joined across the columns between them.
                Some((pc, pr)) if c > pc + 1 => {
                    for (offset, cc) in (pc + 1..=c).enumerate() {
                        let f = (offset + 1) as f64 / (c - pc) as f64;
                        let rr = (pr as f64 + f * (r as f64 - pr as f64)).round() as usize;
                        grid[rr.min(height - 1)][cc] = Some(index);
                    }
                }
                _ => grid[r][c] = Some(index),
            }
            previous = Some((c, r));
        }
    }

    let (top, bottom) = (format_number(y_max), format_number(y_min));
    let margin = top.len().max(bottom.len());
    let mut out = String::new();
    for (r, cells) in grid.iter().enumerate() {
        let label = match r {
            0 => top.as_str(),
            r if r == height - 1 => bottom.as_str(),
            _ => "",
        };
        let _ = write!(out, "{label:>margin$} |");
        for cell in cells {
            match cell {
                Some(index) => out.push_str(&marker(*index, colour)),
                None => out.push(' '),
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    let _ = writeln!(out, "{:>margin$} +{}", "", "-".repeat(width));
    let (start, end) = (format_time(t_min), format_time(t_max));
    let gap = (width + 1).saturating_sub(start.len() + end.len()).max(1);
    let _ = writeln!(out, "{:>margin$}  {start}{}{end}", "", " ".repeat(gap));
    out.push('\n');
    for (index, (name, _)) in series.iter().enumerate() {
        let _ = writeln!(out, "  {} {name}", marker(index, colour));
    }
    out
}

/// `fraction` (0 to 1) of `cells`, as a cell index.
fn scale(fraction: f64, cells: usize) -> usize {
    let index = (fraction * (cells - 1) as f64).round();
    (index.max(0.0) as usize).min(cells - 1)
}

/// The marker of the series at `index`, coloured or not.
fn marker(index: usize, colour: bool) -> String {
    let marker = MARKERS[index % MARKERS.len()];
    if colour {
        format!("\x1b[{}m{marker}\x1b[0m", COLOURS[index % COLOURS.len()])
    } else {
        marker.to_string()
    }
}

/// An axis value: short, without needless decimals.
fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 1e6 || value.abs() < 1e-3 {
        format!("{value:.3e}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A unix time as `YYYY-MM-DD HH:MM:SS` UTC.
fn format_time(seconds: f64) -> String {
    DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64).map_or_else(
        || format!("{seconds}"),
        |time| time.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

#[cfg(test)]
mod tests;
