//! The OTLP receiver end to end: the OpenTelemetry Python SDK (with its
//! OTLP/HTTP protobuf exporter) and a hand-written OTLP/JSON payload
//! (gzip, delta temporality) posted to the collector's `otlp_router()`
//! served on loopback, then the series read back through PromQL.
//!
//! The Python part needs `opentelemetry-sdk` and
//! `opentelemetry-exporter-otlp-proto-http`: `scripts/test.sh` installs
//! them and sets STEWARD_TEST_PYTHON_OTEL (`1` for `python3`, or the path
//! of an interpreter that has them); without it that test skips.

use std::io::Write;
use std::sync::Arc;

use steward_config::MetricsConfig;
use steward_metrics::{
    MetricsCollector,
    promql::Value,
    storage::{MemoryStorage, Storage},
};

fn collector() -> MetricsCollector {
    let config = MetricsConfig {
        scrape_self: false,
        ..MetricsConfig::default()
    };
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    MetricsCollector::with_storage(&config, storage, None)
}

/// Serves the collector's OTLP router on loopback; the base URL.
async fn serve(collector: &MetricsCollector) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = collector.otlp_router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// The instant vector `query` answers now, as `(labels, value)` sorted.
fn query(collector: &MetricsCollector, q: &str) -> Vec<(String, f64)> {
    let now = chrono::Utc::now().timestamp_millis();
    let result = collector
        .engine()
        .instant_query(collector.storage().as_ref(), q, now)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let Value::Vector(samples) = result.value else {
        panic!("{q}: expected a vector")
    };
    let mut out: Vec<(String, f64)> = samples
        .iter()
        .map(|s| (s.labels.to_string(), s.v))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn one(collector: &MetricsCollector, q: &str) -> f64 {
    let v = query(collector, q);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

#[allow(clippy::print_stderr)]
fn python() -> Option<String> {
    match std::env::var("STEWARD_TEST_PYTHON_OTEL") {
        Ok(v) if v == "1" => Some("python3".to_owned()),
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!(
                "skipping: set STEWARD_TEST_PYTHON_OTEL (scripts/test.sh installs the OpenTelemetry Python SDK)"
            );
            None
        }
    }
}

#[tokio::test]
async fn python_sdk_metrics_are_queryable() {
    let Some(python) = python() else { return };
    let collector = collector();
    let base = serve(&collector).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/otlp_export.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .arg(format!("{base}/v1/metrics"))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "exporter failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let identity = r#"instance="i-1", job="acme/shop", otel_scope_name="steward.test", otel_scope_version="0.1.0""#;
    // Counter: `_total`, the `{request}` annotation dropped.
    assert_eq!(
        query(&collector, "requests_total"),
        vec![
            (format!(r#"requests_total{{{identity}, route="/a"}}"#), 5.0),
            (format!(r#"requests_total{{{identity}, route="/b"}}"#), 1.0),
        ]
    );
    // Up-down counter: a gauge without suffix.
    assert_eq!(
        query(&collector, "queue_depth"),
        vec![(format!("queue_depth{{{identity}}}"), 3.0)]
    );
    // Observable gauge with a unit.
    assert_eq!(
        query(&collector, "temperature_celsius"),
        vec![(
            format!(r#"temperature_celsius{{{identity}, room="lab"}}"#),
            21.5
        )]
    );
    // Explicit-bucket histogram.
    let buckets = query(
        &collector,
        "sum by (le) (request_duration_seconds_bucket{job=\"acme/shop\"})",
    );
    assert_eq!(
        buckets,
        vec![
            (r#"{le="+Inf"}"#.to_owned(), 5.0),
            (r#"{le="0.1"}"#.to_owned(), 1.0),
            (r#"{le="1"}"#.to_owned(), 3.0),
            (r#"{le="10"}"#.to_owned(), 4.0),
        ]
    );
    assert_eq!(one(&collector, "request_duration_seconds_count"), 5.0);
    assert_eq!(one(&collector, "request_duration_seconds_sum"), 56.25);
    // Exponential histogram, as classic buckets.
    assert_eq!(one(&collector, "payload_size_bytes_count"), 5.0);
    assert_eq!(one(&collector, "payload_size_bytes_sum"), 1106.0);
    assert_eq!(
        one(&collector, r#"payload_size_bytes_bucket{le="+Inf"}"#),
        5.0
    );
    let median = one(
        &collector,
        "histogram_quantile(0.5, payload_size_bytes_bucket)",
    );
    assert!(median > 2.0 && median <= 4.0, "median {median}");
    let p90 = one(
        &collector,
        "histogram_quantile(0.9, payload_size_bytes_bucket)",
    );
    assert!(p90 > 100.0 && p90 <= 1024.0, "p90 {p90}");
    // The other resource attributes, on target_info.
    let info = query(&collector, "target_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert!(
        info[0].0.contains(r#"deployment_environment="test""#)
            && info[0].0.contains(r#"instance="i-1", job="acme/shop""#)
            && info[0].0.contains(r#"telemetry_sdk_language="python""#),
        "{info:?}"
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An OTLP/JSON request with a gauge and a delta counter point at `t_ns`.
fn json_payload(t_ns: i64, delta: i64) -> serde_json::Value {
    let t = t_ns.to_string();
    serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "worker"}},
            {"key": "region", "value": {"stringValue": "eu"}}
        ]},
        "scopeMetrics": [{"scope": {"name": "hand"}, "metrics": [
            {"name": "jobs.done", "unit": "1", "sum": {
                "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA", "isMonotonic": true,
                "dataPoints": [{"timeUnixNano": t, "asInt": delta.to_string(),
                                "attributes": [{"key": "queue", "value": {"stringValue": "q1"}}]}]}},
            {"name": "load", "unit": "1", "gauge": {"dataPoints": [{"timeUnixNano": t, "asDouble": 0.75}]}}
        ]}]
    }]})
}

#[tokio::test]
async fn json_payloads_are_queryable() {
    let collector = collector();
    let base = serve(&collector).await;
    let client = reqwest::Client::new();
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    for (i, delta) in [4, 6].into_iter().enumerate() {
        let body = serde_json::to_vec(&json_payload(
            now_ns - 2_000_000_000 + i as i64 * 1_000_000_000,
            delta,
        ))
        .unwrap();
        let res = client
            .post(format!("{base}/v1/metrics"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(&body))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "{}");
    }
    // Delta points were added up into a counter.
    assert_eq!(
        query(&collector, "jobs_done_total"),
        vec![(
            r#"jobs_done_total{job="worker", otel_scope_name="hand", queue="q1"}"#.to_owned(),
            10.0
        )]
    );
    assert_eq!(one(&collector, r#"load_ratio{job="worker"}"#), 0.75);
    assert_eq!(
        one(&collector, r#"target_info{job="worker", region="eu"}"#),
        1.0
    );

    // A JSON body of the wrong shape is a 400 with a Status.
    let res = client
        .post(format!("{base}/v1/metrics"))
        .header("content-type", "application/json")
        .body(r#"{"resourceMetrics": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let status: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status["code"], 3);
    assert_eq!(status["message"], "resourceMetrics: expected an array");
}
