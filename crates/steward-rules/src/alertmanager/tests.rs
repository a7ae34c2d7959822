//! The notifier against in-process receivers: the payload, batches,
//! every Alertmanager, credentials, failures, timeouts (paused clock), the
//! bounded queue and the metrics; and what the rule manager hands a sink
//! over time (resends, resolutions).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use parking_lot::Mutex;
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample};

use super::*;
use crate::rule::AlertState;
use crate::{ManagerOptions, RuleManager, TemplateExpander};

/// What a receiver got: each request's Authorization header and body.
#[derive(Default)]
struct Received {
    requests: Mutex<Vec<(Option<String>, serde_json::Value)>>,
}

#[derive(Clone)]
struct Receiver {
    got: Arc<Received>,
    status: StatusCode,
    delay: Duration,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    tokio::time::sleep(r.delay).await;
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(headers["content-type"], "application/json");
    r.got
        .requests
        .lock()
        .push((auth, serde_json::from_str(&body).unwrap()));
    r.status
}

/// A receiver on a free port; its base URL and what it gets.
async fn receiver(status: StatusCode, delay: Duration) -> (String, Arc<Received>) {
    let got = Arc::new(Received::default());
    let app = Router::new()
        .route("/prefix/api/v2/alerts", post(receive))
        .with_state(Receiver {
            got: got.clone(),
            status,
            delay,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/prefix/"), got)
}

fn alert(i: usize) -> NotifiedAlert {
    NotifiedAlert {
        labels: Labels::from_pairs([
            ("alertname", "Down".to_owned()),
            ("i", i.to_string()),
            ("cluster", "mine".to_owned()),
        ]),
        annotations: Labels::from_pairs([("summary", format!("alert {i}"))]),
        starts_at_ms: 1_700_000_000_123,
        ends_at_ms: 1_700_000_240_000,
        generator_url: "http://steward/graph?g0.expr=up&g0.tab=1".into(),
        state: AlertState::Firing,
    }
}

fn opts(urls: Vec<String>, auth: Option<AlertmanagerAuth>) -> NotifierOptions {
    NotifierOptions {
        alertmanagers: vec![AlertmanagerConfig {
            urls,
            timeout: Duration::from_secs(10),
            auth,
        }],
        external_labels: Labels::from_pairs([("cluster", "eu"), ("replica", "a")]),
        queue_capacity: DEFAULT_QUEUE_CAPACITY,
    }
}

/// Waits (real time, bounded) until the queue is empty and `n` requests
/// arrived at `got`.
async fn wait_for(got: &Received, n: usize, sink: &AlertmanagerSink) {
    for _ in 0..500 {
        if got.requests.lock().len() >= n && sink.queue_length() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} requests, want {n}", got.requests.lock().len());
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{line_start} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn batches_go_to_every_alertmanager_in_prometheus_format() {
    let (a, got_a) = receiver(StatusCode::OK, Duration::ZERO).await;
    let (b, got_b) = receiver(StatusCode::OK, Duration::ZERO).await;
    let auth = AlertmanagerAuth::Basic {
        username: "u".into(),
        password: "p".into(),
    };
    let sink = AlertmanagerSink::start(opts(vec![a.clone(), b], Some(auth))).unwrap();
    sink.send((0..100).map(alert).collect()).await;
    wait_for(&got_a, 2, &sink).await;
    wait_for(&got_b, 2, &sink).await;
    for got in [&got_a, &got_b] {
        let reqs = got.requests.lock();
        // 100 alerts: a batch of 64, then one of 36
        let sizes: Vec<usize> = reqs.iter().map(|r| r.1.as_array().unwrap().len()).collect();
        assert_eq!(sizes, [64, 36]);
        assert_eq!(reqs[0].0.as_deref(), Some("Basic dTpw"));
        assert_eq!(
            reqs[0].1[0],
            serde_json::json!({
                "annotations": {"summary": "alert 0"},
                "endsAt": "2023-11-14T22:17:20.000Z",
                "startsAt": "2023-11-14T22:13:20.123Z",
                "generatorURL": "http://steward/graph?g0.expr=up&g0.tab=1",
                // the alert's own cluster label wins over the external one
                "labels": {"alertname": "Down", "cluster": "mine", "i": "0", "replica": "a"},
            })
        );
    }
    let url = format!("{a}api/v2/alerts");
    let sent = format!("prometheus_notifications_sent_total{{alertmanager=\"{url}\"}}");
    // The sink counts a batch once its answer is read, a moment after the
    // receiver has recorded it.
    for _ in 0..500 {
        if metric(&sink.render_metrics(), &sent) == 100.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let m = sink.render_metrics();
    assert_eq!(metric(&m, &sent), 100.0);
    assert_eq!(
        metric(
            &m,
            &format!("prometheus_notifications_errors_total{{alertmanager=\"{url}\"}}")
        ),
        0.0
    );
    assert_eq!(
        metric(
            &m,
            &format!("prometheus_notifications_latency_seconds_count{{alertmanager=\"{url}\"}}")
        ),
        2.0
    );
    assert_eq!(
        metric(&m, "prometheus_notifications_alertmanagers_discovered"),
        2.0
    );
    assert_eq!(metric(&m, "prometheus_notifications_dropped_total"), 0.0);
    assert_eq!(
        metric(&m, "prometheus_notifications_queue_capacity"),
        10_000.0
    );
    assert_eq!(metric(&m, "prometheus_notifications_queue_length"), 0.0);
    assert!(
        m.contains("# TYPE prometheus_notifications_sent_total counter"),
        "{m}"
    );
    sink.stop();
}

#[test]
fn alerts_are_written_with_prometheus_field_order() {
    let a = alert(3);
    let text = serde_json::to_string(&WireAlert::from(&a)).unwrap();
    assert_eq!(
        text,
        r#"{"annotations":{"summary":"alert 3"},"endsAt":"2023-11-14T22:17:20.000Z","startsAt":"2023-11-14T22:13:20.123Z","generatorURL":"http://steward/graph?g0.expr=up&g0.tab=1","labels":{"alertname":"Down","cluster":"mine","i":"3"}}"#
    );
    // empty annotations and generator URL are left out, as Go's omitempty does
    let bare = NotifiedAlert {
        annotations: Labels::empty(),
        generator_url: String::new(),
        ..a
    };
    let text = serde_json::to_string(&WireAlert::from(&bare)).unwrap();
    assert!(
        text.starts_with(r#"{"endsAt":"#) && !text.contains("generatorURL"),
        "{text}"
    );
}

#[tokio::test]
async fn failures_are_counted_and_a_batch_nobody_took_is_dropped() {
    let (ok, got_ok) = receiver(StatusCode::OK, Duration::ZERO).await;
    let (bad, got_bad) = receiver(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let token = AlertmanagerAuth::Bearer("secret".into());
    // one of two took it: not dropped
    let sink = AlertmanagerSink::start(opts(vec![ok, bad.clone()], Some(token.clone()))).unwrap();
    sink.send(vec![alert(1)]).await;
    wait_for(&got_ok, 1, &sink).await;
    wait_for(&got_bad, 1, &sink).await;
    assert_eq!(
        got_bad.requests.lock()[0].0.as_deref(),
        Some("Bearer secret")
    );
    let m = sink.render_metrics();
    let bad_url = format!("{bad}api/v2/alerts");
    assert_eq!(
        metric(
            &m,
            &format!("prometheus_notifications_errors_total{{alertmanager=\"{bad_url}\"}}")
        ),
        1.0
    );
    // counted as sent even though refused, as Prometheus counts
    assert_eq!(
        metric(
            &m,
            &format!("prometheus_notifications_sent_total{{alertmanager=\"{bad_url}\"}}")
        ),
        1.0
    );
    assert_eq!(metric(&m, "prometheus_notifications_dropped_total"), 0.0);

    // nobody took it: dropped
    let only_bad = AlertmanagerSink::start(opts(vec![bad], Some(token))).unwrap();
    only_bad.send(vec![alert(1), alert(2)]).await;
    wait_for(&got_bad, 2, &only_bad).await;
    for _ in 0..100 {
        if metric(
            &only_bad.render_metrics(),
            "prometheus_notifications_dropped_total",
        ) == 2.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        metric(
            &only_bad.render_metrics(),
            "prometheus_notifications_dropped_total"
        ),
        2.0
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_is_bounded_by_its_timeout() {
    // the receiver answers after an hour; the request gives up after 10s
    let (slow, _) = receiver(StatusCode::OK, Duration::from_secs(3600)).await;
    let sink = AlertmanagerSink::start(opts(vec![slow.clone()], None)).unwrap();
    sink.send(vec![alert(1)]).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let m = sink.render_metrics();
    let url = format!("{slow}api/v2/alerts");
    assert_eq!(
        metric(
            &m,
            &format!("prometheus_notifications_errors_total{{alertmanager=\"{url}\"}}")
        ),
        1.0
    );
    assert_eq!(metric(&m, "prometheus_notifications_dropped_total"), 1.0);
}

#[test]
fn the_queue_keeps_the_newest_alerts() {
    let inner = Inner::new(NotifierOptions {
        queue_capacity: 5,
        ..NotifierOptions::default()
    })
    .unwrap();
    inner.enqueue((0..3).map(alert).collect());
    inner.enqueue((3..7).map(alert).collect());
    let ids = |b: &[NotifiedAlert]| -> Vec<String> {
        b.iter()
            .map(|a| a.labels.get("i").unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&inner.next_batch()), ["2", "3", "4", "5", "6"]);
    assert_eq!(inner.metrics.lock().dropped, 2);
    // a single hand-over larger than the queue keeps its newest
    inner.enqueue((0..8).map(alert).collect());
    assert_eq!(ids(&inner.next_batch()), ["3", "4", "5", "6", "7"]);
    assert_eq!(inner.metrics.lock().dropped, 5);
    assert!(inner.next_batch().is_empty());
}

#[tokio::test]
async fn no_alertmanager_means_dropped() {
    let sink = AlertmanagerSink::start(NotifierOptions::default()).unwrap();
    sink.send(vec![alert(1)]).await;
    for _ in 0..100 {
        if metric(
            &sink.render_metrics(),
            "prometheus_notifications_dropped_total",
        ) == 1.0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not dropped: {}", sink.render_metrics());
}

#[test]
fn urls_are_checked_and_the_path_appended() {
    assert_eq!(
        alerts_url("http://am:9093").unwrap(),
        "http://am:9093/api/v2/alerts"
    );
    assert_eq!(
        alerts_url("https://am/x/").unwrap(),
        "https://am/x/api/v2/alerts"
    );
    for bad in ["am:9093", "ftp://am", "not a url"] {
        assert!(
            matches!(alerts_url(bad), Err(Error::InvalidAlertmanager { .. })),
            "{bad}"
        );
    }
    assert!(
        format!("{:?}", AlertmanagerAuth::Bearer("secret".into()))
            .find("secret")
            .is_none()
    );
}

/// Records what the manager hands its sink.
#[derive(Default)]
struct Recorder(Mutex<Vec<NotifiedAlert>>);

#[async_trait::async_trait]
impl AlertSink for Recorder {
    async fn send(&self, alerts: Vec<NotifiedAlert>) {
        self.0.lock().extend(alerts);
    }
}

#[tokio::test(start_paused = true)]
async fn the_manager_resends_firing_alerts_and_sends_resolutions() {
    const T0: i64 = 1_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("r.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    interval: 10s\n    rules:\n      - alert: Hot\n        expr: temp > 30\n        annotations: {summary: '{{ $value }} degrees'}\n",
    )
    .unwrap();
    let storage = Arc::new(MemoryStorage::new());
    // hot for two minutes, then cool
    let batch: Vec<_> = (T0 - 60_000..=T0 + 600_000)
        .step_by(5_000)
        .map(|t| {
            let v = if t < T0 + 120_000 { 35.0 } else { 20.0 };
            (
                Labels::from_pairs([("__name__", "temp")]),
                Sample::new(t, v),
            )
        })
        .collect();
    storage.append(&batch).unwrap();
    let sink = Arc::new(Recorder::default());
    let opts = ManagerOptions {
        resend_delay: Duration::from_secs(60),
        ..ManagerOptions::default()
    };
    let expander = TemplateExpander::new(
        storage.clone(),
        steward_metrics::promql::Engine::default(),
        "",
    );
    let m = RuleManager::with_start_time(opts, storage, Arc::new(expander), sink.clone(), T0);
    m.update(std::slice::from_ref(&file)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(300)).await;
    m.stop().await;
    let got = sink.0.lock().clone();
    let with_state =
        |st: AlertState| -> Vec<&NotifiedAlert> { got.iter().filter(|a| a.state == st).collect() };
    let (firing, resolved) = (
        with_state(AlertState::Firing),
        with_state(AlertState::Inactive),
    );
    // fired at the first evaluation, resent 70s later (more than the 60s
    // resend delay, on the 10s grid), resolved 120s after firing; the
    // resolution is sent at once and again every resend round (at 190s
    // and 260s) within the five minutes
    assert_eq!(firing.len(), 2, "{got:?}");
    let start = firing[0].starts_at_ms;
    assert!((T0..T0 + 10_000).contains(&start), "{start}");
    assert_eq!(firing[1].starts_at_ms, start);
    assert_eq!(firing[0].ends_at_ms, start + 4 * 60_000);
    assert_eq!(firing[1].ends_at_ms, start + 70_000 + 4 * 60_000);
    assert_eq!(firing[0].annotations.get("summary"), Some("35 degrees"));
    assert_eq!(resolved.len(), 3, "{got:?}");
    for a in &resolved {
        assert_eq!((a.starts_at_ms, a.ends_at_ms), (start, start + 120_000));
    }
}
