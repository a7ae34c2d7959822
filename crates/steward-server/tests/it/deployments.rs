//! The deployment endpoints with `oneshot`: roles, validation, dry runs,
//! a real deployment of a small HTTP server on the process backend,
//! watching it as server-sent events, and secrets kept out of answers.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use steward_test_support::free_port;

use steward_server::api_types::Cancelling;

use crate::{
    api_types::round_trip,
    support::{App, error_code},
};

/// One service: Python's HTTP server, healthy when its port accepts.
fn config(port: u16) -> String {
    format!(
        r#"
[[services]]
name = "files"
replicas = 2
port = {port}
env = {{ API_KEY = "very-secret-value" }}
process.command = ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
health = {{ tcp = true, interval = "200ms", timeout = "150ms", start_period = "20s" }}
rollout = {{ verify_window = "300ms", stop_grace = "3s" }}
"#
    )
}

async fn wait_final(app: &App, id: &str) -> Value {
    for _ in 0..300 {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/deployments/{id}"),
                Some(&app.viewer),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if matches!(
            body["status"].as_str(),
            Some("succeeded" | "rolled_back" | "failed" | "aborted")
        ) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deployment {id} did not end");
}

/// Waits until step `kind` of deployment `id` has `status`.
async fn wait_for_step(app: &App, id: &str, kind: &str, status: &str) {
    for _ in 0..300 {
        let (_, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/deployments/{id}"),
                Some(&app.viewer),
                None,
            )
            .await;
        if body["plan"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|step| step["kind"] == kind && step["status"] == status)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("step {kind} of {id} never reached {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_is_planned_started_watched_and_listed() {
    let port = free_port();
    let app = App::with_deployments(&config(port)).await;

    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.viewer),
            Some(json!({"version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, plan) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0", "dry_run": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["plan"]["changes"][0]["kind"], "create");
    let steps: Vec<&str> = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "deploy_lock",
            "pre_checks",
            "update_services",
            "verify_health"
        ]
    );
    assert!(
        plan["plan"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true),
        "{plan}"
    );
    let (_, listed) = app
        .call(Method::GET, "/api/v1/deployments", Some(&app.viewer), None)
        .await;
    assert_eq!(listed, json!([]), "a dry run records nothing");

    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0", "reason": "first"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    assert!(
        !started.to_string().contains("very-secret-value"),
        "environment values are redacted"
    );

    // The watch stream ends with the deployment's last event, so the
    // whole body can be read.
    let (status, raw) = app
        .call_raw(
            Method::GET,
            &format!("/api/v1/deployments/{id}/events"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(raw).unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim()).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["kind"], "deploy.requested");
    assert!(events.iter().any(|event| event["kind"] == "deploy.started"));
    assert_eq!(events.last().unwrap()["kind"], "deploy.succeeded");
    assert!(
        events
            .iter()
            .all(|event| event["payload"]["deployment"] == id.as_str())
    );
    assert_eq!(
        events
            .iter()
            .filter(|event| event["kind"] == "deploy.replica.added")
            .count(),
        2
    );

    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["actor"], "token:deployer");
    assert!(!done.to_string().contains("very-secret-value"));

    let (_, listed) = app
        .call(
            Method::GET,
            "/api/v1/deployments?service=files",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(listed[0]["id"], id.as_str());
    let (_, none) = app
        .call(
            Method::GET,
            "/api/v1/deployments?service=other",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(none, json!([]));

    let (status, status_body) = app
        .call(Method::GET, "/api/v1/status", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let files = &status_body["services"][0];
    assert_eq!(files["serving"], 2, "{files}");
    assert_eq!(
        (
            files["state"].as_str(),
            files["version"].as_str(),
            files["running"].as_u64()
        ),
        (Some("running"), Some("1.0.0"), Some(2))
    );

    // Nothing earlier to roll back to.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/rollback",
            Some(&app.operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body["error"]["message"],
        "no earlier successful release to roll back to"
    );

    let manager = app.deployments().unwrap();
    manager.stop_all().await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_answered_with_the_field_at_fault() {
    let app = App::with_deployments(&config(free_port())).await;
    let cases = [
        (json!({"version": "1.0 beta"}), "version"),
        (
            json!({"version": "1.0.0", "services": ["Bad Name"]}),
            "services",
        ),
        (
            json!({"version": "1.0.0", "wait_lock_seconds": 999999}),
            "wait_lock_seconds",
        ),
        (json!({"version": "1.0.0", "colour": "blue"}), "colour"),
        (json!({}), "version"),
    ];
    for (body, field) in cases {
        let (status, answer) = app
            .call(
                Method::POST,
                "/api/v1/deployments",
                Some(&app.operator),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        error_code(&answer);
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(field),
            "{body} -> {answer}"
        );
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0", "services": ["nope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/deployments/dep_000000000000",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/deployments/dep_000000000000/cancel",
            Some(&app.operator),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn a_server_without_deployments_says_so() {
    // No deployment routes at all: 404 (not a 503 to retry), saying why.
    let app = App::without_deployments().await;
    for (method, path) in [
        (Method::GET, "/api/v1/deployments"),
        (Method::POST, "/api/v1/deployments"),
        (Method::GET, "/api/v1/deployments/d-1"),
        (Method::POST, "/api/v1/deployments/d-1/cancel"),
        (Method::GET, "/api/v1/deployments/d-1/events"),
        (Method::POST, "/api/v1/rollback"),
    ] {
        let body = (method == Method::POST).then(|| json!({"version": "1.0.0"}));
        let (status, body) = app
            .call(method.clone(), path, Some(&app.operator), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(error_code(&body), "not_found");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .ends_with("this steward server does not run deployments"),
            "{body}"
        );
    }
    // Other unknown paths do not claim a reason.
    let (status, body) = app
        .call(Method::GET, "/api/v1/deployment", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deployments"),
        "{body}"
    );
    // What it runs still answers, services shown as not deployed.
    let (status, body) = app
        .call(Method::GET, "/api/v1/status", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["services"][0]["state"], "not_deployed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_deployment_is_cancelled_and_rolls_back() {
    // A long verify window keeps the deployment running until cancelled.
    let toml = config(free_port()).replace("verify_window = \"300ms\"", "verify_window = \"5m\"");
    let app = App::with_deployments(&toml).await;
    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    // Cancelled once it acts (before, it would just end `aborted`).
    wait_for_step(&app, &id, "verify_health", "running").await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/deployments/{id}/cancel"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "viewers cannot cancel: {body}"
    );
    let (status, raw) = app
        .call_raw(
            Method::POST,
            &format!("/api/v1/deployments/{id}/cancel"),
            Some(&app.operator),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let body: Cancelling = round_trip("cancelling", &raw);
    assert_eq!(
        (body.deployment.as_str(), body.status.as_str()),
        (id.as_str(), "cancelling")
    );
    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "rolled_back", "{done}");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .ends_with("failed: cancelled"),
        "{done}"
    );
    let (_, status_body) = app
        .call(Method::GET, "/api/v1/status", Some(&app.viewer), None)
        .await;
    assert_eq!(
        status_body["services"][0]["running"], 0,
        "the new replicas were stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_gives_up_leaves_no_lock_and_the_next_deployment_succeeds() {
    // The hook that made a client timeout leak the deploy lock.
    let toml = format!(
        "{}\n[deploy.hooks]\npre_deploy = [\"sleep\", \"0.5\"]\n",
        config(free_port())
    );
    let app = App::with_deployments(&toml).await;
    for (round, after_ms) in [0u64, 1, 5, 20, 100, 700].into_iter().enumerate() {
        let request = crate::support::request(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": format!("1.0.{round}")}).to_string()),
        );
        // The client gives up: its request future is dropped.
        let _ = tokio::time::timeout(Duration::from_millis(after_ms), app.send(request)).await;
    }
    // Whatever was recorded ends by itself, releasing the lock.
    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "2.0.0", "wait_lock_seconds": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let done = wait_final(&app, started["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (_, listed) = app
        .call(
            Method::GET,
            "/api/v1/deployments?limit=100",
            Some(&app.viewer),
            None,
        )
        .await;
    for deployment in listed.as_array().unwrap() {
        let id = deployment["id"].as_str().unwrap();
        let ended = wait_final(&app, id).await;
        assert!(
            matches!(ended["status"].as_str(), Some("succeeded" | "aborted")),
            "{ended}"
        );
    }
    let manager = app.deployments().unwrap();
    assert_eq!(
        steward_deploy::DeployStore::lock_holder(&app.store)
            .await
            .unwrap(),
        None,
        "nobody holds the deploy lock"
    );
    manager.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_of_a_finished_deployment_ends_with_its_last_event() {
    let app = App::with_deployments("").await;
    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().unwrap();
    wait_final(&app, id).await;
    // The whole stream at once: the stream ends with the last event, not
    // when the check for an orphaned deployment next looks (2 s).
    let watching = std::time::Instant::now();
    let (status, raw) = app
        .call_raw(
            Method::GET,
            &format!("/api/v1/deployments/{id}/events"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        String::from_utf8(raw).unwrap().contains("deploy.succeeded"),
        "the stream has the last event"
    );
    assert!(
        watching.elapsed() < Duration::from_secs(1),
        "the stream ended {:?} after it began",
        watching.elapsed()
    );
}
