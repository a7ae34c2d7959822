//! What anyone on the network can do to the API: requests without a valid
//! token are counted and summarised, not journaled one by one; journaled
//! strings are capped; each client address is rate limited; each token
//! holds a bounded number of event streams; metric labels stay few.

use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use steward_core::Event;
use steward_store::EventQuery;

use crate::support::{App, error_code, from_addr, request};

async fn events_of_kind(app: &App, kind: &str) -> Vec<Event> {
    app.store
        .events(&EventQuery {
            kind: Some(kind.into()),
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap()
        .events
}

async fn metrics(app: &App) -> String {
    let (status, body) = app.call_raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(body).unwrap()
}

/// The value of the sample `series` (name and labels as exposed).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn anonymous_refusals_are_counted_and_summarised_not_journaled() {
    let app = App::new().await;
    let huge_id = "x".repeat(20_000);
    for n in 0..20 {
        let mut denied = from_addr(
            request(
                Method::POST,
                "/api/v1/tokens",
                None,
                Some(json!({"name": "evil", "role": "admin"}).to_string()),
            ),
            if n % 2 == 0 {
                "192.0.2.1:5000"
            } else {
                "192.0.2.2:5000"
            },
        );
        denied
            .headers_mut()
            .insert("x-request-id", huge_id.parse().unwrap());
        let response = app.send(denied).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app
        .call(Method::POST, "/api/v1/events", Some("not-a-token"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert!(
        events_of_kind(&app, "audit").await.is_empty(),
        "no event per anonymous request"
    );
    let exposed = metrics(&app).await;
    assert_eq!(
        sample(
            &exposed,
            "steward_http_unauthenticated_requests_total{reason=\"missing_token\"}"
        ),
        Some(20.0),
        "{exposed}"
    );
    assert_eq!(
        sample(
            &exposed,
            "steward_http_unauthenticated_requests_total{reason=\"invalid_token\"}"
        ),
        Some(1.0)
    );

    // One summary once the interval has passed (on Tokio's clock: the
    // store then works in real time again).
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(61)).await;
    tokio::time::resume();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let summary = loop {
        if let Some(event) = events_of_kind(&app, "audit.denied").await.pop() {
            break event;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no audit.denied event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(summary.payload["count"], 21);
    assert_eq!(summary.payload["clients"], 2);
    assert_eq!(summary.payload["other_clients_requests"], 1);
    assert_eq!(summary.payload["top_routes"][0]["route"], "/api/v1/tokens");
    assert_eq!(summary.payload["top_routes"][0]["count"], 20);
    assert_eq!(summary.severity, steward_core::Severity::Warning);
    assert!(
        serde_json::to_string(&summary).unwrap().len() < 2048,
        "{summary:?}"
    );
    assert_eq!(events_of_kind(&app, "audit").await.len(), 1);
}

#[tokio::test]
async fn journaled_request_strings_are_capped() {
    let app = App::new().await;
    let long_id = format!("tok_{}", "%C3%A9".repeat(5_000));
    let mut revoke = request(
        Method::DELETE,
        &format!("/api/v1/tokens/{long_id}"),
        Some(&app.admin),
        None,
    );
    revoke
        .headers_mut()
        .insert("x-request-id", "r".repeat(20_000).parse().unwrap());
    revoke
        .headers_mut()
        .insert(header::USER_AGENT, "u".repeat(20_000).parse().unwrap());
    let response = app.send(revoke).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let audited = events_of_kind(&app, "audit.request").await;
    assert_eq!(audited.len(), 1);
    let event = &audited[0];
    for field in ["path", "request_id", "user_agent"] {
        let value = event.payload[field].as_str().unwrap();
        assert!(value.len() < 300, "{field} is {} bytes", value.len());
        assert!(value.contains("…[truncated, "), "{field}: {value}");
    }
    assert!(event.summary.len() < 400, "{}", event.summary);
    assert_eq!(event.payload["route"], "/api/v1/tokens/{id}");
    assert!(serde_json::to_string(event).unwrap().len() < 2048);
}

/// Sends `GET /api/v1/whoami` from `addr` until one is answered 429
/// (at most 20 times); returns the statuses before it and the 429.
async fn until_limited(
    app: &App,
    addr: &str,
    token: Option<&str>,
) -> (Vec<StatusCode>, axum::http::Response<axum::body::Body>) {
    let mut before = Vec::new();
    for _ in 0..20 {
        let response = app
            .send(from_addr(
                request(Method::GET, "/api/v1/whoami", token, None),
                addr,
            ))
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return (before, response);
        }
        before.push(response.status());
    }
    panic!("{addr} was never limited: {before:?}");
}

#[tokio::test]
async fn each_client_address_is_rate_limited_before_authentication() {
    let app = App::with_server("rate_limit_per_second = 1\nrate_limit_burst = 3").await;
    // The burst, and whatever the rate added meanwhile on a slow machine.
    let burst = 3..=5;
    let (served, limited) = until_limited(&app, "192.0.2.1:1000", Some(&app.viewer)).await;
    assert!(burst.contains(&served.len()), "{served:?}");
    assert!(served.iter().all(|status| *status == StatusCode::OK));
    let retry_after: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value =
        serde_json::from_slice(&limited.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(error_code(&body), "rate_limited");
    assert_eq!(body["error"]["kind"], "rate_limited");

    // Bad tokens count against the same kind of bucket: a flood of
    // guesses is limited like any other.
    let (refused, _) = until_limited(&app, "192.0.2.9:1000", Some("guess")).await;
    assert!(burst.contains(&refused.len()), "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED)
    );

    // Another address has its own bucket; an IPv6 host its /64's.
    let response = app
        .send(from_addr(
            request(Method::GET, "/api/v1/whoami", Some(&app.viewer), None),
            "192.0.2.2:1000",
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut served = 0;
    for n in 1..=20 {
        let response = app
            .send(from_addr(
                request(Method::GET, "/api/v1/whoami", Some(&app.viewer), None),
                &format!("[2001:db8::{n}]:1000"),
            ))
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        served += 1;
    }
    assert!(burst.contains(&served), "{served}");

    let exposed = metrics(&app).await;
    assert_eq!(
        sample(&exposed, "steward_http_rate_limited_requests_total"),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &exposed,
            "steward_http_requests_total{method=\"GET\",route=\"/api/v1/whoami\",status=\"429\"}"
        ),
        Some(3.0),
        "refused requests are counted like others"
    );
}

#[tokio::test]
async fn the_default_rate_limit_leaves_room_for_a_busy_client() {
    let app = App::new().await;
    for _ in 0..150 {
        let response = app
            .send(from_addr(
                request(Method::GET, "/api/v1/whoami", Some(&app.viewer), None),
                "127.0.0.1:40000",
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_token_holds_a_bounded_number_of_event_streams() {
    let app = App::with_server("max_streams_per_token = 2").await;
    let stream = |token: &str| request(Method::GET, "/api/v1/events/stream", Some(token), None);
    let first = app.send(stream(&app.viewer)).await;
    let second = app.send(stream(&app.viewer)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);

    let refused = app.send(stream(&app.viewer)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value =
        serde_json::from_slice(&refused.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(error_code(&body), "too_many_streams");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("watcher") && message.contains("2 event streams"),
        "{message}"
    );

    // Other tokens are not affected.
    let other = app.send(stream(&app.admin)).await;
    assert_eq!(other.status(), StatusCode::OK);
    let exposed = metrics(&app).await;
    assert_eq!(sample(&exposed, "steward_http_event_streams"), Some(3.0));

    // A stream that ends frees its slot.
    drop(first);
    let again = app.send(stream(&app.viewer)).await;
    assert_eq!(again.status(), StatusCode::OK);
    drop((second, other, again));
    let exposed = metrics(&app).await;
    assert_eq!(sample(&exposed, "steward_http_event_streams"), Some(0.0));
    assert_eq!(
        sample(&exposed, "steward_http_event_streams_refused_total"),
        Some(1.0)
    );
}

#[tokio::test]
async fn metric_labels_take_a_fixed_set_of_methods_and_routes() {
    let app = App::new().await;
    for method in ["FOO1", "FOO2", "FOO3"] {
        for path in ["/healthz", "/api/v1/events", "/nope/1", "/nope/2"] {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            app.call_raw(method, path, Some(&app.viewer), None).await;
        }
    }
    app.call_raw(Method::GET, "/api/v1/whoami", Some(&app.viewer), None)
        .await;
    app.call_raw(Method::GET, "/nope/3", None, None).await;
    let exposed = metrics(&app).await;
    assert!(!exposed.contains("FOO"), "{exposed}");
    let document = serde_json::to_value(steward_server::openapi()).unwrap();
    let templates: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let methods = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other",
    ];
    let mut seen_other = false;
    for line in exposed
        .lines()
        .filter(|line| line.starts_with("steward_http_request"))
    {
        let label = |name: &str| {
            let start = line.find(&format!("{name}=\""))? + name.len() + 2;
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_owned())
        };
        let method = label("method").expect("a method label");
        assert!(methods.contains(&method.as_str()), "{line}");
        seen_other |= method == "other";
        let route = label("route").expect("a route label");
        assert!(
            route == "unmatched" || templates.contains(&route.as_str()),
            "{line}"
        );
        assert!(!route.contains("nope"), "{line}");
    }
    assert!(seen_other, "{exposed}");
    assert_eq!(
        sample(
            &exposed,
            "steward_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(6.0),
        "{exposed}"
    );
}
