//! Router tests through `tower::ServiceExt::oneshot`, on paused tokio time so
//! that simulated latencies cost nothing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::config::Args;

fn state(flags: &[&str]) -> AppState {
    let argv = [
        "steward-demo-agent",
        "--llm-latency-ms",
        "10",
        "--tool-latency-ms",
        "5",
        "--seed",
        "1",
    ];
    let args = Args::try_parse_from(argv.iter().chain(flags)).expect("flags parse");
    AppState::new(args.into_config(None).expect("valid config")).expect("state")
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String, Value) {
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if content_type.starts_with("application/json") {
        serde_json::from_slice(&bytes).expect("json body")
    } else {
        Value::String(String::from_utf8(bytes.to_vec()).unwrap())
    };
    (status, content_type, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_task(body: impl Into<Body>) -> Request<Body> {
    Request::post("/v1/tasks")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn task(body: &Value) -> Request<Body> {
    post_task(body.to_string())
}

#[tokio::test(start_paused = true)]
async fn health_is_ok_by_default() {
    let s = state(&["--agent-version", "1.2.3"]);
    let (status, _, body) = send(&s, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "1.2.3");
    assert_eq!(body["ready"], true);
    assert!(body["uptime_seconds"].is_number());
}

#[tokio::test(start_paused = true)]
async fn fail_health_answers_503_failing() {
    let s = state(&["--fail-health"]);
    let (status, _, body) = send(&s, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "failing");
    assert_eq!(body["ready"], false);
    // Failing health does not stop the agent from working.
    let (status, _, _) = send(&s, task(&json!({"prompt": "hi"}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn startup_delay_keeps_the_agent_unready_until_it_passes() {
    let s = state(&["--startup-delay", "3s"]);
    let (status, _, body) = send(&s, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "starting");
    let (status, _, body) = send(&s, task(&json!({"prompt": "hi"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "not_ready");

    tokio::time::advance(Duration::from_secs(3)).await;
    let (status, _, body) = send(&s, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = send(&s, task(&json!({"prompt": "hi"}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_task_reports_steps_tokens_and_cost() {
    let s = state(&[
        "--agent-version",
        "2.0.0",
        "--llm-calls",
        "2",
        "--tool-calls",
        "1",
    ]);
    let (status, _, body) = send(
        &s,
        task(&json!({"prompt": "plan a trip", "model": "demo-pro"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "success");
    assert_eq!(body["version"], "2.0.0");
    assert_eq!(body["model"], "demo-pro");
    assert!(body["task_id"].as_str().unwrap().starts_with("task-"));
    let steps = body["steps"].as_array().unwrap();
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["llm", "tool", "llm"]);
    assert!(steps[0]["tokens"]["prompt"].as_u64().unwrap() > 0);
    assert!(steps[0]["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(steps[1].get("tokens").is_none());
    let totals = &body["totals"];
    assert!(totals["tokens"].as_u64().unwrap() > 0);
    assert!(totals["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(body.get("error").is_none());
}

#[tokio::test(start_paused = true)]
async fn max_steps_truncates_a_task() {
    let s = state(&["--llm-calls", "5", "--tool-calls", "5"]);
    let (status, _, body) = send(&s, task(&json!({"prompt": "x", "max_steps": 3}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["steps"].as_array().unwrap().len(), 3);
    assert_eq!(body["truncated"], true);
}

#[tokio::test(start_paused = true)]
async fn failing_tasks_answer_5xx_and_are_counted() {
    let s = state(&["--error-rate", "1"]);
    for _ in 0..5 {
        let (status, _, body) = send(&s, task(&json!({"prompt": "x"}))).await;
        assert!(
            status == StatusCode::INTERNAL_SERVER_ERROR
                || status == StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(body["outcome"], "error");
        let code = body["error"]["code"].as_str().unwrap();
        assert!(code == "tool_failed" || code == "llm_unavailable", "{code}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, _, metrics) = send(&s, get("/metrics")).await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("demo_agent_tasks_total{outcome=\"error\"} 5\n"),
        "{text}"
    );
    assert!(text.contains("demo_agent_task_errors_total{reason="));
}

#[tokio::test(start_paused = true)]
async fn malformed_json_is_400() {
    let s = state(&[]);
    let (status, _, body) = send(&s, post_task("{\"prompt\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_json");
    let (status, _, _) = send(&s, post_task("")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(start_paused = true)]
async fn invalid_fields_are_422_and_named() {
    let s = state(&[]);
    let cases = [
        (json!({}), "prompt"),
        (json!({"prompt": 3}), "prompt"),
        (json!({"prompt": "  "}), "prompt"),
        (json!({"prompt": "x", "model": 1}), "model"),
        (json!({"prompt": "x", "model": "no-such-model"}), "model"),
        (json!({"prompt": "x", "max_steps": 0}), "max_steps"),
        (json!({"prompt": "x", "max_steps": "3"}), "max_steps"),
        (json!({"prompt": "x", "max_steps": 2.5}), "max_steps"),
        (json!({"prompt": "x", "max_steps": 100_000}), "max_steps"),
    ];
    for (body, field) in cases {
        let (status, _, answer) = send(&s, task(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{body}");
        assert_eq!(answer["error"]["field"], field, "{body}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    let (status, _, answer) = send(&s, task(&json!({"prompt": "x", "max_step": 3}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["code"], "unknown_field");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_step")
    );
    let (status, _, answer) = send(&s, task(&json!(["prompt"]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["code"], "invalid_request");
}

#[test]
fn null_optional_fields_are_absent() {
    let request =
        parse_task_request(br#"{"prompt": "x", "model": null, "max_steps": null}"#).unwrap();
    assert_eq!(
        request,
        TaskRequest {
            prompt: "x".to_owned(),
            model: None,
            max_steps: None
        }
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_routes_are_json_404_and_wrong_methods_json_405() {
    let s = state(&[]);
    let (status, content_type, body) = send(&s, get("/v2/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("application/json"));
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _, body) = send(&s, get("/v1/tasks")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test(start_paused = true)]
async fn metrics_are_text_format_and_count_requests_by_route() {
    let s = state(&[]);
    send(&s, get("/healthz")).await;
    send(&s, get("/nowhere")).await;
    send(&s, task(&json!({"prompt": "x"}))).await;
    let (status, content_type, body) = send(&s, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4");
    let text = body.as_str().unwrap();
    assert!(text.contains(
        "demo_agent_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n"
    ));
    assert!(text.contains(
        "demo_agent_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n"
    ));
    assert!(text.contains("demo_agent_tasks_total{outcome=\"success\"} 1\n"));
    assert!(text.contains("demo_agent_llm_tokens_total{direction=\"prompt\",model=\"demo-mini\"}"));
    assert!(text.contains("demo_agent_ready 1\n"));
}

#[tokio::test(start_paused = true)]
async fn memory_growth_keeps_memory_per_task() {
    let s = state(&["--memory-growth-mb", "1"]);
    send(&s, task(&json!({"prompt": "x"}))).await;
    send(&s, task(&json!({"prompt": "x"}))).await;
    assert_eq!(s.retained_bytes(), 2 * 1024 * 1024);
    let (_, _, body) = send(&s, get("/metrics")).await;
    assert!(
        body.as_str()
            .unwrap()
            .contains("demo_agent_retained_memory_bytes 2097152\n")
    );
}

#[tokio::test(start_paused = true)]
async fn extra_latency_delays_every_task() {
    let s = state(&[
        "--extra-latency-ms",
        "2s",
        "--llm-latency-ms",
        "0",
        "--tool-latency-ms",
        "0",
    ]);
    let started = Instant::now();
    let (status, _, body) = send(&s, task(&json!({"prompt": "x"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(body["totals"]["duration_ms"], 2000.0);
}

/// An agent serving `state` on a loopback port; its base URL.
async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_failing_upstream_fails_the_task_with_502() {
    let failing = serve(state(&["--error-rate", "1.0"])).await;
    let gateway = state(&["--upstream", &failing]);
    let (status, _, body) = send(&gateway, task(&json!({"prompt": "hi"}))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "upstream_failed");
    let healthy = serve(state(&[])).await;
    let gateway = state(&["--upstream", &healthy]);
    let (status, _, body) = send(&gateway, task(&json!({"prompt": "hi"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, metrics) = send(&gateway, get("/metrics")).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("demo_agent_tasks_total{outcome=\"success\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn tasks_are_recorded_in_the_database_and_fail_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agents.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        include_str!("../../migrations/V1__create_tasks.sql")
            .split(';')
            .next()
            .unwrap(),
    )
    .execute(&pool)
    .await
    .unwrap();
    let agent = state(&["--database", path.to_str().unwrap()]);
    for _ in 0..3 {
        let (status, _, body) = send(&agent, task(&json!({"prompt": "hi"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tasks WHERE status = 'success'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 3);
    // a database without the table: the task fails, and says why
    let empty = dir.path().join("empty.db");
    std::fs::File::create(&empty).unwrap();
    let agent = state(&["--database", empty.to_str().unwrap()]);
    let (status, _, body) = send(&agent, task(&json!({"prompt": "hi"}))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"]["code"], "database_failed");
}
