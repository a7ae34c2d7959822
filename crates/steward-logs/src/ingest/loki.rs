//! Loki's push API: the JSON body and the snappy-compressed protobuf body
//! of `POST /loki/api/v1/push`, and the encoder of the latter.
//!
//! JSON: `{"streams": [{"stream": {"label": "value"}, "values": [["<ns>",
//! "line"], ["<ns>", "line", {"trace_id": "..."}]]}]}`. A timestamp is a
//! decimal string of nanoseconds since the epoch as Loki wants it (a JSON
//! integer is taken too); the optional third element of a value is its
//! structured metadata, an object of strings (taken in name order, as the
//! JSON reader keeps objects). Missing `streams` or `values` are empty;
//! anything of the wrong type is an error naming where it is.
//!
//! Protobuf: a `logproto.PushRequest` ([`proto`]) in a snappy block, as
//! promtail, Grafana Alloy and the Loki clients send it; the labels of a
//! stream are text ([`super::labels`]). Every entry must carry a valid
//! timestamp.

pub mod proto;

use serde_json::Value;
use steward_metrics::remote::proto::{decode_snappy, encode_snappy};

use super::labels::{format_label_set, parse_label_set};
use super::{Limits, validate};
use crate::{Entry, Error, PushStream, Result};
use proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

/// Decodes a JSON push (already decompressed) and validates it.
pub fn decode_json(body: &[u8], limits: &Limits) -> Result<Vec<PushStream>> {
    decode_json_inner(body, limits).map_err(Error::InvalidPush)
}

fn decode_json_inner(body: &[u8], limits: &Limits) -> Result<Vec<PushStream>, String> {
    let root: Value = serde_json::from_slice(body).map_err(|e| format!("invalid json: {e}"))?;
    let Value::Object(root) = root else {
        return Err("request: expected an object with \"streams\"".to_owned());
    };
    let streams = match root.get("streams") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(streams)) => streams,
        Some(_) => return Err("streams: expected an array".to_owned()),
    };
    let mut out = Vec::with_capacity(streams.len());
    for (i, stream) in streams.iter().enumerate() {
        let path = format!("streams[{i}]");
        let Value::Object(stream) = stream else {
            return Err(format!("{path}: expected an object"));
        };
        let labels_path = format!("{path}.stream");
        let pairs = match stream.get("stream") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, value)| match value {
                    Value::String(v) => Ok((name.as_str(), v.as_str())),
                    _ => Err(format!("{labels_path}.{name}: expected a string")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(format!("{labels_path}: expected an object")),
        };
        let labels = validate::labels(&pairs, &labels_path, limits)?;
        let values = match stream.get("values") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(values)) => values.as_slice(),
            Some(_) => return Err(format!("{path}.values: expected an array")),
        };
        let mut entries = Vec::with_capacity(values.len());
        for (j, value) in values.iter().enumerate() {
            let path = || format!("{path}.values[{j}]");
            let entry = json_entry(value, &path)?;
            validate::entry(&entry, path, limits)?;
            entries.push(entry);
        }
        out.push((labels, entries));
    }
    Ok(validate::merge(out))
}

/// One `[ts, line]` or `[ts, line, {metadata}]`.
fn json_entry(value: &Value, path: &dyn Fn() -> String) -> Result<Entry, String> {
    let path = &LazyPath(path);
    let items = match value {
        Value::Array(items) if (2..=3).contains(&items.len()) => items,
        _ => {
            return Err(format!(
                "{path}: expected an array of a timestamp, a line and optional structured metadata"
            ));
        }
    };
    let ts = match &items[0] {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "{path}[0]: timestamp {} is not an integer of nanoseconds",
            shorten_json(&items[0])
        )
    })?;
    let Value::String(line) = &items[1] else {
        return Err(format!("{path}[1]: expected the line, a string"));
    };
    let metadata = match items.get(2) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, value)| match value {
                Value::String(v) => Ok((name.clone(), v.clone())),
                _ => Err(format!("{path}[2].{name}: expected a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(format!(
                "{path}[2]: expected structured metadata, an object of strings"
            ));
        }
    };
    Ok(Entry {
        ts,
        line: line.clone(),
        metadata,
    })
}

/// An entry's path, formatted only when an error shows it.
struct LazyPath<'a>(&'a dyn Fn() -> String);

impl std::fmt::Display for LazyPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.0)())
    }
}

/// A JSON value as text for a message, at most about 64 bytes of it.
fn shorten_json(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// Decodes a snappy-compressed protobuf push (after any
/// `Content-Encoding`) and validates it. A body whose snappy header
/// announces more than [`Limits::max_body_bytes`] is refused before it is
/// decompressed.
pub fn decode_protobuf(body: &[u8], limits: &Limits) -> Result<Vec<PushStream>> {
    let request: PushRequest = decode_snappy(body, limits.max_body_bytes)
        .map_err(|e| Error::InvalidPush(format!("invalid snappy-compressed protobuf: {e}")))?;
    from_request(request, limits).map_err(Error::InvalidPush)
}

fn from_request(request: PushRequest, limits: &Limits) -> Result<Vec<PushStream>, String> {
    let mut out = Vec::with_capacity(request.streams.len());
    for (i, stream) in request.streams.into_iter().enumerate() {
        let path = format!("streams[{i}]");
        let labels_path = format!("{path}.labels");
        let pairs = parse_label_set(&stream.labels).map_err(|e| format!("{labels_path}: {e}"))?;
        let labels = validate::labels(&pairs, &labels_path, limits)?;
        let mut entries = Vec::with_capacity(stream.entries.len());
        for (j, e) in stream.entries.into_iter().enumerate() {
            let path = || format!("{path}.entries[{j}]");
            let ts = match e.timestamp {
                None => return Err(format!("{}.timestamp: missing", path())),
                Some(t) => t.to_nanos().ok_or_else(|| {
                    format!(
                        "{}.timestamp: {{seconds: {}, nanos: {}}} is not a valid time in nanoseconds",
                        path(),
                        t.seconds,
                        t.nanos
                    )
                })?,
            };
            let entry = Entry {
                ts,
                line: e.line,
                metadata: e
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
            };
            validate::entry(&entry, path, limits)?;
            entries.push(entry);
        }
        out.push((labels, entries));
    }
    Ok(validate::merge(out))
}

/// The protobuf form of `streams`, snappy-compressed: the body of a push
/// to a Loki-compatible endpoint (`Content-Type: application/x-protobuf`).
/// The `hash` of each stream is left 0: Loki does not read it.
pub fn encode_push(streams: &[PushStream]) -> Vec<u8> {
    encode_snappy(&to_request(streams))
}

fn to_request(streams: &[PushStream]) -> PushRequest {
    PushRequest {
        streams: streams
            .iter()
            .map(|s| StreamAdapter {
                labels: format_label_set(&s.labels),
                entries: s
                    .entries
                    .iter()
                    .map(|e| EntryAdapter {
                        timestamp: Some(Timestamp::from_nanos(e.ts)),
                        line: e.line.clone(),
                        structured_metadata: e
                            .metadata
                            .iter()
                            .map(|(name, value)| LabelPairAdapter {
                                name: name.clone(),
                                value: value.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
