//! Bad-version knobs, crashes, signals and flag errors of a real process.

use std::time::Duration;

use serde_json::json;

use crate::support::{Agent, FAST, PATIENCE, command, sample};

#[tokio::test]
async fn fail_health_gives_503() {
    let agent = Agent::start(&[FAST, &["--fail-health"]].concat()).await;
    let response = agent.get("/healthz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "failing");
    assert_eq!(body["ready"], false);
    assert_eq!(
        sample(&agent.metrics().await, "demo_agent_ready"),
        Some(0.0)
    );
}

#[tokio::test]
async fn startup_delay_listens_at_once_but_is_unready_until_it_passes() {
    let agent = Agent::start(&[FAST, &["--startup-delay", "2s"]].concat()).await;
    let response = agent.get("/healthz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "starting");
    let (status, body) = agent.task(&json!({"prompt": "x"})).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "not_ready");

    let deadline = tokio::time::Instant::now() + PATIENCE;
    while agent.get("/healthz").await.status() != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = agent.task(&json!({"prompt": "x"})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn memory_growth_raises_resident_memory() {
    let agent = Agent::start(&[FAST, &["--memory-growth-mb", "16"]].concat()).await;
    for _ in 0..2 {
        assert_eq!(agent.task(&json!({"prompt": "x"})).await.0, 200);
    }
    let text = agent.metrics().await;
    let mib = 1024.0 * 1024.0;
    assert_eq!(
        sample(&text, "demo_agent_retained_memory_bytes"),
        Some(32.0 * mib)
    );
    assert!(sample(&text, "demo_agent_memory_bytes").unwrap() >= 32.0 * mib);
}

#[tokio::test]
async fn extra_latency_slows_every_task() {
    let agent = Agent::start(&[FAST, &["--extra-latency-ms", "300"]].concat()).await;
    let (status, body) = agent.task(&json!({"prompt": "x"})).await;
    assert_eq!(status, 200);
    assert!(
        body["totals"]["duration_ms"].as_f64().unwrap() >= 300.0,
        "{body}"
    );
}

#[tokio::test]
async fn exit_after_crashes_with_a_nonzero_code() {
    let mut agent = Agent::start(&[FAST, &["--exit-after", "1"]].concat()).await;
    assert_eq!(agent.get("/healthz").await.status(), 200);
    let status = agent.wait().await;
    assert_eq!(status.code(), Some(1), "stderr:\n{}", agent.stderr());
}

#[tokio::test]
async fn sigterm_lets_the_running_task_finish_and_exits_zero() {
    let mut agent = Agent::start(&[FAST, &["--extra-latency-ms", "1s"]].concat()).await;
    let url = format!("{}/v1/tasks", agent.base);
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({"prompt": "x"}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // Wait until the agent is really working on the task before signalling.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sample(&agent.metrics().await, "demo_agent_tasks_in_flight") != Some(1.0) {
        assert!(tokio::time::Instant::now() < deadline, "task never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.terminate();
    let status = agent.wait().await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", agent.stderr());
    assert_eq!(
        request.await.unwrap().expect("in-flight task answered"),
        200
    );
    agent.log_line("shutting down signal=\"SIGTERM\"").await;
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let agent = Agent::start(&[FAST, &["--log-format", "json"]].concat()).await;
    let line = agent.log_line("listening").await;
    let value: serde_json::Value = serde_json::from_str(&line).expect("json log line");
    assert_eq!(value["fields"]["addr"], format!("127.0.0.1:{}", agent.port));
}

#[tokio::test]
async fn invalid_flags_exit_with_code_2() {
    for (args, env, needle) in [
        (&["--error-rate", "2"][..], None, "--error-rate"),
        (&["--exit-after", "soon"], None, "--exit-after"),
        (&["--llm-calls", "0"], None, "--llm-calls"),
        (&[], Some("not-a-port"), "PORT"),
    ] {
        let mut cmd = command(args);
        if let Some(port) = env {
            cmd.env("PORT", port);
        }
        let output = tokio::time::timeout(PATIENCE, cmd.output())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test]
async fn port_env_is_used_when_no_port_flag_is_given() {
    // Port 0 through PORT still gives an ephemeral port; what matters is
    // that PORT is read and accepted.
    let mut cmd = command(&["--llm-latency-ms", "1"]);
    cmd.env("PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(
        PATIENCE,
        tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}"
    );
    assert!(!line.trim_end().ends_with(":0"));
    assert!(!line.trim_end().ends_with(":8080"));
}
