//! The journal over HTTP: list with filters and cursors, read one, append
//! an external event, and follow new events as server-sent events.

use std::{convert::Infallible, time::Duration};

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Deserialize;
use steward_core::{
    Event, EventId, EventKind, Name, NewEvent, Severity, Version, parse_duration_saturating,
};
use steward_store::{EventPage, EventQuery, MAX_PAGE, Order, Store};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{
        KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, Type, schema::AnyOfBuilder,
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    auth::{Operator, Viewer},
    error::ErrorBody,
    extract::{JsonBody, PathParams, QueryParams},
    routes::frames::{EventFrames, error_frame},
    state::EventFeed,
};

/// The journal's routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, append))
        .routes(routes!(get))
        .routes(routes!(stream))
}

/// How often a stream looks for events written by other steward replicas
/// (local appends wake it at once).
const STREAM_POLL: Duration = Duration::from_secs(1);

/// Filters for listing events.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only events at or after this time: RFC 3339 (`2026-11-28T10:00:00Z`)
    /// or a duration ago (`15m`, `2h`).
    #[param(value_type = Option<TimeOrAgo>, inline)]
    since: Option<String>,
    /// Only events before this time: RFC 3339 or a duration ago.
    #[param(value_type = Option<TimeOrAgo>, inline)]
    until: Option<String>,
    /// Only this kind and its sub-kinds (`deploy` matches `deploy.started`).
    kind: Option<String>,
    /// Only events about this service.
    service: Option<String>,
    /// Only events by this actor (e.g. `token:ci`, `system`).
    actor: Option<String>,
    /// Only events whose summary or payload contains this text.
    q: Option<String>,
    /// Continue from a previous page's `next_cursor`.
    cursor: Option<i64>,
    /// `desc` (newest first, the default) or `asc`.
    order: Option<Order>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A time as a query parameter: RFC 3339, or a Prometheus duration that
/// long ago (`0`, or terms such as `1h30m` with units `y w d h m s ms`
/// from largest to smallest).
struct TimeOrAgo;

impl PartialSchema for TimeOrAgo {
    fn schema() -> RefOr<Schema> {
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
                )
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .pattern(Some(
                            "^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
                        )),
                )
                .build(),
        )
        .into()
    }
}

impl ToSchema for TimeOrAgo {}

/// Filters for following events.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamParams {
    /// Only this kind and its sub-kinds.
    kind: Option<String>,
    /// Only events about this service.
    service: Option<String>,
    /// Only events by this actor.
    actor: Option<String>,
    /// Only events whose summary or payload contains this text.
    q: Option<String>,
    /// Start after this event id (like the `Last-Event-ID` header, which
    /// wins when both are given). Without either, only new events are sent.
    after: Option<i64>,
}

/// An event sent by a client (CI annotations, external changes).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppendEvent {
    /// Dotted kind, e.g. `ci.build.finished`; steward's own prefixes
    /// (`deploy`, `audit`, ...) are reserved.
    kind: EventKind,
    /// One line for humans: not only whitespace.
    // The pattern matches a character that `str::trim` keeps; they are
    // listed rather than written `\S`, which regular expression engines
    // read differently.
    #[schema(
        min_length = 1,
        pattern = "[^\t\n\u{b}\u{c}\r \u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}]"
    )]
    summary: String,
    /// The service concerned.
    service: Option<Name>,
    /// The version concerned.
    version: Option<Version>,
    /// Defaults to `info`.
    severity: Option<Severity>,
    /// Structured details: a JSON object.
    #[schema(value_type = Option<Object>)]
    payload: Option<serde_json::Value>,
}

/// Parses an RFC 3339 time or a Prometheus duration meaning "that long ago".
fn parse_time(field: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let ago = parse_duration_saturating(text).map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            format!("invalid query parameter: {field}: expected an RFC 3339 time or a duration such as `15m`, got `{text}`"),
        )
    })?;
    // Longer ago than time is counted: before every event.
    Ok(chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| now.checked_sub_signed(ago))
        .unwrap_or(DateTime::<Utc>::MIN_UTC))
}

/// Lists events, newest first unless `order=asc`.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "list_events",
    tag = "events",
    params(ListParams),
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "Invalid filter", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(store): State<Store>,
    _viewer: Viewer,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<EventPage>, ApiError> {
    let now = Utc::now();
    if let Some(limit) = params.limit
        && !(1..=MAX_PAGE).contains(&limit)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "invalid query parameter: limit: must be between 1 and {MAX_PAGE}, got {limit}"
            ),
        ));
    }
    let query = EventQuery {
        since: params
            .since
            .as_deref()
            .map(|t| parse_time("since", t, now))
            .transpose()?,
        until: params
            .until
            .as_deref()
            .map(|t| parse_time("until", t, now))
            .transpose()?,
        kind: params.kind,
        service: params.service,
        actor: params.actor,
        text: params.q,
        cursor: params.cursor.map(EventId),
        order: params.order.unwrap_or_default(),
        limit: params.limit,
    };
    Ok(Json(store.events(&query).await?))
}

/// Reads one event.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    operation_id = "get_event",
    tag = "events",
    params(("id" = i64, Path, description = "Event id")),
    security(("token" = ["viewer"])),
    responses(
        (status = 200, description = "The event", body = Event),
        (status = 404, description = "No such event", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(store): State<Store>,
    _viewer: Viewer,
    PathParams(id): PathParams<i64>,
) -> Result<Json<Event>, ApiError> {
    Ok(Json(store.event(EventId(id)).await?))
}

/// Appends an event from outside steward (operator role).
#[utoipa::path(
    post,
    path = "/api/v1/events",
    operation_id = "append_event",
    tag = "events",
    request_body = AppendEvent,
    security(("token" = ["operator"])),
    responses(
        (status = 201, description = "The stored event", body = Event),
        (status = 422, description = "Invalid event", body = ErrorBody),
    )
)]
pub(crate) async fn append(
    State(store): State<Store>,
    Operator(principal): Operator,
    JsonBody(body): JsonBody<AppendEvent>,
) -> Result<(StatusCode, Json<Event>), ApiError> {
    let domain = body.kind.split('.').next().unwrap_or_default();
    if crate::events::RESERVED_KIND_PREFIXES.contains(&domain) {
        return Err(ApiError::invalid(
            "reserved_kind",
            format!(
                "kind: `{domain}.*` events are written by steward itself; use another prefix, e.g. `ci.` or `annotation.`"
            ),
        ));
    }
    if body.summary.trim().is_empty() {
        return Err(ApiError::invalid(
            "invalid_body",
            "summary: must not be empty",
        ));
    }
    // Journal payloads are objects (or null, for none).
    if body
        .payload
        .as_ref()
        .is_some_and(|payload| !payload.is_object() && !payload.is_null())
    {
        return Err(ApiError::invalid(
            "invalid_body",
            "payload: must be a JSON object",
        ));
    }
    let mut event = NewEvent::new(body.kind, principal.actor, body.summary)
        .severity(body.severity.unwrap_or_default())
        .payload(body.payload.unwrap_or(serde_json::Value::Null));
    event.service = body.service;
    event.version = body.version;
    let stored = store.append(event).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Follows new events as server-sent events: each `data` is one event as
/// JSON and each `id` its event id, so a client that reconnects with
/// `Last-Event-ID` misses nothing.
#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    operation_id = "stream_events",
    tag = "events",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, description = "Resume after this event id"),
    ),
    security(("token" = ["viewer"])),
    responses((status = 200, description = "A stream of events, one frame each, until the client goes away", content_type = "text/event-stream", body = EventFrames))
)]
pub(crate) async fn stream(
    State(feed): State<EventFeed>,
    _viewer: Viewer,
    headers: HeaderMap,
    QueryParams(params): QueryParams<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_header", "Last-Event-ID must be an event id")
                })?,
        ),
        None => None,
    };
    let start = match last_event_id.or(params.after) {
        Some(id) => EventId(id),
        None => *feed.store.subscribe().borrow(),
    };
    let filters = EventQuery {
        kind: params.kind,
        service: params.service,
        actor: params.actor,
        text: params.q,
        order: Order::Asc,
        limit: Some(500),
        ..EventQuery::default()
    };
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(follow(feed, filters, start, sender, |_: &Event| Flow::Send));
    Ok(Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What a follower does with an event that matched its query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Not for this stream.
    Skip,
    /// Send it.
    Send,
    /// Send it and end the stream (e.g. a deployment's last event).
    SendAndEnd,
}

/// Sends every matching event after `cursor` that `flow` lets through,
/// then waits for news until the client goes away, the server shuts down,
/// or `flow` ends the stream.
pub(crate) async fn follow(
    feed: EventFeed,
    filters: EventQuery,
    mut cursor: EventId,
    sender: mpsc::Sender<Result<SseEvent, Infallible>>,
    flow: impl Fn(&Event) -> Flow + Send + 'static,
) {
    let EventFeed { store, shutdown } = feed;
    let mut latest = store.subscribe();
    loop {
        // Everything up to `horizon` is committed, and ids commit in order,
        // so after draining the query the cursor may skip to the horizon
        // even when the last events did not match the filters.
        let horizon = *latest.borrow_and_update();
        loop {
            let query = EventQuery {
                cursor: Some(cursor),
                ..filters.clone()
            };
            let page = match store.events(&query).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(error = %err, "event stream stopped by a store error");
                    let frame = error_frame(
                        "store_error",
                        "unavailable",
                        "the event stream stopped; reconnect with Last-Event-ID",
                    );
                    let _ = sender.send(Ok(frame)).await;
                    return;
                }
            };
            for event in &page.events {
                cursor = event.id;
                let decision = flow(event);
                if decision == Flow::Skip {
                    continue;
                }
                let data = serde_json::to_string(event).expect("events serialize");
                if sender
                    .send(Ok(SseEvent::default().id(event.id.to_string()).data(data)))
                    .await
                    .is_err()
                    || decision == Flow::SendAndEnd
                {
                    return;
                }
            }
            if page.next_cursor.is_none() {
                break;
            }
        }
        cursor = cursor.max(horizon);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = sender.closed() => return,
            changed = latest.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(STREAM_POLL) => {
                if let Err(err) = store.refresh_latest().await {
                    tracing::debug!(error = %err, "cannot poll for new events");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
