//! Requests refused for want of a valid token: counted in a metric as they
//! come, and summarised in one `audit.denied` journal event per interval
//! rather than journaled one by one, so that an anonymous flood cannot
//! fill the journal.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use steward_core::{Actor, NewEvent, Severity};
use steward_store::Store;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{Edge, JOURNAL_STRING_MAX, cap};

/// How often the refusals of the last interval are journaled (when there
/// were any).
pub(crate) const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Distinct clients counted per interval; more are counted together.
const MAX_CLIENTS: usize = 1024;

/// Distinct routes counted per interval (there are fewer routes than
/// this; the bound only keeps the window's size fixed).
const MAX_ROUTES: usize = 128;

/// Clients and routes named in a summary.
const TOP: usize = 5;

/// Why a request had no valid token: the `reason` label of
/// `steward_http_unauthenticated_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DenialReason {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A bearer token that is unknown or revoked.
    Invalid,
}

impl DenialReason {
    /// Every reason, for tests and for initialising the metric.
    pub(crate) const ALL: [DenialReason; 3] = [
        DenialReason::Missing,
        DenialReason::Malformed,
        DenialReason::Invalid,
    ];

    /// The metric label and journal key.
    pub(crate) fn label(self) -> &'static str {
        match self {
            DenialReason::Missing => "missing_token",
            DenialReason::Malformed => "malformed_token",
            DenialReason::Invalid => "invalid_token",
        }
    }

    /// What the client is told.
    pub(crate) fn message(self) -> &'static str {
        match self {
            DenialReason::Missing => "missing bearer token; send `Authorization: Bearer <token>`",
            DenialReason::Malformed => {
                "malformed Authorization header; send `Authorization: Bearer <token>`"
            }
            DenialReason::Invalid => "invalid or revoked token",
        }
    }
}

/// The refusals of the current interval.
struct Window {
    started: Instant,
    count: u64,
    reasons: BTreeMap<&'static str, u64>,
    routes: HashMap<String, u64>,
    clients: HashMap<IpAddr, u64>,
    /// Refusals of clients beyond [`MAX_CLIENTS`] or of unknown address.
    other_clients: u64,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            count: 0,
            reasons: BTreeMap::new(),
            routes: HashMap::new(),
            clients: HashMap::new(),
            other_clients: 0,
        }
    }
}

/// Counts refusals until the next summary.
pub(crate) struct DeniedLog {
    window: Mutex<Window>,
}

impl DeniedLog {
    pub(crate) fn new() -> Self {
        DeniedLog {
            window: Mutex::new(Window::new(Instant::now())),
        }
    }

    /// Counts one refusal of `client` (when its address is known) on
    /// `route` (a route template).
    pub(crate) fn record(&self, reason: DenialReason, route: &str, client: Option<IpAddr>) {
        let mut window = self.window.lock().expect("denied log lock");
        window.count += 1;
        *window.reasons.entry(reason.label()).or_insert(0) += 1;
        if let Some(count) = window.routes.get_mut(route) {
            *count += 1;
        } else if window.routes.len() < MAX_ROUTES {
            window.routes.insert(cap(route, JOURNAL_STRING_MAX), 1);
        }
        match client {
            Some(client) if window.clients.contains_key(&client) => {
                *window.clients.get_mut(&client).expect("present") += 1;
            }
            Some(client) if window.clients.len() < MAX_CLIENTS => {
                window.clients.insert(client, 1);
            }
            _ => window.other_clients += 1,
        }
    }

    /// The summary event of the refusals since the last one (and starts a
    /// new interval), or `None` when there were none.
    pub(crate) fn take(&self, now: Instant) -> Option<NewEvent> {
        let window = {
            let mut window = self.window.lock().expect("denied log lock");
            std::mem::replace(&mut *window, Window::new(now))
        };
        if window.count == 0 {
            return None;
        }
        let seconds = now.saturating_duration_since(window.started).as_secs();
        let top_routes = top(window.routes.into_iter().collect());
        let clients = window.clients.len();
        let top_clients = top(window
            .clients
            .into_iter()
            .map(|(client, count)| (client.to_string(), count))
            .collect());
        let summary = format!(
            "{} request(s) without a valid token refused in the last {seconds} s, from {clients}{} client(s){}",
            window.count,
            if window.other_clients > 0 { "+" } else { "" },
            top_routes
                .first()
                .map(|(route, count)| format!("; most on {route} ({count})"))
                .unwrap_or_default(),
        );
        let listed = |entries: Vec<(String, u64)>, key: &str| {
            entries
                .into_iter()
                .map(|(name, count)| {
                    let mut entry = serde_json::Map::new();
                    entry.insert(key.to_owned(), name.into());
                    entry.insert("count".to_owned(), count.into());
                    serde_json::Value::Object(entry)
                })
                .collect::<Vec<_>>()
        };
        Some(
            NewEvent::new(
                crate::events::AuditEvent::Denied.kind(),
                Actor::system(),
                summary,
            )
            .severity(Severity::Warning)
            .payload(json!({
                "count": window.count,
                "seconds": seconds,
                "reasons": window.reasons,
                "clients": clients,
                "other_clients_requests": window.other_clients,
                "top_clients": listed(top_clients, "client"),
                "top_routes": listed(top_routes, "route"),
            })),
        )
    }
}

/// The [`TOP`] entries with the highest counts, highest first (ties by
/// name, so that summaries are stable).
fn top(mut entries: Vec<(String, u64)>) -> Vec<(String, u64)> {
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(TOP);
    entries
}

/// The periodic summary of refused requests, which
/// [`router`](crate::router) returns beside the application it belongs
/// to: nothing is journaled unless [`DenialSummaries::run`] is polled.
#[must_use = "refusals are summarised only while `run` is polled"]
pub struct DenialSummaries {
    /// Held, not borrowed weakly: the application is gone by the time the
    /// last summary is journaled at shutdown.
    edge: Arc<Edge>,
    store: Store,
    /// When the first interval started (the application's creation).
    since: Instant,
}

impl std::fmt::Debug for DenialSummaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenialSummaries").finish_non_exhaustive()
    }
}

impl DenialSummaries {
    pub(crate) fn new(edge: &Arc<Edge>, store: Store) -> Self {
        DenialSummaries {
            edge: Arc::clone(edge),
            store,
            since: Instant::now(),
        }
    }

    /// Journals the summary of the refusals of each [`SUMMARY_INTERVAL`]
    /// (when there were any) until `shutdown` is cancelled, and once more
    /// then.
    pub async fn run(self, shutdown: CancellationToken) {
        // The first interval counts from the application's creation, not
        // from whenever this future is first polled.
        let mut ticks = tokio::time::interval_at(self.since + SUMMARY_INTERVAL, SUMMARY_INTERVAL);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let last = tokio::select! {
                () = shutdown.cancelled() => true,
                _ = ticks.tick() => false,
            };
            if let Some(event) = self.edge.denied.take(Instant::now())
                && let Err(err) = self.store.append(event).await
            {
                tracing::warn!(error = %err, "cannot journal the summary of refused requests");
            }
            if last {
                return;
            }
        }
    }
}
