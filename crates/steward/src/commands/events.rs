//! `steward events`: list the journal, or follow it live.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

use crate::{
    cli::{EventFilters, EventsCommand, Global, OutputFormat},
    client::{self, Client},
    output,
};

/// Query parameters for the filters shared by list and tail.
fn filter_query(filters: &EventFilters) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    for (key, value) in [
        ("kind", &filters.kind),
        ("service", &filters.service),
        ("actor", &filters.actor),
        ("q", &filters.grep),
    ] {
        if let Some(value) = value {
            query.push((key, value.clone()));
        }
    }
    query
}

pub(crate) async fn run(global: &Global, command: EventsCommand) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    match command {
        EventsCommand::List {
            filters,
            since,
            until,
            limit,
            cursor,
            reverse,
        } => {
            let mut query = filter_query(&filters);
            query.push(("limit", limit.to_string()));
            if let Some(since) = since {
                query.push(("since", since));
            }
            if let Some(until) = until {
                query.push(("until", until));
            }
            if let Some(cursor) = cursor {
                query.push(("cursor", cursor.to_string()));
            }
            if reverse {
                query.push(("order", "asc".to_owned()));
            }
            let page: Value = client.get("/api/v1/events", &query).await?;
            match global.output {
                OutputFormat::Json => output::json(&page),
                OutputFormat::Table => {
                    let mut table = output::table(&output::EVENT_HEADER);
                    for event in page["events"].as_array().into_iter().flatten() {
                        table.add_row(output::event_row(event));
                    }
                    output::print_table(&table);
                    if let Some(next) = page["next_cursor"].as_i64() {
                        output::note(&format!("more: steward events list --cursor {next}"));
                    }
                }
            }
            Ok(())
        }
        EventsCommand::Tail { filters, after } => {
            tail(&client, global.output, &filter_query(&filters), after).await
        }
    }
}

/// Follows the event stream until interrupted, reconnecting (from the last
/// event seen) when the connection drops.
async fn tail(
    client: &Client,
    format: OutputFormat,
    query: &[(&str, String)],
    after: Option<i64>,
) -> anyhow::Result<()> {
    let mut last = after;
    let mut reconnecting = false;
    loop {
        let response = match client
            .open_stream("/api/v1/events/stream", query, last)
            .await
        {
            Ok(response) => response,
            Err(err) if reconnecting && client::is_unreachable(&err) => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
            Err(err) => return Err(err),
        };
        if reconnecting {
            output::note("reconnected");
        }
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        loop {
            let chunk = tokio::select! {
                chunk = stream.next() => chunk,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            let Some(Ok(chunk)) = chunk else { break };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if let Some((id, event)) = parse_frame(&frame) {
                    last = Some(id);
                    match format {
                        OutputFormat::Json => output::json_line(&event),
                        OutputFormat::Table => output::line(&output::event_line(&event)),
                    }
                }
            }
        }
        output::note("connection to steward lost; reconnecting");
        reconnecting = true;
    }
}

/// The id and JSON data of one server-sent event frame; comments
/// (keep-alives) and non-event frames give `None`.
pub(crate) fn parse_frame(frame: &str) -> Option<(i64, Value)> {
    let mut id = None;
    let mut data = String::new();
    let mut kind = None;
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = value.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        } else if let Some(value) = line.strip_prefix("event:") {
            kind = Some(value.trim().to_owned());
        }
    }
    if let Some(kind) = kind
        && kind == "error"
    {
        output::error(&format!("the event stream reported an error: {data}"));
        return None;
    }
    Some((id?, serde_json::from_str(&data).ok()?))
}

#[cfg(test)]
mod tests;
