//! The authorization matrix: every operation of the OpenAPI document
//! (which is generated from the router) called without a token and with a
//! token of each role, against the role this table says it needs. An
//! operation missing from the table fails the test, so that a new route
//! cannot ship without an authorization decision.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{App, request};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    /// Anyone, without a token.
    Open,
    Viewer,
    Operator,
    Admin,
}

/// The authorization decision of every operation, by operation id.
const DECISIONS: &[(&str, Needs)] = &[
    ("healthz", Needs::Open),
    ("readyz", Needs::Open),
    ("metrics", Needs::Open),
    ("openapi", Needs::Viewer),
    ("whoami", Needs::Viewer),
    ("status", Needs::Viewer),
    ("list_events", Needs::Viewer),
    ("get_event", Needs::Viewer),
    ("stream_events", Needs::Viewer),
    ("append_event", Needs::Operator),
    ("list_tokens", Needs::Admin),
    ("create_token", Needs::Admin),
    ("revoke_token", Needs::Admin),
    ("list_databases", Needs::Viewer),
    ("migration_status", Needs::Viewer),
    ("migration_plan", Needs::Viewer),
    ("migration_drift", Needs::Viewer),
    ("migration_backups", Needs::Viewer),
    ("migration_apply", Needs::Operator),
    ("migration_baseline", Needs::Operator),
    ("migration_down", Needs::Admin),
    ("migration_repair", Needs::Admin),
    ("migration_restore", Needs::Admin),
    ("list_deployments", Needs::Viewer),
    ("get_deployment", Needs::Viewer),
    ("watch_deployment", Needs::Viewer),
    ("deploy", Needs::Operator),
    ("cancel_deployment", Needs::Operator),
    ("rollback", Needs::Operator),
    ("reload", Needs::Operator),
    ("list_incidents", Needs::Viewer),
    ("open_incident", Needs::Operator),
    ("incident_stats", Needs::Viewer),
    ("get_incident", Needs::Viewer),
    ("act_on_incident", Needs::Operator),
    ("note_incident", Needs::Operator),
    ("incident_step", Needs::Operator),
    ("add_action_item", Needs::Operator),
    ("change_action_item", Needs::Operator),
    ("incident_timeline", Needs::Viewer),
    ("incident_candidates", Needs::Viewer),
    ("incident_postmortem", Needs::Viewer),
];

/// Every operation: (operation id, method, path with dummy parameters).
fn operations() -> Vec<(String, Method, String)> {
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let mut operations = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        // Dummy path parameters: role checks come before anything reads
        // them.
        let path: String = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "dummy"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {template} has no operation id"))
                .to_owned();
            operations.push((id, method, path.clone()));
        }
    }
    operations
}

#[tokio::test]
async fn every_operation_checks_the_role_its_decision_names() {
    let app = App::new().await;
    let callers: [(Option<&str>, Option<Needs>); 4] = [
        (None, None),
        (Some(&app.viewer), Some(Needs::Viewer)),
        (Some(&app.operator), Some(Needs::Operator)),
        (Some(&app.admin), Some(Needs::Admin)),
    ];
    let operations = operations();
    let mut failures = Vec::new();
    for (id, method, path) in &operations {
        let Some((_, needs)) = DECISIONS.iter().find(|(known, _)| known == id) else {
            failures.push(format!(
                "route {method} {path} ({id}) has no authorization decision: add it to DECISIONS"
            ));
            continue;
        };
        for (token, role) in &callers {
            // A body that parses as JSON, so that nothing but the role can
            // refuse the call before the handler runs.
            let body =
                (*method != Method::GET).then(|| Value::Object(Default::default()).to_string());
            let response = app.send(request(method.clone(), path, *token, body)).await;
            // Dropping the response without reading its body: an event
            // stream never ends.
            let status = response.status();
            drop(response);
            let allowed = match (needs, role) {
                (Needs::Open, _) => true,
                (_, None) => false,
                (needs, Some(role)) => role >= needs,
            };
            let caller = role.map_or("no token".to_owned(), |role| format!("{role:?}"));
            let expected = if allowed {
                None
            } else if role.is_none() {
                Some(StatusCode::UNAUTHORIZED)
            } else {
                Some(StatusCode::FORBIDDEN)
            };
            match expected {
                None if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                    failures.push(format!(
                        "{method} {path} ({id}) needs {needs:?}: {caller} was refused with {status}"
                    ));
                }
                Some(expected) if status != expected => failures.push(format!(
                    "{method} {path} ({id}) needs {needs:?}: {caller} got {status}, not {expected}"
                )),
                _ => {}
            }
        }
    }
    for (id, _) in DECISIONS {
        if !operations.iter().any(|(known, _, _)| known == id) {
            failures.push(format!("{id} has a decision but no route"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
