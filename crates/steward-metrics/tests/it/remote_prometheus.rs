//! Remote write and remote read against a real Prometheus 2.42 (the path
//! of its binary in STEWARD_TEST_PROMETHEUS; skipped without it): steward's
//! collector remote-writes to Prometheus' receiver; Prometheus
//! remote-writes what it scrapes of itself to steward's API router and
//! reads steward's samples through remote read.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use steward_config::{MetricsConfig, QueueConfig, RemoteWrite};
use steward_core::HumanDuration;
use steward_metrics::{
    Labels, MetricsCollector, Sample,
    promql::Value,
    storage::{MemoryStorage, Storage},
};

fn prometheus_binary() -> Option<String> {
    let path = std::env::var("STEWARD_TEST_PROMETHEUS").ok();
    if path.is_none() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: STEWARD_TEST_PROMETHEUS is not set");
        }
    }
    path
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A Prometheus server killed when dropped.
struct Prometheus {
    child: Child,
    base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_prometheus(binary: &str, dir: &Path, config: &str) -> Prometheus {
    let port = free_port();
    let config_path = dir.join("prometheus.yml");
    std::fs::write(
        &config_path,
        config.replace("SELF", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    let prometheus = Prometheus {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let ready = format!("{}/-/ready", prometheus.base);
    for _ in 0..300 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return prometheus;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    panic!("prometheus did not become ready:\n{log}");
}

/// The result vector of an instant query to Prometheus.
async fn prometheus_query(base: &str, query: &str) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..120 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steward_remote_writes_to_prometheus() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prometheus =
        start_prometheus(&binary, dir.path(), "global:\n  scrape_interval: 1m\n").await;
    let config = MetricsConfig {
        scrape_interval: HumanDuration::from_secs(1),
        scrape_timeout: HumanDuration::from_secs(1),
        scrape_replicas: false,
        remote_write: vec![RemoteWrite {
            url: format!("{}/api/v1/write", prometheus.base),
            name: Some("prom".into()),
            remote_timeout: HumanDuration::from_secs(5),
            headers: Default::default(),
            basic_auth: None,
            bearer_token: None,
            write_relabel_configs: Vec::new(),
            queue_config: QueueConfig {
                batch_send_deadline: HumanDuration::from_millis(500),
                ..QueueConfig::default()
            },
        }],
        ..MetricsConfig::default()
    };
    let data = tempfile::tempdir().unwrap();
    let render: Arc<dyn Fn() -> String + Send + Sync> =
        Arc::new(|| "# TYPE steward_test_info gauge\nsteward_test_info 1\n".to_owned());
    let collector = MetricsCollector::start(&config, data.path(), Some(render)).unwrap();
    let base = prometheus.base.clone();
    eventually("steward's series in prometheus", || {
        let base = base.clone();
        async move {
            let up = prometheus_query(&base, "up{job=\"steward-resources\"}").await;
            let own = prometheus_query(&base, "steward_test_info{job=\"steward\"}").await;
            up.len() == 1 && own.len() == 1
        }
    })
    .await;
    let sent = collector.remote_metrics();
    assert!(
        sent.lines().any(|l| l
            .starts_with("steward_remote_storage_samples_total{remote_name=\"prom\"")
            && !l.ends_with(" 0")),
        "{sent}"
    );
    collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_remote_writes_to_and_reads_from_steward() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let storage = Arc::new(MemoryStorage::new());
    let collector =
        MetricsCollector::with_storage(&MetricsConfig::default(), storage.clone(), None);
    let now = chrono::Utc::now().timestamp_millis();
    let probe = Labels::from_pairs([
        ("__name__", "steward_remote_read_probe"),
        ("from", "steward"),
    ]);
    storage
        .append(&[
            (probe.clone(), Sample::new(now - 1000, 42.0)),
            (probe, Sample::new(now, 42.0)),
        ])
        .unwrap();
    let app = axum::Router::new().nest("/prometheus", collector.api_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let steward = format!("http://{}/prometheus", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['SELF']\nremote_write:\n  - url: {steward}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\nremote_read:\n  - url: {steward}/api/v1/read\n    read_recent: true\n"
    );
    let prometheus = start_prometheus(&binary, dir.path(), &config).await;

    // Prometheus -> steward: what it scraped of itself, queried with steward's engine
    eventually("prometheus' own series in steward", || {
        let collector = collector.clone();
        async move {
            let now = chrono::Utc::now().timestamp_millis();
            let result = collector
                .engine()
                .instant_query(
                    collector.storage().as_ref(),
                    "up{job=\"prometheus\"} == 1",
                    now,
                )
                .unwrap();
            matches!(result.value, Value::Vector(v) if v.len() == 1)
        }
    })
    .await;

    // steward -> Prometheus by remote read: a series only steward has
    let base = prometheus.base.clone();
    eventually("steward's probe through prometheus' remote read", || {
        let base = base.clone();
        async move {
            let result = prometheus_query(&base, "steward_remote_read_probe").await;
            result.len() == 1
                && result[0]["value"][1] == "42"
                && result[0]["metric"]["from"] == "steward"
        }
    })
    .await;
    drop(prometheus);
    server.abort();
}
