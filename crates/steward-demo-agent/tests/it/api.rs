//! The HTTP API of a real agent process.

use serde_json::json;

use crate::support::{Agent, FAST, sample};

#[tokio::test]
async fn health_is_ok_and_reports_the_version() {
    let agent = Agent::start(&[FAST, &["--agent-version", "1.2.3"]].concat()).await;
    let response = agent.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "1.2.3");
    assert_eq!(body["ready"], true);
    let log = agent.stderr();
    assert!(
        log.contains(&format!(
            "listening addr=127.0.0.1:{} version=1.2.3",
            agent.port
        )),
        "{log}"
    );
}

#[tokio::test]
async fn a_task_returns_steps_and_tokens() {
    let agent = Agent::start(FAST).await;
    let (status, body) = agent
        .task(&json!({"prompt": "summarise the incident", "max_steps": 10}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "success");
    let steps = body["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    assert_eq!(steps[0]["kind"], "llm");
    assert!(steps[0]["tokens"]["total"].as_u64().unwrap() > 0);
    assert!(body["totals"]["tokens"].as_u64().unwrap() > 0);
    assert!(body["totals"]["cost_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn metrics_counters_increase_after_tasks() {
    let agent = Agent::start(FAST).await;
    let before = agent.metrics().await;
    let tokens = "demo_agent_llm_tokens_total{direction=\"prompt\",model=\"demo-mini\"}";
    let success = "demo_agent_tasks_total{outcome=\"success\"}";
    assert_eq!(sample(&before, success), Some(0.0));
    assert_eq!(sample(&before, tokens), None);

    for _ in 0..3 {
        let (status, _) = agent.task(&json!({"prompt": "x"})).await;
        assert_eq!(status, 200);
    }
    let after = agent.metrics().await;
    assert_eq!(sample(&after, success), Some(3.0));
    assert!(sample(&after, tokens).unwrap() > 0.0);
    assert!(sample(&after, "demo_agent_llm_cost_usd_total{model=\"demo-mini\"}").unwrap() > 0.0);
    let tasks_route = "demo_agent_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/tasks\",status=\"200\"}";
    assert_eq!(sample(&after, tasks_route), Some(3.0));
    assert!(sample(&after, "demo_agent_memory_bytes").unwrap() > 0.0);
    assert_eq!(
        sample(&after, "demo_agent_build_info{version=\"0.1.0\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn metrics_use_the_prometheus_text_format() {
    let agent = Agent::start(FAST).await;
    let response = agent.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
}

#[tokio::test]
async fn error_rate_one_fails_every_task_and_counts_errors() {
    let agent = Agent::start(&[FAST, &["--error-rate", "1"]].concat()).await;
    for _ in 0..4 {
        let (status, body) = agent.task(&json!({"prompt": "x"})).await;
        assert!(status == 500 || status == 503, "{status} {body}");
        assert_eq!(body["outcome"], "error");
        assert!(body["error"]["code"].is_string());
    }
    let text = agent.metrics().await;
    assert_eq!(
        sample(&text, "demo_agent_tasks_total{outcome=\"error\"}"),
        Some(4.0)
    );
    let errors: f64 = ["llm_unavailable", "tool_failed"]
        .iter()
        .filter_map(|r| {
            sample(
                &text,
                &format!("demo_agent_task_errors_total{{reason=\"{r}\"}}"),
            )
        })
        .sum();
    assert_eq!(errors, 4.0);
}

#[tokio::test]
async fn bad_input_and_unknown_routes_get_json_errors() {
    let agent = Agent::start(FAST).await;
    let (status, body) = agent.task(&json!({"prompt": "x", "max_steps": -1})).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "max_steps");
    let response = agent.get("/v1/nothing").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}
