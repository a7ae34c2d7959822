//! `/api/v1/rules` and `/api/v1/alerts` as Prometheus 2.42 serves them,
//! relative to where the router is mounted (steward merges it into its
//! Prometheus-compatible API under `/prometheus`), so Grafana's alert
//! views and `curl`-based scripts read steward's rules unchanged.
//!
//! `/api/v1/rules` takes Prometheus' filters: `type` (`alert` or
//! `record`), and repeated `rule_name[]`, `rule_group[]` and `file[]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use steward_metrics::Labels;

use crate::RuleManager;
use crate::manager::GroupView;
use crate::rule::{Alert, AlertState, AlertingRule, Rule};

/// The routes, over the manager whose groups they show.
pub fn router(manager: Arc<RuleManager>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .with_state(manager)
}

/// Which rules a `/api/v1/rules` request asks for.
#[derive(Debug, Default, PartialEq)]
struct Filter {
    alerting: bool,
    recording: bool,
    names: Vec<String>,
    groups: Vec<String>,
    files: Vec<String>,
}

impl Filter {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut filter = Filter {
            alerting: true,
            recording: true,
            ..Filter::default()
        };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "type" => match value.to_ascii_lowercase().as_str() {
                    "" => {}
                    "alert" => filter.recording = false,
                    "record" => filter.alerting = false,
                    _ => return Err(format!("not supported value {value:?}")),
                },
                "rule_name[]" => filter.names.push(value.into_owned()),
                "rule_group[]" => filter.groups.push(value.into_owned()),
                "file[]" => filter.files.push(value.into_owned()),
                _ => {}
            }
        }
        Ok(filter)
    }

    fn keeps_group(&self, group: &GroupView) -> bool {
        (self.groups.is_empty() || self.groups.contains(&group.name))
            && (self.files.is_empty() || self.files.contains(&group.file))
    }

    fn keeps_rule(&self, rule: &Rule) -> bool {
        let kind = match rule {
            Rule::Alerting(_) => self.alerting,
            Rule::Recording(_) => self.recording,
        };
        kind && (self.names.is_empty() || self.names.iter().any(|n| n == rule.name()))
    }
}

async fn rules(State(manager): State<Arc<RuleManager>>, RawQuery(query): RawQuery) -> Response {
    let filter = match Filter::parse(query.as_deref()) {
        Ok(filter) => filter,
        Err(message) => {
            let body = json!({"status": "error", "errorType": "bad_data", "error": message});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let groups: Vec<Value> = manager
        .groups()
        .await
        .iter()
        .filter(|group| filter.keeps_group(group))
        .filter_map(|group| {
            let rules: Vec<Value> = group
                .rules
                .iter()
                .filter(|rule| filter.keeps_rule(rule))
                .map(rule_json)
                .collect();
            // Prometheus leaves out groups whose rules were all filtered out
            let filtering = !(filter.names.is_empty() && filter.alerting && filter.recording);
            (!(filtering && rules.is_empty())).then(|| group_json(group, &rules))
        })
        .collect();
    success(&json!({ "groups": groups }))
}

async fn alerts(State(manager): State<Arc<RuleManager>>) -> Response {
    let mut out = Vec::new();
    for group in manager.groups().await {
        for rule in &group.rules {
            if let Rule::Alerting(rule) = rule {
                out.extend(active(rule).map(alert_json));
            }
        }
    }
    success(&json!({ "alerts": out }))
}

fn success(data: &Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn group_json(group: &GroupView, rules: &[Value]) -> Value {
    json!({
        "name": group.name,
        "file": group.file,
        "rules": rules,
        "interval": group.interval_ms as f64 / 1000.0,
        "limit": group.limit,
        "evaluationTime": group.last_duration.as_secs_f64(),
        "lastEvaluation": time(group.last_evaluation_ms),
    })
}

fn rule_json(rule: &Rule) -> Value {
    let status = rule.status();
    let mut out = json!({
        "name": rule.name(),
        "query": rule.expr(),
        "labels": labels_json(rule.labels()),
        "health": status.health.as_str(),
        "lastError": status.last_error.clone().unwrap_or_default(),
        "evaluationTime": status.evaluation_duration.as_secs_f64(),
        "lastEvaluation": time(status.last_evaluation_ms),
    });
    match rule {
        Rule::Recording(_) => out["type"] = json!("recording"),
        Rule::Alerting(a) => {
            let state = active(a)
                .map(|alert| alert.state)
                .max_by_key(|state| match state {
                    AlertState::Inactive => 0,
                    AlertState::Pending => 1,
                    AlertState::Firing => 2,
                })
                .unwrap_or(AlertState::Inactive);
            out["type"] = json!("alerting");
            out["state"] = json!(state.as_str());
            out["duration"] = json!(a.hold_ms as f64 / 1000.0);
            out["keepFiringFor"] = json!(a.keep_firing_for_ms as f64 / 1000.0);
            out["annotations"] = Value::Object(
                a.annotations
                    .iter()
                    .map(|(name, text)| (name.clone(), json!(text)))
                    .collect(),
            );
            out["alerts"] = Value::Array(active(a).map(alert_json).collect());
        }
    }
    out
}

/// The pending and firing alerts of a rule (resolved ones are kept only
/// to be sent again, and Prometheus does not list them).
fn active(rule: &AlertingRule) -> impl Iterator<Item = &Alert> {
    rule.active
        .values()
        .filter(|alert| alert.state != AlertState::Inactive)
}

fn alert_json(alert: &Alert) -> Value {
    json!({
        "labels": labels_json(&alert.labels),
        "annotations": labels_json(&alert.annotations),
        "state": alert.state.as_str(),
        "activeAt": time(Some(alert.active_at)),
        "value": go_float(alert.value),
    })
}

fn labels_json(labels: &Labels) -> Value {
    let map: BTreeMap<&str, &str> = labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    json!(map)
}

/// An RFC 3339 time in UTC, or Go's zero time for never.
fn time(ms: Option<i64>) -> String {
    ms.and_then(DateTime::<Utc>::from_timestamp_millis)
        .map_or_else(
            || "0001-01-01T00:00:00Z".to_owned(),
            |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)` writes it
/// (`1e+00`, `2.5e-01`), as Prometheus writes alert values.
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let rust = format!("{v:e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests;
