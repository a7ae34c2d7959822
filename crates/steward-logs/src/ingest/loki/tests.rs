//! Tests of Loki push decoding: JSON, protobuf, validation, encoding.

use proptest::prelude::*;
use steward_metrics::Labels;
use steward_metrics::remote::proto::encode_snappy;

use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use super::{decode_json, decode_protobuf, encode_push};
use crate::ingest::Limits;
use crate::{Entry, Error, PushStream};

fn json(body: &str) -> crate::Result<Vec<PushStream>> {
    decode_json(body.as_bytes(), &Limits::default())
}

fn json_err(body: &str) -> String {
    match json(body) {
        Err(Error::InvalidPush(m)) => m,
        other => panic!("{body}: expected an invalid push, got {other:?}"),
    }
}

fn entry(ts: i64, line: &str, metadata: &[(&str, &str)]) -> Entry {
    Entry {
        ts,
        line: line.to_owned(),
        metadata: metadata
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn decodes_json_pushes() {
    let got = json(
        r#"{"streams": [
            {"stream": {"service": "api", "env": "prod"},
             "values": [["1700000000000000001", "hello"],
                        ["1700000000000000002", "traced", {"trace_id": "abc", "user": "u1"}]]},
            {"stream": {"service": "db"}, "values": [[3, "numeric ts"]]},
            {"stream": {"env": "prod", "service": "api"}, "values": [["4", "merged"]]},
            {"stream": {"service": "idle"}, "values": []}
        ]}"#,
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            PushStream {
                labels: Labels::from_pairs([("env", "prod"), ("service", "api")]),
                entries: vec![
                    entry(1_700_000_000_000_000_001, "hello", &[]),
                    // metadata in name order, as the JSON reader keeps objects
                    entry(
                        1_700_000_000_000_000_002,
                        "traced",
                        &[("trace_id", "abc"), ("user", "u1")]
                    ),
                    entry(4, "merged", &[]),
                ],
            },
            PushStream {
                labels: Labels::from_pairs([("service", "db")]),
                entries: vec![entry(3, "numeric ts", &[])],
            },
        ]
    );
    assert_eq!(json("{}").unwrap(), vec![]);
    assert_eq!(json(r#"{"streams": null}"#).unwrap(), vec![]);
}

#[test]
fn json_errors_name_the_field() {
    let cases = [
        ("[]", "request: expected an object with \"streams\""),
        (r#"{"streams": {}}"#, "streams: expected an array"),
        (r#"{"streams": [1]}"#, "streams[0]: expected an object"),
        (
            r#"{"streams": [{"stream": []}]}"#,
            "streams[0].stream: expected an object",
        ),
        (
            r#"{"streams": [{"stream": {"a": 1}}]}"#,
            "streams[0].stream.a: expected a string",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": {}}]}"#,
            "streams[0].values: expected an array",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", "x"], ["2"]]}]}"#,
            "streams[0].values[1]: expected an array of a timestamp, a line and optional structured metadata",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}}, {"stream": {"a": "b"}, "values": [["1", "x"], ["1", "y"], ["abc", "z"]]}]}"#,
            "streams[1].values[2][0]: timestamp \"abc\" is not an integer of nanoseconds",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": [[1.5, "x"]]}]}"#,
            "streams[0].values[0][0]: timestamp 1.5 is not an integer of nanoseconds",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", 2]]}]}"#,
            "streams[0].values[0][1]: expected the line, a string",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", []]]}]}"#,
            "streams[0].values[0][2]: expected structured metadata, an object of strings",
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"k": 1}]]}]}"#,
            "streams[0].values[0][2].k: expected a string",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(json_err(body), want, "{body}");
    }
    assert!(json_err("{").starts_with("invalid json: EOF while parsing"));
}

#[test]
fn validation_errors_name_the_field() {
    let line = "x".repeat(300 << 10);
    let value = "v".repeat(2049);
    let name = format!("n{}", "a".repeat(1024));
    let sixteen: Vec<String> = (0..16).map(|i| format!("\"l{i}\": \"v\"")).collect();
    let cases = [
        (
            r#"{"streams": [{"stream": {}, "values": [["1", "x"]]}]}"#.to_owned(),
            "streams[0].stream: a stream needs at least one label".to_owned(),
        ),
        (
            // an empty value is an absent label
            r#"{"streams": [{"stream": {"a": ""}, "values": [["1", "x"]]}]}"#.to_owned(),
            "streams[0].stream: a stream needs at least one label".to_owned(),
        ),
        (
            r#"{"streams": [{"stream": {"a.b": "c"}}]}"#.to_owned(),
            "streams[0].stream: label name \"a.b\" is not valid: use [a-zA-Z_][a-zA-Z0-9_]*"
                .to_owned(),
        ),
        (
            r#"{"streams": [{"stream": {"1a": "c"}}]}"#.to_owned(),
            "streams[0].stream: label name \"1a\" is not valid: use [a-zA-Z_][a-zA-Z0-9_]*"
                .to_owned(),
        ),
        (
            format!(r#"{{"streams": [{{"stream": {{{}}}}}]}}"#, sixteen.join(", ")),
            "streams[0].stream: 16 labels are more than the limit of 15".to_owned(),
        ),
        (
            format!(r#"{{"streams": [{{"stream": {{"a": "{value}"}}}}]}}"#),
            "streams[0].stream: value of label \"a\" of 2049 bytes is longer than the limit of 2048 bytes"
                .to_owned(),
        ),
        (
            format!(r#"{{"streams": [{{"stream": {{"{name}": "v"}}}}]}}"#),
            format!(
                "streams[0].stream: label name \"{}\" of 1025 bytes is longer than the limit of 1024 bytes",
                &name[..64]
            ),
        ),
        (
            format!(r#"{{"streams": [{{"stream": {{"a": "b"}}, "values": [["1", "{line}"]]}}]}}"#),
            "streams[0].values[0]: line of 307200 bytes is longer than the limit of 262144 bytes"
                .to_owned(),
        ),
        (
            r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"trace-id": "1"}]]}]}"#
                .to_owned(),
            "streams[0].values[0]: structured metadata name \"trace-id\" is not valid: use [a-zA-Z_][a-zA-Z0-9_]*"
                .to_owned(),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(json_err(&body), want);
    }
}

#[test]
fn metadata_limits() {
    let limits = Limits {
        max_metadata_entries: 2,
        max_metadata_bytes: 10,
        ..Limits::default()
    };
    let three = r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"a": "1", "b": "2", "c": "3"}]]}]}"#;
    let big =
        r#"{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"name": "0123456"}]]}]}"#;
    let err = |body: &str| {
        decode_json(body.as_bytes(), &limits)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(three),
        "invalid push: streams[0].values[0]: 3 structured metadata fields are more than the limit of 2"
    );
    assert_eq!(
        err(big),
        "invalid push: streams[0].values[0]: structured metadata of 11 bytes is larger than the limit of 10 bytes"
    );
}

fn stream(labels: &str, entries: Vec<EntryAdapter>) -> StreamAdapter {
    StreamAdapter {
        labels: labels.to_owned(),
        entries,
        hash: 42,
    }
}

fn proto_entry(ts: i64, line: &str, metadata: &[(&str, &str)]) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(Timestamp::from_nanos(ts)),
        line: line.to_owned(),
        structured_metadata: metadata
            .iter()
            .map(|(n, v)| LabelPairAdapter {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
            })
            .collect(),
    }
}

fn proto(request: &PushRequest) -> crate::Result<Vec<PushStream>> {
    decode_protobuf(&encode_snappy(request), &Limits::default())
}

#[test]
fn decodes_protobuf_pushes() {
    let request = PushRequest {
        streams: vec![
            stream(
                r#"{job="varlogs", filename="/var/log/syslog"}"#,
                vec![
                    proto_entry(1_700_000_000_123_456_789, "one", &[]),
                    proto_entry(5, "two", &[("trace_id", "0af7"), ("b", "1")]),
                ],
            ),
            stream(
                r#"{filename="/var/log/syslog",job="varlogs"}"#,
                vec![proto_entry(6, "three", &[])],
            ),
            stream(
                r#"{job="other"}"#,
                vec![proto_entry(-1, "before 1970", &[])],
            ),
        ],
    };
    let got = proto(&request).unwrap();
    assert_eq!(
        got,
        vec![
            PushStream {
                labels: Labels::from_pairs([("filename", "/var/log/syslog"), ("job", "varlogs")]),
                entries: vec![
                    entry(1_700_000_000_123_456_789, "one", &[]),
                    // metadata in the order given
                    entry(5, "two", &[("trace_id", "0af7"), ("b", "1")]),
                    entry(6, "three", &[]),
                ],
            },
            PushStream {
                labels: Labels::from_pairs([("job", "other")]),
                entries: vec![entry(-1, "before 1970", &[])],
            },
        ]
    );
}

#[test]
fn protobuf_errors_name_the_field() {
    let err = |request: PushRequest| match proto(&request) {
        Err(Error::InvalidPush(m)) => m,
        other => panic!("expected an invalid push, got {other:?}"),
    };
    assert_eq!(
        err(PushRequest {
            streams: vec![
                stream(r#"{a="b"}"#, vec![]),
                stream(r#"{a="b" c="d"}"#, vec![])
            ],
        }),
        "streams[1].labels: at byte 7: expected ',' or '}', found 'c'"
    );
    assert_eq!(
        err(PushRequest {
            streams: vec![stream("{}", vec![])],
        }),
        "streams[0].labels: a stream needs at least one label"
    );
    let mut no_time = proto_entry(1, "x", &[]);
    no_time.timestamp = None;
    assert_eq!(
        err(PushRequest {
            streams: vec![stream(
                r#"{a="b"}"#,
                vec![proto_entry(1, "x", &[]), no_time]
            )],
        }),
        "streams[0].entries[1].timestamp: missing"
    );
    let mut bad_nanos = proto_entry(1, "x", &[]);
    bad_nanos.timestamp = Some(Timestamp {
        seconds: 1,
        nanos: 1_000_000_000,
    });
    assert_eq!(
        err(PushRequest {
            streams: vec![stream(r#"{a="b"}"#, vec![bad_nanos])],
        }),
        "streams[0].entries[0].timestamp: {seconds: 1, nanos: 1000000000} is not a valid time in nanoseconds"
    );
    let mut overflow = proto_entry(1, "x", &[]);
    overflow.timestamp = Some(Timestamp {
        seconds: i64::MAX / 1000,
        nanos: 0,
    });
    assert!(
        err(PushRequest {
            streams: vec![stream(r#"{a="b"}"#, vec![overflow])],
        })
        .starts_with("streams[0].entries[0].timestamp: {seconds: 9223372036854775, nanos: 0}")
    );
    assert_eq!(
        err(PushRequest {
            streams: vec![stream(
                r#"{a="b"}"#,
                vec![proto_entry(1, "x", &[("bad name", "v")])]
            )],
        }),
        "streams[0].entries[0]: structured metadata name \"bad name\" is not valid: use [a-zA-Z_][a-zA-Z0-9_]*"
    );
}

#[test]
fn snappy_errors() {
    let limits = Limits::default();
    let err = decode_protobuf(b"not snappy at all", &limits).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid push: invalid snappy-compressed protobuf: "),
        "{err}"
    );
    // a header announcing 1 GiB: refused before decompressing
    let mut body = vec![0x80, 0x80, 0x80, 0x80, 0x04];
    body.extend_from_slice(&[0; 16]);
    let err = decode_protobuf(&body, &limits).unwrap_err().to_string();
    assert!(
        err.contains("decoded body of 1073741824 bytes exceeds the limit of 67108864 bytes"),
        "{err}"
    );
    // an unframed protobuf (snappy missing)
    let raw = prost::Message::encode_to_vec(&PushRequest {
        streams: vec![stream(r#"{a="b"}"#, vec![proto_entry(1, "x", &[])])],
    });
    assert!(decode_protobuf(&raw, &limits).is_err());
}

#[test]
fn encode_then_decode_is_identity() {
    let streams = vec![
        PushStream {
            labels: Labels::from_pairs([("service", "api"), ("path", "C:\\x \"quoted\"\n")]),
            entries: vec![
                entry(1_700_000_000_123_456_789, "one", &[]),
                entry(-5, "before", &[("trace_id", "abc"), ("a", "é")]),
            ],
        },
        PushStream {
            labels: Labels::from_pairs([("service", "db")]),
            entries: vec![entry(0, "", &[])],
        },
    ];
    let body = encode_push(&streams);
    assert_eq!(decode_protobuf(&body, &Limits::default()).unwrap(), streams);
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        any::<i64>(),
        any::<String>(),
        proptest::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,6}", any::<String>()), 0..3),
    )
        .prop_map(|(ts, line, metadata)| Entry { ts, line, metadata })
}

fn arb_streams() -> impl Strategy<Value = Vec<PushStream>> {
    proptest::collection::btree_map(
        proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,6}", ".{1,8}", 1..4),
        proptest::collection::vec(arb_entry(), 1..4),
        0..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(labels, entries)| PushStream {
                labels: Labels::from_pairs(labels),
                entries,
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn round_trips_arbitrary_streams(streams in arb_streams()) {
        let body = encode_push(&streams);
        let back = decode_protobuf(&body, &Limits::default()).unwrap();
        prop_assert_eq!(back, streams);
    }

    #[test]
    fn arbitrary_json_never_panics(body in any::<Vec<u8>>()) {
        let _ = decode_json(&body, &Limits::default());
    }

    #[test]
    fn arbitrary_json_like_text_never_panics(body in r#"[\[\]{}",: a-z0-9.\\-]{0,64}"#) {
        let _ = decode_json(body.as_bytes(), &Limits::default());
        let wrapped = format!(r#"{{"streams":[{{"stream":{{"a":"b"}},"values":[{body}]}}]}}"#);
        let _ = decode_json(wrapped.as_bytes(), &Limits::default());
    }

    #[test]
    fn arbitrary_snappy_never_panics(body in any::<Vec<u8>>()) {
        let _ = decode_protobuf(&body, &Limits::default());
        // valid snappy around arbitrary protobuf bytes
        let framed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        let _ = decode_protobuf(&framed, &Limits::default());
    }
}
