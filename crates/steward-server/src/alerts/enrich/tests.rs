//! The value of an alert's expression now: evaluated over the metrics
//! store for the alert's series, and left out past the time budget or
//! without a metrics store.

use steward_alert::notify::Status;
use steward_config::Environment;
use steward_metrics::{Labels, Sample};

use super::*;

/// An alert whose generator link carries `escaped` (the expression as a
/// query string value).
fn alert(pairs: &[(&str, &str)], escaped: &str) -> NotifiedAlert {
    NotifiedAlert {
        status: Status::Firing,
        labels: pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: Default::default(),
        starts_at: Utc::now(),
        ends_at: None,
        generator_url: format!("http://steward:7400/graph?g0.expr={escaped}&g0.tab=1"),
        fingerprint: "0".into(),
    }
}

#[tokio::test]
async fn the_value_is_the_alerts_series_now_within_the_budget() {
    let test = steward_store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let config = steward_config::load_str(
        "test.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\n",
        dir.path(),
        &Environment::default(),
    )
    .unwrap();
    let collector = MetricsCollector::start(&config.config.metrics, dir.path(), None).unwrap();
    let now = Utc::now();
    let at = now.timestamp_millis() - 1_000;
    collector
        .storage()
        .append(&[
            (
                Labels::from_pairs([("__name__", "queue_depth"), ("service", "api")]),
                Sample { t: at, v: 12.0 },
            ),
            (
                Labels::from_pairs([("__name__", "queue_depth"), ("service", "db")]),
                Sample { t: at, v: 3.0 },
            ),
        ])
        .unwrap();
    let enricher = |metrics: Option<MetricsCollector>, budget: Duration| StewardEnricher {
        store: test.store.clone(),
        config: Arc::new(config.clone()),
        lookback: ENRICH_LOOKBACK,
        manager: Arc::default(),
        metrics,
        budget,
        logs: None,
        api_url: "http://steward:7400".to_owned(),
    };
    let api = alert(
        &[("alertname", "Backlog"), ("service", "api")],
        "queue_depth+%3E+1",
    );
    let total = alert(&[("alertname", "Backlog")], "sum%28queue_depth%29");

    let within = enricher(Some(collector.clone()), VALUE_BUDGET);
    let found = within.enrich_all(&[api.clone(), total.clone()], now).await;
    assert_eq!(found[0].value, Some(12.0), "the alert's own series");
    assert_eq!(found[1].value, Some(15.0), "an aggregate is every alert's");
    assert_eq!(
        found[1].related,
        Vec::new(),
        "without a service, no related alerts"
    );

    let past = enricher(Some(collector.clone()), Duration::ZERO);
    assert_eq!(
        past.enrich(&api, now).await.value,
        None,
        "past the budget the value is left out"
    );
    let without = enricher(None, VALUE_BUDGET);
    assert_eq!(without.enrich(&api, now).await.value, None);
}

/// The lines of an alert's service (its replica's when it names one) in
/// the minute before it started, oldest first, with a link to query them.
#[tokio::test]
async fn an_alert_shows_its_services_lines_from_the_minute_before_it_fired() {
    use steward_logs::{
        Entry, LogStore, PushStream, StoreOptions, api::LokiApi, ingest::Limits, logql::Engine,
    };
    let test = steward_store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let config = steward_config::load_str(
        "test.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\n",
        dir.path(),
        &Environment::default(),
    )
    .unwrap();
    let store = LogStore::open(StoreOptions::new(dir.path().join("logs"))).unwrap();
    let api = LokiApi::new(store, Engine::default(), Limits::default());
    let fired = Utc::now() - chrono::Duration::seconds(5);
    let ns = |before_secs: i64| fired.timestamp_nanos_opt().unwrap() - before_secs * 1_000_000_000;
    let stream = |service: &str, replica: &str, lines: &[(i64, &str)]| PushStream {
        labels: steward_metrics::Labels::from_pairs([
            ("service", service),
            ("replica", replica),
            ("stream", "stderr"),
        ]),
        entries: lines.iter().map(|(t, l)| Entry::new(ns(*t), *l)).collect(),
    };
    api.push(vec![
        stream(
            "worker",
            "worker-1",
            &[
                (90, "too early"),
                (30, "tool call failed: timeout"),
                (10, "task t-7 failed"),
            ],
        ),
        stream("worker", "worker-2", &[(20, "healthy replica line")]),
        stream("gateway", "gateway-1", &[(15, "another service")]),
    ])
    .await
    .unwrap();
    let enricher = StewardEnricher {
        store: test.store.clone(),
        config: Arc::new(config.clone()),
        lookback: ENRICH_LOOKBACK,
        manager: Arc::default(),
        metrics: None,
        budget: VALUE_BUDGET,
        logs: Some(api),
        api_url: "http://steward:7400".to_owned(),
    };
    let mut on_replica = alert(
        &[
            ("alertname", "ErrorRate"),
            ("service", "worker"),
            ("replica", "worker-1"),
        ],
        "x",
    );
    on_replica.starts_at = fired;
    let mut on_service = alert(&[("alertname", "ErrorRate"), ("service", "worker")], "x");
    on_service.starts_at = fired;
    on_service.fingerprint = "1".into();
    let found = enricher
        .enrich_all(&[on_replica, on_service], Utc::now())
        .await;

    let shown: Vec<&str> = found[0]
        .logs
        .iter()
        .map(|l| l.split_once(" stderr ").unwrap().1)
        .collect();
    assert_eq!(shown, vec!["tool call failed: timeout", "task t-7 failed"]);
    assert!(
        found[0].logs[0].contains(" worker-1 stderr "),
        "{:?}",
        found[0].logs
    );
    let annotations = found[0].annotations();
    assert_eq!(annotations["steward_logs"], found[0].logs.join("\n"));
    let link = &annotations["steward_logs_url"];
    assert!(link.starts_with("http://steward:7400/loki/api/v1/query_range?query=%7Bservice%3D%22worker%22%2C+replica%3D%22worker-1%22%7D"), "{link}");

    let shown: Vec<&str> = found[1]
        .logs
        .iter()
        .map(|l| l.split_once(" stderr ").unwrap().1)
        .collect();
    assert_eq!(
        shown,
        vec![
            "tool call failed: timeout",
            "healthy replica line",
            "task t-7 failed"
        ]
    );
}
