//! Errors answer JSON with the right status and kind; bad input names the
//! field, and internal details stay in the log.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, error_code};

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = App::new().await;
    let (status, body) = app.call(Method::GET, "/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /nope")
    );
    let (status, body) = app.call(Method::PUT, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&body), "method_not_allowed");
}

#[tokio::test]
async fn malformed_bodies_are_400_and_invalid_fields_422() {
    let app = App::new().await;
    let (status, body) = app
        .call_raw(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some("{\"name\": ".into()),
        )
        .await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "malformed_json");

    let cases = [
        (
            json!({"name": "ok", "role": "root"}),
            "role: unknown variant `root`",
        ),
        (
            json!({"name": "Bad Name", "role": "viewer"}),
            "name: invalid name `Bad Name`",
        ),
        (json!({"name": "ok"}), "missing field `role`"),
        (
            json!({"name": "ok", "role": "viewer", "rol": 1}),
            "unknown field `rol`",
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/tokens",
                Some(&app.admin),
                Some(request.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{request}");
        assert_eq!(error_code(&body), "invalid_body");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{request}: {message}");
    }

    let (status, body) = app
        .call_raw(Method::POST, "/api/v1/events", Some(&app.operator), None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn invalid_query_parameters_name_the_parameter() {
    let app = App::new().await;
    let cases = [
        ("/api/v1/events?limit=lots", "limit"),
        (
            "/api/v1/events?limit=5000",
            "limit: must be between 1 and 1000",
        ),
        ("/api/v1/events?since=yesterday", "since"),
        ("/api/v1/events?order=sideways", "order"),
        ("/api/v1/events?kinds=deploy", "unknown field `kinds`"),
    ];
    for (uri, expected) in cases {
        let (status, body) = app.call(Method::GET, uri, Some(&app.viewer), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(error_code(&body), "invalid_query");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{uri}: {message}");
    }
}

#[tokio::test]
async fn internal_errors_do_not_leak_details() {
    let app = App::new().await;
    app.store.close().await;
    // Authentication itself now fails on the closed store.
    let (status, body) = app
        .call(Method::GET, "/api/v1/status", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["kind"], "unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.to_lowercase().contains("pool") && !message.contains("sqlite"),
        "{message}"
    );
}

#[tokio::test]
async fn error_bodies_say_what_kind_of_error_they_are() {
    let app = App::new().await;
    let cases = [
        (Method::GET, "/nope", None, None, "not_found"),
        (Method::GET, "/api/v1/whoami", None, None, "unauthenticated"),
        (
            Method::GET,
            "/api/v1/tokens",
            Some(&app.viewer),
            None,
            "forbidden",
        ),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "Bad Name", "role": "viewer"})),
            "invalid_input",
        ),
        (
            Method::GET,
            "/api/v1/events?limit=lots",
            Some(&app.viewer),
            None,
            "invalid_input",
        ),
        (
            Method::DELETE,
            "/api/v1/tokens/root",
            Some(&app.admin),
            None,
            "conflict",
        ),
    ];
    for (method, uri, token, body, kind) in cases {
        let (status, answer) = app
            .call(method.clone(), uri, token.map(String::as_str), body)
            .await;
        assert_eq!(
            answer["error"]["kind"], kind,
            "{method} {uri}: {status} {answer}"
        );
    }
}

#[tokio::test]
async fn database_errors_reach_viewers_as_a_code_not_the_driver_text() {
    let app = App::from_toml(
        r#"
[server]
listen = "127.0.0.1:0"

[[databases]]
name = "agents"
url = "postgres://steward:hunter2@127.0.0.1:1/agents"
migrations = "migrations"
"#,
    )
    .await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/databases", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let database = &body[0];
    assert_eq!(database["name"], "agents");
    let message = database["error"].as_str().expect("an error");
    assert!(
        message.ends_with("the server log has the details"),
        "{message}"
    );
    for secret in ["127.0.0.1", "hunter2", "refused", "os error"] {
        assert!(!message.contains(secret), "{message}");
    }
    assert!(
        database["error_code"]
            .as_str()
            .is_some_and(|code| !code.is_empty()),
        "{body}"
    );
}
