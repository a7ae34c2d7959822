//! `GET`, `POST /api/v2/silences` and `GET`, `DELETE
//! /api/v2/silence/{silenceID}`.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Params, Refusal, api_error, format_time, framework_error, json_body, ok_json, optional_time,
};
use crate::alert::{go_quote, is_valid_label_name};
use crate::manager::SilenceView;
use crate::matchers::parse_matcher;
use crate::silence::Silence;
use crate::{AlertManager, Error, MatchType, Matcher, Matchers};

/// `postableSilence`; the required fields are checked after parsing, to
/// answer as Alertmanager does.
#[derive(Debug, Deserialize)]
struct PostableSilence {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    matchers: Option<Vec<PostableMatcher>>,
    #[serde(default, rename = "startsAt", deserialize_with = "optional_time")]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "endsAt", deserialize_with = "optional_time")]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "createdBy")]
    created_by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// `matcher`.
#[derive(Debug, Deserialize)]
struct PostableMatcher {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default, rename = "isRegex")]
    is_regex: Option<bool>,
    #[serde(default, rename = "isEqual")]
    is_equal: Option<bool>,
}

/// `matcher` as listed.
#[derive(Debug, Serialize)]
struct GettableMatcher<'a> {
    #[serde(rename = "isEqual")]
    is_equal: bool,
    #[serde(rename = "isRegex")]
    is_regex: bool,
    name: &'a str,
    value: &'a str,
}

/// `silenceStatus`.
#[derive(Debug, Serialize)]
struct SilenceStatus {
    state: &'static str,
}

/// `gettableSilence`, its fields in Alertmanager's order.
#[derive(Debug, Serialize)]
struct GettableSilence<'a> {
    id: &'a str,
    status: SilenceStatus,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    comment: &'a str,
    #[serde(rename = "createdBy")]
    created_by: &'a str,
    #[serde(rename = "endsAt")]
    ends_at: String,
    matchers: Vec<GettableMatcher<'a>>,
    #[serde(rename = "startsAt")]
    starts_at: String,
}

impl<'a> GettableSilence<'a> {
    fn of(view: &'a SilenceView) -> Self {
        let s = &view.silence;
        GettableSilence {
            id: &s.id,
            status: SilenceStatus {
                state: view.state.as_str(),
            },
            updated_at: format_time(s.updated_at),
            comment: &s.comment,
            created_by: &s.created_by,
            ends_at: format_time(s.ends_at),
            matchers: s
                .matchers
                .0
                .iter()
                .map(|m| GettableMatcher {
                    is_equal: !m.kind.is_negative(),
                    is_regex: m.kind.is_regex(),
                    name: &m.name,
                    value: &m.value,
                })
                .collect(),
            starts_at: format_time(s.starts_at),
        }
    }
}

/// `GET /api/v2/silences`: every silence, or those with the filter's
/// matchers (as written), active first.
pub(super) async fn list(
    State(manager): State<AlertManager>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let filter = match params
        .all("filter")
        .map(parse_matcher)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(filter) => filter,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let silences = manager.silences(&filter);
    ok_json(&silences.iter().map(GettableSilence::of).collect::<Vec<_>>())
}

/// Whether a path id is a UUID as Go's `strfmt` checks it (dashes
/// optional, any case).
fn is_uuid(id: &str) -> bool {
    static UUID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})$")
            .expect("a valid expression")
    });
    UUID.is_match(id)
}

fn not_a_uuid(id: &str) -> Response {
    framework_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        601,
        format!("silenceID in path must be of type uuid: {}", go_quote(id)),
    )
}

/// `GET /api/v2/silence/{silenceID}`: the silence, or 404 with no body.
pub(super) async fn get(State(manager): State<AlertManager>, Path(id): Path<String>) -> Response {
    if !is_uuid(&id) {
        return not_a_uuid(&id);
    }
    match manager.silence(&id) {
        Some(view) => ok_json(&GettableSilence::of(&view)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE /api/v2/silence/{silenceID}`: expires the silence (200 with
/// no body, also when it had expired); 404 when there is none.
pub(super) async fn delete(
    State(manager): State<AlertManager>,
    Path(id): Path<String>,
) -> Response {
    if !is_uuid(&id) {
        return not_a_uuid(&id);
    }
    match manager.expire_silence(&id).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Error::SilenceNotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The 422 of a missing required field, in the order Alertmanager's
/// generated validation checks them (by name).
fn missing(field: &str) -> Response {
    framework_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        602,
        format!("{field} in body is required"),
    )
}

/// The body's silence: a JSON object (serde would also read an array as
/// its fields; Go's decoder does not).
fn parse_silence(body: &[u8]) -> Result<PostableSilence, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("the body is not a silence object".to_owned());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// `POST /api/v2/silences`: creates a silence, or changes the one its
/// `id` names (in place or by replacing it, as [`crate::silence::Silences::set`]);
/// `{"silenceID": ...}`.
pub(super) async fn post(
    State(manager): State<AlertManager>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(&headers, body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let posted = match parse_silence(&body) {
        Ok(posted) => posted,
        Err(why) => {
            return framework_error(
                StatusCode::BAD_REQUEST,
                400,
                format!("parsing silence body from \"\" failed, because {why}"),
            );
        }
    };
    let silence = match silence_of(posted, manager.now()) {
        Ok(silence) => silence,
        Err(refusal) => return refusal.into_response(),
    };
    match manager.set_silence(silence).await {
        Ok(id) => ok_json(&json!({ "silenceID": id })),
        Err(Error::SilenceNotFound) => api_error(StatusCode::NOT_FOUND, "silence not found"),
        Err(Error::BadSilence(message)) => api_error(
            StatusCode::BAD_REQUEST,
            format!("Failed to create silence: {message}"),
        ),
        Err(e @ (Error::InvalidSilence(_) | Error::BadMatcher(_))) => {
            api_error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The silence a body describes, checked as Alertmanager checks it before
/// `Silences.Set`: the required fields, then the times (start before end,
/// end not in the past), then each matcher's name and expression.
fn silence_of(posted: PostableSilence, now: DateTime<Utc>) -> Result<Silence, Refusal> {
    let comment = posted.comment.ok_or_else(|| missing("comment"))?;
    let created_by = posted.created_by.ok_or_else(|| missing("createdBy"))?;
    let ends_at = posted.ends_at.ok_or_else(|| missing("endsAt"))?;
    let posted_matchers = posted.matchers.ok_or_else(|| missing("matchers"))?;
    if posted_matchers.is_empty() {
        return Err(framework_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            612,
            "matchers in body should have at least 1 items",
        )
        .into());
    }
    for (i, m) in posted_matchers.iter().enumerate() {
        if m.is_regex.is_none() {
            return Err(missing(&format!("matchers.{i}.isRegex")).into());
        }
        if m.name.is_none() {
            return Err(missing(&format!("matchers.{i}.name")).into());
        }
        if m.value.is_none() {
            return Err(missing(&format!("matchers.{i}.value")).into());
        }
    }
    let starts_at = posted.starts_at.ok_or_else(|| missing("startsAt"))?;
    let refused = |message: &str| {
        api_error(
            StatusCode::BAD_REQUEST,
            format!("Failed to create silence: {message}"),
        )
    };
    if starts_at >= ends_at {
        return Err(refused("start time must be before end time").into());
    }
    if ends_at < now {
        return Err(refused("end time can't be in the past").into());
    }
    let mut matchers = Vec::with_capacity(posted_matchers.len());
    for (i, m) in posted_matchers.into_iter().enumerate() {
        let name = m.name.unwrap_or_default();
        let invalid = |why: String| {
            api_error(
                StatusCode::BAD_REQUEST,
                format!("silence invalid: invalid label matcher {i}: {why}"),
            )
        };
        if !is_valid_label_name(&name) {
            return Err(invalid(format!("invalid label name {}", go_quote(&name))).into());
        }
        let kind = match (m.is_regex.unwrap_or_default(), m.is_equal.unwrap_or(true)) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        };
        let matcher: Matcher = Matcher::new(name, kind, m.value.unwrap_or_default())
            .map_err(|e| invalid(e.to_string()))?;
        matchers.push(matcher);
    }
    let mut silence = Silence::new(Matchers(matchers), starts_at, ends_at, created_by, comment);
    silence.id = posted.id.unwrap_or_default();
    Ok(silence)
}
