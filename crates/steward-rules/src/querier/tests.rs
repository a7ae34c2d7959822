//! Groups whose expressions another language runs (a fake one here:
//! LogQL's semantics are the server's): checked at load in that
//! language, evaluated through it, their results recorded, their alerts
//! held for `for` and sent to the sink like PromQL ones, and `ALERTS`
//! written to the metrics store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, MatchOp, Matcher};

use super::*;
use crate::rule::AlertState;
use crate::{AlertSink, ManagerOptions, NotifiedAlert, RuleFiles, RuleManager, Verbatim};

/// Answers `errors` with one series per service in its table; refuses
/// expressions starting with `{` as "log queries".
#[derive(Debug, Default)]
struct Fake(Mutex<Vec<(&'static str, f64)>>);

impl RuleQuerier for Fake {
    fn language(&self) -> &'static str {
        "fake"
    }

    fn instant(&self, expr: &str, _ts_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
        match expr {
            "errors" => Ok(self
                .0
                .lock()
                .iter()
                .map(|(s, v)| (Labels::from_pairs([("service", *s)]), *v))
                .collect()),
            other => Err(format!("unknown {other}")),
        }
    }

    fn check(&self, expr: &str) -> Result<(), String> {
        match expr.starts_with('{') {
            true => Err("not a metric query".into()),
            false => Ok(()),
        }
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<NotifiedAlert>>);

#[async_trait::async_trait]
impl AlertSink for Recorder {
    async fn send(&self, alerts: Vec<NotifiedAlert>) {
        self.0.lock().extend(alerts);
    }
}

const FAKE_RULES: &str = r#"
groups:
  - name: logs
    interval: 10s
    rules:
      - record: service:errors
        expr: errors
      - alert: ManyErrors
        expr: errors
        for: 20s
        labels: {severity: page}
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    file
}

fn manager(storage: Arc<MemoryStorage>, sink: Arc<Recorder>) -> RuleManager {
    RuleManager::with_start_time(
        ManagerOptions::default(),
        storage,
        Arc::new(Verbatim),
        sink,
        1_000_000_000,
    )
}

fn series(s: &MemoryStorage, name: &str) -> Vec<Labels> {
    let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
    s.select(&[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|x| x.labels)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn groups_of_another_language_record_and_alert_like_promql_ones() {
    let dir = tempfile::tempdir().unwrap();
    let fake_file = write(&dir, "logs.yml", FAKE_RULES);
    let prom_file = write(
        &dir,
        "prom.yml",
        "groups:\n  - name: p\n    rules:\n      - record: one\n        expr: vector(1)\n",
    );
    let storage = Arc::new(MemoryStorage::new());
    let sink = Arc::new(Recorder::default());
    let fake = Arc::new(Fake(Mutex::new(vec![("worker", 3.0)])));
    let m = manager(storage.clone(), sink.clone());
    m.update_all(&[
        RuleFiles {
            files: vec![prom_file],
            querier: None,
        },
        RuleFiles {
            files: vec![fake_file],
            querier: Some(fake.clone()),
        },
    ])
    .await
    .unwrap();
    let languages: Vec<_> = m.groups().await.iter().map(|g| g.language).collect();
    assert_eq!(languages.len(), 2);
    assert!(languages.contains(&"fake") && languages.contains(&PROMQL));

    // the first evaluations: pending, nothing sent
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(sink.0.lock().is_empty());
    // `for: 20s` elapsed: firing, sent with its labels
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sent = sink.0.lock().clone();
    assert!(!sent.is_empty());
    assert_eq!(sent[0].state, AlertState::Firing);
    assert_eq!(sent[0].labels.get("service"), Some("worker"));
    assert_eq!(sent[0].labels.get("severity"), Some("page"));

    let recorded = series(&storage, "service:errors");
    assert_eq!(recorded[0].get("service"), Some("worker"));
    let alerts = series(&storage, "ALERTS");
    assert!(
        alerts
            .iter()
            .any(|l| l.get("alertstate") == Some("firing") && l.get("service") == Some("worker")),
        "{alerts:?}"
    );
    m.stop().await;
}

#[tokio::test(start_paused = true)]
async fn files_are_checked_in_their_language_and_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '{a=\"b\"}'\n",
    );
    let storage = Arc::new(MemoryStorage::new());
    let m = manager(storage, Arc::new(Recorder::default()));
    let fake: Arc<dyn RuleQuerier> = Arc::new(Fake::default());
    let err = m
        .update_all(&[RuleFiles {
            files: vec![bad.clone()],
            querier: Some(fake.clone()),
        }])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "{}: group \"g\", rule 1, \"A\": not a metric query",
            bad.display()
        )),
        "{err}"
    );
    assert!(m.groups().await.is_empty());

    let good = write(&dir, "good.yml", FAKE_RULES);
    let err = m
        .update_all(&[
            RuleFiles {
                files: vec![good.clone()],
                querier: None,
            },
            RuleFiles {
                files: vec![good.clone()],
                querier: Some(fake),
            },
        ])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("listed as both promql and fake rules"),
        "{err}"
    );
    m.stop().await;
}
