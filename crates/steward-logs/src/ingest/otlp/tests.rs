//! Tests of OTLP logs decoding and translation.

use proptest::prelude::*;
use prost::Message as _;
use steward_metrics::Labels;
use steward_metrics::otlp::proto::{
    AnyValue, InstrumentationScope, KeyValue, KeyValueList, Resource, any_value,
};

use super::json::decode_request;
use super::proto::{ExportLogsServiceRequest, LogRecord, ResourceLogs, ScopeLogs};
use super::{OtlpLogs, UNKNOWN_SERVICE, translate};
use crate::Entry;
use crate::ingest::Limits;

const NOW: i64 = 1_800_000_000_000_000_000;

fn string(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.to_owned())),
    })
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value,
    }
}

fn skv(key: &str, value: &str) -> KeyValue {
    kv(key, string(value))
}

fn resource_logs(attributes: Vec<KeyValue>, records: Vec<LogRecord>) -> ResourceLogs {
    ResourceLogs {
        resource: Some(Resource { attributes }),
        scope_logs: vec![ScopeLogs {
            scope: Some(InstrumentationScope {
                name: "app.http".to_owned(),
                version: "1.2".to_owned(),
            }),
            log_records: records,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

fn record(time: u64, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        body: string(body),
        ..LogRecord::default()
    }
}

fn run(resource_logs: Vec<ResourceLogs>) -> OtlpLogs {
    translate(
        &ExportLogsServiceRequest { resource_logs },
        &Limits::default(),
        NOW,
    )
}

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn resource_attributes_that_identify_become_labels() {
    let got = run(vec![resource_logs(
        vec![
            skv("service.name", "checkout"),
            skv("service.namespace", "shop"),
            skv("service.instance.id", "i-1"),
            skv("deployment.environment", "old"),
            skv("deployment.environment.name", "prod"),
            skv("k8s.pod.name", "checkout-7d9"),
            skv("k8s.namespace.name", "default"),
            skv("container.name", "app"),
            skv("host.name", "node-1"),
            kv(
                "process.pid",
                Some(AnyValue {
                    value: Some(any_value::Value::IntValue(42)),
                }),
            ),
        ],
        vec![record(7, "hello")],
    )]);
    assert_eq!(got.rejected, 0);
    assert_eq!(got.message, "");
    assert_eq!(got.streams.len(), 1);
    assert_eq!(
        got.streams[0].labels,
        Labels::from_pairs([
            ("service", "checkout"),
            ("namespace", "shop"),
            ("instance", "i-1"),
            ("environment", "prod"),
            ("k8s_pod_name", "checkout-7d9"),
            ("k8s_namespace_name", "default"),
            ("container_name", "app"),
        ])
    );
    assert_eq!(
        got.streams[0].entries,
        vec![Entry {
            ts: 7,
            line: "hello".to_owned(),
            metadata: meta(&[
                ("host_name", "node-1"),
                ("process_pid", "42"),
                ("scope_name", "app.http"),
                ("scope_version", "1.2"),
            ]),
        }]
    );
}

#[test]
fn records_become_entries() {
    let trace = vec![
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];
    let records = vec![
        LogRecord {
            time_unix_nano: 10,
            observed_time_unix_nano: 20,
            severity_number: 17,
            severity_text: "WARNING".to_owned(),
            body: string("text wins"),
            attributes: vec![
                skv("http.method", "GET"),
                skv("host.name", "overridden"),
                skv("level", "replaced by the severity"),
                skv("empty", ""),
            ],
            trace_id: trace,
            span_id: vec![0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
            event_name: "checkout.done".to_owned(),
            ..LogRecord::default()
        },
        LogRecord {
            observed_time_unix_nano: 20,
            severity_number: 10,
            body: Some(AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![skv("msg", "structured"), kv("n", None)],
                })),
            }),
            // all-zero ids are no ids
            trace_id: vec![0; 16],
            span_id: vec![0; 8],
            ..LogRecord::default()
        },
        LogRecord {
            severity_number: 99,
            ..LogRecord::default()
        },
        LogRecord {
            severity_number: 24,
            body: Some(AnyValue {
                value: Some(any_value::Value::BytesValue(vec![1, 2, 3])),
            }),
            ..LogRecord::default()
        },
    ];
    let got = run(vec![resource_logs(
        vec![skv("host.name", "node-1")],
        records,
    )]);
    assert_eq!(got.rejected, 0);
    assert_eq!(
        got.streams[0].labels,
        Labels::from_pairs([("service", UNKNOWN_SERVICE)])
    );
    let scope = [
        ("host_name", "node-1"),
        ("scope_name", "app.http"),
        ("scope_version", "1.2"),
    ];
    let entries = &got.streams[0].entries;
    assert_eq!(
        entries[0],
        Entry {
            ts: 10,
            line: "text wins".to_owned(),
            metadata: meta(&[
                ("host_name", "overridden"),
                ("scope_name", "app.http"),
                ("scope_version", "1.2"),
                ("http_method", "GET"),
                ("level", "replaced by the severity"),
                ("detected_level", "warn"),
                ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
                ("span_id", "00f067aa0ba902b7"),
                ("event_name", "checkout.done"),
            ]),
        }
    );
    let mut with_level = meta(&scope);
    with_level.push(("detected_level".to_owned(), "info".to_owned()));
    assert_eq!(
        entries[1],
        Entry {
            ts: 20,
            line: r#"{"msg":"structured","n":null}"#.to_owned(),
            metadata: with_level,
        }
    );
    assert_eq!(
        entries[2],
        Entry {
            ts: NOW,
            line: String::new(),
            metadata: meta(&scope),
        }
    );
    assert_eq!(entries[3].line, "AQID");
    assert_eq!(entries[3].metadata("detected_level"), Some("fatal"));
}

#[test]
fn severity_numbers_give_levels() {
    let levels: Vec<Option<String>> = (0..=25)
        .map(|n| {
            super::level(&LogRecord {
                severity_number: n,
                ..LogRecord::default()
            })
        })
        .collect();
    let want = |s: &str| Some(s.to_owned());
    assert_eq!(levels[0], None);
    for n in 1..=4 {
        assert_eq!(levels[n], want("trace"));
        assert_eq!(levels[n + 4], want("debug"));
        assert_eq!(levels[n + 8], want("info"));
        assert_eq!(levels[n + 12], want("warn"));
        assert_eq!(levels[n + 16], want("error"));
        assert_eq!(levels[n + 20], want("fatal"));
    }
    assert_eq!(levels[25], None);
}

#[test]
fn resources_with_the_same_labels_merge() {
    let got = run(vec![
        resource_logs(vec![skv("service.name", "a")], vec![record(1, "one")]),
        resource_logs(vec![skv("service.name", "b")], vec![record(2, "two")]),
        resource_logs(
            vec![skv("service.name", "a"), skv("host.name", "h")],
            vec![record(3, "three")],
        ),
        resource_logs(vec![skv("service.name", "c")], vec![]),
    ]);
    assert_eq!(got.streams.len(), 2);
    let lines: Vec<&str> = got.streams[0]
        .entries
        .iter()
        .map(|e| e.line.as_str())
        .collect();
    assert_eq!(lines, ["one", "three"]);
    assert_eq!(got.streams[1].labels.get("service"), Some("b"));
}

#[test]
fn records_past_the_limits_are_rejected_and_counted() {
    let limits = Limits {
        max_line_bytes: 4,
        max_label_value_bytes: 8,
        ..Limits::default()
    };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![
            resource_logs(
                vec![skv("service.name", "a")],
                vec![record(1, "ok"), record(2, "too long"), record(3, "fine")],
            ),
            resource_logs(
                vec![skv("service.name", "much too long")],
                vec![record(4, "x"), record(5, "y")],
            ),
            resource_logs(
                vec![skv("service.name", "b")],
                vec![record(u64::MAX, "far")],
            ),
        ],
    };
    let got = translate(&request, &limits, NOW);
    assert_eq!(got.rejected, 4);
    assert_eq!(
        got.message,
        "resourceLogs[0].scopeLogs[0].logRecords[1]: line of 8 bytes is longer than the limit of 4 bytes; \
         resourceLogs[1].resource: value of label \"service\" of 13 bytes is longer than the limit of 8 bytes; \
         resourceLogs[2].scopeLogs[0].logRecords[0]: time 18446744073709551615 ns is past the year 2262"
    );
    assert_eq!(got.streams.len(), 1);
    assert_eq!(got.streams[0].entries.len(), 2);
}

#[test]
fn decodes_json_requests() {
    let body = r#"{"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "api"}},
            {"key": "retries", "value": {"intValue": "3"}}
        ]},
        "scopeLogs": [{
            "scope": {"name": "lib"},
            "logRecords": [
                {"timeUnixNano": "1700000000000000001", "severityNumber": "SEVERITY_NUMBER_WARN2",
                 "body": {"stringValue": "camel"},
                 "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00f067aa0ba902b7",
                 "attributes": [{"key": "ok", "value": {"boolValue": true}}], "flags": 1},
                {"time_unix_nano": 1700000000000000002, "severity_number": 9,
                 "severity_text": "Info", "body": {"double_value": 1.5}, "event_name": "e"}
            ]
        }]
    }]}"#;
    let request = decode_request(body.as_bytes()).unwrap();
    let got = translate(&request, &Limits::default(), NOW);
    assert_eq!(got.rejected, 0);
    assert_eq!(
        got.streams[0].labels,
        Labels::from_pairs([("service", "api")])
    );
    let entries = &got.streams[0].entries;
    assert_eq!(
        entries[0],
        Entry {
            ts: 1_700_000_000_000_000_001,
            line: "camel".to_owned(),
            metadata: meta(&[
                ("retries", "3"),
                ("scope_name", "lib"),
                ("ok", "true"),
                ("detected_level", "warn"),
                ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
                ("span_id", "00f067aa0ba902b7"),
            ]),
        }
    );
    assert_eq!(entries[1].ts, 1_700_000_000_000_000_002);
    assert_eq!(entries[1].line, "1.5");
    assert_eq!(entries[1].metadata("detected_level"), Some("info"));
    assert_eq!(entries[1].metadata("event_name"), Some("e"));
}

#[test]
fn json_errors_name_the_field() {
    let cases = [
        (r#"[]"#, "request: expected an object"),
        (r#"{"resourceLogs": {}}"#, "resourceLogs: expected an array"),
        (
            r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{}, {"timeUnixNano": "soon"}]}]}]}"#,
            "resourceLogs[0].scopeLogs[0].logRecords[1].timeUnixNano: expected an unsigned integer",
        ),
        (
            r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "xyz"}]}]}]}"#,
            "resourceLogs[0].scopeLogs[0].logRecords[0].traceId: \"xyz\" is not a hexadecimal id",
        ),
        (
            r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"span_id": 5}]}]}]}"#,
            "resourceLogs[0].scopeLogs[0].logRecords[0].span_id: expected a hexadecimal string",
        ),
        (
            r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": "LOUD"}]}]}]}"#,
            "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: unknown severity number \"LOUD\"",
        ),
        (
            r#"{"resourceLogs": [{"resource": {"attributes": [{"key": "a", "value": {"stringValue": 1}}]}}]}"#,
            "resourceLogs[0].resource.attributes[0].value.stringValue: expected a string",
        ),
        (
            r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": "plain"}]}]}]}"#,
            "resourceLogs[0].scopeLogs[0].logRecords[0].body: expected an object",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(decode_request(body.as_bytes()).unwrap_err(), want, "{body}");
    }
}

#[test]
fn severity_names() {
    let names = [
        ("SEVERITY_NUMBER_UNSPECIFIED", 0),
        ("SEVERITY_NUMBER_TRACE", 1),
        ("SEVERITY_NUMBER_DEBUG4", 8),
        ("SEVERITY_NUMBER_INFO", 9),
        ("SEVERITY_NUMBER_ERROR3", 19),
        ("SEVERITY_NUMBER_FATAL4", 24),
    ];
    for (name, n) in names {
        assert_eq!(super::json::severity_by_name(name), Some(n), "{name}");
    }
    for bad in [
        "SEVERITY_NUMBER_INFO5",
        "SEVERITY_NUMBER_",
        "INFO",
        "SEVERITY_NUMBER_info",
    ] {
        assert_eq!(super::json::severity_by_name(bad), None, "{bad}");
    }
}

#[test]
fn protobuf_and_json_decode_alike() {
    let request = ExportLogsServiceRequest {
        resource_logs: vec![resource_logs(
            vec![skv("service.name", "api")],
            vec![LogRecord {
                time_unix_nano: 5,
                severity_text: "ERROR".to_owned(),
                body: string("boom"),
                trace_id: vec![1; 16],
                ..LogRecord::default()
            }],
        )],
    };
    let bytes = request.encode_to_vec();
    let decoded = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded, request);
    let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
        "scopeLogs":[{"scope":{"name":"app.http","version":"1.2"},"logRecords":[{"timeUnixNano":"5",
        "severityText":"ERROR","body":{"stringValue":"boom"},"traceId":"01010101010101010101010101010101"}]}]}]}"#;
    assert_eq!(decode_request(json.as_bytes()).unwrap(), request);
}

proptest! {
    #[test]
    fn arbitrary_protobuf_never_panics(body in any::<Vec<u8>>()) {
        if let Ok(request) = ExportLogsServiceRequest::decode(body.as_slice()) {
            let _ = translate(&request, &Limits::default(), NOW);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(body in any::<Vec<u8>>()) {
        if let Ok(request) = decode_request(&body) {
            let _ = translate(&request, &Limits::default(), NOW);
        }
    }

    #[test]
    fn arbitrary_json_like_records_never_panic(record in r#"[\[\]{}",: a-zA-Z0-9._-]{0,64}"#) {
        let body = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{record}]}}]}}]}}"#);
        if let Ok(request) = decode_request(body.as_bytes()) {
            let _ = translate(&request, &Limits::default(), NOW);
        }
    }
}
