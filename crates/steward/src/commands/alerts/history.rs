//! `steward alerts history`: what happened to alerts, newest first, from
//! the journal: rule alerts going pending, firing and resolved (`alert.*`)
//! and the AlertManager's notification attempts (`alertmanager.*`), the
//! two merged by time.

use steward_core::Event;
use steward_store::EventPage;

use crate::{
    cli::{Global, OutputFormat},
    client::Client,
    output,
};

/// The journal domains the history reads.
const KINDS: [&str; 2] = [
    steward_rules::AlertEvent::PREFIX,
    steward_alert::AlertManagerEvent::PREFIX,
];

/// Lists the history, filtered by service and time.
pub(crate) async fn run(
    global: &Global,
    service: Option<String>,
    since: Option<String>,
    limit: u32,
) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let mut events: Vec<Event> = Vec::new();
    for kind in KINDS {
        let mut query = vec![("kind", kind.to_owned()), ("limit", limit.to_string())];
        if let Some(service) = &service {
            query.push(("service", service.clone()));
        }
        if let Some(since) = &since {
            query.push(("since", since.clone()));
        }
        let page: EventPage = client.get("/api/v1/events", &query).await?;
        events.extend(page.events);
    }
    let events = merged(events, limit as usize);
    match global.output {
        OutputFormat::Json => output::json(&serde_json::json!({ "events": events })),
        OutputFormat::Table => {
            let mut table = output::table(&output::EVENT_HEADER);
            for event in &events {
                table.add_row(output::event_row(event));
            }
            output::print_table(&table);
        }
    }
    Ok(())
}

/// Newest first (by id, the journal's order), at most `limit`.
fn merged(mut events: Vec<Event>, limit: usize) -> Vec<Event> {
    events.sort_by_key(|e| std::cmp::Reverse(e.id));
    events.dedup_by(|a, b| a.id == b.id);
    events.truncate(limit);
    events
}

#[cfg(test)]
mod tests;
