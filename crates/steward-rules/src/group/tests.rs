//! A group evaluated by hand at chosen timestamps against a memory store.

use steward_metrics::promql::Engine;
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample, is_stale_nan};

use super::*;
use crate::Verbatim;
use crate::rule::AlertState;
use crate::rulefmt::parse_str;

fn group(yaml: &str, restored: bool) -> Group {
    let rg = parse_str("t.yml", yaml, &Verbatim).unwrap();
    Group::new("t.yml", &rg.groups[0], 60_000, restored)
}

fn put(s: &MemoryStorage, series: &[(&str, &str)], t: i64, v: f64) {
    s.append(&[(
        Labels::from_pairs(series.iter().copied()),
        Sample::new(t, v),
    )])
    .unwrap();
}

fn last(s: &MemoryStorage, name: &str) -> Vec<(Labels, Sample)> {
    let m =
        steward_metrics::Matcher::new(steward_metrics::MatchOp::Equal, "__name__", name).unwrap();
    s.select(&[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|x| (x.labels, *x.samples.last().unwrap()))
        .collect()
}

fn run(g: &mut Group, s: &MemoryStorage, ts: i64) -> Vec<DueAlert> {
    let engine = Engine::default();
    let ext = Labels::empty();
    let env = EvalEnv {
        storage: s,
        engine: &engine,
        querier: None,
        expander: &Verbatim,
        external_labels: &ext,
    };
    g.eval(&env, ts, 60_000)
}

const CHAIN: &str = r#"
groups:
  - name: g
    rules:
      - record: a
        expr: x * 2
      - record: b
        expr: a + 1
"#;

#[test]
fn later_rules_see_earlier_output_and_vanished_series_go_stale() {
    let s = MemoryStorage::new();
    let mut g = group(CHAIN, true);
    put(&s, &[("__name__", "x"), ("i", "1")], 0, 5.0);
    run(&mut g, &s, 0);
    assert_eq!(last(&s, "b")[0].1, Sample::new(0, 11.0));
    // x goes stale: a and b get staleness markers at the next evaluation
    put(
        &s,
        &[("__name__", "x"), ("i", "1")],
        30_000,
        steward_metrics::STALE_NAN,
    );
    run(&mut g, &s, 60_000);
    for name in ["a", "b"] {
        let got = last(&s, name);
        assert_eq!(got[0].1.t, 60_000, "{name}");
        assert!(is_stale_nan(got[0].1.v), "{name}");
    }
}

const ALERT: &str = r#"
groups:
  - name: g
    rules:
      - alert: High
        expr: x > 10
        for: 2m
        keep_firing_for: 3m
        labels: {severity: page}
"#;

fn state(g: &Group) -> Option<AlertState> {
    match &g.rules[0] {
        Rule::Alerting(a) => a.active.values().next().map(|a| a.state),
        Rule::Recording(_) => None,
    }
}

#[test]
fn pending_firing_keep_firing_and_resend() {
    let s = MemoryStorage::new();
    let mut g = group(ALERT, true);
    let x = [("__name__", "x")];
    put(&s, &x, 0, 20.0);
    assert!(run(&mut g, &s, 0).is_empty());
    assert_eq!(state(&g), Some(AlertState::Pending));
    let alerts = last(&s, "ALERTS");
    assert_eq!(alerts[0].0.get("alertstate"), Some("pending"));
    assert_eq!(last(&s, "ALERTS_FOR_STATE")[0].1.v, 0.0);
    put(&s, &x, 60_000, 20.0);
    run(&mut g, &s, 60_000);
    put(&s, &x, 120_000, 20.0);
    let due = run(&mut g, &s, 120_000);
    assert_eq!(state(&g), Some(AlertState::Firing));
    assert_eq!(due.len(), 1, "sent when it starts firing");
    assert_eq!(due[0].alert.valid_until, 120_000 + 4 * 60_000);
    put(&s, &x, 180_000, 20.0);
    assert!(
        run(&mut g, &s, 180_000).is_empty(),
        "not resent within resend_delay"
    );
    put(&s, &x, 240_000, 1.0);
    assert_eq!(
        run(&mut g, &s, 240_000).len(),
        1,
        "resent after resend_delay"
    );
    // the condition cleared at 4m: still firing until 4m + 3m
    for t in [300_000, 360_000] {
        put(&s, &x, t, 1.0);
        run(&mut g, &s, t);
        assert_eq!(state(&g), Some(AlertState::Firing), "at {t}");
    }
    put(&s, &x, 420_000, 1.0);
    let due = run(&mut g, &s, 420_000);
    assert_eq!(state(&g), Some(AlertState::Inactive));
    assert_eq!(
        due[0].alert.resolved_at,
        Some(420_000),
        "resolution sent at once"
    );
    // the ALERTS series stops with a staleness marker
    assert!(is_stale_nan(last(&s, "ALERTS")[0].1.v));
}

/// A fresh group (as after a restart) evaluated once at `now` with `x`
/// high, then restored; the restored alert's `active_at`.
fn restored_active_at(s: &MemoryStorage, yaml: &str, now: i64) -> i64 {
    let mut g = group(yaml, false);
    put(s, &[("__name__", "x")], now, 20.0);
    run(&mut g, s, now);
    let engine = Engine::default();
    let ext = Labels::empty();
    let env = EvalEnv {
        storage: s,
        engine: &engine,
        querier: None,
        expander: &Verbatim,
        external_labels: &ext,
    };
    g.restore_for_state(&env, now, 3_600_000, 600_000);
    let Rule::Alerting(a) = &g.rules[0] else {
        panic!("not an alerting rule")
    };
    assert!(a.restored);
    a.active.values().next().unwrap().active_at
}

#[test]
fn for_state_is_restored_within_the_outage_tolerance() {
    let s = MemoryStorage::new();
    let labels = [
        ("__name__", "ALERTS_FOR_STATE"),
        ("alertname", "High"),
        ("severity", "page"),
    ];
    // before the restart: active since 100s, last written at 160s
    put(&s, &labels, 160_000, 100.0);
    // `for` (2m) shorter than the grace period (10m): nothing restored
    assert_eq!(restored_active_at(&s, ALERT, 400_000), 400_000);
    // `for` 20m, 1m of it spent, 19m remain: shifted by the downtime
    let long = ALERT.replace("for: 2m", "for: 20m");
    assert_eq!(
        restored_active_at(&s, &long, 460_000),
        100_000 + (460_000 - 160_000)
    );
    // 15m spent, 5m remain, less than the grace period: fires 10m after
    put(&s, &labels, 1_000_000, 100.0);
    assert_eq!(
        restored_active_at(&s, &long, 1_060_000),
        1_060_000 + 600_000 - 1_200_000
    );
    // beyond the outage tolerance (1h) nothing is found
    assert_eq!(
        restored_active_at(&s, &long, 1_000_000 + 3_700_000),
        4_700_000
    );
}

#[test]
fn a_replacing_group_takes_over_alerts_of_the_same_rules() {
    let s = MemoryStorage::new();
    let mut old = group(ALERT, true);
    put(&s, &[("__name__", "x")], 0, 20.0);
    run(&mut old, &s, 0);
    let mut new = group(&ALERT.replace("for: 2m", "for: 1m"), true);
    new.copy_state(&mut old);
    assert_eq!(state(&new), Some(AlertState::Pending));
    put(&s, &[("__name__", "x")], 60_000, 20.0);
    run(&mut new, &s, 60_000);
    assert_eq!(
        state(&new),
        Some(AlertState::Firing),
        "active since 0, for 1m"
    );
}
