//! The sender against an in-process axum receiver (no sockets, so paused
//! time is exact): batching by size and deadline, shards keeping series
//! in order, retries with backoff and `Retry-After`, drops on 4xx, and the
//! flush deadline on shutdown.

use std::collections::VecDeque;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use parking_lot::Mutex;
use tower::ServiceExt;

use super::*;
use crate::remote::proto::{Label, Sample as WireSample, decode_snappy};

/// A transport calling a router directly.
struct RouterTransport(Router);

impl Transport for RouterTransport {
    fn send(&self, request: http::Request<Vec<u8>>) -> ReplyFuture {
        let router = self.0.clone();
        Box::pin(async move {
            let response = router
                .oneshot(request.map(axum::body::Body::from))
                .await
                .map_err(|e| e.to_string())?;
            Ok(Reply {
                status: response.status(),
                retry_after: parse_retry_after(response.headers()),
                body: String::new(),
            })
        })
    }
}

/// One request as received: when, and its series' names and timestamps.
type Received = (Instant, Vec<(String, Vec<i64>)>);

/// What the receiver saw: when, and the (series, timestamps) of each request.
#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<(StatusCode, Option<&'static str>)>>,
    got: Mutex<Vec<Received>>,
}

async fn receive(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    assert_eq!(headers["content-encoding"], "snappy");
    assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
    assert_eq!(headers["x-scope-orgid"], "t1");
    let request: WriteRequest = decode_snappy(&body, 1 << 20).unwrap();
    let series = request
        .timeseries
        .iter()
        .map(|ts| {
            (
                ts.labels[0].value.clone(),
                ts.samples.iter().map(|s| s.timestamp).collect(),
            )
        })
        .collect();
    rx.got.lock().push((Instant::now(), series));
    let (status, retry_after) = rx
        .script
        .lock()
        .pop_front()
        .unwrap_or((StatusCode::NO_CONTENT, None));
    let mut response = status.into_response();
    if let Some(r) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static(r));
    }
    response
}

type Response = axum::response::Response;

struct Setup {
    _dir: tempfile::TempDir,
    queue: Arc<Queue>,
    stats: Arc<RemoteStats>,
    rx: Arc<Receiver>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn config() -> SenderConfig {
    let mut headers = HeaderMap::new();
    headers.insert("x-scope-orgid", HeaderValue::from_static("t1"));
    SenderConfig {
        url: "http://remote.test/api/v1/write".into(),
        headers,
        remote_timeout: Duration::from_secs(30),
        capacity: 100,
        max_shards: 1,
        min_shards: 1,
        max_samples_per_send: 3,
        batch_send_deadline: Duration::from_secs(5),
        min_backoff: Duration::from_millis(30),
        max_backoff: Duration::from_millis(100),
        retry_on_http_429: true,
    }
}

fn start(config: SenderConfig, script: Vec<(StatusCode, Option<&'static str>)>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(dir.path(), 1 << 20, u64::MAX).unwrap());
    let rx = Arc::new(Receiver {
        script: Mutex::new(script.into()),
        ..Receiver::default()
    });
    let router = Router::new()
        .route("/api/v1/write", axum::routing::post(receive))
        .with_state(Arc::clone(&rx));
    let stats = Arc::new(RemoteStats::default());
    let sender = Sender::new(
        config,
        Arc::clone(&queue),
        Arc::new(RouterTransport(router)),
        Arc::clone(&stats),
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(sender.run(shutdown.clone()));
    Setup {
        _dir: dir,
        queue,
        stats,
        rx,
        shutdown,
        task,
    }
}

fn push(queue: &Queue, series: &str, t: i64) {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: series.into(),
            }],
            samples: vec![WireSample {
                value: 1.0,
                timestamp: t,
            }],
            exemplars: Vec::new(),
        }],
        metadata: Vec::new(),
    };
    queue.append(&request, 1).unwrap();
}

async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn full_requests_go_at_once_and_a_partial_one_at_the_deadline() {
    let s = start(config(), Vec::new());
    for t in 1..=7 {
        push(&s.queue, "a", t);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    settle().await;
    let sizes: Vec<usize> = s.rx.got.lock().iter().map(|(_, r)| r[0].1.len()).collect();
    // one round of seven samples: requests of at most three
    assert_eq!(sizes, vec![3, 3, 1]);
    assert_eq!(s.stats.samples.load(Ordering::Relaxed), 7);

    let start = Instant::now();
    push(&s.queue, "a", 8);
    tokio::time::sleep(Duration::from_secs(4)).await;
    settle().await;
    assert_eq!(
        s.rx.got.lock().len(),
        3,
        "a lone sample waits for the deadline"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    settle().await;
    let got: Vec<Received> = s.rx.got.lock().clone();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].0 - start, Duration::from_secs(5));
    assert_eq!(s.queue.pending(), 0);
    s.shutdown.cancel();
    s.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shards_keep_each_series_in_order() {
    let mut c = config();
    c.max_shards = 4;
    c.max_samples_per_send = 2;
    let s = start(c, Vec::new());
    for t in 1..=5 {
        for name in ["a", "b", "c", "d", "e", "f"] {
            push(&s.queue, name, t);
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    settle().await;
    assert_eq!(s.stats.shards.load(Ordering::Relaxed), 4);
    let mut per_series: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for (_, request) in s.rx.got.lock().iter() {
        for (name, ts) in request {
            per_series.entry(name.clone()).or_default().extend(ts);
        }
    }
    assert_eq!(per_series.len(), 6);
    for ts in per_series.values() {
        assert_eq!(ts, &vec![1, 2, 3, 4, 5]);
    }
    assert_eq!(s.stats.samples.load(Ordering::Relaxed), 30);
    s.shutdown.cancel();
    s.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn recoverable_errors_are_retried_with_backoff_and_retry_after() {
    let script = vec![
        (StatusCode::INTERNAL_SERVER_ERROR, None),
        (StatusCode::SERVICE_UNAVAILABLE, None),
        (StatusCode::BAD_GATEWAY, None),
        (StatusCode::INTERNAL_SERVER_ERROR, None),
        (StatusCode::TOO_MANY_REQUESTS, Some("2")),
    ];
    let s = start(config(), script);
    for t in 1..=3 {
        push(&s.queue, "a", t);
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    let got: Vec<Received> = s.rx.got.lock().clone();
    assert_eq!(got.len(), 6);
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
    // 30ms doubling, capped at 100ms; then Retry-After
    assert_eq!(
        gaps,
        [30, 60, 100, 100, 2000].map(Duration::from_millis).to_vec()
    );
    assert_eq!(s.stats.retried.load(Ordering::Relaxed), 15);
    assert_eq!(s.stats.samples.load(Ordering::Relaxed), 3);
    assert_eq!(s.queue.pending(), 0);
    s.shutdown.cancel();
    s.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn client_errors_drop_the_request_and_429_too_when_not_retried() {
    let mut c = config();
    c.retry_on_http_429 = false;
    let script = vec![
        (StatusCode::BAD_REQUEST, None),
        (StatusCode::TOO_MANY_REQUESTS, None),
    ];
    let s = start(c, script);
    for t in 1..=6 {
        push(&s.queue, "a", t);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    settle().await;
    assert_eq!(s.rx.got.lock().len(), 2);
    assert_eq!(s.stats.failed.load(Ordering::Relaxed), 6);
    assert_eq!(s.stats.retried.load(Ordering::Relaxed), 0);
    assert_eq!(s.queue.pending(), 0, "dropped samples are committed");
    s.shutdown.cancel();
    s.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_up_after_the_flush_deadline_and_keeps_the_queue() {
    let script = vec![(StatusCode::INTERNAL_SERVER_ERROR, None); 1000];
    let s = start(config(), script);
    push(&s.queue, "a", 1);
    push(&s.queue, "a", 2);
    push(&s.queue, "a", 3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopped_at = Instant::now();
    s.shutdown.cancel();
    s.task.await.unwrap();
    assert_eq!(stopped_at.elapsed(), FLUSH_DEADLINE);
    assert_eq!(s.queue.pending(), 3, "unsent samples stay queued");
    assert_eq!(s.stats.samples.load(Ordering::Relaxed), 0);
}

#[test]
fn retry_after_is_seconds_or_a_date() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("7"));
    assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
    h.insert(
        "retry-after",
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
    h.insert("retry-after", HeaderValue::from_static("soon"));
    assert_eq!(parse_retry_after(&h), None);
}
