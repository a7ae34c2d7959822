//! Tests of the entry points: content types, encodings, limits, responses.

use std::io::Write as _;

use proptest::prelude::*;
use prost::Message as _;
use steward_core::{ErrorCode, ErrorKind};
use steward_metrics::Labels;

use super::otlp::proto::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use super::{Limits, OtlpEncoding, decode_loki_push, decode_otlp_logs, encode_push};
use crate::{Entry, Error, PushStream};

const JSON_PUSH: &str = r#"{"streams":[{"stream":{"app":"x"},"values":[["1","hello"]]}]}"#;
const OTLP_JSON: &str = r#"{"resourceLogs":[{"resource":{"attributes":[
    {"key":"service.name","value":{"stringValue":"api"}}]},
    "scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"hello"}}]}]}]}"#;

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn deflate(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn hello() -> Vec<PushStream> {
    vec![PushStream {
        labels: Labels::from_pairs([("app", "x")]),
        entries: vec![Entry::new(1, "hello")],
    }]
}

fn loki(ct: Option<&str>, ce: Option<&str>, body: &[u8]) -> crate::Result<Vec<PushStream>> {
    decode_loki_push(ct, ce, body, &Limits::default())
}

#[test]
fn loki_content_types() {
    let proto = encode_push(&hello());
    assert_eq!(
        loki(Some("application/json"), None, JSON_PUSH.as_bytes()).unwrap(),
        hello()
    );
    assert_eq!(
        loki(
            Some("Application/JSON; charset=utf-8"),
            Some("identity"),
            JSON_PUSH.as_bytes()
        )
        .unwrap(),
        hello()
    );
    assert_eq!(
        loki(Some("application/x-protobuf"), None, &proto).unwrap(),
        hello()
    );
    // no content type: protobuf, as Loki reads it
    assert_eq!(loki(None, None, &proto).unwrap(), hello());
    let err = loki(Some("text/plain"), None, b"hello").unwrap_err();
    assert!(matches!(err, Error::UnsupportedMediaType(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unsupported media type: content type \"text/plain\" is not a loki push: use application/json or application/x-protobuf"
    );
    assert_eq!(err.code(), "unsupported_media_type");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn loki_content_encodings() {
    let json = JSON_PUSH.as_bytes();
    let proto = encode_push(&hello());
    let ct = Some("application/json");
    assert_eq!(loki(ct, Some("gzip"), &gzip(json)).unwrap(), hello());
    assert_eq!(loki(ct, Some(" GZIP "), &gzip(json)).unwrap(), hello());
    assert_eq!(loki(ct, Some("deflate"), &deflate(json)).unwrap(), hello());
    // gzip around snappy
    assert_eq!(
        loki(Some("application/x-protobuf"), Some("gzip"), &gzip(&proto)).unwrap(),
        hello()
    );
    let err = loki(ct, Some("br"), json).unwrap_err();
    assert!(matches!(err, Error::UnsupportedMediaType(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unsupported media type: content encoding \"br\" is not supported: use gzip, deflate or none"
    );
    let err = loki(ct, Some("gzip"), json).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid push: invalid gzip body: "),
        "{err}"
    );
    let err = loki(ct, Some("deflate"), json).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid push: invalid deflate body: "),
        "{err}"
    );
}

#[test]
fn bodies_are_bounded_once_decompressed() {
    let limits = Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    };
    let big = format!(
        r#"{{"streams":[{{"stream":{{"app":"x"}},"values":[["1","{}"]]}}]}}"#,
        "a".repeat(2000)
    );
    let ct = Some("application/json");
    let err = decode_loki_push(ct, None, big.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid push: body of {} bytes is larger than the limit of 1000 bytes",
            big.len()
        )
    );
    let zipped = gzip(big.as_bytes());
    assert!(zipped.len() < 1000);
    let err = decode_loki_push(ct, Some("gzip"), &zipped, &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid push: gzip body inflates past the limit of 1000 bytes"
    );
    let snappy = encode_push(&[PushStream {
        labels: Labels::from_pairs([("app", "x")]),
        entries: vec![Entry::new(1, "a".repeat(2000))],
    }]);
    let err = decode_loki_push(
        None,
        None,
        &snappy,
        &Limits {
            max_body_bytes: snappy.len() + 10,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    let err = decode_otlp_logs(
        Some("application/json"),
        Some("gzip"),
        &gzip(big.as_bytes()),
        &limits,
        0,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid push: gzip body inflates past the limit of 1000 bytes"
    );
}

#[test]
fn otlp_content_types_and_encodings() {
    let limits = Limits::default();
    let want = vec![PushStream {
        labels: Labels::from_pairs([("service", "api")]),
        entries: vec![Entry::new(1, "hello")],
    }];
    let json = OTLP_JSON.as_bytes();
    let got = decode_otlp_logs(Some("application/json"), None, json, &limits, 0).unwrap();
    assert_eq!(got.streams, want);
    let got = decode_otlp_logs(
        Some("application/json"),
        Some("gzip"),
        &gzip(json),
        &limits,
        0,
    )
    .unwrap();
    assert_eq!(got.streams, want);
    let request = super::otlp::json::decode_request(json).unwrap();
    let proto = request.encode_to_vec();
    let ct = Some("application/x-protobuf");
    let got = decode_otlp_logs(ct, None, &proto, &limits, 0).unwrap();
    assert_eq!(got.streams, want);
    let got = decode_otlp_logs(ct, Some("deflate"), &deflate(&proto), &limits, 0).unwrap();
    assert_eq!(got.streams, want);
    for ct in [None, Some("text/plain"), Some("application/x-protobuf-ish")] {
        let err = decode_otlp_logs(ct, None, &proto, &limits, 0).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedMediaType(_)),
            "{ct:?}: {err:?}"
        );
    }
    let err = decode_otlp_logs(ct, None, b"\xff\xff\xff", &limits, 0).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid push: invalid protobuf: "),
        "{err}"
    );
    let err = decode_otlp_logs(
        Some("application/json"),
        None,
        b"{\"resourceLogs\":1}",
        &limits,
        0,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid push: resourceLogs: expected an array"
    );
    assert_eq!(
        OtlpEncoding::from_content_type(Some("application/json; charset=utf-8")).unwrap(),
        OtlpEncoding::Json
    );
}

#[test]
fn otlp_responses() {
    let pb = OtlpEncoding::Protobuf;
    assert_eq!(pb.content_type(), "application/x-protobuf");
    assert!(pb.encode_response(0, "").is_empty());
    let response = ExportLogsServiceResponse::decode(pb.encode_response(3, "why").as_slice())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(response.rejected_log_records, 3);
    assert_eq!(response.error_message, "why");
    let status =
        steward_metrics::otlp::proto::Status::decode(pb.encode_status("bad").as_slice()).unwrap();
    assert_eq!((status.code, status.message.as_str()), (3, "bad"));

    let json = OtlpEncoding::Json;
    assert_eq!(json.content_type(), "application/json");
    assert_eq!(json.encode_response(0, ""), b"{}");
    let value: serde_json::Value =
        serde_json::from_slice(&json.encode_response(2, "too long")).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "too long"}})
    );
    let value: serde_json::Value = serde_json::from_slice(&json.encode_status("bad")).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"code": 3, "message": "bad", "details": []})
    );
}

#[test]
fn empty_otlp_request() {
    let got = decode_otlp_logs(
        Some("application/x-protobuf"),
        None,
        b"",
        &Limits::default(),
        0,
    )
    .unwrap();
    assert_eq!(got.streams, vec![]);
    assert_eq!(got.rejected, 0);
    assert_eq!(
        ExportLogsServiceRequest::decode(&b""[..]).unwrap(),
        ExportLogsServiceRequest::default()
    );
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json")),
        Just(Some("application/x-protobuf")),
    ]
}

fn content_encoding() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![Just(None), Just(Some("gzip")), Just(Some("deflate"))]
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(
        ct in content_type(),
        ce in content_encoding(),
        body in any::<Vec<u8>>(),
        compress in any::<bool>(),
    ) {
        let body = match (ce, compress) {
            (Some("gzip"), true) => gzip(&body),
            (Some("deflate"), true) => deflate(&body),
            _ => body,
        };
        let _ = decode_loki_push(ct, ce, &body, &Limits::default());
        let _ = decode_otlp_logs(ct, ce, &body, &Limits::default(), 0);
    }
}
