//! `GET`, `POST /api/v2/alerts` and `GET /api/v2/alerts/groups`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Params, Refusal, api_error, format_optional_time, format_time, framework_error, json_body,
    ok_json, optional_time,
};
use crate::alert::IncomingAlert;
use crate::manager::{AlertGroupView, AlertQuery, AlertView};
use crate::matchers::{parse_matcher, regex_error};
use crate::{AlertManager, Error, LabelSet};

/// `postableAlert`; `labels` is required (checked after parsing, to
/// answer as Alertmanager does).
#[derive(Debug, Deserialize)]
struct PostableAlert {
    #[serde(default)]
    labels: Option<LabelSet>,
    #[serde(default)]
    annotations: Option<LabelSet>,
    #[serde(default, rename = "startsAt", deserialize_with = "optional_time")]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "endsAt", deserialize_with = "optional_time")]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

/// `receiver`.
#[derive(Debug, Serialize)]
pub(super) struct Receiver<'a> {
    pub(super) name: &'a str,
}

/// `alertStatus`.
#[derive(Debug, Serialize)]
struct Status<'a> {
    #[serde(rename = "inhibitedBy")]
    inhibited_by: &'a [String],
    #[serde(rename = "silencedBy")]
    silenced_by: &'a [String],
    state: &'static str,
}

/// `gettableAlert`, its fields in Alertmanager's order.
#[derive(Debug, Serialize)]
struct GettableAlert<'a> {
    annotations: &'a LabelSet,
    #[serde(rename = "endsAt")]
    ends_at: String,
    fingerprint: String,
    receivers: Vec<Receiver<'a>>,
    #[serde(rename = "startsAt")]
    starts_at: String,
    status: Status<'a>,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: &'a LabelSet,
}

impl<'a> GettableAlert<'a> {
    fn of(view: &'a AlertView) -> Self {
        let alert = &view.alert;
        GettableAlert {
            annotations: &alert.annotations,
            ends_at: format_optional_time(alert.ends_at),
            fingerprint: view.fingerprint.to_string(),
            receivers: view
                .receivers
                .iter()
                .map(|name| Receiver { name })
                .collect(),
            starts_at: format_time(alert.starts_at),
            status: Status {
                inhibited_by: &view.status.inhibited_by,
                silenced_by: &view.status.silenced_by,
                state: view.status.state.as_str(),
            },
            updated_at: format_time(alert.updated_at),
            generator_url: &alert.generator_url,
            labels: &alert.labels,
        }
    }
}

/// `alertGroup`.
#[derive(Debug, Serialize)]
struct AlertGroup<'a> {
    alerts: Vec<GettableAlert<'a>>,
    labels: &'a LabelSet,
    receiver: Receiver<'a>,
}

impl<'a> AlertGroup<'a> {
    fn of(group: &'a AlertGroupView) -> Self {
        AlertGroup {
            alerts: group.alerts.iter().map(GettableAlert::of).collect(),
            labels: &group.labels,
            receiver: Receiver {
                name: &group.receiver,
            },
        }
    }
}

/// The query of `GET /alerts` (with `unprocessed`) or `/alerts/groups`:
/// a bad matcher or receiver expression is a 400.
fn alert_query(params: &Params, with_unprocessed: bool) -> Result<AlertQuery, Refusal> {
    let matchers = params
        .all("filter")
        .map(parse_matcher)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| api_error(StatusCode::BAD_REQUEST, e.to_string()))?;
    let receiver = match params.last("receiver") {
        Some(pattern) => Some(AlertQuery::receiver_pattern(pattern).map_err(|e| {
            api_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "failed to parse receiver param: {}",
                    regex_error(&format!("^(?:{pattern})$"), &e)
                ),
            )
        })?),
        None => None,
    };
    Ok(AlertQuery {
        matchers,
        active: params.flag("active"),
        silenced: params.flag("silenced"),
        inhibited: params.flag("inhibited"),
        unprocessed: !with_unprocessed || params.flag("unprocessed"),
        receiver,
    })
}

/// `GET /api/v2/alerts`: the unresolved alerts the filters select, by
/// fingerprint.
pub(super) async fn list(
    State(manager): State<AlertManager>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let query = match alert_query(&params, true) {
        Ok(query) => query,
        Err(refusal) => return refusal.into_response(),
    };
    match manager.alerts(&query).await {
        Ok(views) => ok_json(&views.iter().map(GettableAlert::of).collect::<Vec<_>>()),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v2/alerts/groups`: the aggregation groups with the alerts
/// the filters select.
pub(super) async fn groups(
    State(manager): State<AlertManager>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let query = match alert_query(&params, false) {
        Ok(query) => query,
        Err(refusal) => return refusal.into_response(),
    };
    let groups = manager.alert_groups(&query);
    ok_json(&groups.iter().map(AlertGroup::of).collect::<Vec<_>>())
}

/// The body's alerts: a JSON array of objects (serde would also read an
/// array as an alert's fields; Go's decoder does not).
fn parse_alerts(body: &[u8]) -> Result<Vec<PostableAlert>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let serde_json::Value::Array(items) = value else {
        return Err("the body is not an array of alerts".to_owned());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item.is_object() {
            true => serde_json::from_value(item).map_err(|e| format!("alert {i}: {e}")),
            false => Err(format!("alert {i} is not an object")),
        })
        .collect()
}

/// `POST /api/v2/alerts`: 200 with no body; 400 listing the invalid
/// alerts (the valid ones are taken all the same).
pub(super) async fn post(
    State(manager): State<AlertManager>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(&headers, body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let alerts = match parse_alerts(&body) {
        Ok(alerts) => alerts,
        Err(why) => {
            return framework_error(
                StatusCode::BAD_REQUEST,
                400,
                format!("parsing alerts body from \"\" failed, because {why}"),
            );
        }
    };
    let mut incoming = Vec::with_capacity(alerts.len());
    for (i, alert) in alerts.into_iter().enumerate() {
        let Some(labels) = alert.labels else {
            return framework_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                602,
                format!("{i}.labels in body is required"),
            );
        };
        incoming.push(IncomingAlert {
            labels,
            annotations: alert.annotations.unwrap_or_default(),
            starts_at: alert.starts_at,
            ends_at: alert.ends_at,
            generator_url: alert.generator_url.unwrap_or_default(),
        });
    }
    match manager.put_alerts(incoming).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Error::InvalidAlert(message)) => api_error(StatusCode::BAD_REQUEST, message),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
