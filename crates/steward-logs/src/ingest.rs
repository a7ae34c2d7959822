//! Decoding of pushed logs into [`PushStream`]s: what the HTTP API calls
//! for each push before handing the streams to the store.
//!
//! - [`decode_loki_push`]: `POST /loki/api/v1/push`, Loki's push API, as
//!   JSON or as snappy-compressed protobuf ([`loki`]); [`encode_push`] writes
//!   the protobuf form, to forward streams to another Loki-compatible
//!   endpoint.
//! - [`decode_otlp_logs`]: `POST /v1/logs`, OTLP/HTTP logs in protobuf or
//!   JSON ([`otlp`]), translated into streams as Loki's OTLP endpoint does
//!   (with steward's label names); [`OtlpEncoding`] writes the response.
//!
//! Both take `Content-Encoding: gzip` (or `deflate`, zlib-wrapped as HTTP
//! means it and as OpenTelemetry's Python exporter sends it). Every
//! decompressed body is bounded by [`Limits::max_body_bytes`].
//!
//! Errors: a content type or content encoding the endpoint does not take
//! is [`Error::UnsupportedMediaType`] (HTTP 415); anything else wrong with
//! a push is [`Error::InvalidPush`] (HTTP 400), whose message says what is
//! wrong and where, as a path of fields
//! (`streams[2].values[5][0]: timestamp "abc" is not an integer of
//! nanoseconds`). A Loki push is taken whole or refused whole; an OTLP
//! export that decodes is taken, its records that do not pass the limits
//! counted as rejected in [`OtlpLogs`] (OTLP's partial success).
//!
//! Validation, the same for both: a stream has at least one label and at
//! most [`Limits::max_labels_per_stream`], names match
//! `[a-zA-Z_][a-zA-Z0-9_]*`, names and values and lines are bounded, and
//! so is each entry's structured metadata (its names are label names too,
//! as LogQL sees them as labels). Streams with the same label set in one
//! push are merged (entries in push order); streams without entries are
//! left out.

pub mod labels;
pub mod loki;
pub mod otlp;
mod validate;

use std::borrow::Cow;
use std::io::Read;

use prost::Message as _;
use steward_metrics::otlp::proto::Status;

use crate::{Error, PushStream, Result};

pub use loki::encode_push;
pub use otlp::OtlpLogs;

/// Bounds on what a push may carry. The defaults are Loki's where Loki
/// has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one line (Loki's `max_line_size`: 256 KiB).
    pub max_line_bytes: usize,
    /// Labels of one stream (Loki's `max_label_names_per_series`: 15).
    pub max_labels_per_stream: usize,
    /// Bytes of a label name (1024).
    pub max_label_name_bytes: usize,
    /// Bytes of a label value (2048).
    pub max_label_value_bytes: usize,
    /// Structured metadata fields of one entry (128).
    pub max_metadata_entries: usize,
    /// Bytes of one entry's structured metadata, names and values (Loki's
    /// `max_structured_metadata_size`: 64 KiB).
    pub max_metadata_bytes: usize,
    /// Bytes of a body once decompressed (64 MiB). A snappy body that
    /// announces more is refused before it is decompressed; a gzip body
    /// is refused as soon as it inflates past it.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 256 << 10,
            max_labels_per_stream: 15,
            max_label_name_bytes: 1024,
            max_label_value_bytes: 2048,
            max_metadata_entries: 128,
            max_metadata_bytes: 64 << 10,
            max_body_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// No limits: for replaying what was accepted under the limits of its
    /// time (they may have changed since).
    pub(crate) fn unbounded() -> Limits {
        Limits {
            max_line_bytes: usize::MAX,
            max_labels_per_stream: usize::MAX,
            max_label_name_bytes: usize::MAX,
            max_label_value_bytes: usize::MAX,
            max_metadata_entries: usize::MAX,
            max_metadata_bytes: usize::MAX,
            max_body_bytes: usize::MAX,
        }
    }
}

/// Whether a Loki push with these headers is a snappy-compressed protobuf
/// body without another content encoding: the body as it came is what
/// [`loki::decode_protobuf`] reads, so the WAL can keep it as it is.
pub(crate) fn is_plain_loki_protobuf(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> bool {
    let coding = content_encoding.unwrap_or_default().trim();
    matches!(loki_is_json(content_type), Ok(false))
        && (coding.is_empty() || coding.eq_ignore_ascii_case("identity"))
}

/// Whether a Loki push of this `Content-Type` is JSON (else protobuf, as
/// Loki reads a missing type); another type is refused.
fn loki_is_json(content_type: Option<&str>) -> Result<bool> {
    match content_type.map(media_type).as_deref() {
        None | Some("" | "application/x-protobuf") => Ok(false),
        Some("application/json") => Ok(true),
        Some(other) => Err(Error::UnsupportedMediaType(format!(
            "content type {other:?} is not a loki push: use application/json or application/x-protobuf"
        ))),
    }
}

/// The media type of a `Content-Type` value: lower-cased, without
/// parameters (`; charset=utf-8`).
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Decodes the body of `POST /loki/api/v1/push`.
///
/// `application/json` is Loki's JSON push format; `application/x-protobuf`
/// or no `Content-Type` at all (as Loki reads it) is a snappy-compressed
/// `logproto.PushRequest`. Any other type is
/// [`Error::UnsupportedMediaType`]. `Content-Encoding` may be `gzip` or
/// `deflate` (then applied before snappy), `identity` or absent.
pub fn decode_loki_push(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<PushStream>> {
    let json = loki_is_json(content_type)?;
    let body = decompress(content_encoding, body, limits.max_body_bytes)?;
    if json {
        loki::decode_json(&body, limits)
    } else {
        loki::decode_protobuf(&body, limits)
    }
}

/// Decodes and translates the body of `POST /v1/logs` (OTLP/HTTP).
///
/// `Content-Type` must be `application/x-protobuf` or `application/json`
/// (else [`Error::UnsupportedMediaType`]); `Content-Encoding` may be
/// `gzip`, `deflate`, `identity` or absent. `now_ns` dates records that
/// have neither a time nor an observed time. A body that does not decode
/// is [`Error::InvalidPush`]; records that decode but do not pass the
/// limits are counted in [`OtlpLogs::rejected`].
pub fn decode_otlp_logs(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &Limits,
    now_ns: i64,
) -> Result<OtlpLogs> {
    let encoding = OtlpEncoding::from_content_type(content_type)?;
    let body = decompress(content_encoding, body, limits.max_body_bytes)?;
    let request = match encoding {
        OtlpEncoding::Protobuf => otlp::proto::ExportLogsServiceRequest::decode(&*body)
            .map_err(|e| Error::InvalidPush(format!("invalid protobuf: {e}")))?,
        OtlpEncoding::Json => otlp::json::decode_request(&body).map_err(Error::InvalidPush)?,
    };
    Ok(otlp::translate(&request, limits, now_ns))
}

/// `google.rpc.Code.INVALID_ARGUMENT`.
const CODE_INVALID_ARGUMENT: i32 = 3;

/// The encodings of OTLP/HTTP, in which a response is written in the
/// request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl OtlpEncoding {
    /// The encoding a request's `Content-Type` names (the same reading as
    /// the metrics receiver's), or [`Error::UnsupportedMediaType`]. An
    /// HTTP layer answering that error writes its body in
    /// [`OtlpEncoding::Json`].
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self> {
        use steward_metrics::otlp::Encoding;
        match content_type.and_then(Encoding::from_content_type) {
            Some(Encoding::Protobuf) => Ok(Self::Protobuf),
            Some(Encoding::Json) => Ok(Self::Json),
            None => Err(Error::UnsupportedMediaType(format!(
                "content type {:?} is not otlp: use application/x-protobuf or application/json",
                content_type.unwrap_or_default()
            ))),
        }
    }

    /// The `Content-Type` of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    /// An `ExportLogsServiceResponse`: `partial_success` is set when
    /// records were rejected or there is a message, else empty.
    pub fn encode_response(self, rejected: u64, message: &str) -> Vec<u8> {
        use otlp::proto::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
        let partial = (rejected > 0 || !message.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message.to_owned(),
        });
        match self {
            Self::Protobuf => ExportLogsServiceResponse {
                partial_success: partial,
            }
            .encode_to_vec(),
            Self::Json => {
                let value = match partial {
                    // int64 as a decimal string, as protobuf's JSON mapping has it
                    Some(p) => serde_json::json!({"partialSuccess": {
                        "rejectedLogRecords": p.rejected_log_records.to_string(),
                        "errorMessage": p.error_message,
                    }}),
                    None => serde_json::json!({}),
                };
                value.to_string().into_bytes()
            }
        }
    }

    /// The body of an error response: a `google.rpc.Status` with code
    /// `INVALID_ARGUMENT` and `message`.
    pub fn encode_status(self, message: &str) -> Vec<u8> {
        match self {
            Self::Protobuf => Status {
                code: CODE_INVALID_ARGUMENT,
                message: message.to_owned(),
            }
            .encode_to_vec(),
            Self::Json => serde_json::json!({
                "code": CODE_INVALID_ARGUMENT,
                "message": message,
                "details": [],
            })
            .to_string()
            .into_bytes(),
        }
    }
}

/// `body` decoded from its `Content-Encoding`, at most `limit` bytes.
fn decompress<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    limit: usize,
) -> Result<Cow<'a, [u8]>> {
    let coding = content_encoding
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let reader: Box<dyn Read + 'a> = match coding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(Error::InvalidPush(format!(
                    "body of {} bytes is larger than the limit of {limit} bytes",
                    body.len()
                )));
            }
            return Ok(Cow::Borrowed(body));
        }
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(body)),
        other => {
            return Err(Error::UnsupportedMediaType(format!(
                "content encoding {other:?} is not supported: use gzip, deflate or none"
            )));
        }
    };
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::InvalidPush(format!("invalid {coding} body: {e}")))?;
    if out.len() > limit {
        return Err(Error::InvalidPush(format!(
            "{coding} body inflates past the limit of {limit} bytes"
        )));
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests;
