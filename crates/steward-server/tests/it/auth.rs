//! Authentication and roles: 401 without a valid token, 403 with a weaker
//! role, and the probes open to all.

use std::io::Write;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, error_code};

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let app = App::new().await;
    let (status, body) = app.call(Method::GET, "/api/v1/events", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthenticated");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );

    for bad in ["stw_0000", "not-even-a-token", ""] {
        let (status, body) = app
            .call(Method::GET, "/api/v1/status", Some(bad), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}: {body}");
    }
    let (status, _) = app
        .call_raw(Method::GET, "/api/v1/status", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn weaker_roles_get_403_naming_the_needed_role() {
    let app = App::new().await;
    let cases = [
        (Method::GET, "/api/v1/tokens", None, &app.operator, "admin"),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "viewer"})),
            &app.operator,
            "admin",
        ),
        (
            Method::DELETE,
            "/api/v1/tokens/root",
            None,
            &app.viewer,
            "admin",
        ),
        (
            Method::POST,
            "/api/v1/events",
            Some(json!({"kind": "ci.build", "summary": "x"})),
            &app.viewer,
            "operator",
        ),
    ];
    for (method, path, body, token, needed) in cases {
        let (status, response) = app.call(method.clone(), path, Some(token), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {response}");
        assert_eq!(error_code(&response), "forbidden");
        let message = response["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("needs the {needed} role")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn stronger_roles_may_do_what_weaker_ones_may() {
    let app = App::new().await;
    for token in [&app.viewer, &app.operator, &app.admin] {
        let (status, _) = app
            .call(Method::GET, "/api/v1/events", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    for token in [&app.operator, &app.admin] {
        let body = json!({"kind": "ci.build.finished", "summary": "build 42 passed"});
        let (status, _) = app
            .call(Method::POST, "/api/v1/events", Some(token), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn whoami_names_the_token() {
    let app = App::new().await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/whoami", Some(&app.operator), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "deployer");
    assert_eq!(body["role"], "operator");
    assert_eq!(body["actor"], "token:deployer");
}

#[tokio::test]
async fn probes_and_metrics_need_no_token() {
    let app = App::new().await;
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.call_raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("# TYPE steward_http_requests_total counter"),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_store_is_gone() {
    let app = App::new().await;
    app.store.close().await;
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
}

#[tokio::test]
async fn metrics_pass_promtool() {
    let Some(promtool) = std::env::var("STEWARD_TEST_PROMTOOL")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: STEWARD_TEST_PROMTOOL is not set (scripts/test.sh sets it)");
        }
        return;
    };
    let app = App::new().await;
    // Some traffic so that every family has samples.
    app.call(Method::GET, "/api/v1/events", Some(&app.viewer), None)
        .await;
    app.call(Method::GET, "/api/v1/events", None, None).await;
    let (_, body) = app.call_raw(Method::GET, "/metrics", None, None).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("steward_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("steward_store_operation_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("steward_journal_appends_total"), "{text}");
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
