//! The proxy as the edge: forwarding headers it sets itself (unless the
//! peer is a trusted proxy), and the limits it puts on clients (header,
//! idle and body timeouts, the connection cap, the TCP idle timeout),
//! against raw clients and real upstreams on loopback.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    http::HeaderMap,
    routing::{get, post},
};
use http_body_util::BodyExt;
use steward_proxy::{EdgeOptions, IpNet, Protocol, ProxyOptions, Upstream};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::Instant,
};

use super::{Front, front};

/// What the upstream saw: request counts and the outcome of each body
/// read.
#[derive(Clone)]
struct Seen {
    requests: Arc<AtomicUsize>,
    bodies: mpsc::UnboundedSender<Result<usize, String>>,
}

/// An upstream that answers `/headers` with the request headers it
/// received (as JSON, a list of values per name) and reads the body of
/// `/upload` in full, reporting how that went.
async fn upstream() -> (
    SocketAddr,
    Arc<AtomicUsize>,
    mpsc::UnboundedReceiver<Result<usize, String>>,
) {
    let (bodies, outcomes) = mpsc::unbounded_channel();
    let seen = Seen {
        requests: Arc::new(AtomicUsize::new(0)),
        bodies,
    };
    let requests = Arc::clone(&seen.requests);
    let counted = seen.clone();
    let app = Router::new()
        .route(
            "/headers",
            get(move |headers: HeaderMap| {
                let seen = counted.clone();
                async move {
                    seen.requests.fetch_add(1, Ordering::SeqCst);
                    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for (name, value) in &headers {
                        out.entry(name.as_str().to_owned())
                            .or_default()
                            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
                    }
                    Json(out)
                }
            }),
        )
        .route("/upload", post(upload).put(upload))
        .with_state(seen);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, requests, outcomes)
}

async fn upload(axum::extract::State(seen): axum::extract::State<Seen>, body: Body) -> String {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let outcome = body
        .collect()
        .await
        .map(|collected| collected.to_bytes().len())
        .map_err(|err| err.to_string());
    let reply = format!("{outcome:?}");
    let _ = seen.bodies.send(outcome);
    reply
}

async fn front_with(edge: EdgeOptions, protocol: Protocol) -> (Front, String) {
    let mut options = ProxyOptions::new("agent");
    options.protocol = protocol;
    options.edge = edge;
    let front = front(options).await;
    let addr = front.url.trim_start_matches("http://").to_owned();
    (front, addr)
}

type Headers = BTreeMap<String, Vec<String>>;

async fn headers_seen(client: &reqwest::Client, url: &str, sent: &[(&str, &str)]) -> Headers {
    let mut request = client.get(format!("{url}/headers"));
    for (name, value) in sent {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

fn one<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    let values = headers.get(name)?;
    assert_eq!(values.len(), 1, "{name}: {values:?}");
    Some(values[0].as_str())
}

const SPOOFED: [(&str, &str); 6] = [
    ("x-forwarded-for", "203.0.113.9"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "bank.example"),
    ("x-forwarded-port", "443"),
    ("forwarded", "for=203.0.113.9;proto=https"),
    ("x-real-ip", "203.0.113.9"),
];

#[tokio::test]
async fn client_sent_forwarding_headers_are_replaced_by_the_proxys_own() {
    let (addr, _, _) = upstream().await;
    let (front, host) = front_with(EdgeOptions::default(), Protocol::Http).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();
    let seen = headers_seen(&reqwest::Client::new(), &front.url, &SPOOFED).await;
    assert_eq!(one(&seen, "x-forwarded-for"), Some("127.0.0.1"), "{seen:?}");
    assert_eq!(one(&seen, "x-real-ip"), Some("127.0.0.1"), "{seen:?}");
    assert_eq!(one(&seen, "x-forwarded-proto"), Some("http"), "{seen:?}");
    assert_eq!(
        one(&seen, "x-forwarded-host"),
        Some(host.as_str()),
        "{seen:?}"
    );
    assert_eq!(one(&seen, "x-forwarded-port"), None, "{seen:?}");
    let forwarded = format!("for=127.0.0.1;proto=http;host=\"{host}\"");
    assert_eq!(
        one(&seen, "forwarded"),
        Some(forwarded.as_str()),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_trusted_peer_extends_the_chain_and_keeps_the_original_proto_and_host() {
    let (addr, _, _) = upstream().await;
    let edge = EdgeOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse::<IpNet>().unwrap()],
        ..EdgeOptions::default()
    };
    let (front, host) = front_with(edge, Protocol::Http).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();
    let seen = headers_seen(&reqwest::Client::new(), &front.url, &SPOOFED).await;
    assert_eq!(
        one(&seen, "x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1"),
        "{seen:?}"
    );
    assert_eq!(one(&seen, "x-real-ip"), Some("203.0.113.9"), "{seen:?}");
    assert_eq!(one(&seen, "x-forwarded-proto"), Some("https"), "{seen:?}");
    assert_eq!(
        one(&seen, "x-forwarded-host"),
        Some("bank.example"),
        "{seen:?}"
    );
    assert_eq!(one(&seen, "x-forwarded-port"), Some("443"), "{seen:?}");
    let forwarded =
        format!("for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host=\"{host}\"");
    assert_eq!(
        one(&seen, "forwarded"),
        Some(forwarded.as_str()),
        "{seen:?}"
    );
}

/// Reads until the proxy closes the connection (within a minute); what
/// arrived before.
async fn read_to_close(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(60), read).await;
    let received = String::from_utf8_lossy(&received).into_owned();
    assert!(
        closed.is_ok(),
        "still open after a minute; received: {received}"
    );
    received
}

/// Writes `bytes` one at a time, `gap` apart (the first at once), until
/// the connection fails.
fn trickle(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: &'static [u8], gap: Duration) {
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
    });
}

const SLOW_HEAD: &[u8] =
    b"GET /headers HTTP/1.1\r\nHost: agent\r\nX-Padding: slowly-slowly-slowly\r\n\r\n";

#[tokio::test(start_paused = true)]
async fn a_slowloris_client_is_disconnected_after_the_header_timeout() {
    let (addr, requests, _) = upstream().await;
    let edge = EdgeOptions {
        header_read_timeout: Some(Duration::from_secs(1)),
        ..EdgeOptions::default()
    };
    let (front, proxy_addr) = front_with(edge, Protocol::Http).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();
    let started = Instant::now();
    let (mut reader, writer) = TcpStream::connect(&proxy_addr).await.unwrap().into_split();
    // A byte every 100 ms: never silent for long, but the head would take
    // 7 s in all.
    trickle(writer, SLOW_HEAD, Duration::from_millis(100));
    let received = read_to_close(&mut reader).await;
    let elapsed = started.elapsed();
    assert_eq!(received, "", "no response to a head that never completed");
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1200),
        "closed after {elapsed:?}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 0);
}

/// Sends one request on a kept-alive connection and reads its response
/// (the upstream's JSON is small and sent with a content-length).
async fn request_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /headers HTTP/1.1\r\nHost: agent\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("content-length")
                .parse()
                .unwrap();
            if body.len() >= length {
                return head.lines().next().unwrap_or_default().to_owned();
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn keep_alive_connections_wait_the_idle_timeout_and_then_the_header_timeout() {
    let (addr, _, _) = upstream().await;
    let edge = EdgeOptions {
        header_read_timeout: Some(Duration::from_secs(1)),
        idle_timeout: Some(Duration::from_secs(10)),
        ..EdgeOptions::default()
    };
    let (front, proxy_addr) = front_with(edge, Protocol::Http).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();

    // Idle for longer than the header timeout between requests: served.
    let mut stream = TcpStream::connect(&proxy_addr).await.unwrap();
    assert_eq!(request_on(&mut stream).await, "HTTP/1.1 200 OK");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(request_on(&mut stream).await, "HTTP/1.1 200 OK");

    // Then, after 4 s more of idleness, a head trickled: the header
    // timeout runs from its first byte.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (mut reader, writer) = stream.into_split();
    let first_byte = Instant::now();
    trickle(writer, SLOW_HEAD, Duration::from_millis(100));
    assert_eq!(read_to_close(&mut reader).await, "");
    let elapsed = first_byte.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1200),
        "closed {elapsed:?} after the first byte"
    );

    // Silent after a response: closed when the idle timeout passes.
    let mut stream = TcpStream::connect(&proxy_addr).await.unwrap();
    assert_eq!(request_on(&mut stream).await, "HTTP/1.1 200 OK");
    let idle_from = Instant::now();
    assert_eq!(read_to_close(&mut stream).await, "");
    let elapsed = idle_from.elapsed();
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_millis(10_200),
        "closed after {elapsed:?} of idleness"
    );
}

/// A request whose head promises 100 bytes of body, of which 10 come.
fn stalled_body(method: &str) -> Vec<u8> {
    format!("{method} /upload HTTP/1.1\r\nHost: agent\r\nContent-Length: 100\r\n\r\n0123456789")
        .into_bytes()
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_sending_its_body_gets_408_and_the_upstream_request_is_aborted() {
    let (addr, requests, mut outcomes) = upstream().await;
    let edge = EdgeOptions {
        body_read_timeout: Some(Duration::from_secs(2)),
        ..EdgeOptions::default()
    };
    let (front, proxy_addr) = front_with(edge, Protocol::Http).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();

    // Streamed to the upstream (POST is not replayed): the upstream's
    // read of the body fails when the proxy gives up.
    let mut stream = TcpStream::connect(&proxy_addr).await.unwrap();
    stream.write_all(&stalled_body("POST")).await.unwrap();
    let started = Instant::now();
    let response = read_to_close(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2200),
        "answered after {elapsed:?}"
    );
    let outcome = tokio::time::timeout(Duration::from_secs(1), outcomes.recv())
        .await
        .expect("the upstream's body read ended")
        .unwrap();
    assert!(outcome.is_err(), "the upstream read the body: {outcome:?}");

    // Buffered for replay (PUT): the upstream never sees the request.
    let mut stream = TcpStream::connect(&proxy_addr).await.unwrap();
    stream.write_all(&stalled_body("PUT")).await.unwrap();
    let response = read_to_close(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "only the POST got through"
    );
}

#[tokio::test]
async fn at_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let (addr, _, _) = upstream().await;
    let edge = EdgeOptions {
        max_connections: 2,
        ..EdgeOptions::default()
    };
    let (front, proxy_addr) = front_with(edge, Protocol::Http).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&proxy_addr).await.unwrap();
        assert_eq!(request_on(&mut stream).await, "HTTP/1.1 200 OK");
        held.push(stream);
    }
    // The third connects (the kernel's backlog) but is not served...
    let mut third = TcpStream::connect(&proxy_addr).await.unwrap();
    let waiting = tokio::spawn(async move {
        let status = request_on(&mut third).await;
        (status, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "served beyond the cap");
    // ...until one of the two closes.
    let closed = Instant::now();
    drop(held.pop());
    let (status, served) = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(served >= closed);
}

/// A TCP upstream that echoes what it reads and reports when its side of a
/// connection ends.
async fn tcp_echo() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let (ended, ends) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let ended = ended.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = ended.send(());
            });
        }
    });
    (addr, ends)
}

async fn echo_once(stream: &mut TcpStream, text: &[u8]) {
    stream.write_all(text).await.unwrap();
    let mut buf = vec![0u8; text.len()];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, text);
}

#[tokio::test]
async fn at_the_tcp_connection_cap_a_new_connection_waits_until_one_closes() {
    let (addr, _ends) = tcp_echo().await;
    let edge = EdgeOptions {
        max_connections: 1,
        ..EdgeOptions::default()
    };
    let (front, proxy_addr) = front_with(edge, Protocol::Tcp).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();
    let mut first = TcpStream::connect(&proxy_addr).await.unwrap();
    echo_once(&mut first, b"one").await;
    let mut second = TcpStream::connect(&proxy_addr).await.unwrap();
    let waiting = tokio::spawn(async move {
        echo_once(&mut second, b"two").await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "joined beyond the cap");
    drop(first);
    tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("joined once the slot freed")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_silent_tcp_connection_is_closed_on_both_sides_after_the_idle_timeout() {
    let (addr, mut ends) = tcp_echo().await;
    let edge = EdgeOptions {
        tcp_idle_timeout: Some(Duration::from_secs(5)),
        ..EdgeOptions::default()
    };
    let (front, proxy_addr) = front_with(edge, Protocol::Tcp).await;
    front.proxy.add(Upstream::new("a", addr)).unwrap();
    let mut stream = TcpStream::connect(&proxy_addr).await.unwrap();
    echo_once(&mut stream, b"ping").await;
    // Traffic within the timeout keeps it open.
    tokio::time::sleep(Duration::from_secs(4)).await;
    echo_once(&mut stream, b"pong").await;
    let last = Instant::now();
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buf))
        .await
        .expect("closed within a minute");
    let elapsed = last.elapsed();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_millis(5200),
        "closed after {elapsed:?} of silence"
    );
    tokio::time::timeout(Duration::from_secs(1), ends.recv())
        .await
        .expect("the upstream side was closed too")
        .unwrap();
}
