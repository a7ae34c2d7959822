//! The notifier against a real Alertmanager (0.25, the path in
//! `STEWARD_TEST_ALERTMANAGER`): a rule fires over a memory store, the
//! sink posts the alert, Alertmanager lists it with its labels and
//! expanded annotations; once the rule resolves it, Alertmanager no longer
//! holds it active.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use steward_metrics::promql::Engine;
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample};
use steward_rules::{
    AlertmanagerConfig, AlertmanagerSink, ManagerOptions, NotifierOptions, RuleManager,
    TemplateExpander,
};
use steward_test_support::alertmanager::{self, Alertmanager};

/// Alertmanager's alerts named `Hot` (the API lists active ones only).
async fn hot_alerts(base: &str) -> Vec<serde_json::Value> {
    let all: Vec<serde_json::Value> = reqwest::get(format!("{base}/api/v2/alerts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.into_iter()
        .filter(|a| a["labels"]["alertname"] == "Hot")
        .collect()
}

const RULES: &str = r#"
groups:
  - name: rooms
    interval: 1s
    rules:
      - alert: Hot
        expr: temp > 30
        labels:
          severity: '{{ if gt $value 40.0 }}page{{ else }}ticket{{ end }}'
        annotations:
          summary: '{{ $labels.room }} is at {{ $value }} degrees'
          cluster: '{{ $externalLabels.cluster }}'
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn alerts_reach_alertmanager_and_resolve() {
    let Some(bin) = alertmanager::binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(&bin, dir.path(), alertmanager::SINK_CONFIG);
    let base = am.url.clone();

    let external = Labels::from_pairs([("cluster", "eu-1")]);
    let sink = Arc::new(
        AlertmanagerSink::start(NotifierOptions {
            alertmanagers: vec![AlertmanagerConfig {
                urls: vec![base.clone()],
                timeout: Duration::from_secs(5),
                auth: None,
            }],
            external_labels: external.clone(),
            ..NotifierOptions::default()
        })
        .unwrap(),
    );
    let storage = Arc::new(MemoryStorage::new());
    let temp = Labels::from_pairs([("__name__", "temp"), ("room", "lab")]);
    storage
        .append(&[(temp.clone(), Sample::new(now_ms(), 35.0))])
        .unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let opts = ManagerOptions {
        external_labels: external,
        external_url: "http://steward.example:8080".into(),
        resend_delay: Duration::from_secs(1),
        ..ManagerOptions::default()
    };
    let expander = TemplateExpander::new(storage.clone(), Engine::default(), &opts.external_url);
    let manager = RuleManager::new(opts, storage.clone(), Arc::new(expander), sink.clone());
    manager.update(&[rules]).await.unwrap();

    // fires at the first evaluation; Alertmanager lists it
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = hot_alerts(&base).await;
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed.len(), 1, "{listed:?}");
    let a = &listed[0];
    assert_eq!(
        a["labels"],
        serde_json::json!({"alertname": "Hot", "room": "lab", "severity": "ticket", "cluster": "eu-1"})
    );
    assert_eq!(
        a["annotations"],
        serde_json::json!({"summary": "lab is at 35 degrees", "cluster": "eu-1"})
    );
    assert_eq!(
        a["generatorURL"],
        "http://steward.example:8080/graph?g0.expr=temp+%3E+30&g0.tab=1"
    );
    assert_eq!(a["status"]["state"], "active");
    let metrics = sink.render_metrics();
    assert!(
        metrics.contains(&format!(
            "prometheus_notifications_errors_total{{alertmanager=\"{base}/api/v2/alerts\"}} 0"
        )),
        "{metrics}"
    );

    // cool down: the next evaluation resolves it, the resolution (endsAt
    // now) is sent and Alertmanager stops listing it as active
    storage
        .append(&[(temp, Sample::new(now_ms(), 20.0))])
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if hot_alerts(&base).await.is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    manager.stop().await;
    sink.stop();
    assert!(gone, "still active: {:?}", hot_alerts(&base).await);
    let groups: serde_json::Value = reqwest::get(format!("{base}/api/v2/alerts/groups"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["alerts"].as_array().unwrap().is_empty()),
        "{groups}"
    );
}
