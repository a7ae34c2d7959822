//! Steward's own AlertManager in the application: alerts posted to its
//! API v2 under `/alertmanager` reach a webhook receiver on loopback and
//! every delivery try is journaled; reading needs a viewer token,
//! posting an operator's; PagerDuty events trigger, acknowledge and
//! resolve an alert by its `dedup_key`. Real time: the route's timers are
//! a second, and the test waits for what the receiver gets.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{App, receiver};

async fn app_with_webhook() -> (App, mpsc::UnboundedReceiver<Value>) {
    let (url, got) = receiver().await;
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[alerts]
config_yaml = '''
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
'''
"#
    );
    (App::from_toml(&toml).await, got)
}

/// The next payload the receiver gets with `status`, within 20 seconds.
async fn next_with_status(got: &mut mpsc::UnboundedReceiver<Value>, status: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let body = got.recv().await.expect("the receiver runs");
            if body["status"] == status {
                return body;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {status} notification"))
}

#[tokio::test]
async fn posted_alerts_reach_the_webhook_and_attempts_are_journaled() {
    let (app, mut got) = app_with_webhook().await;
    let alert = json!([{"labels": {"alertname": "DiskFull", "service": "db"}, "annotations": {"summary": "disk full"}}]);

    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.viewer),
            Some(alert.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            None,
            Some(alert.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(alert),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let sent = next_with_status(&mut got, "firing").await;
    assert_eq!(sent["receiver"], "hook");
    assert_eq!(sent["alerts"][0]["labels"]["alertname"], "DiskFull");
    assert_eq!(sent["alerts"][0]["annotations"]["summary"], "disk full");

    let (status, body) = app
        .call(
            Method::GET,
            "/alertmanager/api/v2/alerts",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["labels"]["alertname"], "DiskFull");
    assert_eq!(body[0]["receivers"][0]["name"], "hook");

    let events = app.journaled("alertmanager.notification.sent").await;
    let payload = &events[0]["payload"];
    assert_eq!(payload["receiver"], "hook");
    assert_eq!(payload["integration"], "webhook");
    assert_eq!(payload["attempt"], 1);
    assert!(payload["group_key"].as_str().unwrap().contains("DiskFull"));
    assert!(payload["latency_ms"].is_u64());

    // the alert's start is journaled with where it came from, and so is
    // its resolution
    let events = app.journaled("alertmanager.alert.firing").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["service"], "db");
    assert_eq!(events[0]["payload"]["source"], "api");
    assert_eq!(events[0]["payload"]["labels"]["alertname"], "DiskFull");
    let resolved = json!([{"labels": {"alertname": "DiskFull", "service": "db"}, "endsAt": "2020-01-01T00:00:00Z"}]);
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(resolved),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = app.journaled("alertmanager.alert.resolved").await;
    assert_eq!(events[0]["payload"]["source"], "api");

    // pushes are data, not audited changes (Prometheus re-sends every
    // alert each minute); the viewer's refused push is audited, under the
    // path the client used
    let audited = app.journaled("audit.request").await;
    let pushes: Vec<(&str, u64)> = audited
        .iter()
        .filter(|e| e["payload"]["path"] == "/alertmanager/api/v2/alerts")
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["payload"]["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pushes, [("token:watcher", 403)], "{audited:?}");

    // a client cannot forge the AlertManager's events
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&app.operator),
            Some(json!({"kind": "alertmanager.notification.sent", "summary": "forged"})),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn viewers_read_and_operators_silence() {
    let (app, _got) = app_with_webhook().await;
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "test",
        "comment": "maintenance"
    });
    let (status, _) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/silences",
            Some(&app.viewer),
            Some(silence.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/silences",
            Some(&app.operator),
            Some(silence),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["silenceID"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            Method::GET,
            "/alertmanager/api/v2/silences",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["id"], id.as_str());
    let path = format!("/alertmanager/api/v2/silence/{id}");
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.operator), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // silencing is a change: journaled under the path the client used
    let audited = app.journaled("audit.request").await;
    let changes: Vec<(&str, &str, u64)> = audited
        .iter()
        .rev()
        .map(|e| {
            (
                e["payload"]["method"].as_str().unwrap(),
                e["payload"]["path"].as_str().unwrap(),
                e["payload"]["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("POST", "/alertmanager/api/v2/silences", 403),
            ("POST", "/alertmanager/api/v2/silences", 200),
            ("DELETE", path.as_str(), 403),
            ("DELETE", path.as_str(), 200),
        ]
    );
    let (status, body) = app
        .call(
            Method::GET,
            "/alertmanager/api/v2/status",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["config"]["original"]
            .as_str()
            .unwrap()
            .contains("hook")
    );
}

#[tokio::test]
async fn pagerduty_events_trigger_acknowledge_and_resolve_by_dedup_key() {
    let (app, mut got) = app_with_webhook().await;
    let event = |action: &str| {
        json!({
            "routing_key": "steward",
            "event_action": action,
            "dedup_key": "disk-1",
            "payload": {"summary": "disk full on db-1", "source": "db-1", "severity": "critical"}
        })
    };
    let (status, _) = app
        .call(
            Method::POST,
            "/v2/enqueue",
            Some(&app.viewer),
            Some(event("trigger")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call(
            Method::POST,
            "/v2/enqueue",
            Some(&app.operator),
            Some(event("trigger")),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["dedup_key"], "disk-1");
    let firing = next_with_status(&mut got, "firing").await;
    assert_eq!(firing["alerts"][0]["labels"]["dedup_key"], "disk-1");

    let (status, body) = app
        .call(
            Method::POST,
            "/v2/enqueue",
            Some(&app.operator),
            Some(json!({"routing_key": "steward", "event_action": "acknowledge", "dedup_key": "disk-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let acks = app.journaled("alertmanager.alert.acknowledged").await;
    assert_eq!(acks[0]["payload"]["dedup_key"], "disk-1");
    assert_eq!(acks[0]["payload"]["alerts"].as_array().unwrap().len(), 1);

    let (status, body) = app
        .call(
            Method::POST,
            "/v2/enqueue",
            Some(&app.operator),
            Some(
                json!({"routing_key": "steward", "event_action": "resolve", "dedup_key": "disk-1"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let resolved = next_with_status(&mut got, "resolved").await;
    assert_eq!(resolved["alerts"][0]["labels"]["dedup_key"], "disk-1");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");

    let (status, body) = app
        .call(
            Method::POST,
            "/v2/enqueue",
            Some(&app.operator),
            Some(json!({"event_action": "trigger"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], "invalid event");
}

#[tokio::test]
async fn the_generic_webhook_takes_alert_lists() {
    let (app, mut got) = app_with_webhook().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/alerts/webhook",
            Some(&app.operator),
            Some(json!({"alerts": [{"labels": {"alertname": "QueueBacklog"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alerts"], 1);
    let sent = next_with_status(&mut got, "firing").await;
    assert_eq!(sent["alerts"][0]["labels"]["alertname"], "QueueBacklog");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/alerts/webhook",
            Some(&app.operator),
            Some(json!([{"labels": {}}])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn steward_rules_hand_their_alerts_to_the_alertmanager() {
    let (url, mut got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent.yml"),
        "groups:\n  - name: always\n    interval: 1s\n    rules:\n      - alert: AlwaysFiring\n        expr: vector(1) > 0\n        labels: {severity: critical}\n        annotations: {summary: 'value {{ $value }}'}\n",
    )
    .unwrap();
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[rules]
files = ["{}"]
evaluation_interval = "1s"
external_labels = {{ cluster = "test" }}

[alerts]
config_yaml = '''
route:
  receiver: hook
  group_wait: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
'''
"#,
        dir.path().join("*.yml").display()
    );
    let _app = App::with_deployments(&toml).await;
    let sent = next_with_status(&mut got, "firing").await;
    let alert = &sent["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "AlwaysFiring");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["cluster"], "test");
    assert_eq!(alert["annotations"]["summary"], "value 1");
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/graph?g0.expr="),
        "{alert}"
    );
}

#[tokio::test]
async fn severity_rules_raise_and_severe_groups_are_handed_to_incidents() {
    let (url, mut got) = receiver().await;
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[alerts]
incident_severity = "error"
config_yaml = '''
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
'''

[[alerts.severity]]
critical_services = ["payments"]
raise_to = "critical"
"#
    );
    let app = App::from_toml(&toml).await;
    let alerts = json!([
        {"labels": {"alertname": "Slow", "service": "payments", "severity": "warning"}},
        {"labels": {"alertname": "Disk", "service": "db", "severity": "warning"}},
    ]);
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(alerts),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut severities = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let body = next_with_status(&mut got, "firing").await;
        let alert = &body["alerts"][0];
        severities.insert(
            alert["labels"]["alertname"].as_str().unwrap().to_owned(),
            alert["labels"]["severity"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(
        severities["Slow"], "critical",
        "a critical service's alert is raised"
    );
    assert_eq!(severities["Disk"], "warning");
    let handoffs = app.journaled("alertmanager.incident.handoff").await;
    assert_eq!(handoffs.len(), 1, "only the critical group: {handoffs:?}");
    assert_eq!(handoffs[0]["payload"]["severity"], "critical");
    assert_eq!(handoffs[0]["payload"]["group_labels"]["alertname"], "Slow");
    assert_eq!(handoffs[0]["severity"], "critical");
}

#[tokio::test]
async fn notifications_carry_what_changed_on_the_service_and_its_dependencies() {
    let (url, mut got) = receiver().await;
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[[services]]
name = "db"
port = 18101
process.command = ["db"]

[[services]]
name = "api"
port = 18102
depends_on = ["db"]
process.command = ["api"]

[alerts]
config_yaml = '''
route:
  receiver: hook
  group_wait: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
'''
"#
    );
    let app = App::from_toml(&toml).await;
    let name = |n: &str| steward_core::Name::new(n).unwrap();
    for (service, summary) in [("db", "migrated db to V7"), ("api", "deployed api 2.1.0")] {
        app.store
            .append(
                steward_core::NewEvent::new(
                    steward_deploy::DeployEvent::Succeeded.kind(),
                    steward_core::Actor::system(),
                    summary,
                )
                .service(name(service)),
            )
            .await
            .unwrap();
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(json!([{"labels": {"alertname": "Errors", "service": "api"}}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = next_with_status(&mut got, "firing").await;
    let changes = body["alerts"][0]["annotations"]["steward_changes"]
        .as_str()
        .unwrap_or_else(|| panic!("no changes annotation: {body}"));
    assert!(
        changes.contains("deploy.succeeded api: deployed api 2.1.0"),
        "{changes}"
    );
    assert!(
        changes.contains("db: migrated db to V7"),
        "a dependency's change too: {changes}"
    );
}

#[tokio::test]
async fn notifications_carry_the_related_alerts_and_the_expressions_value_now() {
    let (url, mut got) = receiver().await;
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[[services]]
name = "db"
port = 18111
process.command = ["db"]

[[services]]
name = "api"
port = 18112
depends_on = ["db"]
process.command = ["api"]

[alerts]
config_yaml = '''
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
'''
"#
    );
    let app = App::from_toml(&toml).await;
    // what steward's metrics store holds now: the ratio of failed tasks
    let collector = app
        .state
        .metrics_collector()
        .expect("the AlertManager evaluates over steward's metrics");
    let now = chrono::Utc::now().timestamp_millis();
    let series = |service: &str, v: f64| {
        (
            steward_metrics::Labels::from_pairs([
                ("__name__", "task_error_ratio"),
                ("service", service),
            ]),
            steward_metrics::Sample { t: now - 1_000, v },
        )
    };
    collector
        .storage()
        .append(&[
            series("api", 0.42),
            series("db", 0.35),
            series("billing", 0.9),
        ])
        .unwrap();
    // the link Prometheus (and steward's rules) send with an alert
    let generator = "http://prometheus:9090/graph?g0.expr=task_error_ratio+%3E+0.3&g0.tab=1";
    let alerts = json!([
        {"labels": {"alertname": "TaskErrors", "service": "api"}, "generatorURL": generator},
        {"labels": {"alertname": "DiskFull", "service": "db"}},
        {"labels": {"alertname": "Slow", "service": "api", "route": "/tasks"}},
        {"labels": {"alertname": "Down", "service": "billing"}},
    ]);
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(alerts),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let errors = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let body = got.recv().await.expect("the receiver runs");
            if body["groupLabels"]["alertname"] == "TaskErrors" {
                return body;
            }
        }
    })
    .await
    .expect("the TaskErrors group is notified");
    let annotations = &errors["alerts"][0]["annotations"];
    assert_eq!(
        annotations["steward_value"], "0.42",
        "the expression now, for the alert's own series: {annotations}"
    );
    let related = annotations["steward_related"]
        .as_str()
        .unwrap_or_else(|| panic!("no related alerts: {annotations}"));
    let lines: Vec<&str> = related.lines().collect();
    assert_eq!(lines.len(), 2, "{related}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DiskFull{service=\"db\"} since ")),
        "a dependency's alert: {related}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Slow{route=\"/tasks\", service=\"api\"} since ")),
        "another alert of the service: {related}"
    );
    assert!(
        !related.contains("billing"),
        "unrelated services are left out: {related}"
    );
}
