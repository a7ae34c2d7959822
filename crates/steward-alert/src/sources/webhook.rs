//! The generic webhook: a JSON list of alerts, or an object with an
//! `alerts` list (which is what another Alertmanager's webhook sends, so
//! it can forward to steward). Each alert has `labels` (with an
//! `alertname`) and may have `annotations`, `startsAt`, `endsAt` and
//! `generatorURL`; an alert whose `status` is `resolved` without an
//! `endsAt` ends now. Problems are listed per alert (`alerts[2].labels:
//! ...`).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::LabelSet;
use crate::alert::IncomingAlert;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Body {
    List(Vec<RawAlert>),
    Wrapped { alerts: Vec<RawAlert> },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    #[serde(default)]
    labels: LabelSet,
    #[serde(default)]
    annotations: LabelSet,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
    #[serde(default)]
    status: Option<String>,
}

/// The alerts of a webhook body, or every problem found.
pub fn parse(body: &[u8], now: DateTime<Utc>) -> Result<Vec<IncomingAlert>, Vec<String>> {
    let body: Body = serde_json::from_slice(body).map_err(|e| {
        vec![format!(
            "the body must be a JSON list of alerts or an object with an `alerts` list: {e}"
        )]
    })?;
    let raw = match body {
        Body::List(alerts) | Body::Wrapped { alerts } => alerts,
    };
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, a) in raw.into_iter().enumerate() {
        let mut time = |field: &str, value: Option<String>| -> Option<DateTime<Utc>> {
            // Go's zero time, as Alertmanager's webhooks write a missing end
            let value = value.filter(|v| !v.is_empty() && !v.starts_with("0001-01-01"))?;
            match DateTime::parse_from_rfc3339(&value) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(format!(
                        "alerts[{i}].{field}: {value:?} is not an RFC 3339 time"
                    ));
                    None
                }
            }
        };
        let starts_at = time("startsAt", a.starts_at);
        let mut ends_at = time("endsAt", a.ends_at);
        if a.labels.get("alertname").is_none_or(String::is_empty) {
            errors.push(format!(
                "alerts[{i}].labels: an alert needs an `alertname` label"
            ));
        }
        match a.status.as_deref() {
            None | Some("firing") => {}
            Some("resolved") => {
                ends_at.get_or_insert(now);
            }
            Some(other) => errors.push(format!(
                "alerts[{i}].status: {other:?} is neither firing nor resolved"
            )),
        }
        out.push(IncomingAlert {
            labels: a.labels,
            annotations: a.annotations,
            starts_at,
            ends_at,
            generator_url: a.generator_url,
        });
    }
    match errors.is_empty() {
        true => Ok(out),
        false => Err(errors),
    }
}

#[cfg(test)]
mod tests;
