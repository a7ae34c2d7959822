//! The OpenAPI document and the router agree: the same routes, every
//! status an operation answers documented, the role each one needs
//! stated and enforced, and every answer as its schema describes it.

use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use steward_deploy::DeployStore;
use steward_test_support::free_port;

use crate::{
    conformance::{Checker, frames},
    support::{App, request},
};

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

#[tokio::test]
async fn a_server_documents_only_the_routes_it_serves() {
    let everything = serde_json::to_value(steward_server::openapi()).unwrap();
    let app = App::without_deployments().await;
    let (status, served) = app
        .call(Method::GET, "/api/v1/openapi.json", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // The deployment and rules operations are in the document of
    // everything, and only they are missing from this server's.
    let is_deployments = |operation: &Value| {
        operation["tags"].as_array().is_some_and(|tags| {
            tags.contains(&json!("deployments")) || tags.contains(&json!("rules"))
        })
    };
    let (deployments, others): (Vec<_>, Vec<_>) = operations(&everything)
        .into_iter()
        .partition(|(_, _, operation)| is_deployments(operation));
    assert!(deployments.len() >= 6, "{deployments:?}");
    let key = |(template, method, _): &(String, Method, Value)| format!("{method} {template}");
    let mut expected: Vec<String> = others.iter().map(key).collect();
    let mut listed: Vec<String> = operations(&served).iter().map(key).collect();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);
    let tags = |document: &Value| -> Vec<String> {
        document["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| tag["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(tags(&everything).contains(&"deployments".to_owned()));
    assert!(
        !tags(&served).contains(&"deployments".to_owned()),
        "{:?}",
        tags(&served)
    );
    let schemas = |document: &Value| {
        document["components"]["schemas"]
            .as_object()
            .unwrap()
            .clone()
    };
    assert!(schemas(&everything).contains_key("DeployBody"));
    assert!(!schemas(&served).contains_key("DeployBody"));

    // What it lists it serves (protected routes answer 401 without a
    // token); what it does not list it does not.
    for (template, path, method) in documented(&served) {
        let (status, body) = app.call(method.clone(), &path, None, None).await;
        assert_ne!(status, StatusCode::NOT_FOUND, "{method} {template}: {body}");
    }
    for (template, method, _) in &deployments {
        let path = concrete(template, "1");
        let (status, body) = app
            .call(method.clone(), &path, Some(&app.admin), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
}

/// Every operation: (path template, method, operation).
fn operations(document: &Value) -> Vec<(String, Method, Value)> {
    let mut operations = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations.push((template.clone(), method, operation.clone()));
        }
    }
    operations
}

/// The role an operation's security requirement names (`None`: open).
fn documented_role(operation: &Value) -> Option<&str> {
    let security = operation.get("security")?;
    let scopes = security[0]["token"]
        .as_array()
        .unwrap_or_else(|| panic!("a security requirement without the token scheme: {security}"));
    assert_eq!(scopes.len(), 1, "one role per operation: {security}");
    scopes[0].as_str()
}

fn documents(operation: &Value, status: u16) -> bool {
    operation["responses"][status.to_string()].is_object()
}

/// `template` with its parameters filled in: the configured database of
/// the test configuration, an event id, or a made-up id.
fn concrete(template: &str, event_id: &str) -> String {
    template
        .replace("{name}", "agents")
        .replace("/events/{id}", &format!("/events/{event_id}"))
        .replace("{id}", "dep_000000000000")
        .replace("{step}", event_id)
        .replace("{item}", "item")
}

#[tokio::test]
async fn every_reference_resolves() {
    fn walk(value: &Value, document: &Value, unresolved: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    let name = reference
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or(reference);
                    if !document["components"]["schemas"][name].is_object() {
                        unresolved.push(reference.clone());
                    }
                }
                for child in object.values() {
                    walk(child, document, unresolved);
                }
            }
            Value::Array(items) => {
                for child in items {
                    walk(child, document, unresolved);
                }
            }
            _ => {}
        }
    }
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let mut unresolved = Vec::new();
    walk(&document, &document, &mut unresolved);
    assert!(unresolved.is_empty(), "unresolvable: {unresolved:?}");
}

#[tokio::test]
async fn every_operation_documents_the_answers_it_shares() {
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let error_body = json!({"$ref": "#/components/schemas/ErrorBody"});
    for (template, method, operation) in operations(&document) {
        let what = format!("{method} {template}");
        let answer = &operation["responses"]["429"];
        assert!(
            answer["headers"]["Retry-After"].is_object(),
            "{what}: {answer}"
        );
        assert_eq!(
            answer["content"]["application/json"]["schema"], error_body,
            "{what}"
        );
        let Some(role) = documented_role(&operation) else {
            assert!(OPEN.contains(&template.as_str()), "{what} names no role");
            assert!(!documents(&operation, 401), "{what} is open");
            continue;
        };
        assert!(
            ["viewer", "operator", "admin"].contains(&role),
            "{what}: {role}"
        );
        let has_body = operation["requestBody"].is_object();
        let has_parameters = operation["parameters"]
            .as_array()
            .is_some_and(|parameters| !parameters.is_empty());
        let mut expected = vec![401, 429, 500, 503];
        if role != "viewer" {
            expected.push(403);
        }
        if has_body || has_parameters {
            expected.push(400);
        }
        if has_body {
            expected.extend([415, 422]);
        }
        for status in expected {
            assert_eq!(
                operation["responses"][status.to_string()]["content"]["application/json"]["schema"],
                error_body,
                "{what} documents {status}"
            );
        }
        assert_eq!(
            documents(&operation, 403),
            role != "viewer",
            "{what}: 403 is documented exactly when a viewer token is refused"
        );
    }
}

/// Sends `request` and returns its status, media type and, for JSON, its
/// body; event streams are not read (they do not end).
async fn answer(
    app: &App,
    request: axum::http::Request<axum::body::Body>,
) -> (StatusCode, String, Option<Value>) {
    let response = app.send(request).await;
    let status = response.status();
    let media_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .unwrap_or_default();
    if media_type != "application/json" {
        return (status, media_type, None);
    }
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        media_type,
        Some(serde_json::from_slice(&bytes).unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_documented_and_roles_enforced_as_documented() {
    let app = App::new().await;
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let checker = Checker::new(&document);
    let mut failures = Vec::new();
    for (template, method, operation) in operations(&document) {
        let Some(role) = documented_role(&operation) else {
            continue;
        };
        let path = concrete(&template, "1");
        let has_body = operation["requestBody"].is_object();
        let json_body = || has_body.then(|| "{}".to_owned());
        let mut calls: Vec<(String, axum::http::Request<axum::body::Body>)> = vec![
            (
                "no token".into(),
                request(method.clone(), &path, None, json_body()),
            ),
            (
                "viewer token".into(),
                request(method.clone(), &path, Some(&app.viewer), json_body()),
            ),
            (
                "operator token".into(),
                request(method.clone(), &path, Some(&app.operator), json_body()),
            ),
        ];
        if has_body {
            calls.push((
                "a body that is not JSON".into(),
                request(
                    method.clone(),
                    &path,
                    Some(&app.admin),
                    Some("{not json".into()),
                ),
            ));
            calls.push((
                "a body without a content type".into(),
                axum::http::Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                    .body(axum::body::Body::from("{}"))
                    .unwrap(),
            ));
            calls.push((
                "a body that is an array".into(),
                request(method.clone(), &path, Some(&app.admin), Some("[]".into())),
            ));
            calls.push((
                "a body with an unknown field".into(),
                request(
                    method.clone(),
                    &path,
                    Some(&app.admin),
                    Some(r#"{"surely_unknown": 1}"#.into()),
                ),
            ));
        }
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if parameters
            .iter()
            .any(|parameter| parameter["in"] == "query")
        {
            calls.push((
                "an unknown query parameter".into(),
                request(
                    method.clone(),
                    &format!("{path}?surely_unknown=1"),
                    Some(&app.admin),
                    None,
                ),
            ));
        }
        if parameters
            .iter()
            .any(|parameter| parameter["in"] == "path" && parameter["schema"]["type"] == "integer")
        {
            calls.push((
                "a path parameter that is not a number".into(),
                request(
                    method.clone(),
                    &concrete(&template, "one"),
                    Some(&app.admin),
                    None,
                ),
            ));
        }
        for (case, request) in calls {
            let what = format!("{method} {template} with {case}");
            let (status, media_type, body) = answer(&app, request).await;
            let refused = match case.as_str() {
                "no token" => Some(StatusCode::UNAUTHORIZED),
                "viewer token" if role != "viewer" => Some(StatusCode::FORBIDDEN),
                "operator token" if role == "admin" => Some(StatusCode::FORBIDDEN),
                "viewer token" | "operator token" => None,
                "a body without a content type" => Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                "a body with an unknown field" | "a body that is an array" => {
                    Some(StatusCode::UNPROCESSABLE_ENTITY)
                }
                _ => Some(StatusCode::BAD_REQUEST),
            };
            match refused {
                Some(expected) if status != expected => {
                    failures.push(format!("{what}: {status}, not {expected}"));
                }
                None if status == StatusCode::FORBIDDEN => {
                    failures.push(format!(
                        "{what}: refused although the document names {role}"
                    ));
                }
                _ => {}
            }
            if !documents(&operation, status.as_u16()) {
                failures.push(format!("{what}: {status} is not documented"));
                continue;
            }
            if !operation["responses"][status.as_u16().to_string()]["content"][&media_type]
                .is_object()
            {
                failures.push(format!(
                    "{what}: {status} answered as `{media_type}`, which is not documented"
                ));
                continue;
            }
            if let Some(body) = body {
                let schema = checker.response_schema(
                    method.as_str(),
                    &template,
                    status.as_u16(),
                    "application/json",
                );
                let problems = checker.problems(schema, &body);
                if !problems.is_empty() {
                    failures.push(format!("{what}: {status} {body}: {}", problems.join("; ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Reads an event stream until it ends, `max` frames arrived or it stayed
/// silent for `quiet`.
async fn read_frames(app: &App, path: &str, max: usize, quiet: Duration) -> Vec<Value> {
    let response = app
        .send(request(Method::GET, path, Some(&app.viewer), None))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let mut body = response.into_body();
    let mut text = String::new();
    while frames(&text).len() < max {
        match tokio::time::timeout(quiet, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    text.push_str(std::str::from_utf8(&data).unwrap());
                }
            }
            Ok(Some(Err(err))) => panic!("{path}: {err}"),
            Ok(None) | Err(_) => break,
        }
    }
    frames(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_their_documented_schemas() {
    let port = free_port();
    let app = App::with_deployments(&format!(
        r#"
[[services]]
name = "files"
replicas = 1
port = {port}
env = {{ API_KEY = "secret" }}
process.command = ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
health = {{ tcp = true, interval = "200ms", timeout = "150ms", start_period = "20s" }}
rollout = {{ verify_window = "200ms", stop_grace = "3s" }}
"#
    ))
    .await;
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let checker = Checker::new(&document);
    let check = |method: Method, template: &str, status: StatusCode, body: &Value| {
        let schema = checker.response_schema(
            method.as_str(),
            template,
            status.as_u16(),
            "application/json",
        );
        checker.assert_conforms(&format!("{method} {template} {status}"), schema, body);
    };
    let call = |method: Method, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.call(method, &path, Some(&app.admin), body).await }
    };

    for (method, path, template) in [
        (Method::GET, "/api/v1/status", "/api/v1/status"),
        (Method::GET, "/api/v1/whoami", "/api/v1/whoami"),
        (
            Method::GET,
            "/api/v1/tokens?include_revoked=true",
            "/api/v1/tokens",
        ),
        (Method::GET, "/api/v1/databases", "/api/v1/databases"),
        (Method::GET, "/healthz", "/healthz"),
        (Method::GET, "/readyz", "/readyz"),
    ] {
        let (status, body) = call(method.clone(), path.to_owned(), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        check(method, template, status, &body);
    }

    let (status, created) = call(
        Method::POST,
        "/api/v1/tokens".into(),
        Some(json!({"name": "ci", "role": "viewer"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    check(Method::POST, "/api/v1/tokens", status, &created);
    let (status, revoked) = call(Method::DELETE, "/api/v1/tokens/ci".into(), None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    check(Method::DELETE, "/api/v1/tokens/{id}", status, &revoked);

    // An event with a payload and one without (`null`).
    for event in [
        json!({"kind": "ci.build", "summary": "built", "payload": {"commit": "abc"}}),
        json!({"kind": "ci.build", "summary": "built again", "service": "files", "severity": "warning"}),
    ] {
        let (status, stored) = call(Method::POST, "/api/v1/events".into(), Some(event)).await;
        assert_eq!(status, StatusCode::CREATED, "{stored}");
        check(Method::POST, "/api/v1/events", status, &stored);
        let (status, read) = call(
            Method::GET,
            format!("/api/v1/events/{}", stored["id"]),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{read}");
        check(Method::GET, "/api/v1/events/{id}", status, &read);
    }

    let (status, plan) = call(
        Method::POST,
        "/api/v1/deployments".into(),
        Some(json!({"version": "1.0.0", "dry_run": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    check(Method::POST, "/api/v1/deployments", status, &plan);
    let (status, started) = call(
        Method::POST,
        "/api/v1/deployments".into(),
        Some(json!({"version": "1.0.0"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    check(Method::POST, "/api/v1/deployments", status, &started);
    let id = started["id"].as_str().unwrap().to_owned();

    // The watch stream ends with the deployment's last event.
    let watched = read_frames(
        &app,
        &format!("/api/v1/deployments/{id}/events"),
        usize::MAX,
        Duration::from_secs(60),
    )
    .await;
    let frames_schema = checker.response_schema(
        "GET",
        "/api/v1/deployments/{id}/events",
        200,
        "text/event-stream",
    );
    assert!(watched.len() > 3, "{watched:?}");
    for frame in &watched {
        checker.assert_conforms("a deployment's event frame", frames_schema, frame);
    }
    let (status, done) = call(Method::GET, format!("/api/v1/deployments/{id}"), None).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (StatusCode::OK, Some("succeeded")),
        "{done}"
    );
    check(Method::GET, "/api/v1/deployments/{id}", status, &done);

    let (status, listed) = call(Method::GET, "/api/v1/deployments".into(), None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    check(Method::GET, "/api/v1/deployments", status, &listed);
    let (status, page) = call(
        Method::GET,
        "/api/v1/events?limit=1000&since=1y".into(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    check(Method::GET, "/api/v1/events", status, &page);

    let followed = read_frames(
        &app,
        "/api/v1/events/stream?after=0",
        20,
        Duration::from_secs(5),
    )
    .await;
    let frames_schema =
        checker.response_schema("GET", "/api/v1/events/stream", 200, "text/event-stream");
    assert_eq!(followed.len(), 20, "{followed:?}");
    for frame in &followed {
        checker.assert_conforms("a journal event frame", frames_schema, frame);
    }

    // A second release, cancelled at once (or already over).
    let (status, second) = call(
        Method::POST,
        "/api/v1/deployments".into(),
        Some(json!({"version": "1.1.0"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let second_id = second["id"].as_str().unwrap();
    let (status, cancelled) = call(
        Method::POST,
        format!("/api/v1/deployments/{second_id}/cancel"),
        None,
    )
    .await;
    check(
        Method::POST,
        "/api/v1/deployments/{id}/cancel",
        status,
        &cancelled,
    );
    read_frames(
        &app,
        &format!("/api/v1/deployments/{second_id}/events"),
        usize::MAX,
        Duration::from_secs(60),
    )
    .await;
    let (status, rollback) = call(
        Method::POST,
        "/api/v1/rollback".into(),
        Some(json!({"reason": "test"})),
    )
    .await;
    check(Method::POST, "/api/v1/rollback", status, &rollback);

    // A deployment that no steward process runs: it is shown orphaned,
    // and its stream ends with an `orphaned` frame.
    let mut orphan: steward_deploy::Deployment = serde_json::from_value(done.clone()).unwrap();
    orphan.id = "dep_0123456789ab".to_owned();
    orphan.status = steward_deploy::DeploymentStatus::Running;
    orphan.finished_at = None;
    orphan.engine = None;
    app.store.save(&orphan, Vec::new()).await.unwrap();
    let (status, shown) = call(
        Method::GET,
        format!("/api/v1/deployments/{}", orphan.id),
        None,
    )
    .await;
    assert_eq!(
        (status, &shown["orphaned"]),
        (StatusCode::OK, &json!(true)),
        "{shown}"
    );
    check(Method::GET, "/api/v1/deployments/{id}", status, &shown);
    let watched = read_frames(
        &app,
        &format!("/api/v1/deployments/{}/events", orphan.id),
        usize::MAX,
        Duration::from_secs(10),
    )
    .await;
    let frames_schema = checker.response_schema(
        "GET",
        "/api/v1/deployments/{id}/events",
        200,
        "text/event-stream",
    );
    assert_eq!(
        watched.last().map(|frame| &frame["event"]),
        Some(&json!("orphaned")),
        "{watched:?}"
    );
    for frame in &watched {
        checker.assert_conforms("an orphaned deployment's frame", frames_schema, frame);
    }

    app.deployments().unwrap().stop_all().await.unwrap();
}

/// The `pattern` of `property` of the component schema `component`.
fn pattern(document: &Value, component: &str, property: &str) -> regex::Regex {
    let pattern = document["components"]["schemas"][component]["properties"][property]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{component}.{property} has no pattern"));
    regex::Regex::new(pattern).unwrap()
}

#[tokio::test]
async fn documented_patterns_accept_what_the_server_accepts() {
    let document = serde_json::to_value(steward_server::openapi()).unwrap();

    // A summary must have a character that `str::trim` keeps.
    let summary = pattern(&document, "AppendEvent", "summary");
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        assert_eq!(
            summary.is_match(&c.to_string()),
            !c.is_whitespace(),
            "U+{:04X}",
            c as u32
        );
    }

    // Migration versions: everything the pattern matches parses.
    let version = pattern(&document, "BaselineRequest", "version");
    for text in [
        "1",
        "1.2.3",
        "2019-08-14-123456",
        "1_0",
        "007",
        "123456789012345678901234567890",
        "",
        "v1",
        "1..2",
        "1.",
        "-1",
        "1.a",
        " 1",
    ] {
        assert_eq!(
            version.is_match(text),
            steward_migrate::MigrationVersion::parse(text).is_some(),
            "{text:?}"
        );
    }

    // "That long ago": everything the pattern matches parses.
    let list = &document["paths"]["/api/v1/events"]["get"]["parameters"];
    let since = list
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "since")
        .unwrap();
    let ago = &since["schema"]["anyOf"][1];
    let ago_pattern = regex::Regex::new(ago["pattern"].as_str().unwrap()).unwrap();
    for text in [
        "0",
        "1s",
        "15m",
        "1h30m",
        "1s500ms",
        "1m1ms",
        "1y2w3d4h5m6s7ms",
        "99999999999999999999999y",
        "",
        "5",
        "y",
        "00",
        "1s1m",
        "1m1m",
        "1ms1s",
        "-1s",
        "1.5h",
    ] {
        let documented = !text.is_empty() && ago_pattern.is_match(text);
        assert_eq!(
            documented,
            steward_core::parse_duration_saturating(text).is_ok(),
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn times_long_ago_and_blank_summaries_are_answered_as_documented() {
    let app = App::new().await;
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/events?since=99999999999999999999999y&until=600000000y",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "longer ago than time goes: {body}");
    assert_eq!(body["events"], json!([]), "nothing before the beginning");
    for (summary, expected) in [
        ("\u{85}\u{3000} ", StatusCode::UNPROCESSABLE_ENTITY),
        ("\u{feff}", StatusCode::CREATED),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/events",
                Some(&app.operator),
                Some(json!({"kind": "ci.note", "summary": summary})),
            )
            .await;
        assert_eq!(status, expected, "{summary:?}: {body}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&app.operator),
            Some(json!({"kind": "ci.note", "summary": "s", "payload": [1]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
