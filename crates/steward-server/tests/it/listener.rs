//! The API listener's limits, against real sockets: a slowloris client is
//! cut off after the header timeout, an idle connection after the idle
//! timeout (and not before), a long event stream by neither, and
//! connections past the maximum wait until one closes.

use std::{path::Path, time::Duration};

use futures::StreamExt;
use serde_json::json;
use steward_config::{Environment, LoadedConfig, load_str};
use steward_server::{ADMIN_TOKEN_FILE, Running, start};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

fn config(dir: &Path, server: &str) -> LoadedConfig {
    let text = format!("[server]\nlisten = \"127.0.0.1:0\"\n{server}\n");
    load_str("listener.toml", &text, dir, &Environment::default()).unwrap()
}

async fn serve(dir: &Path, server: &str) -> Running {
    start(config(dir, server), CancellationToken::new())
        .await
        .unwrap()
}

async fn stop(running: Running) {
    running.shutdown();
    tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .expect("shutdown completes")
        .unwrap();
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Reads until the server closes the connection (or fails it); returns
/// what it sent and when it closed.
async fn read_until_closed(mut stream: impl AsyncReadExt + Unpin) -> (Vec<u8>, Instant) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return (received, Instant::now()),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Reads until a `/healthz` answer has arrived, for at most `within`;
/// `false` when none came.
async fn healthz_answered(stream: &mut TcpStream, within: Duration) -> bool {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        if String::from_utf8_lossy(&received).contains("\"status\":\"ok\"") {
            return true;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buffer[..n]),
            _ => return false,
        }
    }
}

/// Sends `bytes` one every 100 ms until the server closes the
/// connection; returns how long after the first byte it closed, and what
/// it answered.
async fn slowloris(running: &Running, bytes: &[u8]) -> (Duration, Vec<u8>) {
    let stream = TcpStream::connect(running.local_addr).await.unwrap();
    let (reader, mut writer) = stream.into_split();
    let closed = tokio::spawn(read_until_closed(reader));
    let started = Instant::now();
    for byte in bytes {
        if closed.is_finished() || writer.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (answered, at) = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the server closed the slow connection")
        .unwrap();
    (at - started, answered)
}

/// Headers that never end: 60 bytes sent over 6 s.
fn endless_headers() -> Vec<u8> {
    let mut bytes = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".to_vec();
    bytes.resize(60, b'a');
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_client_is_cut_off_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(
        dir.path(),
        "header_read_timeout = \"500ms\"\nidle_timeout = \"30s\"",
    )
    .await;
    let (after, answered) = slowloris(&running, &endless_headers()).await;
    assert!(
        after >= Duration::from_millis(400) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
    assert!(
        answered.is_empty(),
        "{}",
        String::from_utf8_lossy(&answered)
    );

    // A client that sends its request in time is served.
    let mut stream = TcpStream::connect(running.local_addr).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(healthz_answered(&mut stream, Duration::from_secs(5)).await);
    let metrics = reqwest::get(format!("{}/metrics", running.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("steward_http_connections_closed_total{reason=\"header_timeout\"} 1"),
        "{metrics}"
    );
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tls_handshake_is_cut_off_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        certified.key_pair.serialize_pem(),
    )
    .unwrap();
    let running = serve(
        dir.path(),
        "header_read_timeout = \"500ms\"\nidle_timeout = \"30s\"\n[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"",
    )
    .await;
    // The start of a TLS record (a ClientHello), a byte at a time.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.resize(60, 0x42);
    let (after, _) = slowloris(&running, &hello).await;
    assert!(after < Duration::from_secs(3), "closed after {after:?}");
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout_only() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(
        dir.path(),
        "header_read_timeout = \"300ms\"\nidle_timeout = \"2500ms\"",
    )
    .await;
    // A connection that never sends anything.
    let silent = TcpStream::connect(running.local_addr).await.unwrap();
    let opened = Instant::now();
    let (_, closed) = tokio::time::timeout(Duration::from_secs(8), read_until_closed(silent))
        .await
        .expect("the silent connection is closed");
    let after = closed - opened;
    assert!(
        after >= Duration::from_millis(2200) && after < Duration::from_secs(6),
        "closed after {after:?}"
    );

    // A keep-alive connection between requests: idle, not slow.
    let mut kept = TcpStream::connect(running.local_addr).await.unwrap();
    kept.write_all(HEALTHZ).await.unwrap();
    assert!(healthz_answered(&mut kept, Duration::from_secs(5)).await);
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(800), kept.read(&mut byte))
            .await
            .is_err(),
        "still open past the header timeout"
    );
    kept.write_all(HEALTHZ).await.unwrap();
    assert!(
        healthz_answered(&mut kept, Duration::from_secs(5)).await,
        "and still serving"
    );
    let (_, _) = tokio::time::timeout(Duration::from_secs(8), read_until_closed(kept))
        .await
        .expect("closed once idle for the idle timeout");
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_is_not_idle() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(
        dir.path(),
        "header_read_timeout = \"300ms\"\nidle_timeout = \"600ms\"",
    )
    .await;
    let token = std::fs::read_to_string(dir.path().join(".steward").join(ADMIN_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/api/v1/events/stream?kind=ci", running.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    // Nothing flows for longer than both timeouts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let posted = client
        .post(format!("{}/api/v1/events", running.url()))
        .bearer_auth(&token)
        .json(&json!({"kind": "ci.note", "summary": "still there"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let mut received = String::new();
    while !received.contains("still there") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the event arrives")
            .expect("the stream is open")
            .unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_maximum_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(dir.path(), "max_connections = 2").await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(running.local_addr).await.unwrap();
        stream.write_all(HEALTHZ).await.unwrap();
        assert!(healthz_answered(&mut stream, Duration::from_secs(5)).await);
        held.push(stream);
    }
    let mut third = TcpStream::connect(running.local_addr).await.unwrap();
    third.write_all(HEALTHZ).await.unwrap();
    assert!(
        !healthz_answered(&mut third, Duration::from_secs(1)).await,
        "a third connection is not served while two are open"
    );
    drop(held.pop());
    assert!(
        healthz_answered(&mut third, Duration::from_secs(5)).await,
        "served once a slot is free"
    );
    drop(held);
    drop(third);
    stop(running).await;
}
