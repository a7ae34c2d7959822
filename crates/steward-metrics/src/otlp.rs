//! The OpenTelemetry metrics receiver: `POST /v1/metrics` as OTLP/HTTP
//! specifies it, translated into Prometheus series as Prometheus' own OTLP
//! receiver does and appended to the [`Storage`].
//!
//! - [`proto`]: the OTLP messages (prost), [`json`]: their JSON mapping;
//! - [`names`]: metric and label names, [`translate`]: OTLP points to
//!   samples (with the running totals of delta series), [`exponential`]:
//!   exponential histograms as classic buckets.
//!
//! The request body is `application/x-protobuf` or `application/json`
//! (anything else is 415), optionally `Content-Encoding: gzip`, at most
//! [`DEFAULT_MAX_BODY_BYTES`] both as sent and decompressed (413 past
//! that). A body that does not decode is 400 with a `google.rpc.Status`;
//! otherwise the answer is 200 with an `ExportMetricsServiceResponse`,
//! whose `partial_success` counts the data points that were not stored
//! (untranslatable points, and samples the store refused, each counted as
//! one point) and says why. Responses use the request's encoding. A store
//! that fails answers 503, which OTLP exporters retry.

pub mod exponential;
pub mod json;
pub mod names;
pub mod proto;
pub mod translate;

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;
use prost::Message;

use crate::storage::Storage;
use proto::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use translate::DeltaTotals;

/// The largest request body taken, compressed or not (16 MiB; OTLP
/// exporters batch far less by default).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;

/// `google.rpc.Code.INVALID_ARGUMENT`.
const CODE_INVALID_ARGUMENT: i32 = 3;
/// `google.rpc.Code.RESOURCE_EXHAUSTED`.
const CODE_RESOURCE_EXHAUSTED: i32 = 8;
/// `google.rpc.Code.UNAVAILABLE`.
const CODE_UNAVAILABLE: i32 = 14;

/// The encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names, if OTLP has it.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let media = value.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Self::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    /// Decodes a request body.
    pub fn decode(self, body: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
        match self {
            Self::Protobuf => ExportMetricsServiceRequest::decode(body)
                .map_err(|e| format!("invalid protobuf: {e}")),
            Self::Json => json::decode_request(body),
        }
    }
}

/// What an export stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOutcome {
    /// Samples appended.
    pub appended: usize,
    /// Data points not stored (samples the store refused count one each).
    pub rejected: u64,
    /// Why, empty when nothing was rejected.
    pub message: String,
}

/// The receiver: the store it appends to and the running totals of delta
/// series. Cheap to clone; clones share the totals.
#[derive(Clone)]
pub struct OtlpReceiver {
    storage: Arc<dyn Storage>,
    delta: Arc<DeltaTotals>,
    max_body_bytes: usize,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("delta_series", &self.delta.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl OtlpReceiver {
    /// A receiver appending to `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            delta: Arc::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The same receiver with another body limit.
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// `POST /v1/metrics`, relative to where the router is mounted.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/metrics", post(export))
            .with_state(self.clone())
    }

    /// Translates and appends a decoded request (blocking: the store may
    /// sync its log). `now_ms` dates the delta totals' bookkeeping.
    pub fn export(
        &self,
        request: &ExportMetricsServiceRequest,
        now_ms: i64,
    ) -> crate::Result<ExportOutcome> {
        let t = translate::translate(request, &self.delta, now_ms);
        let report = self.storage.append(&t.samples)?;
        let mut messages = t.messages;
        let refused = report.out_of_order + report.duplicate + report.out_of_bounds;
        if refused > 0 {
            messages.push(format!(
                "{refused} samples refused by the store ({} out of order, {} duplicate, {} out of bounds)",
                report.out_of_order, report.duplicate, report.out_of_bounds
            ));
        }
        let rejected = t.rejected + refused as u64;
        Ok(ExportOutcome {
            appended: report.appended,
            rejected,
            message: messages.join("; "),
        })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An error response: a `google.rpc.Status` in `encoding`.
fn status(code: StatusCode, rpc_code: i32, message: String, encoding: Encoding) -> Response {
    let body = match encoding {
        Encoding::Protobuf => proto::Status {
            code: rpc_code,
            message,
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": rpc_code, "message": message, "details": []})
            .to_string()
            .into_bytes(),
    };
    (
        code,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

fn success(outcome: &ExportOutcome, encoding: Encoding) -> Response {
    let partial = (outcome.rejected > 0 || !outcome.message.is_empty()).then(|| {
        ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(outcome.rejected).unwrap_or(i64::MAX),
            error_message: outcome.message.clone(),
        }
    });
    let body = match encoding {
        Encoding::Protobuf => ExportMetricsServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec(),
        Encoding::Json => {
            let value = match partial {
                Some(p) => serde_json::json!({"partialSuccess": {
                    "rejectedDataPoints": p.rejected_data_points.to_string(),
                    "errorMessage": p.error_message,
                }}),
                None => serde_json::json!({}),
            };
            value.to_string().into_bytes()
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

/// Reads at most `limit` bytes of `body`; `Err(true)` when it is longer.
async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, (bool, String)> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err((true, format!("request body larger than {limit} bytes")))
        }
        Err(e) => Err((false, format!("cannot read request body: {e}"))),
    }
}

fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, (bool, String)> {
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(body);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| (false, format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err((
            true,
            format!("decompressed request body larger than {limit} bytes"),
        ));
    }
    Ok(out)
}

async fn export(State(receiver): State<OtlpReceiver>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CODE_INVALID_ARGUMENT,
            format!(
                "unsupported content type {content_type:?}: use application/x-protobuf or application/json"
            ),
            Encoding::Json,
        );
    };
    let coding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    if !matches!(coding.as_str(), "identity" | "" | "gzip") {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CODE_INVALID_ARGUMENT,
            format!("unsupported content encoding {coding:?}: use gzip or none"),
            encoding,
        );
    }
    let limit = receiver.max_body_bytes;
    let raw = read_limited(body, limit).await;
    let body = raw.and_then(|raw| {
        if coding == "gzip" {
            gunzip(&raw, limit)
        } else {
            Ok(raw)
        }
    });
    let body = match body {
        Ok(body) => body,
        Err((too_large, message)) => {
            let (code, rpc) = if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, CODE_RESOURCE_EXHAUSTED)
            } else {
                (StatusCode::BAD_REQUEST, CODE_INVALID_ARGUMENT)
            };
            return status(code, rpc, message, encoding);
        }
    };
    let request = match encoding.decode(&body) {
        Ok(r) => r,
        Err(message) => {
            tracing::debug!(error = %message, "otlp metrics request refused");
            return status(
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                message,
                encoding,
            );
        }
    };
    let task = tokio::task::spawn_blocking(move || receiver.export(&request, now_ms())).await;
    match task {
        Ok(Ok(outcome)) => {
            if outcome.rejected > 0 {
                tracing::warn!(
                    rejected = outcome.rejected,
                    appended = outcome.appended,
                    reason = %outcome.message,
                    "otlp data points rejected"
                );
            }
            success(&outcome, encoding)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "otlp metrics not stored");
            status(
                StatusCode::SERVICE_UNAVAILABLE,
                CODE_UNAVAILABLE,
                format!("metrics not stored: {e}"),
                encoding,
            )
        }
        Err(e) => status(
            StatusCode::INTERNAL_SERVER_ERROR,
            CODE_UNAVAILABLE,
            format!("export task failed: {e}"),
            encoding,
        ),
    }
}

#[cfg(test)]
mod tests;
