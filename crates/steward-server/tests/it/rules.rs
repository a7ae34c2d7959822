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

const LOG_GROUP: &str = "groups:\n  - name: worker-logs\n    interval: 1s\n    rules:\n      - alert: WorkerErrors\n        expr: sum by (service) (count_over_time({service=\"worker\"} |= \"error\" [1m])) > 2\n        for: 1s\n";

#[tokio::test]
async fn log_rules_are_listed_and_reloaded_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("log-rules")).unwrap();
    std::fs::write(dir.path().join("agent.yml"), ONE_GROUP).unwrap();
    let log_file = dir.path().join("log-rules/worker.yml");
    std::fs::write(&log_file, LOG_GROUP).unwrap();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[rules]\nfiles = [\"{}\"]\nlog_files = [\"{}\"]\nevaluation_interval = \"1s\"\n",
        dir.path().join("*.yml").display(),
        dir.path().join("log-rules/*.yml").display()
    );
    let app = App::with_deployments(&toml).await;
    let listed = groups(&app).await;
    let names: Vec<&str> = listed.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        names.contains(&"always") && names.contains(&"worker-logs"),
        "{names:?}"
    );
    let log_group = listed.iter().find(|g| g["name"] == "worker-logs").unwrap();
    assert!(log_group["file"].as_str().unwrap().ends_with("worker.yml"));
    assert_eq!(log_group["rules"][0]["name"], "WorkerErrors");

    // a log query is not a rule's expression: the reload changes nothing
    std::fs::write(
        &log_file,
        "groups:\n  - name: worker-logs\n    rules:\n      - alert: WorkerErrors\n        expr: '{service=\"worker\"} |= \"error\"'\n",
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
    assert!(
        message.contains("worker.yml: group \"worker-logs\", rule 1, \"WorkerErrors\"")
            && message.contains("is a log query, not a metric query"),
        "{message}"
    );
    assert_eq!(groups(&app).await.len(), 2, "the previous rules run on");

    // fixed: reloaded with the PromQL files
    std::fs::write(&log_file, LOG_GROUP.replace("> 2", "> 5")).unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/reload",
            Some(&app.operator),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = groups(&app).await;
    let log_group = listed.iter().find(|g| g["name"] == "worker-logs").unwrap();
    assert!(
        log_group["rules"][0]["query"]
            .as_str()
            .unwrap()
            .ends_with("> 5"),
        "{log_group}"
    );
}
