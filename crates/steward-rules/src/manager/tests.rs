//! The manager on tokio's paused clock: evaluation schedule, alerts to the
//! sink with resends, reloads and the metrics.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample};

use super::*;
use crate::rule::AlertState;
use crate::{AlertSink, NotifiedAlert, Verbatim};

#[derive(Default)]
struct Recorder(Mutex<Vec<NotifiedAlert>>);

#[async_trait::async_trait]
impl AlertSink for Recorder {
    async fn send(&self, alerts: Vec<NotifiedAlert>) {
        self.0.lock().extend(alerts);
    }
}

const RULES: &str = r#"
groups:
  - name: g
    interval: 10s
    rules:
      - record: x2
        expr: x * 2
      - alert: High
        expr: x2 > 10
        labels: {severity: page}
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    file: PathBuf,
    storage: Arc<MemoryStorage>,
    sink: Arc<Recorder>,
    manager: RuleManager,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    std::fs::write(&file, RULES).unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let sink = Arc::new(Recorder::default());
    let opts = ManagerOptions {
        external_url: "http://steward:9090".into(),
        ..ManagerOptions::default()
    };
    // a start time on the interval grid keeps the schedule readable
    let manager = RuleManager::with_start_time(
        opts,
        storage.clone(),
        Arc::new(Verbatim),
        sink.clone(),
        1_000_000_000,
    );
    Fixture {
        _dir: dir,
        file,
        storage,
        sink,
        manager,
    }
}

fn feed(s: &MemoryStorage, from: i64, to: i64, v: f64) {
    let batch: Vec<_> = (from..=to)
        .step_by(5_000)
        .map(|t| (Labels::from_pairs([("__name__", "x")]), Sample::new(t, v)))
        .collect();
    s.append(&batch).unwrap();
}

#[tokio::test(start_paused = true)]
async fn groups_run_at_their_interval_and_alerts_are_resent() {
    let f = fixture();
    feed(
        &f.storage,
        1_000_000_000 - 60_000,
        1_000_000_000 + 600_000,
        20.0,
    );
    f.manager
        .update(std::slice::from_ref(&f.file))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(95)).await;
    let groups = f.manager.groups().await;
    let last = groups[0].last_evaluation_ms.unwrap();
    assert!(
        last > 1_000_000_000 + 80_000 && last <= 1_000_000_000 + 95_000,
        "{last}"
    );
    let sent = f.sink.0.lock().clone();
    // fired at the first evaluation, resent once a minute (resend_delay)
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].state, AlertState::Firing);
    assert_eq!(sent[0].labels.get("severity"), Some("page"));
    assert_eq!(
        sent[0].generator_url,
        "http://steward:9090/graph?g0.expr=x2+%3E+10&g0.tab=1"
    );
    assert_eq!(sent[0].ends_at_ms, sent[0].starts_at_ms + 4 * 60_000);
    let metrics = f.manager.render_metrics();
    for name in [
        "prometheus_rule_group_last_evaluation_timestamp_seconds{rule_group=",
        "prometheus_rule_group_rules{rule_group=",
        "prometheus_rule_group_interval_seconds{rule_group=",
        "prometheus_rule_evaluation_failures_total{rule_group=",
        "prometheus_rule_evaluation_duration_seconds_count",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }
    assert!(
        metrics.contains("prometheus_rule_group_rules{rule_group=\"")
            && metrics.contains(";g\"} 2")
    );
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn alerts_restored_after_restart_wait_for_the_second_evaluation() {
    let f = fixture();
    feed(
        &f.storage,
        1_000_000_000 - 60_000,
        1_000_000_000 + 600_000,
        20.0,
    );
    f.manager
        .update(std::slice::from_ref(&f.file))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(45)).await;
    let alerts =
        f.storage
            .select(
                &[steward_metrics::Matcher::new(
                    steward_metrics::MatchOp::Equal,
                    "__name__",
                    "ALERTS",
                )
                .unwrap()],
                0,
                i64::MAX,
            )
            .unwrap();
    // ALERTS are written only from the third evaluation on (restored after the second)
    let evals = f
        .storage
        .select(
            &[
                steward_metrics::Matcher::new(steward_metrics::MatchOp::Equal, "__name__", "x2")
                    .unwrap(),
            ],
            0,
            i64::MAX,
        )
        .unwrap()[0]
        .samples
        .len();
    assert!(evals >= 4, "{evals}");
    assert_eq!(alerts[0].samples.len(), evals - 2);
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reloads_keep_old_groups_on_errors_and_carry_alert_state() {
    let f = fixture();
    feed(
        &f.storage,
        1_000_000_000 - 60_000,
        1_000_000_000 + 600_000,
        20.0,
    );
    f.manager
        .update(std::slice::from_ref(&f.file))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::fs::write(
        &f.file,
        "groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n        expr: x\n",
    )
    .unwrap();
    let err = f
        .manager
        .update(std::slice::from_ref(&f.file))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid recording rule name: bad name"),
        "{err}"
    );
    assert_eq!(f.manager.groups().await[0].rules.len(), 2, "old rules kept");
    // a changed group (new interval) keeps the alert of the same rule
    std::fs::write(&f.file, RULES.replace("interval: 10s", "interval: 20s")).unwrap();
    f.manager
        .update(std::slice::from_ref(&f.file))
        .await
        .unwrap();
    let groups = f.manager.groups().await;
    assert_eq!(groups[0].interval_ms, 20_000);
    let Rule::Alerting(a) = &groups[0].rules[1] else {
        panic!("not an alerting rule")
    };
    assert_eq!(
        a.active.values().next().map(|a| a.state),
        Some(AlertState::Firing)
    );
    // removing every file removes the group
    f.manager.update(&[]).await.unwrap();
    assert!(f.manager.groups().await.is_empty());
    f.manager.stop().await;
}

#[derive(Default)]
struct Changes(Mutex<Vec<crate::AlertTransition>>);

#[async_trait::async_trait]
impl crate::AlertListener for Changes {
    async fn transitions(&self, changes: Vec<crate::AlertTransition>) {
        assert!(
            !changes.is_empty(),
            "the listener is only called with changes"
        );
        self.0.lock().extend(changes);
    }
}

#[tokio::test(start_paused = true)]
async fn the_listener_hears_pending_firing_and_resolved_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    std::fs::write(
        &file,
        RULES.replace("expr: x2 > 10\n", "expr: x2 > 10\n        for: 20s\n"),
    )
    .unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let changes = Arc::new(Changes::default());
    let manager = RuleManager::with_start_time(
        ManagerOptions::default(),
        storage.clone(),
        Arc::new(Verbatim),
        Arc::new(crate::DiscardSink),
        1_000_000_000,
    )
    .with_listener(changes.clone());
    // high for a minute, low afterwards
    feed(
        &storage,
        1_000_000_000 - 60_000,
        1_000_000_000 + 60_000,
        20.0,
    );
    feed(
        &storage,
        1_000_000_000 + 65_000,
        1_000_000_000 + 300_000,
        1.0,
    );
    manager.update(std::slice::from_ref(&file)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let seen = changes.0.lock().clone();
    let steps: Vec<(AlertState, AlertState)> = seen.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        steps,
        [
            (AlertState::Inactive, AlertState::Pending),
            (AlertState::Pending, AlertState::Firing),
            (AlertState::Firing, AlertState::Inactive),
        ],
        "{seen:?}"
    );
    assert_eq!(seen[0].rule, "High");
    assert!(seen[0].group.ends_with(";g"), "{}", seen[0].group);
    assert_eq!(seen[0].labels.get("severity"), Some("page"));
    assert_eq!(seen[1].at_ms - seen[0].at_ms, 20_000, "fires after `for`");
    assert_eq!(seen[1].active_at_ms, seen[0].at_ms);
    assert!(seen[2].at_ms > 1_000_000_000 + 60_000);
    manager.stop().await;
}
