//! The rules API: Prometheus' JSON shapes and filters, through `oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample};
use tower::ServiceExt;

use super::*;
use crate::{DiscardSink, ManagerOptions, Verbatim};

#[test]
fn floats_are_written_as_go_does() {
    assert_eq!(go_float(1.0), "1e+00");
    assert_eq!(go_float(0.25), "2.5e-01");
    assert_eq!(go_float(123.45), "1.2345e+02");
    assert_eq!(go_float(-3e-120), "-3e-120");
    assert_eq!(go_float(0.0), "0e+00");
    assert_eq!(go_float(f64::INFINITY), "+Inf");
    assert_eq!(go_float(f64::NAN), "NaN");
}

#[test]
fn filters_are_parsed_as_prometheus_does() {
    let f = Filter::parse(Some(
        "type=alert&rule_name[]=High&rule_group[]=g&file[]=f.yml",
    ))
    .unwrap();
    assert!(f.alerting && !f.recording);
    assert_eq!(f.names, ["High"]);
    assert_eq!(f.groups, ["g"]);
    assert_eq!(f.files, ["f.yml"]);
    assert!(Filter::parse(Some("type=record")).unwrap().recording);
    assert_eq!(
        Filter::parse(Some("type=both")).unwrap_err(),
        "not supported value \"both\""
    );
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(start_paused = true)]
async fn rules_and_alerts_are_served_in_prometheus_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    interval: 10s\n    rules:\n      - record: x2\n        expr: x * 2\n      - alert: High\n        expr: x2 > 10\n        for: 1m\n        labels: {severity: page}\n        annotations: {summary: high}\n",
    )
    .unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let start = 1_000_000_000;
    let batch: Vec<_> = (start - 60_000..=start + 600_000)
        .step_by(5_000)
        .map(|t| {
            (
                Labels::from_pairs([("__name__", "x")]),
                Sample::new(t, 20.0),
            )
        })
        .collect();
    storage.append(&batch).unwrap();
    let manager = Arc::new(RuleManager::with_start_time(
        ManagerOptions::default(),
        storage,
        Arc::new(Verbatim),
        Arc::new(DiscardSink),
        start,
    ));
    manager.update(std::slice::from_ref(&file)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    let app = router(manager.clone());

    let (status, body) = get(&app, "/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "success");
    let group = &body["data"]["groups"][0];
    assert_eq!(group["name"], "g");
    assert_eq!(group["file"], file.display().to_string());
    assert_eq!(group["interval"], 10.0);
    let rules = group["rules"].as_array().unwrap();
    assert_eq!(rules[0]["type"], "recording");
    assert_eq!(rules[0]["health"], "ok");
    assert_eq!(rules[1]["type"], "alerting");
    assert_eq!(rules[1]["state"], "pending");
    assert_eq!(rules[1]["duration"], 60.0);
    assert_eq!(rules[1]["annotations"]["summary"], "high");
    let alert = &rules[1]["alerts"][0];
    assert_eq!(alert["state"], "pending");
    assert_eq!(alert["value"], "4e+01");
    assert_eq!(alert["labels"]["alertname"], "High");
    assert!(
        alert["activeAt"]
            .as_str()
            .unwrap()
            .starts_with("1970-01-12T13:4")
    );

    let (_, body) = get(&app, "/api/v1/rules?type=record").await;
    let rules = body["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["name"], "x2");
    let (_, body) = get(&app, "/api/v1/rules?rule_name[]=nothing").await;
    assert_eq!(body["data"]["groups"], json!([]));
    let (status, body) = get(&app, "/api/v1/rules?type=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");

    let (_, body) = get(&app, "/api/v1/alerts").await;
    assert_eq!(body["data"]["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["alerts"][0]["labels"]["severity"], "page");
    manager.stop().await;
}
