//! The Loki API over a real store in a temporary directory, through the
//! router (`oneshot`): pushes in each format, queries, labels, series,
//! and the errors a client gets.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::LokiApi;
use crate::{
    Entry, LogStore, PushStream, StoreOptions,
    ingest::{Limits, encode_push},
    logql::Engine,
};

struct Fixture {
    _dir: tempfile::TempDir,
    api: LokiApi,
}

fn fixture(options: impl FnOnce(StoreOptions) -> StoreOptions) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(StoreOptions::new(dir.path()))).expect("store");
    Fixture {
        api: LokiApi::new(store, Engine::default(), Limits::default()),
        _dir: dir,
    }
}

fn app(f: &Fixture) -> Router {
    f.api.router().merge(f.api.otlp_router())
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let response = app.oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, body.to_vec())
}

async fn get_json(app: Router, uri: &str) -> (StatusCode, Value) {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    let (status, _, body) = send(app, request).await;
    (status, serde_json::from_slice(&body).expect("json body"))
}

fn post(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("request")
}

const NOW_NS: i64 = 1_700_000_000_000_000_000;

fn push_body() -> String {
    json!({"streams": [
        {"stream": {"service": "api", "stream": "stderr"},
         "values": [
            [NOW_NS.to_string(), "level=info msg=\"task started\""],
            [(NOW_NS + 1_000_000_000).to_string(), "level=error msg=\"tool call failed\"", {"trace_id": "abc123"}]
         ]},
        {"stream": {"service": "worker", "stream": "stdout"},
         "values": [[(NOW_NS + 2_000_000_000).to_string(), "{\"level\":\"error\",\"msg\":\"llm timeout\"}"]]}
    ]})
    .to_string()
}

fn range(query: &str) -> String {
    let query: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!(
        "/loki/api/v1/query_range?query={query}&start={}&end={}",
        NOW_NS - 60_000_000_000,
        NOW_NS + 60_000_000_000
    )
}

#[tokio::test]
async fn json_pushes_are_found_by_queries_labels_and_series() {
    let f = fixture(|o| o);
    let (status, _, body) = send(
        app(&f),
        post("/loki/api/v1/push", "application/json", push_body()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&body)
    );

    let (status, body) = get_json(app(&f), &range(r#"{service="api"} |= "failed""#)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resultType"], "streams");
    let result = body["data"]["result"].as_array().expect("result");
    assert_eq!(result.len(), 1, "{body}");
    assert_eq!(result[0]["stream"]["service"], "api");
    assert_eq!(result[0]["stream"]["trace_id"], "abc123");
    assert_eq!(
        result[0]["values"][0][1],
        "level=error msg=\"tool call failed\""
    );
    assert_eq!(
        result[0]["values"][0][0],
        (NOW_NS + 1_000_000_000).to_string()
    );

    let (_, body) = get_json(
        app(&f),
        &range(r#"{stream=~"std.+"} | json | level="error""#),
    )
    .await;
    let services: Vec<&str> = body["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .filter_map(|s| s["stream"]["service"].as_str())
        .collect();
    assert_eq!(services, vec!["worker"], "{body}");

    let window = format!("start={}&end={}", NOW_NS - 1, NOW_NS + 10_000_000_000);
    let (_, body) = get_json(app(&f), &format!("/loki/api/v1/labels?{window}")).await;
    assert_eq!(body["data"], json!(["service", "stream"]));
    let (_, body) = get_json(
        app(&f),
        &format!("/loki/api/v1/label/service/values?{window}"),
    )
    .await;
    assert_eq!(body["data"], json!(["api", "worker"]));
    let (_, body) = get_json(
        app(&f),
        &format!("/loki/api/v1/series?match[]=%7Bservice%3D%22worker%22%7D&{window}"),
    )
    .await;
    assert_eq!(
        body["data"],
        json!([{"service": "worker", "stream": "stdout"}])
    );
}

#[tokio::test]
async fn metric_queries_answer_vectors_and_matrices() {
    let f = fixture(|o| o);
    send(
        app(&f),
        post("/loki/api/v1/push", "application/json", push_body()),
    )
    .await;
    let query: String = url::form_urlencoded::byte_serialize(
        br#"sum by (service) (count_over_time({stream=~".+"}[1m]))"#,
    )
    .collect();
    let at = NOW_NS + 30_000_000_000;
    let (status, body) = get_json(
        app(&f),
        &format!("/loki/api/v1/query?query={query}&time={at}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resultType"], "vector");
    let counts: Vec<(String, String)> = body["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            (
                s["metric"]["service"].as_str().unwrap_or("").to_owned(),
                s["value"][1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("api".to_owned(), "2".to_owned()),
            ("worker".to_owned(), "1".to_owned())
        ]
    );

    let (_, body) = get_json(
        app(&f),
        &format!(
            "{}&step=30",
            range(r#"count_over_time({service="api"}[1m])"#)
        ),
    )
    .await;
    assert_eq!(body["data"]["resultType"], "matrix", "{body}");
}

#[tokio::test]
async fn snappy_protobuf_pushes_are_taken() {
    let f = fixture(|o| o);
    let streams = vec![PushStream {
        labels: steward_metrics::Labels::from_pairs([("service", "gateway")]),
        entries: vec![Entry::new(NOW_NS, "GET /health 200")],
    }];
    let (status, _, _) = send(
        app(&f),
        post(
            "/loki/api/v1/push",
            "application/x-protobuf",
            encode_push(&streams),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = get_json(app(&f), &range(r#"{service="gateway"}"#)).await;
    assert_eq!(body["data"]["result"][0]["values"][0][1], "GET /health 200");
}

#[tokio::test]
async fn bad_pushes_and_queries_say_what_is_wrong() {
    let f = fixture(|o| o);
    let bad =
        json!({"streams": [{"stream": {"service": "api"}, "values": [["soon", "x"]]}]}).to_string();
    let (status, _, body) = send(app(&f), post("/loki/api/v1/push", "application/json", bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["status"], "error");
    let message = body["error"].as_str().expect("error");
    assert!(message.contains("streams[0].values[0]"), "{message}");

    let (status, _, _) = send(app(&f), post("/loki/api/v1/push", "text/plain", "hello")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, body) = get_json(app(&f), &range(r#"{service="api"} |= "#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().expect("error").contains("column"),
        "{body}"
    );
    let (status, body) = get_json(app(&f), "/loki/api/v1/query_range").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid parameter \"query\": missing");
    let (status, _) = get_json(
        app(&f),
        &format!("{}&direction=sideways", range("{a=\"b\"}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_full_store_answers_429_with_retry_after() {
    let f = fixture(|o| StoreOptions {
        max_memory_bytes: 200,
        flush_bytes: usize::MAX,
        ..o
    });
    let (status, headers, body) = send(
        app(&f),
        post("/loki/api/v1/push", "application/json", push_body()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

#[tokio::test]
async fn otlp_json_logs_are_stored_with_the_service_as_a_label() {
    let f = fixture(|o| o);
    let body = json!({"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "planner"}},
            {"key": "host.name", "value": {"stringValue": "box-1"}}
        ]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": NOW_NS.to_string(),
            "severityText": "ERROR",
            "body": {"stringValue": "plan failed"},
            "traceId": "5b8efff798038103d269b633813fc60c",
            "attributes": [{"key": "task.id", "value": {"intValue": "42"}}]
        }]}]
    }]})
    .to_string();
    let (status, headers, _) = send(app(&f), post("/v1/logs", "application/json", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let (_, body) = get_json(app(&f), &range(r#"{service="planner"}"#)).await;
    let stream = &body["data"]["result"][0]["stream"];
    assert_eq!(stream["detected_level"], "error", "{body}");
    assert_eq!(stream["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(body["data"]["result"][0]["values"][0][1], "plan failed");
}

#[tokio::test]
async fn a_tail_sends_the_backlog_then_each_push_its_query_selects() {
    use futures::StreamExt;
    let f = fixture(|o| o);
    let now = chrono::Utc::now().timestamp_nanos_opt().expect("now");
    let push = |service: &str, ts: i64, line: &str| {
        vec![PushStream {
            labels: steward_metrics::Labels::from_pairs([("service", service)]),
            entries: vec![Entry::new(ts, line)],
        }]
    };
    f.api
        .push(push("api", now - 1_000_000_000, "before the tail"))
        .await
        .expect("push");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = f.api.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let query: String =
        url::form_urlencoded::byte_serialize(br#"{service="api"} != "noise""#).collect();
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/loki/api/v1/tail?query={query}"))
            .await
            .expect("websocket");
    let mut next = async || -> Value {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a message");
        serde_json::from_str(message.to_text().expect("text")).expect("json frame")
    };
    let backlog = next().await;
    assert_eq!(
        backlog["streams"][0]["values"][0][1], "before the tail",
        "{backlog}"
    );

    f.api
        .push(push("worker", now, "another service"))
        .await
        .expect("push");
    f.api.push(push("api", now, "noise")).await.expect("push");
    f.api
        .push(push("api", now + 1, "live line"))
        .await
        .expect("push");
    let live = next().await;
    assert_eq!(live["streams"][0]["stream"]["service"], "api", "{live}");
    assert_eq!(live["streams"][0]["values"][0][1], "live line", "{live}");
    assert_eq!(live["streams"].as_array().map(Vec::len), Some(1), "{live}");
}

/// What Grafana's Loki data source asks when it tests its connection.
#[tokio::test]
async fn grafanas_health_check_query_is_answered() {
    let f = fixture(|o| o);
    let (status, body) = get_json(app(&f), "/loki/api/v1/query?query=vector(1)%2Bvector(1)").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resultType"], "vector", "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "2", "{body}");
    let (status, body) = get_json(app(&f), "/loki/api/v1/labels").await;
    assert_eq!((status, &body["data"]), (StatusCode::OK, &json!([])));
}
