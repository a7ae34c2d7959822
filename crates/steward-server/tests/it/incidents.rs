//! The IncidentManager in the application, over steward's real
//! AlertManager and a webhook receiver on loopback: a critical alert
//! group opens an SEV1 incident and the on-call user's receiver gets the
//! page; the API acknowledges, notes, lists, shows the timeline, the
//! postmortem and the mean times; the group resolving resolves the
//! incident; bad requests get 4xx with a JSON body. Real time: the
//! route's timers are a second.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{App, error_code, receiver};

/// The next body the receiver gets whose first alert is named `name`.
async fn next_named(got: &mut mpsc::UnboundedReceiver<Value>, name: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let body = got.recv().await.expect("the receiver runs");
            if body["alerts"][0]["labels"]["alertname"] == name {
                return body;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no notification of {name}"))
}

async fn app() -> (App, mpsc::UnboundedReceiver<Value>) {
    let (team, _team_got) = receiver().await;
    let (pager, pages) = receiver().await;
    // the team's channel is not what this test watches
    std::mem::forget(_team_got);
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[alerts]
incident_severity = "error"
config_yaml = '''
route:
  receiver: team
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: team
    webhook_configs:
      - url: {team}
  - name: ana-pager
    webhook_configs:
      - url: {pager}
'''

[[oncall.users]]
name = "ana"
receivers = ["ana-pager"]

[[oncall.escalation_policies]]
name = "default"
[[oncall.escalation_policies.levels]]
users = ["ana"]
delay = "10m"

[incidents]
escalation_policy = "default"
"#
    );
    (App::from_toml(&toml).await, pages)
}

/// Waits for the first incident to appear, within 20 seconds.
async fn first_incident(app: &App) -> Value {
    for _ in 0..200 {
        let (status, body) = app
            .call(Method::GET, "/api/v1/incidents", Some(&app.viewer), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(first) = body.as_array().and_then(|a| a.first()) {
            return first.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no incident opened");
}

#[tokio::test]
async fn a_critical_group_opens_an_incident_pages_and_resolves_with_it() {
    let (app, mut pages) = app().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(json!([{"labels": {
                "alertname": "ErrorRatioHigh", "service": "agent", "severity": "critical"
            }}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let incident = first_incident(&app).await;
    let id = incident["id"].as_str().unwrap().to_owned();
    assert_eq!(incident["severity"], "SEV1");
    assert_eq!(incident["status"], "triggered");
    assert_eq!(incident["title"], "ErrorRatioHigh on agent");
    assert_eq!(incident["services"], json!(["agent"]));

    // ana's receiver gets the page, as an alert naming the incident
    let page = next_named(&mut pages, "IncidentPage").await;
    let labels = &page["alerts"][0]["labels"];
    assert_eq!(labels["incident"], id.as_str());
    assert_eq!(labels["oncall_user"], "ana");
    assert_eq!(labels["escalation_level"], "1");
    let paged = app.journaled("incident.paged").await;
    assert_eq!(paged[0]["payload"]["details"]["user"], "ana");

    // acknowledged by an operator, with a note
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/actions"),
            Some(&app.operator),
            Some(json!({"action": "acknowledge"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "acknowledged");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/notes"),
            Some(&app.operator),
            Some(json!({"text": "looking at the agent's logs"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/action_items"),
            Some(&app.operator),
            Some(json!({"title": "alert on the error budget", "owner": "ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "prevent");

    // the alert resolves: so does the incident
    let (status, body) = app
        .call(
            Method::POST,
            "/alertmanager/api/v2/alerts",
            Some(&app.operator),
            Some(json!([{"labels": {
                "alertname": "ErrorRatioHigh", "service": "agent", "severity": "critical"
            }, "endsAt": chrono::Utc::now().to_rfc3339()}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resolved = app.journaled("incident.resolved").await;
    assert_eq!(resolved[0]["payload"]["incident"], id.as_str());
    let (status, view) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{id}"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["incident"]["status"], "resolved");
    assert!(view["durations"]["acknowledge_seconds"].is_i64(), "{view}");
    assert!(view["durations"]["resolve_seconds"].is_i64(), "{view}");

    // the timeline from the journal, in order
    let (status, timeline) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{id}/timeline"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{timeline}");
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["status", "notification", "note", "alert"] {
        assert!(kinds.contains(&kind), "{kind} in {timeline}");
    }
    let times: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");

    // the postmortem, in Markdown
    let (status, bytes) = app
        .call_raw(
            Method::GET,
            &format!("/api/v1/incidents/{id}/postmortem"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let markdown = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        markdown.starts_with(&format!("# Postmortem: ErrorRatioHigh on agent ({id})")),
        "{markdown}"
    );
    assert!(markdown.contains("alert on the error budget"), "{markdown}");
    assert!(
        markdown.contains("looking at the agent's logs"),
        "{markdown}"
    );

    // mean times
    let (status, stats) = app
        .call(
            Method::GET,
            "/api/v1/incidents/stats",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["incidents"], 1);
    assert_eq!(stats["open"], 0);
    assert!(stats["mttr_seconds"].is_i64(), "{stats}");
}

#[tokio::test]
async fn incidents_opened_by_hand_and_bad_requests() {
    let (app, _pages) = app().await;
    // a viewer cannot open one
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/incidents",
            Some(&app.viewer),
            Some(json!({"title": "x", "severity": "SEV3"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/incidents",
            Some(&app.operator),
            Some(json!({"title": "x", "severity": "SEV9"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("severity"),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/incidents",
            Some(&app.operator),
            Some(json!({"title": "   ", "severity": "SEV3"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, incident) = app
        .call(
            Method::POST,
            "/api/v1/incidents",
            Some(&app.operator),
            Some(json!({
                "title": "checkout is slow", "severity": "sev2",
                "services": ["gateway"], "commander": "ana"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    assert_eq!(incident["severity"], "SEV2");
    assert_eq!(incident["commander"], "ana");
    let id = incident["id"].as_str().unwrap();
    app.journaled("incident.opened").await;

    // unknown incidents, actions the status refuses, missing fields
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/incidents/inc-nope/actions",
            Some(&app.operator),
            Some(json!({"action": "acknowledge"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "not_found");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/actions"),
            Some(&app.operator),
            Some(json!({"action": "unacknowledge_all"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/actions"),
            Some(&app.operator),
            Some(json!({"action": "assign"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for action in ["resolve", "acknowledge"] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/incidents/{id}/actions"),
                Some(&app.operator),
                Some(json!({"action": action})),
            )
            .await;
        if action == "resolve" {
            assert_eq!(status, StatusCode::OK, "{body}");
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("reopen it"),
                "{body}"
            );
        }
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/steps/1"),
            Some(&app.operator),
            Some(json!({"command": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/incidents?limit=0",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, candidates) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{id}/candidates"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{candidates}");
    assert_eq!(candidates, json!([]), "no change: no candidate");
}
