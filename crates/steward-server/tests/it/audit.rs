//! Every mutating call of a token is journaled with its actor, refused
//! ones included.

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

/// The requests below that are refused (404) and journaled all the same:
/// nothing runs to cancel, no release to roll back to.
fn refused(path: &str) -> bool {
    path.contains("dep_000000000000")
        || path.ends_with("/rollback")
        || path.contains("inc-00000000")
}

#[tokio::test]
async fn every_mutating_route_is_journaled_with_its_actor() {
    let app = App::new().await;
    // A valid request for every mutating operation, in an order in which
    // each succeeds. The document must not have any other.
    let mutations: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/deployments",
            Some(json!({"version": "1.0.0", "dry_run": true})),
        ),
        // Refusals are journaled like successes: nothing runs to cancel
        // and no release to roll back to.
        (
            Method::POST,
            "/api/v1/deployments/dep_000000000000/cancel",
            None,
        ),
        (Method::POST, "/api/v1/rollback", Some(json!({}))),
        (Method::POST, "/api/v1/reload", Some(json!({}))),
        (
            Method::POST,
            "/api/v1/events",
            Some(json!({"kind": "ci.deploy.requested", "summary": "ci asked"})),
        ),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "temp", "role": "viewer"})),
        ),
        (Method::DELETE, "/api/v1/tokens/deployer", None),
        (
            Method::POST,
            "/api/v1/databases/agents/baseline",
            Some(json!({"version": "0"})),
        ),
        (
            Method::POST,
            "/api/v1/databases/agents/apply",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/databases/agents/down",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/databases/agents/repair",
            Some(json!({})),
        ),
        (Method::POST, "/api/v1/databases/agents/restore", None),
        (
            Method::POST,
            "/api/v1/incidents",
            Some(json!({"title": "checkout is slow", "severity": "SEV3"})),
        ),
        // an incident that does not exist: refused, journaled all the same
        (
            Method::POST,
            "/api/v1/incidents/inc-00000000/actions",
            Some(json!({"action": "acknowledge"})),
        ),
        (
            Method::POST,
            "/api/v1/incidents/inc-00000000/notes",
            Some(json!({"text": "a note"})),
        ),
        (
            Method::POST,
            "/api/v1/incidents/inc-00000000/steps/1",
            Some(json!({"command": "approve"})),
        ),
        (
            Method::POST,
            "/api/v1/incidents/inc-00000000/action_items",
            Some(json!({"title": "an item"})),
        ),
        (
            Method::PATCH,
            "/api/v1/incidents/inc-00000000/action_items/item",
            Some(json!({"status": "done"})),
        ),
    ];
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let mut documented = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method != "get" {
                documented.push(format!("{} {}", method.to_uppercase(), template));
            }
        }
    }
    let mut covered: Vec<String> = mutations
        .iter()
        .map(|(method, path, _)| {
            let template = path
                .replace("/deployments/dep_000000000000/", "/deployments/{id}/")
                .replace("/tokens/deployer", "/tokens/{id}")
                .replace("/databases/agents/", "/databases/{name}/")
                .replace("/incidents/inc-00000000/", "/incidents/{id}/")
                .replace("/steps/1", "/steps/{step}")
                .replace("/action_items/item", "/action_items/{item}");
            format!("{method} {template}")
        })
        .collect();
    documented.sort();
    covered.sort();
    assert_eq!(
        covered, documented,
        "every mutating route needs a request here"
    );

    for (method, path, body) in &mutations {
        let body = match (body, *path) {
            (None, "/api/v1/databases/agents/restore") => {
                let (_, backups) = app
                    .call(
                        Method::GET,
                        "/api/v1/databases/agents/backups",
                        Some(&app.admin),
                        None,
                    )
                    .await;
                Some(json!({"backup": backups[0]["id"]}))
            }
            (body, _) => body.clone(),
        };
        let (status, response) = app.call(method.clone(), path, Some(&app.admin), body).await;
        if refused(path) {
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {response}");
        } else {
            assert!(status.is_success(), "{method} {path}: {status} {response}");
        }
    }
    let audited = audit_events(&app).await;
    for (method, path, _) in &mutations {
        let event = audited
            .iter()
            .find(|e| e.payload["method"] == method.as_str() && e.payload["path"] == *path)
            .unwrap_or_else(|| panic!("{method} {path} was not journaled"));
        assert_eq!(event.actor.as_str(), "token:root");
        assert_eq!(
            event.payload["status"].as_u64().unwrap() < 300,
            !refused(path),
            "{path}"
        );
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

/// Refusals of a token (403) are journaled; requests without a valid
/// token (401) are only counted and summarised (see `edge`).
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
    assert_eq!(outcomes, [("token:watcher", 403)]);
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
