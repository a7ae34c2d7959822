//! Real servers on loopback: bootstrap, probes, streaming, TLS, restart
//! and graceful shutdown.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use futures::StreamExt;
use serde_json::{Value, json};
use steward_config::{Environment, LoadedConfig, load_str};
use steward_server::{ADMIN_TOKEN_FILE, Running, start};
use steward_store::EventQuery;
use tokio_util::sync::CancellationToken;

fn config(dir: &Path, extra: &str) -> LoadedConfig {
    let text = format!("[server]\nlisten = \"127.0.0.1:0\"\n{extra}\n");
    load_str("serve.toml", &text, dir, &Environment::default()).unwrap()
}

async fn admin_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".steward").join(ADMIN_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_owned()
}

/// Reads server-sent events until one whose data satisfies `wanted`;
/// returns its (id, data).
async fn next_event(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    wanted: impl Fn(&Value) -> bool,
) -> (i64, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("id:") {
                    id = value.trim().parse().ok();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if let (Some(id), Ok(value)) = (id, serde_json::from_str::<Value>(&data))
                && wanted(&value)
            {
                return (id, value);
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("an event arrives")
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// GETs `path` (with a token when given) and decodes the JSON answer.
async fn get_json(
    client: &reqwest::Client,
    running: &Running,
    path: &str,
    token: Option<&str>,
) -> Value {
    let mut request = client.get(format!("{}{path}", running.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn stop(running: Running) {
    running.shutdown();
    tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .expect("shutdown completes")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_bootstraps_an_admin_token_and_restart_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), ""), CancellationToken::new())
        .await
        .unwrap();
    let file = running
        .admin_token_file
        .clone()
        .expect("a token was created");
    assert_eq!(file, dir.path().join(".steward/admin.token"));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = admin_token(dir.path()).await;

    let client = reqwest::Client::new();
    let health = get_json(&client, &running, "/healthz", None).await;
    assert_eq!(health["status"], "ok");
    let me = get_json(&client, &running, "/api/v1/whoami", Some(&token)).await;
    assert_eq!(
        (me["role"].as_str(), me["name"].as_str()),
        (Some("admin"), Some("admin"))
    );
    stop(running).await;

    let again = start(config(dir.path(), ""), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        again.admin_token_file, None,
        "an admin token exists, none is created"
    );
    assert_eq!(
        admin_token(dir.path()).await,
        token,
        "the file is left alone"
    );
    let store = again.store.clone();
    let lifecycle = store
        .events(&EventQuery {
            kind: Some("steward".into()),
            order: steward_store::Order::Asc,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = lifecycle.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["steward.started", "steward.stopped", "steward.started"]
    );
    stop(again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_journals_the_last_summary_of_refused_requests_before_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), ""), CancellationToken::new())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let refused = client
        .get(format!("{}/api/v1/events", running.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    // Well within the summary interval: only the shutdown journals it.
    stop(running).await;

    let again = start(config(dir.path(), ""), CancellationToken::new())
        .await
        .unwrap();
    let journal = again
        .store
        .events(&EventQuery {
            order: steward_store::Order::Asc,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = journal
        .events
        .iter()
        .map(|event| event.kind.as_str())
        .filter(|kind| kind.starts_with("steward.") || *kind == "audit.denied")
        .collect();
    assert_eq!(
        kinds,
        [
            "steward.started",
            "audit.denied",
            "steward.stopped",
            "steward.started"
        ]
    );
    stop(again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_new_events_and_resumes_after_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), ""), CancellationToken::new())
        .await
        .unwrap();
    let token = admin_token(dir.path()).await;
    let client = reqwest::Client::new();
    let post = |summary: &'static str| {
        let client = client.clone();
        let url = format!("{}/api/v1/events", running.url());
        let token = token.clone();
        async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"kind": "ci.note", "summary": summary}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };

    let response = client
        .get(format!("{}/api/v1/events/stream?kind=ci", running.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let first = post("first").await;
    let (id, event) = next_event(&mut stream, &mut buffer, |e| e["summary"] == "first").await;
    assert_eq!(id, first);
    assert_eq!(event["kind"], "ci.note");
    drop(stream);

    // Events appended while nobody listens are replayed on resume.
    let second = post("second").await;
    let third = post("third").await;
    let response = client
        .get(format!("{}/api/v1/events/stream?kind=ci", running.url()))
        .bearer_auth(&token)
        .header("Last-Event-ID", first.to_string())
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let (id, _) = next_event(&mut stream, &mut buffer, |_| true).await;
    assert_eq!(id, second);
    let (id, _) = next_event(&mut stream, &mut buffer, |_| true).await;
    assert_eq!(id, third);

    // An open stream does not hold up shutdown.
    stop(running).await;
    let rest = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap();
    assert!(
        !matches!(rest, Some(Ok(ref chunk)) if String::from_utf8_lossy(chunk).contains("data:"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        certified.key_pair.serialize_pem(),
    )
    .unwrap();
    let running = start(
        config(
            dir.path(),
            "[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"",
        ),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(running.url().starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let health = get_json(&client, &running, "/healthz", None).await;
    assert_eq!(health["status"], "ok");
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", running.local_addr))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain HTTP is not served"
    );
    stop(running).await;
}

#[tokio::test]
async fn a_bad_certificate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let err = match start(
        config(
            dir.path(),
            "[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"",
        ),
        CancellationToken::new(),
    )
    .await
    {
        Ok(_) => panic!("started with a bad certificate"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.starts_with("cannot load TLS certificate from") && err.contains("cert.pem"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_postgresql_state() {
    let Some(url) = steward_store::testing::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        config(dir.path(), &format!("state_url = \"{url}\"")),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let token = admin_token(dir.path()).await;
    let status = get_json(
        &reqwest::Client::new(),
        &running,
        "/api/v1/status",
        Some(&token),
    )
    .await;
    assert_eq!(status["steward"]["store"], "postgres");
    stop(running).await;
}

/// A GET of the Prometheus API: status and JSON body.
async fn prom(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_api_answers_on_what_steward_scrapes_of_itself() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[metrics]\nscrape_interval = \"300ms\"\nscrape_timeout = \"250ms\"\n",
    );
    let running = start(config, CancellationToken::new()).await.unwrap();
    let url = running.url();
    let token = admin_token(dir.path()).await;
    let client = reqwest::Client::new();
    let query = format!("{url}/prometheus/api/v1/query?query=up");

    let (status, body) = prom(&client, &query, None).await;
    assert_eq!(status, 401, "the API needs a token: {body}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let jobs = loop {
        let (status, body) = prom(&client, &query, Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success");
        let mut jobs: Vec<String> = body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["value"][1] == "1")
            .map(|s| s["metric"]["job"].as_str().unwrap().to_owned())
            .collect();
        jobs.sort();
        if jobs.len() == 2 || tokio::time::Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(jobs, ["steward", "steward-resources"]);

    // host resources under node_exporter's names, steward's own metrics
    for q in ["node_memory_MemTotal_bytes", "steward_http_requests_total"] {
        let (_, body) = prom(
            &client,
            &format!("{url}/prometheus/api/v1/query?query={q}"),
            Some(&token),
        )
        .await;
        let result = body["data"]["result"].as_array().unwrap();
        assert!(!result.is_empty(), "{q} is stored: {body}");
    }
    let (status, body) = prom(
        &client,
        &format!("{url}/prometheus/api/v1/query?query=rate(up[1m]"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], "bad_data");
    let (_, targets) = prom(
        &client,
        &format!("{url}/prometheus/api/v1/targets"),
        Some(&token),
    )
    .await;
    assert_eq!(
        targets["data"]["activeTargets"].as_array().unwrap().len(),
        2
    );
    assert!(
        std::fs::metadata(dir.path().join(".steward").join("metrics"))
            .unwrap()
            .permissions()
            .mode()
            & 0o077
            == 0,
        "the TSDB directory is private"
    );
    stop(running).await;
}

/// A token with `role`, created with the admin token.
async fn token_with_role(client: &reqwest::Client, url: &str, admin: &str, role: &str) -> String {
    let created: Value = client
        .post(format!("{url}/api/v1/tokens"))
        .bearer_auth(admin)
        .json(&json!({"name": format!("{role}-pusher"), "role": role}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["secret"].as_str().expect("a secret").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_metrics_pushed_with_an_operator_token_are_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "[metrics]\nscrape_self = false\n");
    let running = start(config, CancellationToken::new()).await.unwrap();
    let url = running.url();
    let admin = admin_token(dir.path()).await;
    let client = reqwest::Client::new();
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let payload = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
        "scopeMetrics": [{"metrics": [{"name": "tasks", "sum": {
            "aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [{"timeUnixNano": now_ns.to_string(), "asInt": "7"}]}}]}]}]});
    let push = |token: Option<String>| {
        let mut request = client
            .post(format!("{url}{}", steward_server::OTLP_METRICS_PATH))
            .json(&payload);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    assert_eq!(push(None).await.unwrap().status().as_u16(), 401);
    let viewer = token_with_role(&client, &url, &admin, "viewer").await;
    let refused = push(Some(viewer)).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("operator"),
        "{body}"
    );

    let operator = token_with_role(&client, &url, &admin, "operator").await;
    let accepted = push(Some(operator)).await.unwrap();
    assert_eq!(accepted.status().as_u16(), 200);

    let (status, body) = prom(
        &client,
        &format!("{url}/prometheus/api/v1/query?query=tasks_total"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{body}");
    assert_eq!(result[0]["metric"]["job"], "agent");
    assert_eq!(result[0]["value"][1], "7");

    // pushes are data, not changes: none is journaled
    let events = get_json(&client, &running, "/api/v1/events?limit=100", Some(&admin)).await;
    assert!(
        !events.to_string().contains("/v1/metrics"),
        "no audit event for pushes: {events}"
    );
    stop(running).await;
}
