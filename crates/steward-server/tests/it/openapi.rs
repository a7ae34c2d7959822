//! The OpenAPI document and the router serve exactly the same routes.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::App;

/// Routes open to everyone; all others need a token.
const OPEN: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// (path, method) pairs of the document, with `{param}`s filled in.
fn documented(document: &Value) -> Vec<(String, String, Method)> {
    let mut routes = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        let concrete = template.replace("{id}", "1");
        for method in METHODS {
            if item.get(method.as_str().to_lowercase()).is_some() {
                routes.push((template.clone(), concrete.clone(), method));
            }
        }
    }
    routes
}

#[tokio::test]
async fn the_document_lists_every_route_the_router_serves() {
    let app = App::new().await;
    let (status, document) = app
        .call(Method::GET, "/api/v1/openapi.json", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        document,
        serde_json::to_value(steward_server::openapi()).unwrap(),
        "served document is the built one"
    );
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let routes = documented(&document);
    assert!(routes.len() >= 12, "{routes:?}");
    let mut operation_ids: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| {
            operation["operationId"]
                .as_str()
                .expect("every operation has an id")
        })
        .collect();
    operation_ids.sort_unstable();
    let count = operation_ids.len();
    operation_ids.dedup();
    assert_eq!(operation_ids.len(), count, "operation ids are unique");

    // Every documented operation is served: without a token, protected
    // ones answer 401 (the route exists and is guarded), open ones anything
    // but 401/404/405.
    for (template, path, method) in &routes {
        let (status, body) = app.call(method.clone(), path, None, None).await;
        if OPEN.contains(&template.as_str()) {
            assert!(
                ![
                    StatusCode::UNAUTHORIZED,
                    StatusCode::NOT_FOUND,
                    StatusCode::METHOD_NOT_ALLOWED
                ]
                .contains(&status),
                "{method} {path}: {status}"
            );
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            let security = &document["paths"][template][method.as_str().to_lowercase()]["security"];
            assert!(
                security.is_array(),
                "{method} {template} documents its bearer token"
            );
        }
    }

    // Every method the document does not list on a path is refused with
    // 405, so the router serves nothing undocumented there.
    for (template, item) in document["paths"].as_object().unwrap() {
        let path = template.replace("{id}", "1");
        for method in METHODS {
            if item.get(method.as_str().to_lowercase()).is_none() {
                let (status, _) = app
                    .call(method.clone(), &path, Some(&app.admin), None)
                    .await;
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented"
                );
            }
        }
    }

    // Paths the document does not list are not served.
    for path in [
        "/api/v1",
        "/api/v1/events/1/extra",
        "/api/v2/events",
        "/api/v1/token",
        "/admin",
        "/",
    ] {
        let (status, _) = app.call(Method::GET, path, Some(&app.admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
