//! `steward logs`: the lines of the system's logs from steward's log store
//! (through Loki's query API), oldest first, coloured by level on a
//! terminal; `--follow` keeps printing new lines; `--output json` prints
//! one JSON object per line.

use std::{collections::BTreeMap, io::IsTerminal, time::Duration};

use serde::{Deserialize, Serialize};

use steward_logs::logql::string_literal;

use super::prometheus;
use crate::{
    UsageError,
    cli::{Global, LogsArgs, OutputFormat},
    client::Client,
    output,
};

/// Where steward serves Loki's query API.
const QUERY_RANGE: &str = "/loki/api/v1/query_range";
/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The `data` of a log query: streams of `[ns, line]` values.
#[derive(Debug, Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<StreamResult>,
}

#[derive(Debug, Deserialize)]
struct StreamResult {
    stream: BTreeMap<String, String>,
    /// `[ns, line]`, or `[ns, line, {"structuredMetadata": ...}]` (whose
    /// metadata is also among the stream's labels).
    values: Vec<Vec<serde_json::Value>>,
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Line {
    /// Nanoseconds since the epoch, as Loki writes them.
    ts: String,
    labels: BTreeMap<String, String>,
    line: String,
}

impl Line {
    fn ns(&self) -> i64 {
        self.ts.parse().unwrap_or(0)
    }
}

/// The LogQL query the arguments make.
pub(crate) fn query_of(args: &LogsArgs) -> Result<String, UsageError> {
    if let Some(query) = &args.query {
        if args.service.is_some() || args.grep.is_some() {
            return Err(UsageError(
                "--query is a whole LogQL query: give the service and the text in it".into(),
            ));
        }
        return Ok(query.clone());
    }
    let mut query = match &args.service {
        Some(service) => format!("{{service={}}}", string_literal(service)),
        None => "{service=~\".+\"}".to_owned(),
    };
    if let Some(text) = &args.grep {
        query.push_str(&format!(" |= {}", string_literal(text)));
    }
    Ok(query)
}

pub(crate) async fn run(global: &Global, args: LogsArgs) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let query = query_of(&args)?;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let since = i64::try_from(args.since.get().as_nanos()).unwrap_or(i64::MAX);
    let mut lines = fetch(
        &client,
        &query,
        now.saturating_sub(since),
        now,
        args.limit,
        "backward",
    )
    .await?;
    let style = Style::detect(global);
    print(&lines, &style);
    if !args.follow {
        return Ok(());
    }
    // Poll from the newest line seen: a line at that very nanosecond is
    // asked again, so it is compared against the last ones printed.
    let mut last = lines.last().map_or(now, Line::ns);
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let fresh = fetch(
            &client,
            &query,
            last,
            now.saturating_add(1),
            5000,
            "forward",
        )
        .await?;
        let seen: Vec<&Line> = lines.iter().filter(|l| l.ns() == last).collect();
        let new: Vec<Line> = fresh.into_iter().filter(|l| !seen.contains(&l)).collect();
        print(&new, &style);
        if let Some(newest) = new.last() {
            last = newest.ns();
            lines = new;
        }
    }
}

/// The lines of `[start, end)`, oldest first.
async fn fetch(
    client: &Client,
    query: &str,
    start: i64,
    end: i64,
    limit: u32,
    direction: &str,
) -> anyhow::Result<Vec<Line>> {
    let params = [
        ("query", query.to_owned()),
        ("start", start.to_string()),
        ("end", end.to_string()),
        ("limit", limit.to_string()),
        ("direction", direction.to_owned()),
    ];
    let data: Data = prometheus::get_at(client, QUERY_RANGE, &params).await?;
    if data.result_type != "streams" {
        return Err(UsageError(format!(
            "{query:?} is a metric query: use `steward logs` for lines (or the API's query_range for samples)"
        ))
        .into());
    }
    let mut lines: Vec<Line> = data
        .result
        .into_iter()
        .flat_map(|s| {
            let labels = s.stream;
            s.values.into_iter().filter_map(move |value| {
                let text = |i: usize| value.get(i)?.as_str().map(str::to_owned);
                Some(Line {
                    ts: text(0)?,
                    labels: labels.clone(),
                    line: text(1)?,
                })
            })
        })
        .collect();
    lines.sort_by_key(Line::ns);
    Ok(lines)
}

/// How lines are printed.
struct Style {
    json: bool,
    colour: bool,
}

impl Style {
    fn detect(global: &Global) -> Style {
        Style {
            json: global.output == OutputFormat::Json,
            colour: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

fn print(lines: &[Line], style: &Style) {
    for line in lines {
        if style.json {
            output::json_line(line);
        } else {
            output::line(&render(line, style.colour));
        }
    }
}

/// The level of a line: the level steward detected (structured metadata
/// `detected_level`) or a `level` label, else a level word near its start.
fn level(line: &Line) -> Option<&'static str> {
    let text = match line
        .labels
        .get("detected_level")
        .or_else(|| line.labels.get("level"))
    {
        Some(level) => level.to_ascii_lowercase(),
        None => line
            .line
            .chars()
            .take(64)
            .collect::<String>()
            .to_ascii_lowercase(),
    };
    ["fatal", "error", "warn", "info", "debug"]
        .into_iter()
        .find(|level| text.contains(level))
}

/// `TIME service/replica stream line`, coloured by level on a terminal.
fn render(line: &Line, colour: bool) -> String {
    let time = chrono::DateTime::from_timestamp_nanos(line.ns())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let source = match (line.labels.get("service"), line.labels.get("replica")) {
        (Some(service), Some(replica)) => format!("{service}/{replica}"),
        (Some(service), None) => service.clone(),
        _ => line
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    };
    let stream = line.labels.get("stream").map_or("", String::as_str);
    let head = format!("{time} {source} {stream}");
    if !colour {
        return format!("{head} {}", line.line);
    }
    let paint = match level(line) {
        Some("fatal" | "error") => "\x1b[31m",
        Some("warn") => "\x1b[33m",
        Some("debug") => "\x1b[2m",
        _ => "",
    };
    let reset = if paint.is_empty() { "" } else { "\x1b[0m" };
    format!("\x1b[2m{head}\x1b[0m {paint}{}{reset}", line.line)
}

#[cfg(test)]
mod tests;
