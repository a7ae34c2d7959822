//! LogQL rules over a real log store: an alerting rule counting error
//! lines goes pending, fires after `for`, writes `ALERTS` and resolves
//! once the lines leave its window; a log query (not a metric query) is
//! refused at load naming the file, group and rule.

use std::sync::Arc;

use steward_logs::{Entry, PushStream, StoreOptions};
use steward_metrics::{
    MatchOp, Matcher,
    promql::Engine as PromEngine,
    storage::{MemoryStorage, Storage},
};
use steward_rules::{
    Verbatim,
    group::Group,
    rule::{AlertState, EvalEnv, Rule},
    rulefmt,
};

use super::*;

/// 2001-09-09T01:46:40Z, in ms.
const T0: i64 = 1_000_000_000_000;

const RULES: &str = r#"
groups:
  - name: worker-logs
    interval: 10s
    rules:
      - record: service:error_lines:1m
        expr: sum by (service) (count_over_time({service="worker"} |= "error" [1m]))
      - alert: WorkerErrors
        expr: sum by (service) (count_over_time({service="worker"} |= "error" [1m])) > 2
        for: 20s
        labels: {severity: page}
        annotations: {summary: "{{ $labels.service }} logged {{ $value }} errors"}
"#;

async fn store_with_lines(dir: &std::path::Path) -> LogStore {
    let store = LogStore::open(StoreOptions::new(dir.join("logstore"))).unwrap();
    let ns = |ms: i64| ms * 1_000_000;
    let stream = |service: &str, lines: &[(i64, &str)]| PushStream {
        labels: Labels::from_pairs([("service", service)]),
        entries: lines
            .iter()
            .map(|(t, line)| Entry::new(ns(*t), *line))
            .collect(),
    };
    store
        .push(vec![
            stream(
                "worker",
                &[
                    (T0 - 30_000, "level=error msg=\"task failed\""),
                    (T0 - 20_000, "level=info msg=ok"),
                    (T0 - 10_000, "level=error msg=\"task failed\""),
                    (T0 - 5_000, "level=error msg=\"db timeout\""),
                ],
            ),
            // another service's errors are not counted
            stream("api", &[(T0 - 5_000, "level=error"); 1]),
        ])
        .await
        .unwrap();
    store
}

fn alerts_series(storage: &MemoryStorage) -> Vec<Labels> {
    let m = Matcher::new(MatchOp::Equal, "__name__", "ALERTS").unwrap();
    storage
        .select(&[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| s.labels)
        .collect()
}

#[tokio::test]
async fn an_alert_on_error_lines_fires_after_for_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_lines(dir.path()).await;
    let querier: Arc<dyn RuleQuerier> = Arc::new(LogQlQuerier::new(store, Engine::default()));
    let file = rulefmt::parse_str_with("logs.yml", RULES, &Verbatim, Some(querier.as_ref()))
        .expect("valid LogQL rules");
    let mut group =
        Group::new("logs.yml", &file.groups[0], 60_000, true).with_querier(Some(querier));
    assert_eq!(group.language(), "logql");

    let storage = MemoryStorage::new();
    let engine = PromEngine::default();
    let external = Labels::empty();
    let env = EvalEnv {
        storage: &storage,
        engine: &engine,
        querier: None,
        expander: &Verbatim,
        external_labels: &external,
    };
    let state = |group: &Group| match &group.rules[1] {
        Rule::Alerting(a) => {
            assert_eq!(a.status.last_error, None);
            a.active.values().map(|x| x.state).collect::<Vec<_>>()
        }
        Rule::Recording(_) => unreachable!(),
    };

    // three error lines in the last minute: pending, nothing to send
    assert!(group.eval(&env, T0, 60_000).is_empty());
    assert_eq!(state(&group), [AlertState::Pending]);
    assert!(group.eval(&env, T0 + 10_000, 60_000).is_empty());
    // `for: 20s` later: firing, and sent
    let due = group.eval(&env, T0 + 20_000, 60_000);
    assert_eq!(state(&group), [AlertState::Firing]);
    assert_eq!(due.len(), 1);
    let alert = &due[0].alert;
    assert_eq!(alert.labels.get("alertname"), Some("WorkerErrors"));
    assert_eq!(alert.labels.get("service"), Some("worker"));
    assert_eq!(alert.labels.get("severity"), Some("page"));
    assert_eq!(alert.value, 3.0);
    assert!(
        alerts_series(&storage).iter().any(|l| {
            l.get("alertstate") == Some("firing") && l.get("service") == Some("worker")
        }),
        "ALERTS is written to the metrics store"
    );
    // the recording rule's samples too
    let m = Matcher::new(MatchOp::Equal, "__name__", "service:error_lines:1m").unwrap();
    let recorded = storage.select(&[m], i64::MIN, i64::MAX).unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].labels.get("service"), Some("worker"));
    assert_eq!(recorded[0].samples.last().unwrap().v, 3.0);

    // the lines left the 1m window: resolved (and sent as such)
    let due = group.eval(&env, T0 + 60_000, 60_000);
    assert_eq!(state(&group), [AlertState::Inactive]);
    assert_eq!(due.len(), 1);
}

#[test]
fn a_log_query_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(StoreOptions::new(dir.path().join("logstore"))).unwrap();
    let querier = LogQlQuerier::new(store, Engine::default());
    let text = "groups:\n  - name: worker-logs\n    rules:\n      - alert: WorkerErrors\n        expr: '{service=\"worker\"} |= \"error\"'\n      - record: broken\n        expr: 'sum(count_over_time({service=\"worker\"}[1m]'\n";
    let err = rulefmt::parse_str_with("logs.yml", text, &Verbatim, Some(&querier))
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("logs.yml: group \"worker-logs\", rule 1, \"WorkerErrors\": {service=\"worker\"} |= \"error\" is a log query, not a metric query"),
        "{err}"
    );
    assert!(
        lines[1].starts_with(
            "logs.yml: group \"worker-logs\", rule 2, \"broken\": could not parse expression: "
        ),
        "{err}"
    );
    // a metric query is what a LogQL rule takes
    assert!(
        querier
            .check("count_over_time({service=\"x\"}[1m])")
            .is_ok()
    );
}
