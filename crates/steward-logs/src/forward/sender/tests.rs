//! The sender against a real HTTP receiver on loopback (an axum server
//! answering from a script: 500 then 204, 429 with `Retry-After`, 400),
//! and against a scripted in-process transport under tokio's paused
//! clock for the backoff's timing and the flush at shutdown.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use parking_lot::Mutex;
use steward_metrics::remote::sender::{Reply, ReplyFuture, Transport};
use tokio_util::sync::CancellationToken;

use super::backoff;
use crate::forward::tests::config;
use crate::forward::{ForwardConfig, Forwarder, TENANT_HEADER, http_transport};
use crate::ingest::{Limits, loki};
use crate::{Entry, PushStream};

fn streams(app: &str, lines: &[&str]) -> Vec<PushStream> {
    vec![PushStream {
        labels: steward_metrics::Labels::from_pairs([("app", app)]),
        entries: lines
            .iter()
            .enumerate()
            .map(|(i, l)| Entry::new(1_700_000_000_000_000_000 + i as i64, *l))
            .collect(),
    }]
}

/// What the receiver got: each request's headers and lines.
#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<Response>>,
    got: Mutex<Vec<(HeaderMap, Vec<String>)>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let lines = loki::decode_protobuf(&body, &Limits::default())
        .map(|streams| {
            streams
                .into_iter()
                .flat_map(|s| s.entries.into_iter().map(|e| e.line))
                .collect()
        })
        .unwrap_or_default();
    r.got.lock().push((headers, lines));
    r.script
        .lock()
        .pop_front()
        .unwrap_or_else(|| StatusCode::NO_CONTENT.into_response())
}

async fn serve(script: Vec<Response>) -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver {
        script: Mutex::new(script.into()),
        got: Mutex::default(),
    });
    let app = Router::new()
        .route("/loki/api/v1/push", post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (receiver, format!("http://{addr}/loki/api/v1/push"))
}

struct Running {
    _dir: tempfile::TempDir,
    forwarder: Arc<Forwarder>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(config: ForwardConfig, transport: Arc<dyn Transport>) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let forwarder = Arc::new(Forwarder::open(config, dir.path()).expect("open"));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&forwarder).run(transport, shutdown.clone()));
    Running {
        _dir: dir,
        forwarder,
        shutdown,
        task,
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn status(code: StatusCode) -> Response {
    (code, "no").into_response()
}

#[test]
fn backoff_doubles_up_to_the_maximum_with_jitter_below_half() {
    let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
    assert_eq!(backoff(min, max, 0, 0.0), min);
    assert_eq!(backoff(min, max, 1, 0.0), Duration::from_millis(200));
    assert_eq!(backoff(min, max, 3, 0.0), Duration::from_millis(800));
    assert_eq!(backoff(min, max, 4, 0.0), max);
    assert_eq!(backoff(min, max, 60, 0.0), max);
    assert_eq!(backoff(min, max, 1, 0.999_999).as_millis(), 100);
    assert_eq!(backoff(min, max, 2, 0.5).as_millis(), 300);
}

#[tokio::test]
async fn a_500_is_retried_until_the_204_and_headers_are_sent() {
    let (receiver, url) = serve(vec![status(StatusCode::INTERNAL_SERVER_ERROR)]).await;
    let run = start(config("a", &url), http_transport().expect("client"));
    run.forwarder
        .append_streams(&streams("web", &["one", "two"]))
        .expect("append");
    until("the batch sent and committed", || {
        let stats = run.forwarder.stats();
        stats.sent_lines == 2 && stats.pending_lines == 0
    })
    .await;
    let got = receiver.got.lock().clone();
    assert_eq!(got.len(), 2, "one refused request, one accepted");
    assert_eq!(got[0].1, got[1].1);
    assert_eq!(got[1].1, vec!["one", "two"]);
    let headers = &got[1].0;
    assert_eq!(headers[TENANT_HEADER], "team-a");
    assert_eq!(headers[header::AUTHORIZATION], "Bearer s3cret");
    assert_eq!(headers["x-extra"], "yes");
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
    let stats = run.forwarder.stats();
    assert_eq!(
        (stats.retried_lines, stats.failed_lines, stats.pending_lines),
        (2, 0, 0)
    );
    run.shutdown.cancel();
    run.task.await.expect("sender");
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let mut busy = status(StatusCode::TOO_MANY_REQUESTS);
    busy.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    let (receiver, url) = serve(vec![busy]).await;
    let run = start(config("a", &url), http_transport().expect("client"));
    let started = std::time::Instant::now();
    run.forwarder
        .append_streams(&streams("web", &["x"]))
        .expect("append");
    until("the batch sent", || run.forwarder.stats().sent_lines == 1).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "sent again after {:?}, before Retry-After",
        started.elapsed()
    );
    assert_eq!(receiver.got.lock().len(), 2);
    run.shutdown.cancel();
    run.task.await.expect("sender");
}

#[tokio::test]
async fn a_400_drops_the_batch_counts_it_and_goes_on() {
    let (receiver, url) = serve(vec![status(StatusCode::BAD_REQUEST)]).await;
    let run = start(config("a", &url), http_transport().expect("client"));
    run.forwarder
        .append_streams(&streams("web", &["bad", "worse"]))
        .expect("append");
    until("the batch dropped", || {
        run.forwarder.stats().failed_lines == 2
    })
    .await;
    run.forwarder
        .append_streams(&streams("web", &["good"]))
        .expect("append");
    until("the next sent and committed", || {
        let stats = run.forwarder.stats();
        stats.sent_lines == 1 && stats.pending_lines == 0
    })
    .await;
    let got: Vec<Vec<String>> = receiver.got.lock().iter().map(|g| g.1.clone()).collect();
    assert_eq!(got, vec![vec!["bad", "worse"], vec!["good"]]);
    let stats = run.forwarder.stats();
    assert_eq!((stats.retried_lines, stats.pending_lines), (0, 0));
    run.shutdown.cancel();
    run.task.await.expect("sender");
}

#[tokio::test]
async fn a_connection_error_is_retried_and_the_lines_stay_queued() {
    // nothing listens on the port of a listener bound and dropped
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut cfg = config("a", &format!("http://{closed}/loki/api/v1/push"));
    cfg.batch_wait = Duration::from_secs(3600);
    cfg.batch_bytes = 1;
    let run = start(cfg, http_transport().expect("client"));
    run.forwarder
        .append_streams(&streams("web", &["a"]))
        .expect("append");
    until("a retry", || run.forwarder.stats().retried_lines >= 1).await;
    assert_eq!(run.forwarder.stats().pending_lines, 1);
    run.shutdown.cancel();
    run.task.abort();
}

#[tokio::test]
async fn a_batch_merges_the_pushes_queued_within_batch_wait() {
    let (receiver, url) = serve(Vec::new()).await;
    let mut cfg = config("a", &url);
    cfg.batch_wait = Duration::from_millis(300);
    let run = start(cfg, http_transport().expect("client"));
    for (app, line) in [("web", "1"), ("db", "2"), ("web", "3")] {
        run.forwarder
            .append_streams(&streams(app, &[line]))
            .expect("append");
    }
    until("the batch sent", || run.forwarder.stats().sent_lines == 3).await;
    let got = receiver.got.lock().clone();
    assert_eq!(got.len(), 1, "one push for the three");
    assert_eq!(
        got[0].1,
        vec!["1", "3", "2"],
        "streams merged, in queue order"
    );
    run.shutdown.cancel();
    run.task.await.expect("sender");
}

/// A transport answering from a script, recording when it was called.
struct Scripted {
    replies: Mutex<VecDeque<StatusCode>>,
    calls: Mutex<Vec<tokio::time::Instant>>,
}

impl Transport for Scripted {
    fn send(&self, _request: axum::http::Request<Vec<u8>>) -> ReplyFuture {
        self.calls.lock().push(tokio::time::Instant::now());
        let status = self
            .replies
            .lock()
            .pop_front()
            .unwrap_or(StatusCode::NO_CONTENT);
        Box::pin(async move {
            Ok(Reply {
                status,
                retry_after: None,
                body: String::new(),
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_within_the_jitter() {
    let scripted = Arc::new(Scripted {
        replies: Mutex::new(vec![StatusCode::SERVICE_UNAVAILABLE; 6].into()),
        calls: Mutex::default(),
    });
    let mut cfg = config("a", "http://127.0.0.1:1/push");
    cfg.min_backoff = Duration::from_secs(1);
    cfg.max_backoff = Duration::from_secs(8);
    let run = start(cfg, scripted.clone());
    run.forwarder
        .append_streams(&streams("web", &["x"]))
        .expect("append");
    until("the batch sent", || run.forwarder.stats().sent_lines == 1).await;
    let calls = scripted.calls.lock().clone();
    assert_eq!(calls.len(), 7);
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let full = Duration::from_secs(1 << i.min(3));
        assert!(
            *gap >= full / 2 && *gap <= full + Duration::from_millis(20),
            "retry {i} after {gap:?}, expected between {:?} and {full:?}",
            full / 2
        );
    }
    run.shutdown.cancel();
    run.task.await.expect("sender");
}

#[tokio::test(start_paused = true)]
async fn at_shutdown_an_unsent_batch_stays_queued_for_the_next_start() {
    let scripted = Arc::new(Scripted {
        replies: Mutex::new(vec![StatusCode::BAD_GATEWAY; 1000].into()),
        calls: Mutex::default(),
    });
    let run = start(config("a", "http://127.0.0.1:1/push"), scripted.clone());
    run.forwarder
        .append_streams(&streams("web", &["kept"]))
        .expect("append");
    until("a retry", || run.forwarder.stats().retried_lines >= 1).await;
    run.shutdown.cancel();
    let stopped = tokio::time::Instant::now();
    run.task.await.expect("sender");
    assert!(stopped.elapsed() <= super::FLUSH_DEADLINE + Duration::from_secs(1));
    let dir = run.forwarder.dir().parent().expect("parent").to_path_buf();
    let config = run.forwarder.config().clone();
    drop(run.forwarder);
    let reopened = Forwarder::open(config, &dir).expect("reopen");
    assert_eq!(reopened.stats().pending_lines, 1);
}
