//! Tests of the OTLP receiver: the data-driven translation cases under
//! `tests/cases/otlp/*.json` (OTLP/JSON requests and the series they must
//! become), the name rules, both decoders, and the HTTP endpoint's
//! statuses and bodies.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use prost::Message;
use serde::Deserialize;
use tower::ServiceExt;

use super::names::{Kind, format_float, label_name, metric_name};
use super::proto::*;
use super::translate::{DeltaTotals, translate};
use super::*;
use crate::storage::MemoryStorage;
use crate::{Matcher, is_stale_nan};

#[derive(Deserialize)]
struct Case {
    name: String,
    requests: Vec<serde_json::Value>,
    series: Vec<String>,
    #[serde(default)]
    rejected: u64,
}

fn render(labels: &crate::Labels, s: crate::Sample) -> String {
    let v = if is_stale_nan(s.v) {
        "stale".to_owned()
    } else {
        s.v.to_string()
    };
    format!("{labels} {v} @{}", s.t)
}

#[test]
fn data_driven_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/otlp");
    let mut count = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let cases: Vec<Case> =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for case in cases {
            count += 1;
            let delta = DeltaTotals::default();
            let mut got = Vec::new();
            let mut rejected = 0;
            for request in &case.requests {
                let body = serde_json::to_vec(request).unwrap();
                let request =
                    json::decode_request(&body).unwrap_or_else(|e| panic!("{}: {e}", case.name));
                // Through protobuf and back: both encodings carry the same.
                let request =
                    ExportMetricsServiceRequest::decode(&*request.encode_to_vec()).unwrap();
                let t = translate(&request, &delta, 0);
                rejected += t.rejected;
                got.extend(t.samples.iter().map(|(l, s)| render(l, *s)));
            }
            let mut want = case.series.clone();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{}", case.name);
            assert_eq!(rejected, case.rejected, "{}: rejected", case.name);
        }
    }
    assert!(count >= 15, "only {count} cases");
}

#[test]
fn metric_names_follow_prometheus() {
    let cases = [
        (
            "system.cpu.time",
            "s",
            Kind::Counter,
            "system_cpu_time_seconds_total",
        ),
        (
            "http.server.duration",
            "ms",
            Kind::Other,
            "http_server_duration_milliseconds",
        ),
        ("memory", "By", Kind::Gauge, "memory_bytes"),
        ("memory_bytes", "By", Kind::Gauge, "memory_bytes"),
        (
            "throughput",
            "By/s",
            Kind::Gauge,
            "throughput_bytes_per_second",
        ),
        ("rate", "1/s", Kind::Gauge, "rate_per_second"),
        ("requests", "{requests}", Kind::Counter, "requests_total"),
        ("requests_total", "", Kind::Counter, "requests_total"),
        ("total_requests", "", Kind::Counter, "requests_total"),
        ("utilization", "1", Kind::Gauge, "utilization_ratio"),
        ("utilization", "1", Kind::Counter, "utilization_total"),
        ("utilization", "1", Kind::Other, "utilization"),
        ("utilization", "%", Kind::Gauge, "utilization_percent"),
        ("temp", "Cel", Kind::Gauge, "temp_celsius"),
        ("size", "MiBy", Kind::Gauge, "size_mebibytes"),
        (
            "weird-name!!x",
            "foo.bar",
            Kind::Gauge,
            "weird_name_x_foo_bar",
        ),
        ("a__b:c", "", Kind::Gauge, "a_b:c"),
        ("1st", "", Kind::Gauge, "_1st"),
        ("été", "", Kind::Gauge, "t"),
    ];
    for (name, unit, kind, want) in cases {
        assert_eq!(
            metric_name(name, unit, kind),
            want,
            "{name} {unit} {kind:?}"
        );
    }
}

#[test]
fn label_names_are_sanitised() {
    let cases = [
        ("http.method", "http_method"),
        ("a-b c", "a_b_c"),
        ("9lives", "key_9lives"),
        ("_x", "key_x"),
        ("__x__", "__x__"),
        ("ok_1", "ok_1"),
        ("ünï", "key_n_"),
        ("", ""),
    ];
    for (key, want) in cases {
        assert_eq!(label_name(key), want, "{key}");
    }
}

#[test]
fn floats_are_written_as_go_does() {
    for (f, want) in [
        (0.1, "0.1"),
        (1.0, "1"),
        (1e21, "1000000000000000000000"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (-2.5, "-2.5"),
    ] {
        assert_eq!(format_float(f), want);
    }
}

#[test]
fn json_errors_name_the_field() {
    let cases = [
        ("not json", "invalid json"),
        ("[]", "request: expected an object"),
        (
            r#"{"resourceMetrics": {}}"#,
            "resourceMetrics: expected an array",
        ),
        (
            r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "g", "gauge": {"dataPoints": [{"asInt": "x"}]}}]}]}]}"#,
            "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asInt: expected an integer",
        ),
        (
            r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "s", "sum": {"aggregationTemporality": "SOMETIMES"}}]}]}]}"#,
            "unknown aggregation temporality",
        ),
        (
            r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": 3}]}]}]}"#,
            "metrics[0].name: expected a string",
        ),
    ];
    for (body, want) in cases {
        let err = json::decode_request(body.as_bytes()).unwrap_err();
        assert!(err.contains(want), "{body}: {err}");
    }
}

#[test]
fn json_ignores_unknown_fields_and_nulls() {
    let body = r#"{"resourceMetrics": [{"schemaUrl": "x", "resource": null, "scopeMetrics": [{"metrics": [
        {"name": "g", "metadata": [], "gauge": {"dataPoints": [{"timeUnixNano": "1000000", "asDouble": 2,
         "exemplars": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "asDouble": 1}]}]}}
    ]}]}]}"#;
    let req = json::decode_request(body.as_bytes()).unwrap();
    let t = translate(&req, &DeltaTotals::default(), 0);
    assert_eq!(t.samples.len(), 1);
    assert_eq!(t.samples[0].1.v, 2.0);
}

fn gauge_request(name: &str, value: f64) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("svc".into())),
                    }),
                }],
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics: vec![Metric {
                    name: name.into(),
                    description: String::new(),
                    unit: String::new(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            attributes: vec![],
                            start_time_unix_nano: 0,
                            time_unix_nano: 1_000_000_000,
                            flags: 0,
                            value: Some(number_data_point::Value::AsDouble(value)),
                        }],
                    })),
                }],
            }],
        }],
    }
}

async fn post(
    router: axum::Router,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::post("/v1/metrics").header("content-type", content_type);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let res = router
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ct, body)
}

fn receiver() -> (OtlpReceiver, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    (OtlpReceiver::new(storage.clone()), storage)
}

fn stored(storage: &MemoryStorage, name: &str) -> Vec<crate::Sample> {
    use crate::storage::Storage;
    let m = Matcher::new(crate::MatchOp::Equal, "__name__", name).unwrap();
    storage
        .select(&[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples)
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn protobuf_is_stored_and_answered_in_protobuf() {
    let (r, storage) = receiver();
    let body = gauge_request("a", 3.0).encode_to_vec();
    let (status, ct, resp) = post(r.router(), "application/x-protobuf", None, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/x-protobuf");
    let resp = ExportMetricsServiceResponse::decode(&*resp).unwrap();
    assert_eq!(resp.partial_success, None);
    assert_eq!(stored(&storage, "a"), vec![crate::Sample::new(1000, 3.0)]);
}

#[tokio::test]
async fn gzip_json_is_stored_and_answered_in_json() {
    let (r, storage) = receiver();
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"b","gauge":{"dataPoints":[{"timeUnixNano":"2000000000","asInt":"9"}]}}]}]}]}"#;
    let (status, ct, resp) = post(
        r.router(),
        "application/json; charset=utf-8",
        Some("gzip"),
        gzip(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/json");
    assert_eq!(String::from_utf8(resp).unwrap(), "{}");
    assert_eq!(stored(&storage, "b"), vec![crate::Sample::new(2000, 9.0)]);
}

#[tokio::test]
async fn gzip_protobuf_is_accepted() {
    let (r, storage) = receiver();
    let body = gzip(&gauge_request("c", 1.0).encode_to_vec());
    let (status, _, _) = post(r.router(), "application/x-protobuf", Some("gzip"), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&storage, "c").len(), 1);
}

#[tokio::test]
async fn partial_success_counts_rejected_points() {
    let (r, _) = receiver();
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"ok","gauge":{"dataPoints":[{"timeUnixNano":"1000000000","asInt":"1"}]}},
        {"name":"bad","gauge":{"dataPoints":[{"timeUnixNano":"1000000000"},{"asInt":"1"}]}}]}]}]}"#;
    let (status, _, resp) = post(r.router(), "application/json", None, body.to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedDataPoints"], "2");
    let msg = v["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("has no value") && msg.contains("no time_unix_nano"),
        "{msg}"
    );

    // In protobuf, and with samples the store refuses (out of order).
    let (r, _) = receiver();
    let first = gauge_request("d", 1.0).encode_to_vec();
    let (status, _, _) = post(r.router(), "application/x-protobuf", None, first).await;
    assert_eq!(status, StatusCode::OK);
    let mut older = gauge_request("d", 2.0);
    if let Some(metric::Data::Gauge(g)) =
        &mut older.resource_metrics[0].scope_metrics[0].metrics[0].data
    {
        g.data_points[0].time_unix_nano = 1;
    }
    let (status, _, resp) = post(
        r.router(),
        "application/x-protobuf",
        None,
        older.encode_to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let p = ExportMetricsServiceResponse::decode(&*resp)
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(p.rejected_data_points, 1, "{}", p.error_message);
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_status() {
    let (r, _) = receiver();
    let (status, ct, resp) = post(
        r.router(),
        "application/x-protobuf",
        None,
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/x-protobuf");
    let s = super::proto::Status::decode(&*resp).unwrap();
    assert_eq!(s.code, 3);
    assert!(s.message.starts_with("invalid protobuf"), "{}", s.message);

    let (status, ct, resp) = post(r.router(), "application/json", None, b"{".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/json");
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["code"], 3);
    assert!(v["message"].as_str().unwrap().starts_with("invalid json"));

    let (status, _, _) = post(
        r.router(),
        "application/json",
        Some("gzip"),
        b"not gzip".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn other_content_types_and_encodings_are_415() {
    let (r, _) = receiver();
    for (ct, enc) in [
        ("text/plain", None),
        ("application/protobuf+json", None),
        ("", None),
        ("application/json", Some("br")),
    ] {
        let (status, _, _) = post(r.router(), ct, enc, b"{}".to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct} {enc:?}");
    }
}

#[tokio::test]
async fn bodies_past_the_limit_are_413_compressed_or_not() {
    let (r, storage) = receiver();
    let r = r.with_max_body_bytes(300);
    let big = gauge_request(&"x".repeat(10_000), 1.0).encode_to_vec();
    let (status, _, _) = post(r.router(), "application/x-protobuf", None, big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Small compressed, large decompressed.
    let zipped = gzip(&big);
    assert!(zipped.len() <= 300, "{}", zipped.len());
    let (status, _, _) = post(r.router(), "application/x-protobuf", Some("gzip"), zipped).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(stored(&storage, &"x".repeat(10_000)).is_empty());
}

#[test]
fn idle_delta_series_are_forgotten() {
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"n","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"timeUnixNano":"1000000000","asInt":"2"}]}}]}]}]}"#;
    let req = json::decode_request(body).unwrap();
    let delta = DeltaTotals::default();
    let t = translate(&req, &delta, 0);
    assert_eq!(t.samples[0].1.v, 2.0);
    assert_eq!(delta.len(), 1);
    let later = super::translate::DELTA_IDLE_MS + 60_000;
    let empty = ExportMetricsServiceRequest::default();
    translate(&empty, &delta, later);
    assert!(delta.is_empty());
    // The series starts over (a counter reset for PromQL).
    let t = translate(&req, &delta, later);
    assert_eq!(t.samples[0].1.v, 2.0);
}
