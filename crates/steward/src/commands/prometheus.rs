//! The answers of steward's Prometheus HTTP API (`/prometheus/api/v1/...`)
//! as typed values, and the one way the CLI asks it: [`get`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{UsageError, client::Client};

/// Where steward serves Prometheus' API.
const PREFIX: &str = "/prometheus";

/// A Prometheus API failure other than bad input: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{error_type}: {message}")]
pub(crate) struct PrometheusError {
    /// Prometheus' `errorType` (`execution`, `timeout`, `internal`, ...).
    pub(crate) error_type: String,
    /// Prometheus' `error`.
    pub(crate) message: String,
}

/// Every answer: `{"status":"success","data":...}` or
/// `{"status":"error","errorType":...,"error":...}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Answer<T> {
    Success {
        data: T,
        #[serde(default)]
        warnings: Vec<String>,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: String,
        error: String,
    },
}

/// A series' labels.
pub(crate) type Labels = BTreeMap<String, String>;

/// A sample: `[unix seconds, "value"]`. The time keeps the number as sent
/// so `--output json` prints it unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point(pub(crate) serde_json::Number, pub(crate) String);

impl Point {
    /// Unix seconds.
    pub(crate) fn time(&self) -> f64 {
        self.0.as_f64().unwrap_or(f64::NAN)
    }

    /// The value; Prometheus writes infinities `+Inf`/`-Inf`.
    pub(crate) fn value(&self) -> f64 {
        parse_value(&self.1)
    }
}

/// A value as Prometheus formats it, or NaN when it is not a number.
pub(crate) fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VectorSample {
    /// Its labels.
    pub(crate) metric: Labels,
    /// Its sample.
    pub(crate) value: Point,
}

/// One series of a range vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MatrixSeries {
    /// Its labels.
    pub(crate) metric: Labels,
    /// Its samples, oldest first.
    pub(crate) values: Vec<Point>,
}

/// The `data` of `query` and `query_range`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub(crate) enum QueryData {
    /// One sample per series.
    Vector(Vec<VectorSample>),
    /// Samples over time per series.
    Matrix(Vec<MatrixSeries>),
    /// One number.
    Scalar(Point),
    /// One string.
    String(Point),
}

/// The `data` of `targets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TargetDiscovery {
    /// Targets scraped.
    pub(crate) active_targets: Vec<ActiveTarget>,
    /// Targets relabelling dropped.
    #[serde(default)]
    pub(crate) dropped_targets: Vec<DroppedTarget>,
}

/// A target scraped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActiveTarget {
    /// Labels before relabelling.
    #[serde(default)]
    pub(crate) discovered_labels: Labels,
    /// Labels attached to its series (`instance`, `job`, ...).
    pub(crate) labels: Labels,
    /// The job.
    pub(crate) scrape_pool: String,
    /// The URL scraped.
    pub(crate) scrape_url: String,
    /// The same URL as seen from outside.
    #[serde(default)]
    pub(crate) global_url: String,
    /// The last scrape's error, empty when it succeeded.
    #[serde(default)]
    pub(crate) last_error: String,
    /// When the last scrape started (RFC 3339; the epoch for never).
    pub(crate) last_scrape: String,
    /// How long it took, in seconds.
    pub(crate) last_scrape_duration: f64,
    /// `up`, `down` or `unknown`.
    pub(crate) health: String,
    /// The job's interval.
    #[serde(default)]
    pub(crate) scrape_interval: String,
    /// The job's timeout.
    #[serde(default)]
    pub(crate) scrape_timeout: String,
}

/// A target relabelling dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DroppedTarget {
    /// Labels before relabelling.
    pub(crate) discovered_labels: Labels,
}

/// Asks the Prometheus API at `path` (relative to `/prometheus`) and
/// decodes its `data`. Warnings go to stderr. An answer with
/// `errorType` `bad_data` is the caller's mistake (exit 2); any other
/// error is a failure (exit 1).
pub(crate) async fn get<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<T> {
    get_at(client, &format!("{PREFIX}{path}"), query).await
}

/// [`get`] of a path outside `/prometheus` whose API answers in the same
/// shape (Loki's, under `/loki/api/v1`).
pub(crate) async fn get_at<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<T> {
    let (status, body) = client.get_bytes(path, query).await?;
    let answer = decode::<T>(&body).map_err(|err| crate::client::ClientError::Protocol {
        url: format!("{}{path}", client.base()),
        detail: format!(
            "{path} answered {status} with a body that is not the expected JSON: {err}"
        ),
    })?;
    match answer {
        Answer::Success { data, warnings } => {
            for warning in warnings {
                crate::output::note(&format!("warning: {warning}"));
            }
            Ok(data)
        }
        Answer::Error { error_type, error } => Err(api_error(error_type, error)),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<Answer<T>> {
    serde_json::from_slice(body)
}

/// The error for a Prometheus `errorType` and message.
pub(crate) fn api_error(error_type: String, message: String) -> anyhow::Error {
    if error_type == "bad_data" {
        UsageError(format!("{error_type}: {message}")).into()
    } else {
        PrometheusError {
            error_type,
            message,
        }
        .into()
    }
}

#[cfg(test)]
mod tests;
