//! `steward events`: list the journal, or follow it live.

use std::time::Duration;

use steward_core::Event;
use steward_server::ErrorBody;
use steward_store::EventPage;

use crate::{
    cli::{EventFilters, EventsCommand, Global, OutputFormat},
    client::{self, Client},
    output,
    sse::{Frame, Frames},
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
            let page: EventPage = client.get("/api/v1/events", &query).await?;
            match global.output {
                OutputFormat::Json => output::json(&page),
                OutputFormat::Table => {
                    let mut table = output::table(&output::EVENT_HEADER);
                    for event in &page.events {
                        table.add_row(output::event_row(event));
                    }
                    output::print_table(&table);
                    if let Some(next) = page.next_cursor {
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
        let mut frames = Frames::new(response);
        loop {
            let frame = tokio::select! {
                frame = frames.next() => frame,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            let Some(frame) = frame else { break };
            if let Some(event) = journal_event(&frame) {
                last = Some(event.id.0);
                match format {
                    OutputFormat::Json => output::json_line(&event),
                    OutputFormat::Table => output::line(&output::event_line(&event)),
                }
            }
        }
        output::note("connection to steward lost; reconnecting");
        reconnecting = true;
    }
}

/// The journal event a frame carries; an `error` frame is reported and
/// gives `None`, like frames of other kinds.
pub(crate) fn journal_event(frame: &Frame) -> Option<Event> {
    match frame.event.as_deref() {
        None | Some("message") => serde_json::from_str(&frame.data).ok(),
        Some("error") => {
            let message = serde_json::from_str::<ErrorBody>(&frame.data)
                .map_or_else(|_| frame.data.clone(), |body| body.error.message);
            output::error(&format!("the event stream reported an error: {message}"));
            None
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests;
