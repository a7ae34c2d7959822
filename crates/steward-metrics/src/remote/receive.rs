//! The receiving side: `POST /api/v1/write` (remote write 1.0 into the
//! store) and `POST /api/v1/read` (remote read, `SAMPLES` responses), as
//! handlers of the Prometheus-compatible API router.
//!
//! Write: the body is a snappy block of a protobuf `WriteRequest`
//! (`Content-Encoding: snappy`, `Content-Type: application/x-protobuf`,
//! other values answer 415). Every series is checked before anything is
//! stored: a `__name__` that is a metric name, valid label names sorted
//! without duplicates, or the request answers 400 with what was wrong.
//! Samples the store refuses (out of order, duplicate with another value,
//! too old) are counted and answered 400 with Prometheus' error text, so
//! the sender drops rather than retries them; unlike Prometheus, which
//! rolls the whole request back, the samples the store took stay (the
//! store has no rollback; the sender's retry would be refused anyway).
//! Success is 204. Exemplars and metadata are accepted and ignored.
//!
//! Read: a snappy protobuf `ReadRequest`; each query's matchers select
//! raw samples (staleness markers included) in its time range, at most the
//! engine's `max_samples` in all, or 400 as Prometheus'
//! `remote_read_sample_limit`.
//!
//! Bodies are bounded: [`MAX_BODY`] compressed, [`MAX_DECODED`] decoded,
//! or 413.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::proto::{
    MatcherType, QueryResult, ReadRequest, ReadResponse, ResponseType, Sample as WireSample,
    TimeSeries, WriteRequest, decode_snappy, encode_snappy, labels_to_proto,
};
use super::stats::ReceiveStats;
use crate::api::ApiState;
use crate::exposition::{is_label_name, is_metric_name};
use crate::labels::METRIC_NAME;
use crate::{Error, Labels, MatchOp, Matcher, Sample};

/// The largest compressed body taken.
pub const MAX_BODY: usize = 32 << 20;
/// The largest body once decompressed.
pub const MAX_DECODED: usize = 256 << 20;

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut body = message.into();
    body.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The body, or the response refusing it.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(enc) = value(header::CONTENT_ENCODING)
        && !enc.eq_ignore_ascii_case("snappy")
    {
        return Err(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {enc:?}: only snappy is accepted"),
        ));
    }
    if let Some(ct) = value(header::CONTENT_TYPE) {
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-protobuf") {
            return Err(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {ct:?}: expected application/x-protobuf"),
            ));
        }
    }
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("cannot read the body (at most {MAX_BODY} bytes): {e}"),
        )),
    }
}

fn decode_error(e: &Error) -> Response {
    match e {
        Error::RemoteProtocol(m) if m.contains("exceeds the limit") => {
            text(StatusCode::PAYLOAD_TOO_LARGE, m.clone())
        }
        _ => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// The series' labels, or why a Prometheus store would not take them.
pub fn check_series(ts: &TimeSeries) -> Result<Labels, String> {
    let shown = || {
        let pairs: Vec<String> = ts
            .labels
            .iter()
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    };
    let mut name = None;
    for (i, l) in ts.labels.iter().enumerate() {
        if !is_label_name(&l.name) {
            return Err(format!(
                "invalid label name {:?} in series {}",
                l.name,
                shown()
            ));
        }
        if i > 0 {
            let prev = &ts.labels[i - 1].name;
            if *prev == l.name {
                return Err(format!(
                    "duplicate label name {:?} in series {}",
                    l.name,
                    shown()
                ));
            }
            if *prev > l.name {
                return Err(format!(
                    "labels are not sorted by name ({:?} before {:?}) in series {}",
                    prev,
                    l.name,
                    shown()
                ));
            }
        }
        if l.name == METRIC_NAME {
            name = Some(l.value.as_str());
        }
    }
    match name {
        None | Some("") => Err(format!("series {} has no metric name", shown())),
        Some(n) if !is_metric_name(n) => Err(format!("invalid metric name {n:?}")),
        Some(_) => Ok(Labels::from_pairs(
            ts.labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str())),
        )),
    }
}

/// `POST /api/v1/write`.
pub(crate) async fn write(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: WriteRequest = match decode_snappy(&body, MAX_DECODED) {
        Ok(r) => r,
        Err(e) => return decode_error(&e),
    };
    let mut batch = Vec::new();
    for ts in &request.timeseries {
        let labels = match check_series(ts) {
            Ok(l) => l,
            Err(message) => return text(StatusCode::BAD_REQUEST, message),
        };
        for s in &ts.samples {
            batch.push((labels.clone(), Sample::new(s.timestamp, s.value)));
        }
    }
    if batch.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let storage = Arc::clone(&state.storage);
    let appended = tokio::task::spawn_blocking(move || storage.append(&batch)).await;
    let report = match appended {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "error appending remote write");
            return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let stats: &ReceiveStats = &state.remote_receive;
    stats
        .received
        .fetch_add(report.appended as u64, Ordering::Relaxed);
    stats
        .out_of_order
        .fetch_add(report.out_of_order as u64, Ordering::Relaxed);
    stats
        .duplicate
        .fetch_add(report.duplicate as u64, Ordering::Relaxed);
    stats
        .out_of_bounds
        .fetch_add(report.out_of_bounds as u64, Ordering::Relaxed);
    // Prometheus' append errors, the first kind met
    let refused = [
        (report.out_of_order, "out of order sample"),
        (report.duplicate, "duplicate sample for timestamp"),
        (report.out_of_bounds, "out of bounds"),
    ];
    if let Some((_, message)) = refused.iter().find(|(n, _)| *n > 0) {
        tracing::warn!(
            out_of_order = report.out_of_order,
            duplicate = report.duplicate,
            out_of_bounds = report.out_of_bounds,
            appended = report.appended,
            "remote write samples refused"
        );
        return text(StatusCode::BAD_REQUEST, *message);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /api/v1/read`.
pub(crate) async fn read(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: ReadRequest = match decode_snappy(&body, MAX_DECODED) {
        Ok(r) => r,
        Err(e) => return decode_error(&e),
    };
    let samples_ok = request.accepted_response_types.is_empty()
        || request
            .accepted_response_types
            .contains(&(ResponseType::Samples as i32));
    if !samples_ok {
        let asked: Vec<String> = request
            .accepted_response_types
            .iter()
            .map(|t| match ResponseType::try_from(*t) {
                Ok(ResponseType::Samples) => "SAMPLES".to_owned(),
                Ok(ResponseType::StreamedXorChunks) => "STREAMED_XOR_CHUNKS".to_owned(),
                Err(_) => t.to_string(),
            })
            .collect();
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "server does not support any of the requested response types: [{}]; supported: [SAMPLES]",
                asked.join(" ")
            ),
        );
    }
    let mut queries = Vec::new();
    for q in &request.queries {
        let mut matchers = Vec::new();
        for m in &q.matchers {
            let op = match MatcherType::try_from(m.r#type) {
                Ok(MatcherType::Eq) => MatchOp::Equal,
                Ok(MatcherType::Neq) => MatchOp::NotEqual,
                Ok(MatcherType::Re) => MatchOp::Regex,
                Ok(MatcherType::Nre) => MatchOp::NotRegex,
                Err(_) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        format!("invalid matcher type {}", m.r#type),
                    );
                }
            };
            match Matcher::new(op, m.name.as_str(), m.value.as_str()) {
                Ok(m) => matchers.push(m),
                Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        queries.push((matchers, q.start_timestamp_ms, q.end_timestamp_ms));
    }
    let storage = Arc::clone(&state.storage);
    let limit = state.engine.options().max_samples;
    let selected =
        tokio::task::spawn_blocking(move || -> crate::Result<Result<Vec<QueryResult>, String>> {
            let mut total = 0usize;
            let mut results = Vec::new();
            for (matchers, start, end) in queries {
                let series = storage.select(&matchers, start, end)?;
                let mut timeseries = Vec::with_capacity(series.len());
                for s in series {
                    total += s.samples.len();
                    if total > limit {
                        return Ok(Err(format!("exceeded sample limit ({limit})")));
                    }
                    timeseries.push(TimeSeries {
                        labels: labels_to_proto(&s.labels),
                        samples: s
                            .samples
                            .iter()
                            .map(|p| WireSample {
                                value: p.v,
                                timestamp: p.t,
                            })
                            .collect(),
                        exemplars: Vec::new(),
                    });
                }
                results.push(QueryResult { timeseries });
            }
            Ok(Ok(results))
        })
        .await;
    let results = match selected {
        Ok(Ok(Ok(results))) => results,
        Ok(Ok(Err(limit))) => return text(StatusCode::BAD_REQUEST, limit),
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let body = encode_snappy(&ReadResponse { results });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CONTENT_ENCODING, "snappy"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
