//! OTLP/JSON: the protobuf JSON mapping of the logs messages, decoded into
//! the same types as the protobuf encoding, with the metrics receiver's
//! reader ([`steward_metrics::otlp::json`]: field names in lowerCamelCase
//! or snake_case, 64-bit integers as strings or numbers, `null` as absent,
//! unknown fields ignored, errors naming where they are). Specific to
//! logs: `severityNumber` as an integer or its enum name
//! (`SEVERITY_NUMBER_WARN2`), `traceId` and `spanId` as hex strings, as
//! OTLP/JSON has them (not base64).

use serde_json::Value;
use steward_metrics::otlp::json::{Obj, key_value};
use steward_metrics::otlp::proto::{InstrumentationScope, Resource};

use super::proto::{ExportLogsServiceRequest, LogRecord, ResourceLogs, ScopeLogs};

/// Decodes an `ExportLogsServiceRequest` from its JSON encoding. The error
/// says what is wrong and where (a path of field names).
pub fn decode_request(body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid json: {e}"))?;
    let root = Obj::new(&value, String::new())?;
    Ok(ExportLogsServiceRequest {
        resource_logs: root.list("resourceLogs", resource_logs)?,
    })
}

fn resource_logs(o: &Obj<'_>) -> Result<ResourceLogs, String> {
    Ok(ResourceLogs {
        resource: o
            .obj("resource")?
            .map(|r| {
                Ok::<_, String>(Resource {
                    attributes: r.list("attributes", key_value)?,
                })
            })
            .transpose()?,
        scope_logs: o.list("scopeLogs", scope_logs)?,
        schema_url: o.string("schemaUrl")?,
    })
}

fn scope_logs(o: &Obj<'_>) -> Result<ScopeLogs, String> {
    Ok(ScopeLogs {
        scope: o
            .obj("scope")?
            .map(|s| {
                Ok::<_, String>(InstrumentationScope {
                    name: s.string("name")?,
                    version: s.string("version")?,
                })
            })
            .transpose()?,
        log_records: o.list("logRecords", log_record)?,
        schema_url: o.string("schemaUrl")?,
    })
}

fn log_record(o: &Obj<'_>) -> Result<LogRecord, String> {
    Ok(LogRecord {
        time_unix_nano: o.u64("timeUnixNano")?,
        observed_time_unix_nano: o.u64("observedTimeUnixNano")?,
        severity_number: severity_number(o)?,
        severity_text: o.string("severityText")?,
        body: o
            .obj("body")?
            .map(|b| steward_metrics::otlp::json::any_value(&b))
            .transpose()?,
        attributes: o.list("attributes", key_value)?,
        dropped_attributes_count: o.u32("droppedAttributesCount")?,
        flags: o.u32("flags")?,
        trace_id: hex_id(o, "traceId")?,
        span_id: hex_id(o, "spanId")?,
        event_name: o.string("eventName")?,
    })
}

/// `severityNumber`, as its number or its name.
fn severity_number(o: &Obj<'_>) -> Result<i32, String> {
    let Some((Value::String(s), path)) = o.get("severityNumber") else {
        return o.i32("severityNumber");
    };
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    severity_by_name(s).ok_or_else(|| format!("{path}: unknown severity number {:?}", short(s)))
}

/// The number of a `SeverityNumber` name (`SEVERITY_NUMBER_INFO3`: 11).
pub(super) fn severity_by_name(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_uppercase());
    let level = &rest[..rest.len() - digits.len()];
    let base = match level {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        _ => return None,
    };
    let step = match digits {
        "" => 0,
        "2" => 1,
        "3" => 2,
        "4" => 3,
        _ => return None,
    };
    Some(base + step)
}

/// A trace or span id: a hex string (empty when absent).
fn hex_id(o: &Obj<'_>, name: &str) -> Result<Vec<u8>, String> {
    match o.get(name) {
        None => Ok(Vec::new()),
        Some((Value::String(s), path)) => {
            hex::decode(s).map_err(|_| format!("{path}: {:?} is not a hexadecimal id", short(s)))
        }
        Some((_, path)) => Err(format!("{path}: expected a hexadecimal string")),
    }
}

/// At most 64 characters of `s`, to quote it in a message.
fn short(s: &str) -> String {
    s.chars().take(64).collect()
}
