//! The event journal: append inside a transaction, query with filters and
//! cursor pagination, and learn about new events.

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};
use steward_core::{Actor, Event, EventId, EventKind, Name, NewEvent, Severity, Version};

use crate::{Backend, Error, Result, Store, Tx};

/// Key of the PostgreSQL advisory lock that orders journal appends.
/// Holding it until commit makes ids commit in increasing order, so a
/// reader that has seen id `n` can never later find an event below `n`.
const JOURNAL_ORDER_LOCK: i64 = 0x0053_5445_574a_4e4c; // "STEWJNL"

/// Most events one query returns.
pub const MAX_PAGE: u32 = 1000;

/// Direction of a listing.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Newest first; the cursor moves to older events.
    #[default]
    Desc,
    /// Oldest first; the cursor moves to newer events.
    Asc,
}

/// Filters for listing events. Every filter is optional; they combine
/// with AND.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only events whose kind is this or starts with it plus a dot
    /// (`deploy` matches `deploy.started` but not `deployment`).
    pub kind: Option<String>,
    /// Only events about this service.
    pub service: Option<String>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Only events whose summary or payload contains this text
    /// (case-insensitive).
    pub text: Option<String>,
    /// Continue after this event (older ones for `Desc`, newer for `Asc`).
    pub cursor: Option<EventId>,
    /// Listing direction.
    pub order: Order,
    /// Page size (default 100, at most [`MAX_PAGE`]).
    pub limit: Option<u32>,
}

/// One page of events.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EventPage {
    /// The events, in the requested order.
    pub events: Vec<Event>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<EventId>,
}

impl Tx {
    /// Appends an event; it becomes visible when the transaction commits.
    pub async fn append(&mut self, event: NewEvent) -> Result<Event> {
        let store = self.store().clone();
        if store.backend() == Backend::Postgres && !self.ordered {
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS journal_lock")
                .bind(JOURNAL_ORDER_LOCK)
                .execute(self.conn())
                .await?;
            self.ordered = true;
        }
        let time = now_millis();
        let payload = event.payload.to_string();
        let id: i64 = store
            .timed(
                "journal_append",
                sqlx::query_scalar(
                    "INSERT INTO events (time_ms, kind, service, version, actor, severity, summary, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(time.timestamp_millis())
                .bind(event.kind.as_str())
                .bind(event.service.as_ref().map(Name::as_str))
                .bind(event.version.as_ref().map(Version::as_str))
                .bind(event.actor.as_str())
                .bind(event.severity.as_str())
                .bind(&event.summary)
                .bind(&payload)
                .fetch_one(self.conn()),
            )
            .await?;
        store.metrics().journal_appends.inc();
        let id = EventId(id);
        self.appended = Some(self.appended.map_or(id, |previous| previous.max(id)));
        Ok(Event {
            id,
            time,
            kind: event.kind,
            service: event.service,
            version: event.version,
            actor: event.actor,
            severity: event.severity,
            summary: event.summary,
            payload: event.payload,
        })
    }
}

impl Store {
    /// Appends one event in its own transaction.
    pub async fn append(&self, event: NewEvent) -> Result<Event> {
        let mut tx = self.begin().await?;
        let event = tx.append(event).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// One event by id.
    pub async fn event(&self, id: EventId) -> Result<Event> {
        let row = self
            .timed(
                "journal_get",
                sqlx::query(&format!("SELECT {COLUMNS} FROM events WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(self.pool()),
            )
            .await?;
        match row {
            Some(row) => event_from_row(&row),
            None => Err(Error::NotFound {
                what: format!("event {id}"),
            }),
        }
    }

    /// Lists events matching `query`.
    pub async fn events(&self, query: &EventQuery) -> Result<EventPage> {
        let limit = query.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidQuery(format!(
                "limit must be between 1 and {MAX_PAGE}, got {limit}"
            )));
        }
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE 1 = 1");
        let mut params: Vec<Param> = Vec::new();
        let next = |params: &mut Vec<Param>, value: Param| {
            params.push(value);
            format!("${}", params.len())
        };
        if let Some(since) = query.since {
            let p = next(&mut params, Param::Int(since.timestamp_millis()));
            sql.push_str(&format!(" AND time_ms >= {p}"));
        }
        if let Some(until) = query.until {
            let p = next(&mut params, Param::Int(until.timestamp_millis()));
            sql.push_str(&format!(" AND time_ms < {p}"));
        }
        if let Some(kind) = &query.kind {
            let exact = next(&mut params, Param::Text(kind.clone()));
            let prefix = next(&mut params, Param::Text(format!("{}.%", escape_like(kind))));
            sql.push_str(&format!(
                " AND (kind = {exact} OR kind LIKE {prefix} ESCAPE '\\')"
            ));
        }
        if let Some(service) = &query.service {
            let p = next(&mut params, Param::Text(service.clone()));
            sql.push_str(&format!(" AND service = {p}"));
        }
        if let Some(actor) = &query.actor {
            let p = next(&mut params, Param::Text(actor.clone()));
            sql.push_str(&format!(" AND actor = {p}"));
        }
        if let Some(text) = &query.text {
            let p = next(
                &mut params,
                Param::Text(format!("%{}%", escape_like(&text.to_lowercase()))),
            );
            sql.push_str(&format!(
                " AND (LOWER(summary) LIKE {p} ESCAPE '\\' OR LOWER(payload) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(cursor) = query.cursor {
            let p = next(&mut params, Param::Int(cursor.0));
            let op = match query.order {
                Order::Desc => "<",
                Order::Asc => ">",
            };
            sql.push_str(&format!(" AND id {op} {p}"));
        }
        let direction = match query.order {
            Order::Desc => "DESC",
            Order::Asc => "ASC",
        };
        // One more than asked tells whether there is a next page.
        let p = next(&mut params, Param::Int(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY id {direction} LIMIT {p}"));

        let mut statement = sqlx::query(&sql);
        for param in params {
            statement = match param {
                Param::Int(value) => statement.bind(value),
                Param::Text(value) => statement.bind(value),
            };
        }
        let rows = self
            .timed("journal_query", statement.fetch_all(self.pool()))
            .await?;
        let mut events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events.last().map(|event| event.id)
        } else {
            None
        };
        Ok(EventPage {
            events,
            next_cursor,
        })
    }

    /// Reads the newest event id from the database and tells watchers when
    /// it moved (events appended by another steward replica).
    pub async fn refresh_latest(&self) -> Result<EventId> {
        let latest: i64 = self
            .timed(
                "journal_latest",
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events")
                    .fetch_one(self.pool()),
            )
            .await?;
        self.observe_latest(EventId(latest));
        Ok(EventId(latest))
    }
}

const COLUMNS: &str = "id, time_ms, kind, service, version, actor, severity, summary, payload";

enum Param {
    Int(i64),
    Text(String),
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The current time at the journal's millisecond precision.
fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn event_from_row(row: &AnyRow) -> Result<Event> {
    let id: i64 = row.try_get("id")?;
    let corrupt = |detail: String| Error::Corrupt {
        table: "events",
        id: id.to_string(),
        detail,
    };
    let time_ms: i64 = row.try_get("time_ms")?;
    let kind: String = row.try_get("kind")?;
    let service: Option<String> = row.try_get("service")?;
    let version: Option<String> = row.try_get("version")?;
    let actor: String = row.try_get("actor")?;
    let severity: String = row.try_get("severity")?;
    let payload: String = row.try_get("payload")?;
    Ok(Event {
        id: EventId(id),
        time: DateTime::from_timestamp_millis(time_ms)
            .ok_or_else(|| corrupt(format!("time {time_ms}")))?,
        kind: EventKind::new(kind).map_err(|e| corrupt(e.to_string()))?,
        service: service
            .map(Name::new)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        version: version
            .map(Version::new)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        actor: Actor::new(actor).map_err(|e| corrupt(e.to_string()))?,
        severity: severity
            .parse::<Severity>()
            .map_err(|e| corrupt(e.to_string()))?,
        summary: row.try_get("summary")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload: {e}")))?,
    })
}

#[cfg(test)]
mod tests;
