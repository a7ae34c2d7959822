//! `promtool check metrics` against a real agent's exposition, when the test
//! environment provides promtool.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::{Agent, FAST};

#[tokio::test]
async fn metrics_pass_promtool_check() {
    let Some(promtool) = std::env::var_os("STEWARD_TEST_PROMTOOL") else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: STEWARD_TEST_PROMTOOL not set");
        }
        return;
    };
    let agent =
        Agent::start(&[FAST, &["--error-rate", "0.5", "--memory-growth-mb", "1"]].concat()).await;
    // Populate every family: tasks of both outcomes, a rejected one, a 404.
    for _ in 0..6 {
        agent
            .task(&json!({"prompt": "x", "model": "demo-pro"}))
            .await;
    }
    agent.task(&json!({})).await;
    agent.get("/nowhere").await;
    let text = agent.metrics().await;
    assert!(text.contains("demo_agent_tool_call_duration_seconds_bucket"));

    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool failed: {report}\n{text}");
    assert!(report.trim().is_empty(), "promtool complained: {report}");
}
