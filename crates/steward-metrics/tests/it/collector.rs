//! The collector end to end with real HTTP targets on loopback: replicas
//! are scraped with their version labels, a rolling update shows both
//! versions side by side, and a replica that goes has its series marked
//! stale so the query stops returning it.

use std::{sync::Arc, time::Duration};

use steward_config::MetricsConfig;
use steward_core::HumanDuration;
use steward_metrics::{
    MetricsCollector, ReplicaTarget,
    promql::Value,
    resources::ReplicaSource,
    storage::{MemoryStorage, Storage},
};
use tokio::{io::AsyncWriteExt, net::TcpListener};

/// A target answering every request with `body` as text format.
async fn target(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

fn replica(version: &str, id: &str, address: &str) -> ReplicaTarget {
    ReplicaTarget {
        service: "agent".into(),
        version: version.into(),
        replica: id.into(),
        address: address.into(),
        metrics_path: "/metrics".into(),
        restarts: 0,
        source: ReplicaSource::Stopped,
    }
}

/// The versions of the series `query` returns now, sorted.
fn versions(collector: &MetricsCollector, query: &str) -> Vec<String> {
    let now = chrono::Utc::now().timestamp_millis();
    let result = collector
        .engine()
        .instant_query(collector.storage().as_ref(), query, now)
        .unwrap();
    let Value::Vector(samples) = result.value else {
        panic!("expected a vector")
    };
    let mut v: Vec<String> = samples
        .iter()
        .map(|s| s.labels.get("version").unwrap_or("-").to_owned())
        .collect();
    v.sort();
    v
}

async fn eventually(mut check: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn replicas_are_scraped_with_versions_that_follow_a_rolling_update() {
    let config = MetricsConfig {
        scrape_interval: HumanDuration(Duration::from_millis(200)),
        scrape_timeout: HumanDuration(Duration::from_millis(150)),
        scrape_self: false,
        ..MetricsConfig::default()
    };
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let collector = MetricsCollector::with_storage(&config, storage, None);
    let old = target("demo_agent_tasks_total 5\n").await;
    let new = target("demo_agent_tasks_total 7\n").await;

    collector.set_replicas(vec![replica("1.0.0", "agent-a", &old)]);
    let q = "demo_agent_tasks_total";
    eventually(|| versions(&collector, q) == ["1.0.0"], "the first version").await;

    collector.set_replicas(vec![
        replica("1.0.0", "agent-a", &old),
        replica("1.1.0", "agent-b", &new),
    ]);
    eventually(
        || versions(&collector, q) == ["1.0.0", "1.1.0"],
        "both versions side by side",
    )
    .await;

    collector.set_replicas(vec![replica("1.1.0", "agent-b", &new)]);
    eventually(
        || versions(&collector, q) == ["1.1.0"],
        "the old replica stale",
    )
    .await;

    let (targets, _) = collector.scrape().targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].labels.get("job"), Some("agent"));
    assert_eq!(targets[0].labels.get("replica"), Some("agent-b"));
    assert_eq!(targets[0].labels.get("instance"), Some(new.as_str()));
    collector.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_is_down_with_the_reason() {
    let config = MetricsConfig {
        scrape_interval: HumanDuration(Duration::from_millis(200)),
        scrape_timeout: HumanDuration(Duration::from_millis(150)),
        scrape_self: false,
        ..MetricsConfig::default()
    };
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let collector = MetricsCollector::with_storage(&config, storage, None);
    // a port nothing listens on: bind, note, close
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    collector.set_replicas(vec![replica("1.0.0", "agent-a", &addr)]);
    eventually(
        || {
            let (t, _) = collector.scrape().targets();
            !t.is_empty() && !t[0].last_error.is_empty()
        },
        "a failed scrape",
    )
    .await;
    let (t, _) = collector.scrape().targets();
    assert!(t[0].last_error.contains(&addr), "{}", t[0].last_error);
    let up = collector
        .engine()
        .instant_query(
            collector.storage().as_ref(),
            "up",
            chrono::Utc::now().timestamp_millis(),
        )
        .unwrap();
    let Value::Vector(up) = up.value else {
        panic!()
    };
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].v, 0.0);
    collector.shutdown().await;
}

#[tokio::test]
#[allow(clippy::print_stderr)]
async fn node_exporter_is_scraped_as_a_static_target() {
    let Ok(url) = std::env::var("STEWARD_NODE_EXPORTER") else {
        eprintln!("skipping: set STEWARD_NODE_EXPORTER (scripts/test.sh starts node_exporter)");
        return;
    };
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let text = format!(
        "[metrics]\nscrape_interval = \"300ms\"\nscrape_timeout = \"250ms\"\nscrape_self = false\n\
         [[metrics.scrape]]\njob = \"node\"\ntargets = [\"{address}\"]\n\
         [[metrics.scrape.metric_relabel_configs]]\nsource_labels = [\"__name__\"]\nregex = \"go_.*\"\naction = \"drop\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let loaded = steward_config::load_str(
        "node.toml",
        &text,
        dir.path(),
        &steward_config::Environment::default(),
    )
    .expect("valid configuration");
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let collector = MetricsCollector::with_storage(&loaded.config.metrics, storage, None);
    let query = |q: &str| {
        let now = chrono::Utc::now().timestamp_millis();
        match collector
            .engine()
            .instant_query(collector.storage().as_ref(), q, now)
            .unwrap()
            .value
        {
            Value::Vector(v) => v,
            _ => panic!("expected a vector"),
        }
    };
    eventually(
        || !query("node_memory_MemTotal_bytes{job=\"node\"}").is_empty(),
        "node_exporter's series",
    )
    .await;
    let total = query("node_memory_MemTotal_bytes{job=\"node\"}");
    assert_eq!(total[0].labels.get("instance"), Some(address.as_str()));
    assert!(total[0].v > 0.0);
    assert_eq!(query("up{job=\"node\"}")[0].v, 1.0);
    assert!(
        query("go_goroutines").is_empty(),
        "metric relabelling dropped go_*"
    );
    assert!(!query("sum by (mode) (node_cpu_seconds_total)").is_empty());
    collector.shutdown().await;
}

#[tokio::test]
async fn metadata_comes_from_the_targets_last_scrape() {
    use tower::ServiceExt;
    let config = MetricsConfig {
        scrape_interval: HumanDuration(Duration::from_millis(200)),
        scrape_timeout: HumanDuration(Duration::from_millis(150)),
        scrape_self: false,
        ..MetricsConfig::default()
    };
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let collector = MetricsCollector::with_storage(&config, storage, None);
    let addr = target(
        "# HELP demo_agent_tasks_total Tasks handled.\n# TYPE demo_agent_tasks_total counter\ndemo_agent_tasks_total 5\n",
    )
    .await;
    collector.set_replicas(vec![replica("1.0.0", "agent-a", &addr)]);
    eventually(
        || versions(&collector, "demo_agent_tasks_total") == ["1.0.0"],
        "the first scrape",
    )
    .await;
    let response = collector
        .api_router()
        .oneshot(
            axum::http::Request::get("/api/v1/metadata?metric=demo_agent_tasks_total")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc["data"]["demo_agent_tasks_total"],
        serde_json::json!([{"type": "counter", "help": "Tasks handled.", "unit": ""}]),
        "{doc}"
    );
    collector.shutdown().await;
}
