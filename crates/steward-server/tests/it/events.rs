//! The journal over the API: append, list with filters and cursors, status.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, error_code};

#[tokio::test]
async fn appended_events_are_listed_with_the_callers_actor() {
    let app = App::new().await;
    let body = json!({
        "kind": "ci.build.finished",
        "summary": "build 42 passed",
        "service": "gateway",
        "version": "1.2.0",
        "severity": "warning",
        "payload": {"commit": "3f9c2a1"},
    });
    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&app.operator),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["actor"], "token:deployer",
        "the actor is the token, never the client's claim"
    );
    let id = created["id"].as_i64().unwrap();

    let (status, one) = app
        .call(
            Method::GET,
            &format!("/api/v1/events/{id}"),
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, created);

    let (_, page) = app
        .call(
            Method::GET,
            "/api/v1/events?kind=ci&service=gateway&q=BUILD",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["events"][0]["payload"]["commit"], "3f9c2a1");
    let (_, none) = app
        .call(
            Method::GET,
            "/api/v1/events?kind=ci&actor=token:root",
            Some(&app.viewer),
            None,
        )
        .await;
    assert!(none["events"].as_array().unwrap().is_empty());
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/events/999999",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test]
async fn cursors_page_through_everything() {
    let app = App::new().await;
    for i in 0..7 {
        let body = json!({"kind": "ci.tick", "summary": format!("tick {i}")});
        app.call(
            Method::POST,
            "/api/v1/events",
            Some(&app.operator),
            Some(body),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut uri = "/api/v1/events?kind=ci.tick&limit=3".to_owned();
    loop {
        let (status, page) = app.call(Method::GET, &uri, Some(&app.viewer), None).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["summary"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_i64() {
            Some(cursor) => uri = format!("/api/v1/events?kind=ci.tick&limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("tick {i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn steward_kinds_cannot_be_forged() {
    let app = App::new().await;
    for kind in [
        "deploy.succeeded",
        "audit.request",
        "token.created",
        "steward",
    ] {
        let body = json!({"kind": kind, "summary": "forged"});
        let (status, response) = app
            .call(Method::POST, "/api/v1/events", Some(&app.admin), Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}");
        assert_eq!(error_code(&response), "reserved_kind");
    }
    let body = json!({"kind": "ci.x", "summary": "   "});
    let (status, _) = app
        .call(Method::POST, "/api/v1/events", Some(&app.admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn status_lists_configured_services_and_their_last_event() {
    let app = App::new().await;
    let body = json!({"kind": "ci.note", "summary": "gateway looked slow", "service": "gateway"});
    app.call(
        Method::POST,
        "/api/v1/events",
        Some(&app.operator),
        Some(body),
    )
    .await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/status", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["steward"]["store"], "sqlite");
    assert_eq!(body["steward"]["config"], "test.toml");
    let services = body["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent-worker", "gateway"]);
    assert_eq!(services[0]["replicas"], 2);
    assert_eq!(services[0]["health"], "http /healthz every 5s");
    assert_eq!(services[0]["state"], "not_deployed");
    assert!(services[0]["last_event"].is_null());
    assert_eq!(services[1]["depends_on"], json!(["agent-worker"]));
    assert_eq!(services[1]["last_event"]["summary"], "gateway looked slow");
}
