//! The AlertManager's engine end to end in one process, on real time and
//! a real HTTP receiver on loopback: an alert dispatched to a route is
//! delivered as Alertmanager's version-4 webhook payload after the
//! group's wait, its resolution after the group's interval; a receiver
//! failing at first is retried within the flush, every try is heard,
//! and each alert carries what the enricher found.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{Router as Http, extract::State, http::StatusCode, routing::post};
use chrono::Utc;
use steward_alert::{
    LabelSet,
    alert::IncomingAlert,
    clock::{SharedClock, SystemClock},
    dispatch::{self, Dispatcher, Pipeline, RouteOpts, Router},
    enrich::{Enricher, Enrichment},
    nflog::MemNotificationLog,
    notify::{
        Attempt, Integration, NotifiedAlert, RetryPolicy,
        receivers::{AttemptListener, Receivers},
        webhook::Webhook,
    },
};

/// Tells every alert the service runs 1.3.0.
struct Versions;

#[async_trait::async_trait]
impl Enricher for Versions {
    async fn enrich(&self, alert: &NotifiedAlert, _: chrono::DateTime<Utc>) -> Enrichment {
        Enrichment {
            version: alert.labels.get("service").map(|_| "1.3.0".to_owned()),
            ..Enrichment::default()
        }
    }
}

struct OneRoute(Arc<RouteOpts>);

impl Router for OneRoute {
    fn routes(&self, _: &LabelSet) -> Vec<Arc<RouteOpts>> {
        vec![self.0.clone()]
    }
}

#[derive(Default)]
struct Tries(Mutex<Vec<(String, bool)>>);

impl AttemptListener for Tries {
    fn attempted(&self, integration: &dispatch::Integration, _: &str, attempt: &Attempt) {
        self.0
            .lock()
            .unwrap()
            .push((integration.kind.clone(), attempt.error.is_none()));
    }
}

type Got = Arc<Mutex<Vec<serde_json::Value>>>;

/// A webhook receiver that answers 503 `failures` times, then 200.
async fn receiver(failures: usize) -> (String, Got) {
    let got: Got = Arc::default();
    let left = Arc::new(Mutex::new(failures));
    let app =
        Http::new()
            .route(
                "/hook",
                post(
                    |State((got, left)): State<(Got, Arc<Mutex<usize>>)>,
                     body: axum::body::Bytes| async move {
                        let mut left = left.lock().unwrap();
                        if *left > 0 {
                            *left -= 1;
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                        got.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap());
                        StatusCode::OK
                    },
                ),
            )
            .with_state((got.clone(), left));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

async fn wait_for(got: &Got, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn alerts_reach_a_webhook_and_resolve_with_retries_heard() {
    let (url, got) = receiver(1).await;
    let tries = Arc::new(Tries::default());
    let mut receivers = Receivers::new(
        "http://steward:7400",
        RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            deadline: Duration::from_secs(5),
        },
    )
    .with_listener(tries.clone())
    .with_enricher(Arc::new(Versions));
    let hook: Arc<dyn Integration> = Arc::new(Webhook {
        url,
        max_alerts: 0,
        send_resolved: true,
        hmac_secret: None,
        timeout: Duration::from_secs(5),
        client: reqwest::Client::new(),
    });
    receivers.add("team-a", vec![hook], None);
    let mut route = RouteOpts::new("{}", "{}", "team-a");
    route.group_by = Some(["alertname".to_owned()].into());
    route.group_wait = Duration::from_millis(200);
    route.group_interval = Duration::from_millis(400);
    let clock: SharedClock = Arc::new(SystemClock);
    let pipeline = Pipeline::new(
        Arc::new(MemNotificationLog::new(Duration::from_secs(3600))),
        Arc::new(receivers),
        clock,
    );
    let dispatcher = Dispatcher::new(Arc::new(OneRoute(Arc::new(route))), pipeline);

    let labels: LabelSet = BTreeMap::from([
        ("alertname".to_owned(), "TaskErrors".to_owned()),
        ("service".to_owned(), "agent-worker".to_owned()),
    ]);
    let now = Utc::now();
    let firing = IncomingAlert {
        labels: labels.clone(),
        annotations: BTreeMap::from([("summary".to_owned(), "tasks fail".to_owned())]),
        starts_at: Some(now),
        ends_at: None,
        generator_url: "http://steward:7400/graph".into(),
    }
    .into_alert(now, Duration::from_secs(300))
    .unwrap();
    dispatcher.dispatch(&firing);
    let sent = wait_for(&got, 1).await;
    assert_eq!(sent.len(), 1);
    let payload = &sent[0];
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["receiver"], "team-a");
    assert_eq!(payload["groupKey"], "{}:{alertname=\"TaskErrors\"}");
    assert_eq!(payload["alerts"][0]["labels"]["service"], "agent-worker");
    assert_eq!(payload["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        payload["alerts"][0]["annotations"]["steward_version"],
        "1.3.0"
    );
    assert_eq!(payload["alerts"][0]["annotations"]["summary"], "tasks fail");
    // the receiver holds the payload before the sender hears its answer
    for _ in 0..200 {
        if tries.0.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *tries.0.lock().unwrap(),
        [("webhook".to_owned(), false), ("webhook".to_owned(), true)],
        "the 503 was retried within the flush"
    );

    let mut resolved = firing.clone();
    resolved.ends_at = Some(Utc::now());
    dispatcher.dispatch(&resolved);
    let sent = wait_for(&got, 2).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["status"], "resolved");
    assert_eq!(sent[1]["alerts"][0]["status"], "resolved");
    dispatcher.stop().await;
}
