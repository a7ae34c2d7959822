//! Request parameters as Loki's HTTP API reads them: from the URL query
//! and, for POST, from a form body (which wins); times as Loki parses
//! them (an integer of more than ten digits is nanoseconds, ten or fewer
//! seconds, a number with a fraction seconds, else RFC 3339); durations as
//! Prometheus durations or float seconds.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};

use super::ApiError;

/// Every parameter of a request, body parameters first so they win over
/// the URL's.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters from a URL query string and a form body.
    pub(crate) fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let mut out: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some(q) = query {
            out.extend(
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        Self(out)
    }

    /// The first non-empty value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `key`, in order.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The time parameter `key` in nanoseconds, `default` when missing.
    pub(crate) fn time(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => parse_time(s).map_err(|e| invalid_param(key, &e)),
        }
    }

    /// The duration parameter `key` in nanoseconds, if present.
    pub(crate) fn duration(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|s| parse_duration(s).map_err(|e| invalid_param(key, &e)))
            .transpose()
    }

    /// The unsigned integer parameter `key`, `default` when missing.
    pub(crate) fn uint(&self, key: &str, default: u64) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => s
                .parse()
                .map_err(|_| invalid_param(key, &format!("{s:?} is not a non-negative integer"))),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_owned);
        let is_form = req.method() == Method::POST
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| {
                    ct.split(';').next().is_some_and(|m| {
                        m.trim()
                            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                    })
                });
        let body = if is_form {
            Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_data(format!("cannot read request body: {e}")))?
        } else {
            Bytes::new()
        };
        Ok(Params::parse(query.as_deref(), &body))
    }
}

/// Loki's `invalid parameter "key": reason` error.
pub(crate) fn invalid_param(key: &str, reason: &str) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {key:?}: {reason}"))
}

/// A time as Loki reads one, in nanoseconds since the epoch.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {s:?} to a valid timestamp");
    if s.contains('.') {
        if let Ok(secs) = s.parse::<f64>() {
            let ns = (secs * 1e9).round();
            return if (-9.2e18..=9.2e18).contains(&ns) {
                Ok(ns as i64)
            } else {
                Err(bad())
            };
        }
    } else if let Ok(n) = s.parse::<i64>() {
        let digits = s.trim_start_matches('-').len();
        return if digits <= 10 {
            n.checked_mul(1_000_000_000).ok_or_else(bad)
        } else {
            Ok(n)
        };
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(bad)
}

/// A duration as float seconds or a Prometheus duration (`5m`, `1h30m`),
/// in nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let ns = (secs * 1e9).round();
        return if ns.is_finite() && (0.0..=9.2e18).contains(&ns) {
            Ok(ns as i64)
        } else {
            Err(format!("cannot parse {s:?} to a valid duration"))
        };
    }
    steward_metrics::promql::parse_duration(s)
        .map_err(|e| e.to_string())
        .and_then(|d| i64::try_from(d.as_nanos()).map_err(|_| format!("{s:?} is too long")))
}
