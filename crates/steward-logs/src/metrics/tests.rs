//! Tests of the log subsystem's metrics: what a store's pushes and
//! refusals count, parsed back as Prometheus would scrape them.

use steward_metrics::{
    Labels,
    exposition::{Format, parse_format},
};

use crate::{
    Entry, LogStore, PushStream, StoreOptions, api::LokiApi, ingest::Limits, logql::Engine,
};

fn value(text: &str, name: &str) -> f64 {
    let parsed = parse_format(text.as_bytes(), Format::Text).expect("valid text format");
    parsed
        .samples
        .iter()
        .find(|s| s.labels.get("__name__") == Some(name))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .value
}

#[tokio::test]
async fn the_store_counts_what_it_acknowledged_and_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(StoreOptions {
        max_memory_bytes: 4096,
        ..StoreOptions::new(dir.path())
    })
    .expect("open");
    let api = LokiApi::new(store.clone(), Engine::default(), Limits::default());
    let push = |lines: &[&str]| {
        vec![PushStream {
            labels: Labels::from_pairs([("service", "api")]),
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, l)| Entry::new(i as i64, *l))
                .collect(),
        }]
    };
    store.push(push(&["one", "three"])).await.expect("push");
    let big = "x".repeat(8192);
    assert!(
        store.push(push(&[big.as_str()])).await.is_err(),
        "over the memory bound"
    );
    let text = super::render(&api);
    assert_eq!(value(&text, "steward_logs_ingested_lines_total"), 2.0);
    assert_eq!(value(&text, "steward_logs_ingested_bytes_total"), 8.0);
    assert_eq!(value(&text, "steward_logs_refused_pushes_total"), 1.0);
    assert_eq!(value(&text, "steward_logs_head_lines"), 2.0);
    assert_eq!(value(&text, "steward_logs_segments"), 0.0);
    store.flush().await.expect("flush");
    let text = super::render(&api);
    assert_eq!(value(&text, "steward_logs_head_lines"), 0.0);
    assert_eq!(value(&text, "steward_logs_segments"), 1.0);
    assert_eq!(value(&text, "steward_logs_segment_lines"), 2.0);
    assert!(value(&text, "steward_logs_segment_bytes") > 0.0);
    assert!(
        !text.contains("steward_logs_forward_"),
        "no destinations: {text}"
    );
}
