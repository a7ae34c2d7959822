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
