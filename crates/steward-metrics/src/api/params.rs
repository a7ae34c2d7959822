//! Request parameters as Prometheus' HTTP API reads them: from the URL query
//! and, for POST, from an `application/x-www-form-urlencoded` body, with
//! repeated keys (`match[]`) kept; times as RFC 3339 or unix seconds,
//! durations as Prometheus durations or float seconds.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use promql_parser::parser::{self, Expr};

use super::ApiError;
use crate::Matcher;

/// Prometheus' default `start` of series and label queries: the oldest
/// time its API can represent, in milliseconds.
pub(super) const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// Prometheus' default `end` of series and label queries, in milliseconds.
pub(super) const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// Every parameter of a request, body parameters first so they win over
/// the URL's, as Go's `Request.FormValue` does.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters from a URL query string and a form body.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Self {
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

    /// The first value of `key`, if present and non-empty (Prometheus treats
    /// an empty parameter as missing).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The time parameter `key` in milliseconds, `default` when missing.
    pub(super) fn time(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => parse_time(s).map_err(|e| invalid_param(key, &e)),
        }
    }

    /// The duration parameter `key`, if present.
    pub(super) fn duration(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        self.get(key)
            .map(|s| {
                crate::promql::parse_duration(s).map_err(|e| invalid_param(key, &e.to_string()))
            })
            .transpose()
    }

    /// The matchers of every `match[]` parameter, one set per selector.
    pub(super) fn matchers(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(|s| parse_selector(s).map_err(|e| invalid_param("match[]", &e)))
            .collect()
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

/// Prometheus' `invalid parameter "key": reason` error.
pub(super) fn invalid_param(key: &str, reason: &str) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {key:?}: {reason}"))
}

/// A time given as unix seconds (fractions rounded to the millisecond) or
/// RFC 3339, in milliseconds since the epoch.
pub(super) fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {s:?} to a valid timestamp");
    if let Ok(secs) = s.parse::<f64>() {
        let ms = (secs * 1000.0).round();
        // NaN and infinities fall outside too
        if !(-9.2e18..=9.2e18).contains(&ms) {
            return Err(bad());
        }
        return Ok(ms as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| bad())
}

/// The store's matchers of a series selector (`up{job="api"}`).
pub(super) fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    let expr = parser::parse(s).map_err(|e| format!("parse error: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!(
            "parse error: expected a series selector, got {s:?}"
        ));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err("parse error: unexpected \"or\" in label matching".into());
    }
    if vs.offset.is_some() || vs.at.is_some() {
        return Err("parse error: unexpected modifier in series selector".into());
    }
    // the engine's conversion: regexes compiled as Prometheus 2 compiles them
    crate::promql::to_matchers(&vs).map_err(|e| e.to_string())
}

pub(super) use crate::exposition::is_label_name;
