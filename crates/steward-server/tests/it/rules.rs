//! The rules subsystem in the application: rule files loaded at start,
//! served in Prometheus' shapes, reloaded by `POST /api/v1/reload` (an
//! invalid file changes nothing and is journaled), and alert state
//! changes journaled as the rules really evaluate (real time: a 1 s
//! group, polled for a few seconds).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{App, error_code};

const ONE_GROUP: &str = "groups:\n  - name: always\n    interval: 1s\n    rules:\n      - record: job:one\n        expr: vector(1)\n      - alert: AlwaysFiring\n        expr: vector(1) > 0\n        labels: {severity: critical, service: agent-worker}\n        annotations: {summary: 'value {{ $value }}'}\n";

async fn app_with_rules(rules: &str) -> (App, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.yml");
    std::fs::write(&file, rules).unwrap();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[rules]\nfiles = [\"{}\"]\nevaluation_interval = \"1s\"\n",
        dir.path().join("*.yml").display()
    );
    (App::with_deployments(&toml).await, dir, file)
}

async fn groups(app: &App) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::GET,
            "/prometheus/api/v1/rules",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["groups"].as_array().unwrap().clone()
}

#[tokio::test]
async fn reloads_keep_the_old_rules_when_the_new_ones_are_invalid() {
    let (app, _dir, file) = app_with_rules(ONE_GROUP).await;
    assert_eq!(groups(&app).await.len(), 1);

    std::fs::write(
        &file,
        "groups:\n  - name: broken\n    rules:\n      - record: 'not a name'\n        expr: up\n",
    )
    .unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/reload",
            Some(&app.operator),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "rules_invalid");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("not a name"), "{message}");
    assert!(
        message.contains("agent.yml"),
        "the file is named: {message}"
    );
    let running = groups(&app).await;
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["name"], "always", "the previous rules run on");
    assert_eq!(app.events_of("rules.reload_failed").await.len(), 1);

    std::fs::write(
        &file,
        format!("{ONE_GROUP}  - name: second\n    rules:\n      - record: job:two\n        expr: vector(2)\n"),
    )
    .unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/reload",
            Some(&app.operator),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groups"], 2);
    assert_eq!(body["rules"], 3);
    assert_eq!(body["rule_files"][0], file.display().to_string());
    assert_eq!(groups(&app).await.len(), 2);
    // one at start, one now
    assert_eq!(app.events_of("rules.reloaded").await.len(), 2);

    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/reload",
            Some(&app.viewer),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "reloading needs the operator role"
    );
}

#[tokio::test]
async fn alert_state_changes_are_journaled_and_alerts_served() {
    let (app, _dir, _file) = app_with_rules(ONE_GROUP).await;
    let mut firing = Vec::new();
    for _ in 0..100 {
        firing = app.events_of("alert.firing").await;
        if !firing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(firing.len(), 1, "one alert fires once");
    let event = &firing[0];
    assert_eq!(event["service"], "agent-worker");
    assert_eq!(event["severity"], "critical");
    assert_eq!(event["payload"]["rule"], "AlwaysFiring");
    assert_eq!(event["payload"]["annotations"]["summary"], "value 1");
    assert_eq!(
        event["payload"]["from"], "inactive",
        "without `for` it fires at once"
    );
    assert!(app.events_of("alert.pending").await.is_empty());

    let (status, body) = app
        .call(
            Method::GET,
            "/prometheus/api/v1/alerts",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let alerts = body["data"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{body}");
    assert_eq!(alerts[0]["state"], "firing");
    assert_eq!(alerts[0]["labels"]["alertname"], "AlwaysFiring");
    // the engine's metrics are on steward's own /metrics
    let (_, metrics) = app.call_raw(Method::GET, "/metrics", None, None).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("prometheus_rule_group_last_evaluation_timestamp_seconds{"),
        "{metrics}"
    );
}
