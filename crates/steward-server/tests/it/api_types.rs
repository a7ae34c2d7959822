//! The types of `steward_server::api_types` are the API's answers: a real
//! answer decodes into its type and encodes back to the very same bytes,
//! so that a client printing the decoded value (`--output json`) prints
//! what the server sent, and no field is lost or renamed on the way.

use axum::http::{Method, StatusCode};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::json;
use steward_deploy::{DeployEvent, DeploymentStatus, events::DeployStarted};
use steward_server::api_types::{
    CreatedToken, DatabaseSummary, Deployment, DeploymentSummary, DeploymentView, Event, EventPage,
    Health, Principal, Status, TokenInfo,
};
use steward_test_support::free_port;

use crate::support::App;

/// Decodes `raw` as a `T` and checks that encoding it again gives `raw`
/// byte for byte; returns the decoded value.
pub(crate) fn round_trip<T: Serialize + DeserializeOwned>(what: &str, raw: &[u8]) -> T {
    let text = String::from_utf8_lossy(raw);
    let typed: T = serde_json::from_slice(raw)
        .unwrap_or_else(|err| panic!("{what}: does not decode: {err}\n{text}"));
    let again = serde_json::to_string(&typed).expect("encodes");
    assert_eq!(
        again, text,
        "{what}: decoding and encoding changed the answer"
    );
    typed
}

/// GETs `uri` with `token`, expecting `200`; the raw body.
async fn get(app: &App, uri: &str, token: &str) -> Vec<u8> {
    let (status, raw) = app.call_raw(Method::GET, uri, Some(token), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&raw)
    );
    raw
}

#[tokio::test]
async fn status_token_health_and_event_answers_round_trip_through_their_types() {
    let app = App::new().await;
    // A service with a newest event (the other has none), so that both
    // shapes of the optional fields are in the answer.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&app.operator),
            Some(json!({
                "kind": "ci.build.finished",
                "summary": "build 7 of gateway",
                "service": "gateway",
                "version": "1.2.0",
                "severity": "warning",
                "payload": {"build": 7, "tags": ["a", "b"], "nested": {"z": 1, "a": null}}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let status: Status = round_trip("status", &get(&app, "/api/v1/status", &app.viewer).await);
    let names: Vec<&str> = status.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["agent-worker", "gateway"]);
    assert!(status.services[0].last_event.is_none());
    let last = status.services[1].last_event.as_ref().expect("an event");
    assert_eq!(last.summary, "build 7 of gateway");
    let migrations = status.databases[0].migrations.as_deref();
    assert!(
        migrations.is_some_and(|dir| dir.ends_with("migrations")),
        "{migrations:?}"
    );

    let page: EventPage = round_trip("events", &get(&app, "/api/v1/events", &app.viewer).await);
    assert!(!page.events.is_empty());

    let (status, raw) = app
        .call_raw(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "ci", "role": "operator"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let created: CreatedToken = round_trip("created token", &raw);
    assert_eq!(created.token.name.as_str(), "ci");
    assert!(created.token.last_used_at.is_none());

    // The new token is used once, so that it has a `last_used_at`.
    let whoami: Principal = round_trip(
        "whoami",
        &get(&app, "/api/v1/whoami", &created.secret).await,
    );
    assert_eq!(whoami.token_id, created.token.id);

    let (status, raw) = app
        .call_raw(Method::DELETE, "/api/v1/tokens/ci", Some(&app.admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let revoked: TokenInfo = round_trip("revoked token", &raw);
    assert!(revoked.revoked_at.is_some());

    let tokens: Vec<TokenInfo> = round_trip(
        "tokens",
        &get(&app, "/api/v1/tokens?include_revoked=true", &app.admin).await,
    );
    let ci = tokens.iter().find(|t| t.name.as_str() == "ci").expect("ci");
    assert!(
        ci.last_used_at.is_some() && ci.revoked_at.is_some(),
        "{ci:?}"
    );

    let databases: Vec<DatabaseSummary> = round_trip(
        "databases",
        &get(&app, "/api/v1/databases", &app.viewer).await,
    );
    assert_eq!(databases[0].name, "agents");

    // The probes: `reason` is left out when there is none.
    let (status, raw) = app.call_raw(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let health: Health = round_trip("healthz", &raw);
    assert_eq!((health.status.as_str(), health.reason), ("ok", None));
    let (_, raw) = app.call_raw(Method::GET, "/readyz", None, None).await;
    round_trip::<Health>("readyz", &raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_answers_and_the_started_payload_round_trip_through_their_types() {
    let port = free_port();
    let app = App::with_deployments(&format!(
        r#"
[[services]]
name = "files"
replicas = 2
port = {port}
process.command = ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
health = {{ tcp = true, interval = "200ms", timeout = "150ms", start_period = "20s" }}
rollout = {{ verify_window = "300ms", stop_grace = "3s" }}
"#
    ))
    .await;
    let (status, raw) = app
        .call_raw(
            Method::POST,
            "/api/v1/deployments",
            Some(&app.operator),
            Some(json!({"version": "1.0.0", "reason": "first"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let deployment: Deployment = round_trip("started deployment", &raw);

    // The stream ends with the deployment's last event.
    let stream = get(
        &app,
        &format!("/api/v1/deployments/{}/events", deployment.id),
        &app.viewer,
    )
    .await;
    let events: Vec<Event> = String::from_utf8(stream)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| round_trip("streamed event", data.trim().as_bytes()))
        .collect();
    let started = events
        .iter()
        .find(|event| DeployEvent::parse(event.kind.as_str()) == Some(DeployEvent::Started))
        .expect("a started event");
    let payload = DeployStarted::deserialize(&started.payload).expect("the started payload");
    assert_eq!(
        serde_json::to_value(&payload).unwrap(),
        started.payload,
        "the payload is all in its type"
    );
    assert_eq!(
        (payload.deployment.as_str(), payload.reason.as_deref()),
        (deployment.id.as_str(), Some("first"))
    );
    assert_eq!(
        payload.steps,
        [
            "deploy_lock",
            "pre_checks",
            "update_services:files",
            "verify_health"
        ]
    );

    let view: DeploymentView = round_trip(
        "deployment",
        &get(
            &app,
            &format!("/api/v1/deployments/{}", deployment.id),
            &app.viewer,
        )
        .await,
    );
    assert_eq!(view.deployment.status, DeploymentStatus::Succeeded);
    let list: Vec<DeploymentSummary> = round_trip(
        "deployments",
        &get(&app, "/api/v1/deployments", &app.viewer).await,
    );
    assert_eq!(list.len(), 1);

    // The replicas of a deployed service are in the status.
    let status: Status = round_trip("status", &get(&app, "/api/v1/status", &app.viewer).await);
    let files = &status.services[0];
    assert_eq!(files.instances.len(), 2, "{files:?}");
    assert!(files.instances.iter().all(|replica| replica.in_proxy));
}
