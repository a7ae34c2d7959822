//! `steward query`: evaluates a PromQL expression on steward's Prometheus
//! API; an instant query prints a table, a range query (`--range`) a chart.

mod chart;

use std::io::IsTerminal;

use chrono::{DateTime, Utc};

use super::prometheus::{self, Labels, QueryData};
use crate::{
    UsageError,
    cli::{Global, OutputFormat, QueryArgs},
    client::Client,
    output,
};

/// Steps a range query is cut into when `--step` is not given.
const DEFAULT_STEPS: u32 = 240;

/// Rows of the plot area of a chart.
const CHART_HEIGHT: usize = 15;

pub(crate) async fn run(global: &Global, args: QueryArgs) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let data: QueryData = match args.range {
        None => {
            let mut query = vec![("query", args.expr.clone())];
            if let Some(time) = &args.time {
                query.push(("time", time.clone()));
            }
            prometheus::get(&client, "/api/v1/query", &query).await?
        }
        Some(range) => {
            let end = match &args.end {
                Some(text) => parse_time(text)?,
                None => Utc::now().timestamp_millis() as f64 / 1000.0,
            };
            let range = range.get().as_secs_f64();
            let step = match args.step {
                Some(step) => step.get().as_secs_f64(),
                None => range / f64::from(DEFAULT_STEPS),
            };
            if step <= 0.0 {
                return Err(UsageError("--step must be positive".into()).into());
            }
            let query = [
                ("query", args.expr.clone()),
                ("start", (end - range).to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ];
            prometheus::get(&client, "/api/v1/query_range", &query).await?
        }
    };
    if global.output == OutputFormat::Json {
        output::json(&data);
        return Ok(());
    }
    match (&data, args.range.is_some()) {
        (QueryData::Matrix(series), true) => {
            let series: Vec<(String, Vec<(f64, f64)>)> = series
                .iter()
                .map(|s| {
                    let points = s.values.iter().map(|p| (p.time(), p.value())).collect();
                    (series_name(&s.metric), points)
                })
                .collect();
            if series.is_empty() {
                output::line("no data");
            } else {
                let colour = std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
                let text = if colour {
                    chart::render(&series, chart_width(), CHART_HEIGHT, true)
                } else {
                    chart::chart(&series, chart_width(), CHART_HEIGHT)
                };
                output::line(text.trim_end());
            }
        }
        _ => print_table(&data),
    }
    Ok(())
}

/// Columns of the plot area: the terminal's (`COLUMNS`) less the y axis.
fn chart_width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(80);
    columns.saturating_sub(14).max(20)
}

/// A time as RFC 3339 or unix seconds, in unix seconds.
fn parse_time(text: &str) -> anyhow::Result<f64> {
    if let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
    {
        return Ok(seconds);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| {
            UsageError(format!(
                "invalid time {text:?}: expected RFC 3339 or unix seconds"
            ))
            .into()
        })
}

/// Prints an instant query's result.
fn print_table(data: &QueryData) {
    match data {
        QueryData::Scalar(point) | QueryData::String(point) => output::line(&point.1),
        QueryData::Vector(samples) if samples.is_empty() => output::line("no data"),
        QueryData::Matrix(series) if series.is_empty() => output::line("no data"),
        QueryData::Vector(samples) => {
            let mut table = output::table(&["SERIES", "VALUE"]);
            for sample in samples {
                table.add_row(vec![series_name(&sample.metric), sample.value.1.clone()]);
            }
            output::print_table(&table);
        }
        QueryData::Matrix(series) => {
            let mut table = output::table(&["SERIES", "VALUES"]);
            for s in series {
                let values: Vec<String> = s
                    .values
                    .iter()
                    .map(|p| format!("{} @{}", p.1, p.0))
                    .collect();
                table.add_row(vec![series_name(&s.metric), values.join(", ")]);
            }
            output::print_table(&table);
        }
    }
}

/// A series in Prometheus' notation: `name{a="b", c="d"}`, `{a="b"}`
/// without a name, `{}` without labels.
pub(super) fn series_name(labels: &Labels) -> String {
    let name = labels.get("__name__").map_or("", String::as_str);
    let rest: Vec<String> = labels
        .iter()
        .filter(|(key, _)| key.as_str() != "__name__")
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", rest.join(", "))
    }
}

/// A label value as written between quotes.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
