//! steward-proxy against real HTTP and TCP servers on loopback: balancing,
//! retries, draining, switching and replacing replicas under load; `edge`:
//! forwarding headers and the limits put on clients.

mod edge;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, routing::get};
use prometheus::{Encoder, Registry, TextEncoder};
use steward_proxy::{Protocol, Proxy, ProxyMetrics, ProxyOptions, Upstream, UpstreamState};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// A demo replica answering its id; `/hold` answers once the gate opens.
struct Backend {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Backend {
    async fn start(id: &'static str, gate: Arc<Notify>) -> Self {
        let app = Router::new()
            .route("/", get(move || async move { id }))
            .route(
                "/hold",
                get(move || {
                    let gate = Arc::clone(&gate);
                    async move {
                        gate.notified().await;
                        id
                    }
                }),
            )
            .route(
                "/echo",
                axum::routing::post(|body: String| async move { body }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await
                .unwrap();
        });
        Backend { addr, stop, task }
    }

    fn upstream(&self, id: &str) -> Upstream {
        Upstream::new(id, self.addr)
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

struct Front {
    proxy: Proxy,
    url: String,
    registry: Registry,
    _stop: tokio_util::sync::DropGuard,
}

async fn front(options: ProxyOptions) -> Front {
    let registry = Registry::new();
    let metrics = ProxyMetrics::register(&registry).unwrap();
    let proxy = Proxy::new(options, &metrics);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    proxy.serve(listener, stop.clone());
    Front {
        proxy,
        url,
        registry,
        _stop: stop.drop_guard(),
    }
}

fn metrics_text(registry: &Registry) -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

async fn get_text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn requests_are_balanced_and_counted_per_upstream() {
    let gate = Arc::new(Notify::new());
    let a = Backend::start("a", Arc::clone(&gate)).await;
    let b = Backend::start("b", Arc::clone(&gate)).await;
    let front = front(ProxyOptions::new("agent")).await;
    front.proxy.add(a.upstream("a")).unwrap();
    front.proxy.add(b.upstream("b")).unwrap();
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (status, body) = get_text(&client, &front.url).await;
        assert_eq!(status, 200);
        seen.push(body);
    }
    assert_eq!(seen.iter().filter(|id| *id == "a").count(), 5, "{seen:?}");
    assert_eq!(seen.iter().filter(|id| *id == "b").count(), 5, "{seen:?}");
    let text = metrics_text(&front.registry);
    for id in ["a", "b"] {
        let line = format!(
            "steward_proxy_requests_total{{code=\"2xx\",service=\"agent\",upstream=\"{id}\"}} 5"
        );
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    assert!(text.contains(
        "steward_proxy_request_duration_seconds_count{service=\"agent\",upstream=\"a\"} 5"
    ));

    // Bodies and methods pass through.
    let echoed = client
        .post(format!("{}/echo", front.url))
        .body("tokens=42")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, "tokens=42");
}

#[tokio::test]
async fn without_upstreams_the_proxy_answers_503_in_json() {
    let front = front(ProxyOptions::new("gateway")).await;
    let response = reqwest::get(&front.url).await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_upstream");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway"),
        "{body}"
    );
}

/// An address where nothing listens.
async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn idempotent_requests_are_retried_once_on_a_connection_failure() {
    let gate = Arc::new(Notify::new());
    let live = Backend::start("live", gate).await;
    let front = front(ProxyOptions::new("agent")).await;
    // Round-robin starts with the first upstream: the dead one.
    front
        .proxy
        .add(Upstream::new("dead", dead_addr().await))
        .unwrap();
    front.proxy.add(live.upstream("live")).unwrap();
    let client = reqwest::Client::new();
    let (status, body) = get_text(&client, &front.url).await;
    assert_eq!((status, body.as_str()), (200, "live"));
    let text = metrics_text(&front.registry);
    assert!(
        text.contains("steward_proxy_retries_total{service=\"agent\"} 1"),
        "{text}"
    );
    assert!(text.contains(
        "steward_proxy_upstream_errors_total{kind=\"connect\",service=\"agent\",upstream=\"dead\"} 1"
    ));

    // A POST is not retried: it fails with a JSON 502 naming the replica.
    let (status, _) = get_text(&client, &front.url).await; // live's turn
    assert_eq!(status, 200);
    let response = client
        .post(format!("{}/echo", front.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_failed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("dead"),
        "{body}"
    );
}

async fn wait_for_in_flight(proxy: &Proxy, id: &str, n: usize) {
    for _ in 0..500 {
        if proxy
            .upstreams()
            .iter()
            .any(|status| status.upstream.id == id && status.in_flight == n)
        {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!(
        "{id} never had {n} requests in flight: {:?}",
        proxy.upstreams()
    );
}

#[tokio::test(start_paused = true)]
async fn a_drain_lets_requests_in_flight_finish_and_sends_new_ones_elsewhere() {
    let gate = Arc::new(Notify::new());
    let old = Backend::start("old", Arc::clone(&gate)).await;
    let new = Backend::start("new", Arc::clone(&gate)).await;
    let front = front(ProxyOptions::new("agent")).await;
    front.proxy.add(old.upstream("old")).unwrap();
    let client = reqwest::Client::new();
    let held = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/hold", front.url);
        async move { get_text(&client, &url).await }
    });
    wait_for_in_flight(&front.proxy, "old", 1).await;
    front.proxy.add(new.upstream("new")).unwrap();
    let drain = tokio::spawn({
        let proxy = front.proxy.clone();
        async move { proxy.drain("old", Duration::from_secs(30)).await }
    });
    // Draining: old takes nothing new.
    for _ in 0..6 {
        assert_eq!(get_text(&client, &front.url).await, (200, "new".to_owned()));
    }
    let states: Vec<_> = front
        .proxy
        .upstreams()
        .into_iter()
        .map(|s| (s.upstream.id, s.state))
        .collect();
    assert!(
        states.contains(&("old".to_owned(), UpstreamState::Draining)),
        "{states:?}"
    );
    // Just short of its 30 s timeout, the drain still waits.
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(
        !drain.is_finished(),
        "the held request keeps the drain waiting"
    );
    gate.notify_waiters();
    assert_eq!(held.await.unwrap(), (200, "old".to_owned()));
    let drained = drain.await.unwrap().unwrap();
    assert_eq!(drained.abandoned, 0);
    let ids: Vec<_> = front
        .proxy
        .upstreams()
        .into_iter()
        .map(|s| s.upstream.id)
        .collect();
    assert_eq!(ids, ["new"]);
    old.stop().await;
    assert_eq!(get_text(&client, &front.url).await, (200, "new".to_owned()));
}

/// Clients sending requests without pause until stopped: (sent, failed,
/// bodies seen after `mark`).
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<Vec<String>>>,
}

impl Load {
    fn start(url: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let tasks = (0..clients)
            .map(|_| {
                let (stop, sent, failed) =
                    (Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&failed));
                let url = url.to_owned();
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut bodies = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        sent.fetch_add(1, Ordering::SeqCst);
                        match client.get(&url).send().await {
                            Ok(response) if response.status().is_success() => {
                                bodies.push(response.text().await.unwrap_or_default());
                            }
                            _ => {
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                    bodies
                })
            })
            .collect();
        Load {
            stop,
            sent,
            failed,
            tasks,
        }
    }

    async fn finish(self) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let mut bodies = Vec::new();
        for task in self.tasks {
            bodies.extend(task.await.unwrap());
        }
        (
            self.sent.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            bodies,
        )
    }

    async fn until_sent(&self, n: usize) {
        let target = self.sent.load(Ordering::SeqCst) + n;
        while self.sent.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_and_blue_green_switches_under_load_fail_no_request() {
    let gate = Arc::new(Notify::new());
    let mut blue = Vec::new();
    for id in ["blue-1", "blue-2"] {
        blue.push((id, Backend::start(id, Arc::clone(&gate)).await));
    }
    let front = front(ProxyOptions::new("agent")).await;
    for (id, backend) in &blue {
        front.proxy.add(backend.upstream(id)).unwrap();
    }
    let load = Load::start(&front.url, 4);
    load.until_sent(200).await;

    // Blue-green: the whole green set at once; blue drained, then stopped.
    let mut green = Vec::new();
    for id in ["green-1", "green-2"] {
        green.push((id, Backend::start(id, Arc::clone(&gate)).await));
    }
    let drained = front
        .proxy
        .switch(
            green
                .iter()
                .map(|(id, backend)| backend.upstream(id))
                .collect(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(drained.iter().all(|d| d.abandoned == 0), "{drained:?}");
    for (_, backend) in blue {
        backend.stop().await;
    }
    load.until_sent(200).await;

    // Rolling: one new replica up, one old drained and stopped, twice.
    let mut next = Vec::new();
    for (new_id, (old_id, old)) in ["next-1", "next-2"].into_iter().zip(green) {
        let backend = Backend::start(new_id, Arc::clone(&gate)).await;
        front.proxy.add(backend.upstream(new_id)).unwrap();
        next.push(backend);
        load.until_sent(100).await;
        let drained = front
            .proxy
            .drain(old_id, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(drained.abandoned, 0);
        old.stop().await;
        load.until_sent(100).await;
    }
    let mark = front.proxy.upstreams();
    load.until_sent(100).await;
    let (sent, failed, bodies) = load.finish().await;
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    assert!(sent >= 800, "{sent} requests sent");
    assert!(bodies.iter().any(|b| b.starts_with("blue")));
    assert!(bodies.iter().any(|b| b.starts_with("green")));
    assert!(bodies.iter().any(|b| b.starts_with("next")));
    let ids: Vec<_> = mark.into_iter().map(|s| s.upstream.id).collect();
    assert_eq!(ids, ["next-1", "next-2"]);
    for backend in next {
        backend.stop().await;
    }
}

async fn echo_server(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    let reply = format!("{tag}:{}", String::from_utf8_lossy(&buf[..n]));
                    if stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tcp_connections_are_joined_to_replicas_in_turn_and_retried_on_connect_failure() {
    let mut options = ProxyOptions::new("cache");
    options.protocol = Protocol::Tcp;
    let front = front(options).await;
    let addr = front.url.trim_start_matches("http://").to_owned();
    front
        .proxy
        .add(Upstream::new("dead", dead_addr().await))
        .unwrap();
    front
        .proxy
        .add(Upstream::new("x", echo_server("x").await))
        .unwrap();
    front
        .proxy
        .add(Upstream::new("y", echo_server("y").await))
        .unwrap();
    let mut replies = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.unwrap();
        replies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // dead (retried on x), x's own turn... every connection got an answer.
    assert!(
        replies.iter().all(|r| r == "x:ping" || r == "y:ping"),
        "{replies:?}"
    );
    assert!(replies.contains(&"y:ping".to_owned()), "{replies:?}");
    let text = metrics_text(&front.registry);
    assert!(
        text.contains("steward_proxy_retries_total{service=\"cache\"} 1"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_drain_given_up_by_its_caller_still_removes_the_upstream() {
    let gate = Arc::new(Notify::new());
    let old = Backend::start("old", Arc::clone(&gate)).await;
    let new = Backend::start("new", Arc::clone(&gate)).await;
    let front = front(ProxyOptions::new("agent")).await;
    front.proxy.add(old.upstream("old")).unwrap();
    front.proxy.add(new.upstream("new")).unwrap();
    let client = reqwest::Client::new();
    let held = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/hold", front.url);
        async move { get_text(&client, &url).await }
    });
    // Round-robin: one of the two holds the request; drain that one.
    let busy = loop {
        if let Some(status) = front
            .proxy
            .upstreams()
            .into_iter()
            .find(|s| s.in_flight == 1)
        {
            break status.upstream.id;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The caller (a cancelled deployment) stops waiting for the drain.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        front.proxy.drain(&busy, Duration::from_secs(30)),
    )
    .await;
    assert!(gave_up.is_err(), "the held request keeps the drain waiting");
    let ids: Vec<_> = front
        .proxy
        .upstreams()
        .into_iter()
        .map(|s| s.upstream.id)
        .collect();
    assert!(!ids.contains(&busy), "not left behind as draining: {ids:?}");
    assert_eq!(ids.len(), 1);
    // The request in flight still finishes.
    gate.notify_waiters();
    assert_eq!(held.await.unwrap().0, 200);
}

/// Sends `GET /hold` through the proxy and waits until `id` holds it.
async fn hold(front: &Front, client: &reqwest::Client, id: &str) -> JoinHandle<(u16, String)> {
    let held = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/hold", front.url);
        async move { get_text(&client, &url).await }
    });
    wait_for_in_flight(&front.proxy, id, 1).await;
    held
}

#[tokio::test(start_paused = true)]
async fn a_drain_and_a_switch_give_up_at_their_timeout_and_count_the_abandoned_requests() {
    let gate = Arc::new(Notify::new());
    let old = Backend::start("old", Arc::clone(&gate)).await;
    let new = Backend::start("new", Arc::clone(&gate)).await;
    let front = front(ProxyOptions::new("agent")).await;
    let client = reqwest::Client::new();

    // A drain: exactly its timeout, then the upstream is gone.
    front.proxy.add(old.upstream("old")).unwrap();
    let held = hold(&front, &client, "old").await;
    front.proxy.add(new.upstream("new")).unwrap();
    let started = tokio::time::Instant::now();
    let drained = front
        .proxy
        .drain("old", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    assert_eq!(drained.abandoned, 1);
    let ids: Vec<_> = front
        .proxy
        .upstreams()
        .into_iter()
        .map(|s| s.upstream.id)
        .collect();
    assert_eq!(ids, ["new"]);
    // The abandoned request still gets its answer.
    gate.notify_waiters();
    assert_eq!(held.await.unwrap(), (200, "old".to_owned()));

    // A switch: the whole old set drained within one timeout.
    let held = hold(&front, &client, "new").await;
    let started = tokio::time::Instant::now();
    let drained = front
        .proxy
        .switch(vec![old.upstream("old")], Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert_eq!(
        drained
            .iter()
            .map(|d| (d.id.as_str(), d.abandoned))
            .collect::<Vec<_>>(),
        [("new", 1)]
    );
    assert_eq!(get_text(&client, &front.url).await, (200, "old".to_owned()));
    gate.notify_waiters();
    assert_eq!(held.await.unwrap(), (200, "new".to_owned()));
}

/// An address whose connections hang: a listener with a backlog of one
/// that never accepts, its queue filled by the returned connection
/// (Linux drops a SYN to a full accept queue, so the client waits).
async fn hanging_addr() -> (SocketAddr, tokio::net::TcpListener, TcpStream) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let queued = TcpStream::connect(addr).await.unwrap();
    (addr, listener, queued)
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_hangs_is_given_up_at_the_connect_timeout_and_retried_once_elsewhere() {
    let gate = Arc::new(Notify::new());
    let live = Backend::start("live", gate).await;
    let (hanging, _listener, _queued) = hanging_addr().await;
    let mut options = ProxyOptions::new("agent");
    options.connect_timeout = Duration::from_secs(2);
    let front = front(options).await;
    // Round-robin starts with the first upstream: the hanging one.
    front.proxy.add(Upstream::new("hanging", hanging)).unwrap();
    front.proxy.add(live.upstream("live")).unwrap();
    let client = reqwest::Client::new();
    let started = tokio::time::Instant::now();
    let (status, body) = get_text(&client, &front.url).await;
    let took = started.elapsed();
    assert_eq!((status, body.as_str()), (200, "live"));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2100),
        "{took:?}"
    );
    let text = metrics_text(&front.registry);
    assert!(
        text.contains("steward_proxy_retries_total{service=\"agent\"} 1"),
        "{text}"
    );
    assert!(text.contains(
        "steward_proxy_upstream_errors_total{kind=\"connect\",service=\"agent\",upstream=\"hanging\"} 1"
    ));
}
