//! The IncidentManager in the application, over steward's real
//! AlertManager and a webhook receiver on loopback: a critical alert
//! group opens an SEV1 incident and the on-call user's receiver gets the
//! page; the API acknowledges, notes, lists, shows the timeline, the
//! postmortem and the mean times; the group resolving resolves the
//! incident; bad requests get 4xx with a JSON body; every automated
//! kind of plan step acts through steward's real engines (deployments on
//! the process backend, the AlertManager, a child process, a webhook).
//! Real time: the route's timers are a second.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use steward_test_support::free_port;

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
    // a field an action does not take is refused, not ignored
    for body in [
        json!({"action": "reopen", "surely_unknown": 1}),
        json!({"action": "assign", "user": "ana", "severity": "SEV1"}),
    ] {
        let (status, answer) = app
            .call(
                Method::POST,
                &format!("/api/v1/incidents/{id}/actions"),
                Some(&app.operator),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
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

/// The incident's plan, once its step `step` (from 1) has `state` (within
/// 60 s): the incident.
async fn step_reaches(app: &App, id: &str, step: usize, state: &str) -> Value {
    for _ in 0..600 {
        let (_, view) = app
            .call(
                Method::GET,
                &format!("/api/v1/incidents/{id}"),
                Some(&app.viewer),
                None,
            )
            .await;
        let now = &view["incident"]["plan"]["steps"][step - 1]["state"];
        if now["state"] == state {
            return view["incident"].clone();
        }
        assert_ne!(now["state"], "failed", "step {step}: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("step {step} of {id} never {state}");
}

/// Every automated kind of step through steward's real engines: a plan
/// that scales the service out (a deployment: one more replica),
/// restarts it (a deployment replacing every replica), silences its
/// alerts (a silence in the AlertManager), runs a command (given the
/// incident in its environment) and calls a webhook (with the incident),
/// each step journaled, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_plan_step_acts_through_stewards_engines() {
    let (hook, mut calls) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("command-ran");
    let port = free_port();
    let toml = format!(
        r#"
[[services]]
name = "files"
replicas = 1
port = {port}
process.command = ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
health = {{ tcp = true, interval = "200ms", timeout = "150ms", start_period = "20s" }}
rollout = {{ verify_window = "300ms", stop_grace = "3s" }}

[alerts]
config_yaml = '''
route:
  receiver: nobody
receivers:
  - name: nobody
'''

[[incidents.response_plans]]
name = "files"
services = ["files"]
steps = [
  {{ action = "scale_out", service = "files", add = 1 }},
  {{ action = "restart", service = "files" }},
  {{ action = "silence", duration = "30m" }},
  {{ action = "command", argv = ["sh", "-c", "echo $STEWARD_INCIDENT > {marker}"] }},
  {{ action = "webhook", url = "{hook}" }},
]
"#,
        marker = marker.display()
    );
    let app = App::with_deployments(&toml).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.deployments()
        .unwrap()
        .wait(body["id"].as_str().unwrap())
        .await
        .unwrap();
    let before: Vec<String> = replica_ids(&app).await;
    assert_eq!(before.len(), 1);

    let (status, incident) = app
        .call(
            Method::POST,
            "/api/v1/incidents",
            Some(&app.operator),
            Some(json!({"title": "files is slow", "severity": "SEV2", "services": ["files"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let id = incident["id"].as_str().unwrap().to_owned();
    let done = step_reaches(&app, &id, 5, "succeeded").await;
    let steps = done["plan"]["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["state"]["state"] == "succeeded"),
        "{done}"
    );
    assert!(
        steps.iter().all(|s| s["attempts"] == 1),
        "each step ran once: {done}"
    );
    // scaled out, then every replica replaced
    let after = replica_ids(&app).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.iter().all(|r| !before.contains(r)),
        "restarted: {before:?} -> {after:?}"
    );
    let deployments = app.journaled("deploy.succeeded").await;
    assert!(
        deployments
            .iter()
            .filter(|e| e["actor"] == format!("incident:{id}"))
            .count()
            >= 2,
        "{deployments:?}"
    );
    // the silence mutes the incident's service
    let (status, silences) = app
        .call(
            Method::GET,
            "/alertmanager/api/v2/silences",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{silences}");
    assert_eq!(silences[0]["matchers"][0]["name"], "service");
    assert_eq!(silences[0]["matchers"][0]["value"], "files");
    assert_eq!(silences[0]["createdBy"], format!("incident:{id}"));
    // the command ran with the incident in its environment
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), id);
    // the webhook got the incident
    let call = tokio::time::timeout(Duration::from_secs(10), calls.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call["incident"]["id"], id.as_str());
    // each step's start and outcome is on the journal
    let journaled = app.journaled("incident.step").await;
    assert!(journaled.len() >= 10, "{journaled:?}");
}

async fn replica_ids(app: &App) -> Vec<String> {
    let (_, status) = app
        .call(Method::GET, "/api/v1/status", Some(&app.viewer), None)
        .await;
    status["services"][0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}
