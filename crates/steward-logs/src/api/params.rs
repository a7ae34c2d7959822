//! Request parameters as Loki's HTTP API reads them: collected as the
//! Prometheus API's reader does (URL query and, for POST, a form body,
//! which wins); times as Loki parses
//! them (an integer of more than ten digits is nanoseconds, ten or fewer
//! seconds, a number with a fraction seconds, else RFC 3339); durations as
//! Prometheus durations or float seconds.

use super::ApiError;

/// Every parameter of a request (URL query and form body): the
/// Prometheus API's reader, shared.
pub(crate) use steward_metrics::api::params::Params;

/// What Loki reads from parameters that Prometheus reads differently.
pub(crate) trait LokiParams {
    /// The time parameter `key` in nanoseconds, `default` when missing.
    fn time_ns(&self, key: &str, default: i64) -> Result<i64, ApiError>;
    /// The duration parameter `key` in nanoseconds, if present.
    fn duration_ns(&self, key: &str) -> Result<Option<i64>, ApiError>;
    /// The unsigned integer parameter `key`, `default` when missing.
    fn uint(&self, key: &str, default: u64) -> Result<u64, ApiError>;
}

impl LokiParams for Params {
    fn time_ns(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => parse_time(s).map_err(|e| invalid_param(key, &e)),
        }
    }

    fn duration_ns(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|s| parse_duration(s).map_err(|e| invalid_param(key, &e)))
            .transpose()
    }

    fn uint(&self, key: &str, default: u64) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => s
                .parse()
                .map_err(|_| invalid_param(key, &format!("{s:?} is not a non-negative integer"))),
        }
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
