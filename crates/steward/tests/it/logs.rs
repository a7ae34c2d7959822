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
        if Instant::now() >= deadline {
            let all = server.cli(&["logs", "--since", "1h"]);
            let positions =
                std::fs::read_to_string(server.dir.path().join(".steward/logstore/positions.json"))
                    .unwrap_or_default();
            let files: Vec<_> = std::fs::read_dir(server.dir.path().join(".steward/logs"))
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            panic!(
                "no line with {needle:?}: {lines:?}\nevery line:\n{}{}\npositions: {positions}\nlogs: {files:?}\nconfig: {}",
                stdout(&all),
                stderr(&all),
                std::fs::read_to_string(&server.config).unwrap_or_default()
            );
        }
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

/// A real `steward up` running the demo agent with every task failing:
/// its replica's output is collected with the replica's labels, and an
/// error-rate alert on its metrics reaches a webhook with the replica's
/// log lines from the minute before it fired.
#[test]
fn an_error_rate_alert_shows_the_failing_replicas_log_lines() {
    let (hook, notifications) = crate::support::receiver();
    let dir = tempfile::tempdir().unwrap();
    let agent_port = free_port();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: agent\n    interval: 1s\n    rules:\n      - alert: AgentTasksFailing\n        expr: sum by (service) (rate(demo_agent_tasks_total{outcome=\"error\"}[5s])) > 0\n        labels: {severity: page}\n        annotations: {summary: 'tasks of {{ $labels.service }} fail'}\n",
    )
    .unwrap();
    let config = failing_agent_config(free_port(), agent_port).replacen(
        "[deploy]",
        &format!(
            "[metrics]\nscrape_interval = \"300ms\"\nscrape_timeout = \"250ms\"\n\n[rules]\nfiles = [\"{}\"]\nevaluation_interval = \"1s\"\n\n[alerts]\nconfig_yaml = '''\nroute:\n  receiver: hook\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n'''\n\n[deploy]",
            rules.display()
        ),
        1,
    );
    let config = config.replace("port = ", "metrics_path = \"/metrics\"\nport = ");
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, config).unwrap();
    let server = Server::spawn(dir, path);

    // the agent's tasks fail, and it says so on its stderr
    let failing = failing_tasks(agent_port);
    let replica = failed_task_lines(&server);

    // the alert's notification carries them
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let body = notifications
            .recv_timeout(left)
            .expect("a notification of AgentTasksFailing");
        if body["status"] == "firing" {
            break body["alerts"][0].clone();
        }
    };
    let statuses = failing.join().unwrap();
    assert!(
        statuses
            .iter()
            .all(|s| *s == Some(500) || *s == Some(502) || *s == Some(503)),
        "{statuses:?}"
    );
    assert_eq!(alert["labels"]["alertname"], "AgentTasksFailing");
    let shown = alert["annotations"]["steward_logs"]
        .as_str()
        .unwrap_or_default();
    assert!(
        shown
            .lines()
            .any(|l| l.contains(&format!(" {replica} stderr ")) && l.contains("task failed")),
        "{alert}"
    );
    let started =
        chrono::DateTime::parse_from_rfc3339(alert["startsAt"].as_str().unwrap()).unwrap();
    for line in shown.lines() {
        let at = chrono::DateTime::parse_from_rfc3339(line.split(' ').next().unwrap()).unwrap();
        assert!(
            at <= started && started - at <= chrono::Duration::seconds(60),
            "{line} vs {started}"
        );
    }
    assert!(
        alert["annotations"]["steward_logs_url"]
            .as_str()
            .unwrap_or_default()
            .contains("/loki/api/v1/query_range?query="),
        "{alert}"
    );
}

/// The demo agent (one replica) whose every task fails: it logs a
/// warning on its stderr for each, and the deployment has no smoke task
/// (it would fail too).
fn failing_agent_config(api: u16, agent_port: u16) -> String {
    let mut config =
        crate::deploy::agent_config(api, agent_port, 1, ", DEMO_AGENT_ERROR_RATE = \"1.0\"");
    let smoke = config.find(", smoke = [").expect("a smoke check");
    let end = config[smoke..].find("}] }").expect("its end") + smoke;
    config.replace_range(smoke..end + 2, "");
    config
}

/// Once the agent behind `port` is healthy, 40 tasks posted to it, 250 ms
/// apart, on a thread; their statuses.
fn failing_tasks(port: u16) -> std::thread::JoinHandle<Vec<Option<u16>>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::deploy::http_status(port, "/healthz") != Some(200) {
        assert!(Instant::now() < deadline, "the agent never became healthy");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::spawn(move || {
        (0..40)
            .map(|_| {
                let status = post_task(port);
                std::thread::sleep(Duration::from_millis(250));
                status
            })
            .collect()
    })
}

/// The failing agent's collected `task failed` lines carry its replica's
/// labels and their level; the replica's id.
fn failed_task_lines(server: &Server) -> String {
    let lines = logs_until(server, &["agent", "--grep", "task failed"], "task failed");
    let labels = &lines[0]["labels"];
    assert_eq!(labels["service"], "agent");
    assert_eq!(labels["version"], "1.0.0");
    assert_eq!(labels["stream"], "stderr");
    let replica = labels["replica"]
        .as_str()
        .expect("a replica label")
        .to_owned();
    assert!(replica.starts_with("agent-"), "{replica}");
    assert_eq!(labels["detected_level"], "warn", "{labels}");
    replica
}

/// A replica on the Docker backend: its container's stderr is streamed
/// from the engine into the store with the replica's labels, and the
/// replica label names the container.
#[test]
fn a_docker_replicas_output_is_collected_with_its_labels() {
    if !crate::support::docker_enabled() {
        return;
    }
    let docker = crate::deploy::DockerAgent::new("logs");
    let dir = tempfile::tempdir().unwrap();
    let agent_port = free_port();
    let config = docker.config(&failing_agent_config(free_port(), agent_port));
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, config).unwrap();
    let server = Server::spawn(dir, path);

    let failing = failing_tasks(agent_port);
    let replica = failed_task_lines(&server);
    let running = crate::deploy::containers(&docker.network, false);
    assert_eq!(running, vec![format!("steward-{replica}")]);
    // nothing of it comes from a file: the Docker backend writes none
    assert!(
        !server
            .dir
            .path()
            .join(format!(".steward/logs/agent/{replica}.stderr.log"))
            .exists(),
        "{replica}"
    );
    let statuses = failing.join().unwrap();
    assert!(statuses.contains(&Some(500)), "{statuses:?}");
}

/// A version that dies as soon as it starts: steward's deployment gives
/// it up and stops its replica within moments, and its last words on
/// stderr are collected all the same (the collector lists the replicas
/// when the journal records their start, not only every two seconds).
#[test]
fn a_replica_that_dies_at_once_has_its_last_words_collected() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::deploy::agent_config(free_port(), free_port(), 1, "");
    let command = config
        .lines()
        .find(|line| line.starts_with("process.command"))
        .expect("process command")
        .to_owned();
    let config = config.replace(
        &command,
        r#"process.command = ["sh", "-c", "echo \"dying at once: {version}\" >&2; exit 3"]"#,
    );
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, config).unwrap();
    let server = Server::spawn(dir, path);
    let lines = logs_until(
        &server,
        &["agent", "--since", "1h", "--grep", "dying at once"],
        "dying at once: 1.0.0",
    );
    let labels = &lines[0]["labels"];
    assert_eq!(labels["stream"], "stderr", "{labels}");
    assert_eq!(labels["version"], "1.0.0", "{labels}");
}

/// Posts one task to the agent; its status.
pub(crate) fn post_task(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let body = r#"{"prompt": "plan a trip", "model": "demo-pro"}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "POST /v1/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// steward's own logs are in its store: `steward logs steward` shows the
/// line it logs when it starts listening, with its level.
#[test]
fn stewards_own_logs_are_stored() {
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
    let server = Server::spawn_logging(dir, config, "info");
    let lines = logs_until(&server, &["steward"], "steward listening");
    let listening = lines
        .iter()
        .find(|l| {
            l["line"]
                .as_str()
                .unwrap_or("")
                .contains("steward listening")
        })
        .unwrap();
    assert_eq!(listening["labels"]["service"], "steward");
    assert_eq!(listening["labels"]["detected_level"], "info");
    let json: Value =
        serde_json::from_str(listening["line"].as_str().unwrap()).expect("a json line");
    assert_eq!(json["fields"]["message"], "steward listening");
}

/// The value of the first sample of `name` in a text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn the_log_store_is_on_steward_metrics() {
    let server = start();
    let token = std::fs::read_to_string(server.dir.path().join(".steward/admin.token")).unwrap();
    let base = format!("http://{}", server.url.trim_start_matches("http://"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let scrape = || -> String {
        runtime.block_on(async {
            client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    let before = metric(&scrape(), "steward_logs_ingested_lines_total").expect("the counter");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let body = serde_json::json!({"streams": [{
        "stream": {"service": "metered"},
        "values": [[now.to_string(), "one"], [(now + 1).to_string(), "two"]],
    }]});
    let status = runtime.block_on(async {
        client
            .post(format!("{base}/loki/api/v1/push"))
            .bearer_auth(token.trim())
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 204);
    let text = scrape();
    // steward's own log lines count too, so at least the two pushed
    let after = metric(&text, "steward_logs_ingested_lines_total").expect("the counter");
    assert!(after >= before + 2.0, "{before} then {after}");
    assert!(
        metric(&text, "steward_logs_head_lines").is_some_and(|v| v >= 2.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE steward_logs_ingested_bytes_total counter"),
        "{text}"
    );
}
