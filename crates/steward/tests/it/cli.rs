//! The CLI against a real `steward up`: status, tokens, events, exit codes,
//! following the journal, and graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{BIN, Server, cli_in, stderr, stdout};

#[test]
fn status_tokens_and_events_work_with_the_local_admin_token() {
    let server = Server::start();

    let status = server.cli(&["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(stdout(&status).contains("gateway"), "{}", stdout(&status));

    let created = server.cli(&[
        "token", "create", "--name", "ci", "--role", "operator", "--output", "json",
    ]);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();

    // The new token works, with its own role.
    let as_ci = Command::new(BIN)
        .args([
            "--server",
            &server.url,
            "--token",
            &secret,
            "status",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(as_ci.status.code(), Some(0), "{}", stderr(&as_ci));
    let denied = Command::new(BIN)
        .args(["--server", &server.url, "--token", &secret, "token", "list"])
        .output()
        .unwrap();
    assert_eq!(
        denied.status.code(),
        Some(1),
        "a 403 is an operation failure"
    );
    assert!(
        stderr(&denied).contains("needs the admin role"),
        "{}",
        stderr(&denied)
    );

    let listed = server.cli(&["token", "list", "--output", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ci", "admin"]);

    let invalid = server.cli(&["token", "create", "--name", "Not Valid", "--role", "viewer"]);
    assert_eq!(
        invalid.status.code(),
        Some(2),
        "a request the server rejects as invalid is a usage error"
    );
    assert!(
        stderr(&invalid).contains("invalid name"),
        "{}",
        stderr(&invalid)
    );

    let revoked = server.cli(&["token", "revoke", "ci"]);
    assert_eq!(revoked.status.code(), Some(0), "{}", stderr(&revoked));
    let after = Command::new(BIN)
        .args(["--server", &server.url, "--token", &secret, "status"])
        .output()
        .unwrap();
    assert_eq!(after.status.code(), Some(1));
    assert!(
        stderr(&after).contains("invalid or revoked token"),
        "{}",
        stderr(&after)
    );

    let events = server.cli(&["events", "list", "--kind", "token", "--output", "json"]);
    let page: Value = serde_json::from_slice(&events.stdout).unwrap();
    let kinds: Vec<(&str, &str)> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("token.revoked", "token:admin"),
            ("token.created", "token:admin"),
            ("token.created", "system")
        ]
    );
    let table = server.cli(&["events", "list", "--limit", "2"]);
    let text = stdout(&table);
    assert!(text.starts_with("ID"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        stderr(&table).contains("more: steward events list --cursor"),
        "{}",
        stderr(&table)
    );
}

#[test]
fn tail_shows_an_event_made_through_the_api() {
    let server = Server::start();
    let mut tail = Command::new(BIN)
        .current_dir(server.dir.path())
        .arg("--config")
        .arg(&server.config)
        .args(["events", "tail", "--kind", "ci", "--output", "json"])
        .env_remove("STEWARD_TOKEN")
        .env_remove("STEWARD_SERVER")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send((Instant::now(), line));
        }
    });
    // The stream is open once the server journals a read; give the
    // subscription a moment, then mutate through the API.
    let token = std::fs::read_to_string(server.dir.path().join(".steward/admin.token")).unwrap();
    let mut delivered = None;
    for attempt in 0..50 {
        let sent_at = Instant::now();
        let body =
            format!("{{\"kind\":\"ci.deploy.requested\",\"summary\":\"attempt {attempt}\"}}");
        let posted = Command::new("curl")
            .args(["-sf", "-X", "POST", "-H", "content-type: application/json"])
            .args(["-H", &format!("authorization: Bearer {}", token.trim())])
            .args(["-d", &body, &format!("{}/api/v1/events", server.url)])
            .output()
            .unwrap();
        assert!(
            posted.status.success(),
            "{}",
            String::from_utf8_lossy(&posted.stderr)
        );
        if let Ok((seen_at, line)) = lines_rx.recv_timeout(Duration::from_millis(500)) {
            let event: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(event["kind"], "ci.deploy.requested");
            assert_eq!(event["actor"], "token:admin");
            delivered = Some(seen_at.duration_since(sent_at));
            break;
        }
    }
    let latency = delivered.expect("tail printed the event");
    #[allow(clippy::print_stderr)]
    {
        eprintln!("events tail latency: {latency:?}");
    }
    let _ = tail.kill();
    let _ = tail.wait();
}

#[test]
fn status_and_healthcheck_show_the_answers_they_decode() {
    let server = Server::start();

    let status = server.cli(&["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let text = stdout(&status);
    let row: Vec<&str> = text
        .lines()
        .find(|line| line.starts_with("gateway"))
        .unwrap_or_else(|| panic!("a gateway row: {text}"))
        .split_whitespace()
        .collect();
    // Name, state, version, replicas, port, backends, health (3 words),
    // dependencies, last event.
    assert_eq!(
        (
            row[1], row[2], row[3], row[5], row[6], row[7], row[10], row[11]
        ),
        (
            "not_deployed",
            "-",
            "0/1",
            "process",
            "http",
            "/healthz",
            "-",
            "-"
        ),
        "{text}"
    );
    // JSON keeps the optional fields the server sends as null.
    let json: Value =
        serde_json::from_slice(&server.cli(&["status", "-o", "json"]).stdout).unwrap();
    let gateway = &json["services"][0];
    assert_eq!(
        (
            &gateway["last_event"],
            &gateway["version"],
            &gateway["instances"]
        ),
        (&Value::Null, &Value::Null, &serde_json::json!([])),
        "{json}"
    );

    let health = server.cli(&["healthcheck"]);
    assert_eq!(health.status.code(), Some(0), "{}", stderr(&health));
    assert_eq!(stdout(&health), format!("{}/healthz: 200 ok\n", server.url));
    let health: Value =
        serde_json::from_slice(&server.cli(&["healthcheck", "-o", "json"]).stdout).unwrap();
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
        "no reason when healthy"
    );
}

#[test]
fn unreachable_servers_and_missing_tokens_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:1\"\n").unwrap();
    let no_token = cli_in(dir.path(), &config, &["status"]);
    assert_eq!(no_token.status.code(), Some(2));
    assert!(
        stderr(&no_token).contains("no API token"),
        "{}",
        stderr(&no_token)
    );

    let unreachable = cli_in(dir.path(), &config, &["--token", "stw_x", "status"]);
    assert_eq!(unreachable.status.code(), Some(1));
    let message = stderr(&unreachable);
    assert!(
        message.contains("cannot reach steward at http://127.0.0.1:1"),
        "{message}"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let server = Server::start();
    let (status, dir, config) = server.terminate();
    assert_eq!(status.code(), Some(0));
    // The journal recorded the stop; a new server shows it.
    let again = Server::spawn(dir, config);
    let events = again.cli(&["events", "list", "--kind", "steward", "--output", "json"]);
    let page: Value = serde_json::from_slice(&events.stdout).unwrap();
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["steward.started", "steward.stopped", "steward.started"]
    );
}
