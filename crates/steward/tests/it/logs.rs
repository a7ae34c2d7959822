//! The LogManager end to end: real clients of Loki's push API
//! (python-logging-loki) and of OpenTelemetry logs (the OpenTelemetry
//! Python SDK's OTLP/HTTP exporter) push to a real `steward up`, and their
//! lines are found by `steward logs` and by Loki's query API with the
//! labels and fields the clients gave.
//!
//! The Python part needs `python-logging-loki`, `opentelemetry-sdk` and
//! `opentelemetry-exporter-otlp-proto-http`: `scripts/test.sh` installs
//! them and sets STEWARD_TEST_PYTHON_OTEL (the path of an interpreter that
//! has them); without it the test skips.

use std::time::{Duration, Instant};

use serde_json::Value;
use steward_test_support::free_port;

use crate::support::{Server, stderr, stdout};

fn python() -> Option<String> {
    match std::env::var("STEWARD_TEST_PYTHON_OTEL") {
        Ok(v) if v == "1" => Some("python3".to_owned()),
        Ok(v) if !v.is_empty() && v != "0" => Some(v),
        _ => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "skipping: set STEWARD_TEST_PYTHON_OTEL (scripts/test.sh installs python-logging-loki and the OpenTelemetry Python SDK)"
                );
            }
            None
        }
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n[metrics]\nenabled = false\n",
            free_port()
        ),
    )
    .unwrap();
    Server::spawn(dir, config)
}

/// `steward logs ARGS --output json` until it prints a line that holds
/// `needle`; every line printed.
fn logs_until(server: &Server, args: &[&str], needle: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--output", "json"]);
        let out = server.cli(&all);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let lines: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a json line"))
            .collect();
        if lines
            .iter()
            .any(|l| l["line"].as_str().unwrap_or("").contains(needle))
        {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needle:?}: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn python_clients_push_and_their_lines_are_found() {
    let Some(python) = python() else { return };
    let server = start();
    let token = std::fs::read_to_string(server.dir.path().join(".steward/admin.token")).unwrap();
    let token = token.trim();
    let mark = format!("mark-{}", std::process::id());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/logs_clients.py");
    let base = format!("http://{}", server.url.trim_start_matches("http://"));
    let out = std::process::Command::new(&python)
        .args([script, &base, token, &mark])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // python-logging-loki: its tags and its own labels are the stream's
    let lines = logs_until(&server, &["py-loki"], &mark);
    let failed = lines
        .iter()
        .find(|l| {
            l["line"]
                .as_str()
                .unwrap_or("")
                .starts_with("payment failed")
        })
        .expect("the error line");
    assert_eq!(failed["labels"]["service"], "py-loki");
    assert_eq!(failed["labels"]["env"], "test");
    assert_eq!(failed["labels"]["severity"], "error");
    assert_eq!(lines.len(), 2, "{lines:?}");

    // OpenTelemetry: the resource's service is the stream's label, the rest fields
    let lines = logs_until(&server, &["--grep", &mark, "py-otel"], &mark);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let labels = &lines[0]["labels"];
    assert_eq!(lines[0]["line"], format!("planner slow {mark}"));
    assert_eq!(labels["service"], "py-otel");
    assert_eq!(labels["environment"], "test");
    assert_eq!(labels["host_name"], "box-1");
    assert_eq!(labels["task_id"], "t-42");
    assert_eq!(labels["detected_level"], "warn");

    // a LogQL query over both, through the CLI and through the query API
    let query = format!(r#"{{service=~"py-.+"}} |= "{mark}" != "retried""#);
    let lines = logs_until(&server, &["--query", &query], &mark);
    let services: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["labels"]["service"].as_str())
        .collect();
    assert_eq!(services, vec!["py-loki", "py-otel"], "{lines:?}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let get = |path: &str, query: &[(&str, String)]| -> Value {
        runtime.block_on(async {
            client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .query(query)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    };
    let answer = get(
        "/loki/api/v1/query_range",
        &[
            ("query", format!(r#"{{service="py-otel"}} |= "{mark}""#)),
            ("limit", "10".into()),
        ],
    );
    assert_eq!(answer["status"], "success", "{answer}");
    let result = &answer["data"]["result"][0];
    assert_eq!(result["stream"]["service"], "py-otel", "{answer}");
    assert_eq!(result["values"][0][1], format!("planner slow {mark}"));
    let labels = get("/loki/api/v1/label/service/values", &[]);
    let values = labels["data"].as_array().unwrap();
    assert!(
        values.contains(&Value::from("py-loki")) && values.contains(&Value::from("py-otel")),
        "{labels}"
    );

    // without a token, nothing is pushed
    let refused = runtime.block_on(async {
        client
            .post(format!("{base}/loki/api/v1/push"))
            .header("content-type", "application/json")
            .body(r#"{"streams":[]}"#)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(refused.as_u16(), 401);
}
