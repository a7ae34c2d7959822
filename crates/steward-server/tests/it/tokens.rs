//! Token management over the API.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, error_code};

#[tokio::test]
async fn created_tokens_work_once_shown_and_stop_when_revoked() {
    let app = App::new().await;
    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "ci", "role": "operator"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(created["token"]["role"], "operator");
    assert_eq!(created["token"]["created_by"], "token:root");

    let (status, me) = app
        .call(Method::GET, "/api/v1/whoami", Some(&secret), None)
        .await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("ci")));

    let (_, listed) = app
        .call(Method::GET, "/api/v1/tokens", Some(&app.admin), None)
        .await;
    let text = listed.to_string();
    assert!(
        text.contains("\"ci\"") && !text.contains(&secret[4..]),
        "listing never shows secrets"
    );

    let (status, conflict) = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&conflict), "conflict");

    let id = created["token"]["id"].as_str().unwrap();
    let (status, revoked) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, _) = app
        .call(Method::GET, "/api/v1/whoami", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, with_revoked) = app
        .call(
            Method::GET,
            "/api/v1/tokens?include_revoked=true",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(with_revoked.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn the_last_admin_token_cannot_be_revoked() {
    let app = App::new().await;
    let (status, body) = app
        .call(
            Method::DELETE,
            "/api/v1/tokens/root",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "last_admin_token");
    let (status, _) = app
        .call(Method::GET, "/api/v1/whoami", Some(&app.admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "still valid");

    let (_, second) = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "root2", "role": "admin"})),
        )
        .await;
    let second = second["secret"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(Method::DELETE, "/api/v1/tokens/root", Some(&second), None)
        .await;
    assert_eq!(status, StatusCode::OK, "with another admin it can go");
}
