//! Every mutating call is journaled with its actor, denied ones included.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use steward_store::EventQuery;

use crate::support::App;

async fn audit_events(app: &App) -> Vec<steward_core::Event> {
    let page = app
        .store
        .events(&EventQuery {
            kind: Some("audit.request".into()),
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    page.events
}

#[tokio::test]
async fn every_mutating_route_is_journaled_with_its_actor() {
    let app = App::new().await;
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    // A valid request for every mutating operation in the document.
    let mut mutations: Vec<(Method, String, Option<Value>)> = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            if method == Method::GET {
                continue;
            }
            let (path, body) = match (method.as_str(), template.as_str()) {
                ("POST", "/api/v1/events") => (
                    template.clone(),
                    Some(json!({"kind": "ci.deploy.requested", "summary": "ci asked"})),
                ),
                ("POST", "/api/v1/tokens") => (
                    template.clone(),
                    Some(json!({"name": "temp", "role": "viewer"})),
                ),
                ("DELETE", "/api/v1/tokens/{id}") => ("/api/v1/tokens/deployer".to_owned(), None),
                other => panic!("no test request for mutating route {other:?}; add one here"),
            };
            mutations.push((method, path, body));
        }
    }
    assert_eq!(mutations.len(), 3, "{mutations:?}");
    for (method, path, body) in &mutations {
        let (status, response) = app
            .call(method.clone(), path, Some(&app.admin), body.clone())
            .await;
        assert!(status.is_success(), "{method} {path}: {status} {response}");
    }
    let audited = audit_events(&app).await;
    for (method, path, _) in &mutations {
        let event = audited
            .iter()
            .find(|e| e.payload["method"] == method.as_str() && e.payload["path"] == path.as_str())
            .unwrap_or_else(|| panic!("{method} {path} was not journaled"));
        assert_eq!(event.actor.as_str(), "token:root");
        assert!(event.payload["status"].as_u64().unwrap() < 300);
        assert!(
            event.payload["request_id"].is_string(),
            "{:?}",
            event.payload
        );
    }
    // Domain events name the actor too.
    let created = app
        .store
        .events(&EventQuery {
            kind: Some("token".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = created
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("token.revoked", "token:root"),
            ("token.created", "token:root")
        ]
    );
}

#[tokio::test]
async fn denied_mutations_are_journaled_too() {
    let app = App::new().await;
    let body = json!({"kind": "ci.x", "summary": "y"});
    let (status, _) = app
        .call(Method::POST, "/api/v1/events", None, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&app.viewer),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let audited = audit_events(&app).await;
    let outcomes: Vec<(&str, u64)> = audited
        .iter()
        .map(|e| (e.actor.as_str(), e.payload["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(outcomes, [("token:watcher", 403), ("anonymous", 401)]);
    assert!(
        audited
            .iter()
            .all(|e| e.severity == steward_core::Severity::Warning)
    );
}

#[tokio::test]
async fn reads_are_not_journaled() {
    let app = App::new().await;
    for path in ["/api/v1/events", "/api/v1/status", "/api/v1/whoami"] {
        app.call(Method::GET, path, Some(&app.viewer), None).await;
    }
    assert!(audit_events(&app).await.is_empty());
}
