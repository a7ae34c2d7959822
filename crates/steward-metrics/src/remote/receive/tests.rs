//! The receiver through the API router on an in-memory store: what a
//! write stores, the requests refused and how, and remote read of what was
//! written.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::api::{ApiState, router};
use crate::promql::Engine;
use crate::remote::proto::{Label, LabelMatcher, Query};
use crate::storage::MemoryStorage;

fn state() -> ApiState {
    ApiState::new(Arc::new(MemoryStorage::new()), Arc::new(Engine::default()))
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|(t, v)| WireSample {
                value: *v,
                timestamp: *t,
            })
            .collect(),
        exemplars: Vec::new(),
    }
}

async fn post(state: &ApiState, path: &str, body: Vec<u8>, ct: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::post(path)
        .header("content-encoding", "snappy")
        .header("content-type", ct)
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(Body::from(body))
        .unwrap();
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

async fn write(state: &ApiState, ts: Vec<TimeSeries>) -> (StatusCode, String) {
    let body = encode_snappy(&WriteRequest {
        timeseries: ts,
        metadata: Vec::new(),
    });
    let (status, body) = post(state, "/api/v1/write", body, "application/x-protobuf").await;
    (status, String::from_utf8_lossy(&body).trim().to_owned())
}

#[tokio::test]
async fn a_write_is_stored_and_read_back() {
    let state = state();
    let (status, _) = write(
        &state,
        vec![
            series(
                &[("__name__", "up"), ("job", "a")],
                &[(1000, 1.0), (2000, 0.0)],
            ),
            series(&[("__name__", "up"), ("job", "b")], &[(1000, 1.0)]),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(state.remote_receive.received.load(Ordering::Relaxed), 3);
    let stored = state
        .storage
        .select(&[Matcher::equal("job", "a")], 0, 10_000)
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].samples,
        vec![Sample::new(1000, 1.0), Sample::new(2000, 0.0)]
    );

    let read = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 1500,
            end_timestamp_ms: 3000,
            matchers: vec![LabelMatcher {
                r#type: MatcherType::Eq as i32,
                name: "__name__".into(),
                value: "up".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![ResponseType::Samples as i32],
    };
    let (status, body) = post(
        &state,
        "/api/v1/read",
        encode_snappy(&read),
        "application/x-protobuf",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response: ReadResponse = decode_snappy(&body, 1 << 20).unwrap();
    assert_eq!(response.results.len(), 1);
    // only job a has a sample in [1500, 3000]
    let ts = &response.results[0].timeseries;
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].labels[1].value, "a");
    assert_eq!(ts[0].samples.len(), 1);
    assert_eq!(ts[0].samples[0].timestamp, 2000);
}

#[tokio::test]
async fn bad_series_are_refused_whole_with_a_message() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("__name__", "up"), ("1x", "a")],
            "invalid label name \"1x\"",
        ),
        (
            &[("__name__", "up"), ("a", "1"), ("a", "2")],
            "duplicate label name \"a\"",
        ),
        (
            &[("__name__", "up"), ("b", "1"), ("a", "2")],
            "labels are not sorted by name",
        ),
        (&[("job", "a")], "series {job=\"a\"} has no metric name"),
        (&[("__name__", "1up")], "invalid metric name \"1up\""),
    ];
    for (labels, message) in cases {
        let state = state();
        let (status, body) = write(
            &state,
            vec![
                series(&[("__name__", "ok")], &[(1, 1.0)]),
                series(labels, &[(1, 1.0)]),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{labels:?}");
        assert!(body.starts_with(message), "{body} for {labels:?}");
        assert_eq!(state.storage.stats(10).unwrap().head_stats.num_series, 0);
    }
}

#[tokio::test]
async fn refused_samples_are_counted_and_answered_400() {
    let state = state();
    let up = [("__name__", "up")];
    assert_eq!(
        write(&state, vec![series(&up, &[(5000, 1.0)])]).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = write(&state, vec![series(&up, &[(1000, 1.0), (6000, 1.0)])]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::BAD_REQUEST, "out of order sample")
    );
    assert_eq!(state.remote_receive.out_of_order.load(Ordering::Relaxed), 1);
    // the good sample stayed
    let stored = state
        .storage
        .select(&[Matcher::equal("__name__", "up")], 0, 10_000)
        .unwrap();
    assert_eq!(stored[0].samples.len(), 2);
}

#[tokio::test]
async fn bodies_that_are_not_snappy_protobuf_are_refused() {
    let state = state();
    let (status, _) = post(
        &state,
        "/api/v1/write",
        b"not snappy".to_vec(),
        "application/x-protobuf",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(&state, "/api/v1/write", Vec::new(), "application/json").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = vec![0u8; MAX_BODY + 1];
    let (status, _) = post(&state, "/api/v1/write", big, "application/x-protobuf").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // a block claiming a huge decoded size
    let mut liar = Vec::new();
    let mut n = (MAX_DECODED as u64) + 1;
    while n >= 0x80 {
        liar.push((n as u8) | 0x80);
        n >>= 7;
    }
    liar.push(n as u8);
    let (status, _) = post(&state, "/api/v1/write", liar, "application/x-protobuf").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn remote_read_answers_only_samples_and_within_the_limit() {
    let state = ApiState::new(
        Arc::new(MemoryStorage::new()),
        Arc::new(Engine::new(crate::promql::EngineOptions {
            max_samples: 2,
            ..crate::promql::EngineOptions::default()
        })),
    );
    let up = [("__name__", "up")];
    write(&state, vec![series(&up, &[(1, 1.0), (2, 1.0), (3, 1.0)])]).await;
    let query = |types: Vec<i32>| ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 10,
            matchers: vec![LabelMatcher {
                r#type: MatcherType::Re as i32,
                name: "__name__".into(),
                value: "u.".into(),
            }],
            hints: None,
        }],
        accepted_response_types: types,
    };
    let (status, body) = post(
        &state,
        "/api/v1/read",
        encode_snappy(&query(vec![ResponseType::StreamedXorChunks as i32])),
        "application/x-protobuf",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("STREAMED_XOR_CHUNKS"));
    let (status, body) = post(
        &state,
        "/api/v1/read",
        encode_snappy(&query(Vec::new())),
        "application/x-protobuf",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        String::from_utf8_lossy(&body).trim(),
        "exceeded sample limit (2)"
    );
}
