//! Unit tests of the engine's API: results, serialization, limits, errors.

use std::time::Duration;

use super::*;
use crate::storage::{MemoryStorage, Storage};
use crate::{Labels, Sample};

/// `up{job="a"}` and `up{job="b"}` every 10s for 10 minutes, values t/10s
/// and twice that.
fn store() -> MemoryStorage {
    let s = MemoryStorage::new();
    let mut batch = Vec::new();
    for i in 0..=60 {
        for (job, f) in [("a", 1.0), ("b", 2.0)] {
            let l = Labels::from_pairs([("__name__", "up"), ("job", job)]);
            batch.push((l, Sample::new(i * 10_000, f * i as f64)));
        }
    }
    s.append(&batch).unwrap();
    s
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

#[test]
fn instant_vector_serializes_as_the_http_api_does() {
    let r = engine()
        .instant_query(&store(), "up{job=\"b\"} / 4", 30_500)
        .unwrap();
    let json = serde_json::to_value(&r.value).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"job": "b"}, "value": [30.5, "1.5"]}
        ]})
    );
}

#[test]
fn scalars_strings_and_special_floats_serialize() {
    let e = engine();
    let s = store();
    let j = |q: &str| serde_json::to_value(&e.instant_query(&s, q, 1_000).unwrap().value).unwrap();
    assert_eq!(
        j("1/0"),
        serde_json::json!({"resultType": "scalar", "result": [1, "+Inf"]})
    );
    assert_eq!(
        j("-1/0"),
        serde_json::json!({"resultType": "scalar", "result": [1, "-Inf"]})
    );
    assert_eq!(
        j("0/0"),
        serde_json::json!({"resultType": "scalar", "result": [1, "NaN"]})
    );
    assert_eq!(
        j("\"hi\""),
        serde_json::json!({"resultType": "string", "result": [1, "hi"]})
    );
}

#[test]
fn range_query_returns_a_sorted_matrix() {
    let r = engine()
        .range_query(&store(), "up * 10 > 50", 0, 60_000, 30_000)
        .unwrap();
    let Value::Matrix(m) = &r.value else {
        panic!("not a matrix: {r:?}")
    };
    // a: 0, 30, 60 at 0s/30s/60s (only 60 > 50); b: 0, 60, 120
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].labels.get("job"), Some("a"));
    assert_eq!(m[0].samples, vec![Sample::new(60_000, 60.0)]);
    assert_eq!(
        m[1].samples,
        vec![Sample::new(30_000, 60.0), Sample::new(60_000, 120.0)]
    );
    let json = serde_json::to_value(&r.value).unwrap();
    assert_eq!(json["result"][0]["values"], serde_json::json!([[60, "60"]]));
}

#[test]
fn range_query_of_a_scalar_is_one_series_without_labels() {
    let r = engine()
        .range_query(&store(), "time()", 0, 20_000, 10_000)
        .unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(
        m[0].samples.iter().map(|p| p.v).collect::<Vec<_>>(),
        [0.0, 10.0, 20.0]
    );
}

#[test]
fn start_and_end_are_the_range_query_bounds() {
    let e = engine();
    let s = store();
    let values = |q: &str| {
        let Value::Matrix(m) = e
            .range_query(&s, q, 100_000, 300_000, 100_000)
            .unwrap()
            .value
        else {
            panic!()
        };
        m[0].samples.iter().map(|p| p.v).collect::<Vec<_>>()
    };
    assert_eq!(values("up{job=\"a\"} @ start()"), [10.0, 10.0, 10.0]);
    assert_eq!(values("up{job=\"a\"} @ end()"), [30.0, 30.0, 30.0]);
    assert_eq!(
        values("up{job=\"a\"} @ end() - up{job=\"a\"}"),
        [20.0, 10.0, 0.0]
    );
}

#[test]
fn range_queries_refuse_range_vectors_and_bad_steps() {
    let e = engine();
    let s = store();
    let err = e.range_query(&s, "up[1m]", 0, 60_000, 10_000).unwrap_err();
    assert_eq!(err.prometheus_error_type(), "bad_data");
    assert!(err.to_string().contains("range vector"), "{err}");
    assert!(e.range_query(&s, "up", 0, 60_000, 0).is_err());
    assert!(e.range_query(&s, "up", 60_000, 0, 1_000).is_err());
}

#[test]
fn an_instant_range_selector_returns_raw_samples() {
    let r = engine()
        .instant_query(&store(), "up{job=\"a\"}[20s]", 600_000)
        .unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(m[0].samples.len(), 3, "both ends of the range are included");
    assert_eq!(m[0].labels.metric_name(), Some("up"));
}

#[test]
fn parse_errors_are_bad_data() {
    let err = engine().instant_query(&store(), "sum(up", 0).unwrap_err();
    assert!(matches!(err, Error::BadQuery(_)));
    assert_eq!(err.prometheus_error_type(), "bad_data");
    // Prometheus 3 additions are not part of the 2.42 language
    assert!(
        engine()
            .instant_query(&store(), "mad_over_time(up[1m])", 0)
            .is_err()
    );
    assert!(
        engine()
            .instant_query(&store(), "limitk(1, up)", 0)
            .is_err()
    );
}

#[test]
fn execution_errors_have_prometheus_messages() {
    let err = engine()
        .instant_query(&store(), "up * on() up", 600_000)
        .unwrap_err();
    assert_eq!(err.prometheus_error_type(), "execution");
    assert!(
        err.to_string()
            .contains("many-to-many matching not allowed"),
        "{err}"
    );
    let err = engine()
        .instant_query(
            &store(),
            "ceil(up) or label_replace(up, \"job\", \"a\", \"\", \"\")",
            600_000,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("same labelset") || err.to_string().contains("duplicated"),
        "{err}"
    );
}

#[test]
fn the_timeout_stops_a_query() {
    let e = Engine::new(EngineOptions {
        timeout: Duration::ZERO,
        ..EngineOptions::default()
    });
    let err = e.instant_query(&store(), "sum(up)", 600_000).unwrap_err();
    assert!(matches!(err, Error::QueryTimeout(_)));
    assert_eq!(err.to_string(), "query timed out in expression evaluation");
    assert_eq!(err.prometheus_error_type(), "timeout");
}

#[test]
fn the_sample_limit_stops_a_query() {
    let limited = |n| {
        Engine::new(EngineOptions {
            max_samples: n,
            ..EngineOptions::default()
        })
    };
    // a range query of 61 steps over 2 series holds 122 samples
    let q = |e: &Engine| e.range_query(&store(), "up", 0, 600_000, 10_000);
    let err = q(&limited(100)).unwrap_err();
    assert!(matches!(err, Error::TooManySamples(_)));
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    assert_eq!(err.prometheus_error_type(), "execution");
    assert!(q(&limited(122)).is_ok());
    // the windows of a range function count too
    assert!(
        limited(5)
            .instant_query(&store(), "rate(up[1m])", 600_000)
            .is_err()
    );
}

#[test]
fn holt_winters_is_accepted_under_both_names() {
    let e = engine();
    let s = store();
    for f in ["holt_winters", "double_exponential_smoothing"] {
        let r = e
            .instant_query(&s, &format!("{f}(up{{job=\"a\"}}[1m], 0.5, 0.5)"), 600_000)
            .unwrap();
        let Value::Vector(v) = r.value else { panic!() };
        assert!((v[0].v - 60.0).abs() < 1e-9, "{f}: {v:?}");
    }
    // a metric named like the function is still a metric
    assert!(e.instant_query(&s, "holt_winters", 0).is_ok());
}

#[test]
fn durations_parse_as_prometheus_does() {
    assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
    assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
    assert_eq!(
        parse_duration("1w2d").unwrap(),
        Duration::from_secs(9 * 86_400)
    );
    assert_eq!(
        parse_duration("1y").unwrap(),
        Duration::from_secs(365 * 86_400)
    );
    assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    for bad in ["", "1x", "5m1h", "1h1h", "-1s", "s", "1.5s", "inf"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn format_query_pretty_prints() {
    let f = format_query("sum(rate(up{job=\"a\"}[5m]))by(job)").unwrap();
    assert!(f.starts_with("sum"), "{f}");
    assert!(format_query("sum(").is_err());
}
