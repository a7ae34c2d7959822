//! Alertmanager's API v2 (0.25's OpenAPI specification) over an
//! [`AlertManager`], as an axum router relative to where it is mounted:
//! Prometheus posts its alerts to it, and amtool queries alerts and
//! manages silences through it unchanged.
//!
//! - `GET`, `POST /api/v2/alerts`; `GET /api/v2/alerts/groups`
//!   (`alerts.rs`).
//! - `GET`, `POST /api/v2/silences`; `GET`, `DELETE
//!   /api/v2/silence/{silenceID}` (`silences.rs`).
//! - `GET /api/v2/status`, `GET /api/v2/receivers`, `/-/healthy`,
//!   `/-/ready` (`general.rs`).
//!
//! Field names, status codes and bodies are Alertmanager 0.25's: a
//! handler's error is a JSON string (400; 500 when steward fails); what
//! Alertmanager's generated server refuses before its handlers (a body
//! that is not JSON, a required field missing, a path id that is not a
//! UUID, a method not allowed) is a JSON object `{"code", "message"}`
//! with its codes. Times are RFC 3339 in UTC to the millisecond; Go's
//! zero time (`0001-01-01T00:00:00Z`, which amtool sends for a time it
//! does not set) counts as missing. Request bodies are bounded
//! ([`MAX_BODY_BYTES`]).
//!
//! Deliberate differences: `DELETE /silence/{id}` of an unknown silence
//! is 404 (Alertmanager 0.25: 500 `"silence not found"`; later versions:
//! 404); a request without a `Content-Type` is read as JSON (Alertmanager
//! refuses it with 415); `generatorURL` is not checked to be a URI;
//! regular expression errors are worded by Rust's `regex`.
//!
//! Handlers hold no lock across an await, and state changes run on tasks
//! of their own inside the [`AlertManager`], so a client hanging up never
//! cuts one short.

mod alerts;
mod general;
mod silences;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::AlertManager;
use crate::alert::go_quote;

/// The largest request body accepted (alerts or a silence), in bytes;
/// larger ones are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// The routes, over the AlertManager they serve.
pub fn router(manager: AlertManager) -> Router {
    Router::new()
        .route(
            "/api/v2/alerts",
            only(get(alerts::list).post(alerts::post), "GET,POST"),
        )
        .route("/api/v2/alerts/groups", only(get(alerts::groups), "GET"))
        .route(
            "/api/v2/silences",
            only(get(silences::list).post(silences::post), "GET,POST"),
        )
        .route(
            "/api/v2/silence/{silence_id}",
            only(get(silences::get).delete(silences::delete), "GET,DELETE"),
        )
        .route("/api/v2/status", only(get(general::status), "GET"))
        .route("/api/v2/receivers", only(get(general::receivers), "GET"))
        .route("/-/healthy", get(general::ok))
        .route("/-/ready", get(general::ok))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(manager)
}

/// The route answering other methods as Alertmanager's generated server
/// does: 405 with `Allow` and a JSON error.
fn only(route: MethodRouter<AlertManager>, allowed: &'static str) -> MethodRouter<AlertManager> {
    route.fallback(move |method: Method| async move {
        let mut response = framework_error(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            format!("method {method} is not allowed, but [{allowed}] are"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allowed));
        response
    })
}

/// An answer that ends a request early (an error), boxed: a [`Response`]
/// is large, and `?` converts into it.
struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A handler's error: the message as a JSON string.
fn api_error(status: StatusCode, message: impl AsRef<str>) -> Response {
    json_response(status, &serde_json::Value::from(message.as_ref()))
}

/// An error of Alertmanager's generated server (before its handlers):
/// `{"code": ..., "message": ...}`.
fn framework_error(status: StatusCode, code: u16, message: impl Into<String>) -> Response {
    json_response(status, &json!({"code": code, "message": message.into()}))
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A 200 answer with a JSON body.
fn ok_json(body: &impl serde::Serialize) -> Response {
    json_response(StatusCode::OK, body)
}

/// The request's body if it is JSON within the limit: 413 beyond it, 415
/// for another media type.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        let text = value.to_str().unwrap_or_default();
        let media = text.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(framework_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                415,
                format!(
                    "unsupported media type {}, only [application/json] are allowed",
                    go_quote(text)
                ),
            )
            .into());
        }
    }
    body.map_err(|rejection| {
        let status = rejection.status();
        framework_error(status, status.as_u16(), rejection.body_text()).into()
    })
}

/// The query string's parameters, in order.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of a repeated parameter.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter's last value, when not empty (an empty value is no
    /// value, as for Alertmanager's generated server).
    fn last<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).last().filter(|v| !v.is_empty())
    }

    /// A boolean parameter, `true` when missing or empty; otherwise true
    /// only for the words Go's `swag.ConvertBool` takes as true.
    fn flag(&self, name: &str) -> bool {
        self.last(name).is_none_or(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "ok" | "y" | "on" | "selected" | "checked" | "t" | "enabled"
            )
        })
    }
}

/// A time as API v2 writes it: UTC, to the millisecond.
fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// An optional time as API v2 writes it: none is Go's zero time.
fn format_optional_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "0001-01-01T00:00:00.000Z".to_owned(), format_time)
}

/// Reads an optional time: RFC 3339 (or without an offset, as UTC); null,
/// an empty string and Go's zero time are none.
fn optional_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map_err(|_| serde::de::Error::custom(format!("parsing time {}", go_quote(&text))))?;
    Ok((parsed > go_zero_time()).then_some(parsed))
}

/// Go's zero time, 0001-01-01T00:00:00Z.
fn go_zero_time() -> DateTime<Utc> {
    NaiveDateTime::parse_from_str("0001-01-01T00:00:00", "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests;
