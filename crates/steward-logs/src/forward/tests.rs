//! The forward queue (append, read, commit, reopen, the size bound) and
//! forwarding end to end: two Loki APIs over two stores served on
//! loopback, lines pushed to the first found by a LogQL query on the
//! second, which sees the tenant header, also after it was down for a
//! while and the first was restarted meanwhile.

use std::sync::Arc;
use std::time::Duration;

use axum::{
    Router,
    extract::Request,
    http::{HeaderMap, HeaderValue, header},
    middleware::{self, Next},
    response::Response,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use steward_metrics::remote::queue::QueueReader;
use tokio_util::sync::CancellationToken;

use super::{ForwardConfig, Forwarder, TENANT_HEADER, http_transport};
use crate::api::LokiApi;
use crate::ingest::{Limits, loki};
use crate::logql::Engine;
use crate::{Entry, LogStore, PushStream, StoreOptions};

fn push(app: &str, lines: &[&str]) -> Vec<PushStream> {
    vec![PushStream {
        labels: steward_metrics::Labels::from_pairs([("app", app)]),
        entries: lines.iter().map(|l| Entry::new(now_ns(), *l)).collect(),
    }]
}

/// A destination's settings for tests: quick batches and retries, a
/// tenant, a bearer token and a custom header.
pub(crate) fn config(name: &str, url: &str) -> ForwardConfig {
    let mut headers = HeaderMap::new();
    headers.insert(TENANT_HEADER, HeaderValue::from_static("team-a"));
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer s3cret"),
    );
    headers.insert("x-extra", HeaderValue::from_static("yes"));
    ForwardConfig {
        name: name.to_owned(),
        url: url.to_owned(),
        headers,
        batch_bytes: 1 << 20,
        batch_wait: Duration::from_millis(20),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        max_queue_bytes: 64 << 20,
        segment_bytes: 1 << 20,
    }
}

/// A thousand letters that do not compress.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..1000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn lines_of(payload: &[u8]) -> Vec<String> {
    loki::decode_protobuf(payload, &Limits::default())
        .expect("decode")
        .into_iter()
        .flat_map(|s| s.entries.into_iter().map(|e| e.line))
        .collect()
}

#[test]
fn queued_pushes_come_back_in_order_and_a_reopen_resumes_after_the_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config("dest", "http://127.0.0.1:1/push");
    let f = Forwarder::open(cfg.clone(), dir.path()).expect("open");
    assert_eq!(f.dir(), dir.path().join("dest"));
    for line in ["a", "b", "c"] {
        f.append_streams(&push("web", &[line])).expect("append");
    }
    f.append_streams(&[]).expect("nothing to queue");
    assert_eq!(f.stats().pending_lines, 3);
    let mut reader = QueueReader::new(f.queue.committed());
    let first = reader.read_raw(&f.queue, 2, usize::MAX).expect("read");
    assert_eq!(first.len(), 2);
    assert_eq!(lines_of(&first[0].payload), vec!["a"]);
    assert_eq!(lines_of(&first[1].payload), vec!["b"]);
    f.queue.commit(first[0].end, 1).expect("commit");
    assert_eq!(f.stats().pending_lines, 2);
    drop(f);

    let f = Forwarder::open(cfg, dir.path()).expect("reopen");
    assert_eq!(f.stats().pending_lines, 2);
    let mut reader = QueueReader::new(f.queue.committed());
    let rest = reader.read_raw(&f.queue, 100, usize::MAX).expect("read");
    let lines: Vec<Vec<String>> = rest.iter().map(|r| lines_of(&r.payload)).collect();
    assert_eq!(lines, vec![vec!["b"], vec!["c"]]);
}

#[test]
fn reads_stop_at_the_byte_bound_but_take_at_least_one_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = Forwarder::open(config("dest", "http://h/push"), dir.path()).expect("open");
    for line in ["a", "b", "c"] {
        f.append_streams(&push("web", &[line])).expect("append");
    }
    let mut reader = QueueReader::new(f.queue.committed());
    assert_eq!(
        reader
            .read_raw(&f.queue, usize::MAX, 1)
            .expect("read")
            .len(),
        1
    );
    assert_eq!(
        reader
            .read_raw(&f.queue, usize::MAX, usize::MAX)
            .expect("read")
            .len(),
        2
    );
}

#[test]
fn over_max_queue_size_the_oldest_lines_are_dropped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ForwardConfig {
        segment_bytes: 4096,
        max_queue_bytes: 16 << 10,
        ..config("dest", "http://h/push")
    };
    let f = Forwarder::open(cfg, dir.path()).expect("open");
    for i in 0..100 {
        f.append_streams(&push("web", &[&format!("{i} {}", noise(i))]))
            .expect("append");
    }
    let stats = f.stats();
    assert!(stats.dropped_lines > 0, "{stats:?}");
    assert_eq!(stats.dropped_lines + stats.pending_lines, 100);
    assert!(stats.queue_bytes <= (16 << 10) + 4096, "{stats:?}");
    // what is left is the newest lines, in order
    let mut reader = QueueReader::new(f.queue.committed());
    let left: Vec<String> = reader
        .read_raw(&f.queue, usize::MAX, usize::MAX)
        .expect("read")
        .iter()
        .flat_map(|r| lines_of(&r.payload))
        .collect();
    assert_eq!(left.len() as u64, stats.pending_lines);
    assert!(left.last().is_some_and(|l| l.starts_with("99 ")));
}

/// One steward-logs "server": a store, its API on a loopback port, and
/// the tenant headers its pushes came with.
struct Node {
    api: LokiApi,
    addr: std::net::SocketAddr,
    tenants: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
    served: tokio::task::JoinHandle<()>,
}

async fn record_tenant(
    axum::extract::State(tenants): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(tenant) = request.headers().get(TENANT_HEADER)
        && let Ok(tenant) = tenant.to_str()
    {
        tenants.lock().push(tenant.to_owned());
    }
    next.run(request).await
}

async fn serve(api: LokiApi, addr: &str, tenants: Arc<Mutex<Vec<String>>>) -> Node {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app: Router = api.router().layer(middleware::from_fn_with_state(
        Arc::clone(&tenants),
        record_tenant,
    ));
    let stop = CancellationToken::new();
    let served = tokio::spawn({
        let stop = stop.clone();
        async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        }
    });
    Node {
        api,
        addr,
        tenants,
        stop,
        served,
    }
}

impl Node {
    async fn down(self) -> (LokiApi, Arc<Mutex<Vec<String>>>, std::net::SocketAddr) {
        self.stop.cancel();
        let _ = self.served.await;
        (self.api, self.tenants, self.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn store(dir: &std::path::Path) -> LogStore {
    LogStore::open(StoreOptions::new(dir)).expect("store")
}

/// The lines of `{app="web"}` on `node`, oldest first, through its HTTP
/// query API.
async fn query(client: &reqwest::Client, node: &Node) -> Vec<String> {
    let response: Value = client
        .get(node.url("/loki/api/v1/query_range"))
        .query(&[
            ("query", r#"{app="web"}"#),
            ("direction", "forward"),
            ("limit", "1000"),
        ])
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(response["status"], "success", "{response}");
    let mut lines = Vec::new();
    for stream in response["data"]["result"].as_array().into_iter().flatten() {
        for value in stream["values"].as_array().into_iter().flatten() {
            lines.push(value[1].as_str().unwrap_or_default().to_owned());
        }
    }
    lines
}

async fn push_http(client: &reqwest::Client, node: &Node, lines: &[&str]) {
    let ts = now_ns();
    let values: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| json!([(ts + i as i64).to_string(), l]))
        .collect();
    let body = json!({"streams": [{"stream": {"app": "web"}, "values": values}]});
    let status = client
        .post(node.url("/loki/api/v1/push"))
        .json(&body)
        .send()
        .await
        .expect("push")
        .status();
    assert_eq!(status.as_u16(), 204);
}

async fn until_lines(client: &reqwest::Client, node: &Node, want: &[&str]) {
    let mut got = Vec::new();
    for _ in 0..300 {
        got = query(client, node).await;
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the second steward has {got:?}, expected {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_pushed_to_one_steward_are_queried_on_another_also_after_an_outage() {
    let client = reqwest::Client::new();
    let dirs = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let api = |s: LogStore| LokiApi::new(s, Engine::default(), Limits::default());

    // the second steward, the destination
    let b = serve(api(store(dirs.1.path())), "127.0.0.1:0", Arc::default()).await;
    let forward_dir = dirs.0.path().join("forward");
    let cfg = ForwardConfig {
        headers: {
            let mut h = HeaderMap::new();
            h.insert(TENANT_HEADER, HeaderValue::from_static("team-a"));
            h
        },
        ..config("to-b", &b.url("/loki/api/v1/push"))
    };
    let start_a = |s: LogStore| {
        let forwarder = Arc::new(Forwarder::open(cfg.clone(), &forward_dir).expect("forwarder"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(
            Arc::clone(&forwarder).run(http_transport().expect("client"), shutdown.clone()),
        );
        (api(s).with_forwarders(vec![forwarder]), shutdown, task)
    };
    let store_a = store(dirs.0.path().join("store").as_path());
    let (api_a, _shutdown_a, sender_a) = start_a(store_a.clone());
    let a = serve(api_a, "127.0.0.1:0", Arc::default()).await;

    push_http(&client, &a, &["one", "two"]).await;
    until_lines(&client, &b, &["one", "two"]).await;
    assert!(b.tenants.lock().iter().all(|t| t == "team-a"));
    assert!(!b.tenants.lock().is_empty(), "no tenant header seen");

    // the second goes down; the first takes lines and queues them
    let (api_b, tenants_b, addr_b) = b.down().await;
    push_http(&client, &a, &["three"]).await;
    let forwarder = Arc::clone(&a.api.forwarders()[0]);
    for _ in 0..300 {
        if forwarder.stats().retried_lines > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        forwarder.stats().retried_lines > 0,
        "{:?}",
        forwarder.stats()
    );
    // ... and is killed meanwhile, then starts again from its queue on disk
    sender_a.abort();
    let _ = sender_a.await;
    drop(forwarder);
    let (old_a, _, addr_a) = a.down().await;
    drop(old_a);
    let (api_a, shutdown_a, sender_a) = start_a(store_a);
    assert_eq!(api_a.forwarders()[0].stats().pending_lines, 1);
    let a = serve(api_a, &addr_a.to_string(), Arc::default()).await;
    push_http(&client, &a, &["four"]).await;

    // the second comes back on its address: the first catches up
    let b = serve(api_b, &addr_b.to_string(), tenants_b).await;
    until_lines(&client, &b, &["one", "two", "three", "four"]).await;
    assert!(b.tenants.lock().iter().all(|t| t == "team-a"));
    // the commit follows the destination's answer
    for _ in 0..300 {
        if a.api.forwarders()[0].stats().pending_lines == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = a.api.forwarders()[0].stats();
    assert_eq!(
        (stats.pending_lines, stats.failed_lines, stats.dropped_lines),
        (0, 0, 0),
        "{stats:?}"
    );
    // the first still answers its own queries
    assert_eq!(
        query(&client, &a).await,
        vec!["one", "two", "three", "four"]
    );
    // and its metrics name the destination ("four", sent since the restart)
    let text = crate::metrics::render(&a.api);
    let sent = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"steward_logs_forward_sent_lines_total{destination="to-b"} "#)
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(sent.parse::<u64>().is_ok_and(|n| n >= 1), "{text}");
    assert!(
        text.contains(r#"steward_logs_forward_pending_lines{destination="to-b"} 0"#),
        "{text}"
    );
    shutdown_a.cancel();
    sender_a.await.expect("sender");
}
