//! Severity rules: each condition, stickiness, and the superseded copy
//! to resolve when the severity (and so the identity) changes.

use chrono::TimeZone;

use super::*;

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + chrono::Duration::minutes(min)
}

fn alert(labels: &[(&str, &str)], starts: i64, ends: Option<i64>) -> Alert {
    Alert {
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: LabelSet::new(),
        starts_at: t(starts),
        ends_at: ends.map(t),
        generator_url: String::new(),
        updated_at: t(starts),
        timeout: false,
    }
}

fn rule(condition: Condition, raise_to: &str) -> SeverityRule {
    SeverityRule {
        matchers: Matchers::parse("alertname=~\".+\"").unwrap(),
        condition,
        raise_to: raise_to.into(),
    }
}

#[test]
fn firing_long_raises_and_the_lower_copy_is_superseded() {
    let policy = SeverityPolicy::with_rules(vec![rule(
        Condition::FiringFor(Duration::from_secs(600)),
        "critical",
    )]);
    let labels = [("alertname", "TaskErrors"), ("severity", "warning")];
    let first = policy.apply(alert(&labels, 0, Some(60)), t(1));
    assert_eq!(first.alert.labels["severity"], "warning");
    assert_eq!(first.superseded, None);
    let later = policy.apply(alert(&labels, 0, Some(70)), t(11));
    assert_eq!(later.alert.labels["severity"], "critical");
    let old = later.superseded.expect("the warning copy is resolved");
    assert_eq!(old["severity"], "warning");
    // the sender still says warning: critical sticks, nothing superseded
    let again = policy.apply(alert(&labels, 0, Some(80)), t(12));
    assert_eq!(again.alert.labels["severity"], "critical");
    assert_eq!(again.superseded, None);
}

#[test]
fn repeated_firing_critical_services_and_many_replicas_raise() {
    let policy = SeverityPolicy::with_rules(vec![
        rule(
            Condition::FiredTimes {
                count: 3,
                within: Duration::from_secs(3600),
            },
            "error",
        ),
        rule(
            Condition::CriticalService(["payments".to_owned()].into()),
            "critical",
        ),
        rule(
            Condition::Replicas {
                label: "replica".into(),
                at_least: 2,
            },
            "critical",
        ),
    ]);
    let flappy = [("alertname", "Flap"), ("severity", "info")];
    for (i, start) in [0, 10, 20].iter().enumerate() {
        let d = policy.apply(alert(&flappy, *start, Some(start + 5)), t(start + 1));
        let expected = if i < 2 { "info" } else { "error" };
        assert_eq!(
            d.alert.labels["severity"],
            expected,
            "firing number {}",
            i + 1
        );
        // and it resolves in between
        policy.apply(alert(&flappy, *start, Some(start + 5)), t(start + 6));
    }
    let pay = policy.apply(
        alert(&[("alertname", "Slow"), ("service", "payments")], 0, None),
        t(1),
    );
    assert_eq!(
        pay.alert.labels["severity"], "critical",
        "no severity label: raised from the lowest"
    );

    let one = policy.apply(
        alert(
            &[
                ("alertname", "Down"),
                ("service", "agent"),
                ("replica", "a"),
                ("severity", "warning"),
            ],
            0,
            None,
        ),
        t(1),
    );
    assert_eq!(one.alert.labels["severity"], "warning");
    let two = policy.apply(
        alert(
            &[
                ("alertname", "Down"),
                ("service", "agent"),
                ("replica", "b"),
                ("severity", "warning"),
            ],
            0,
            None,
        ),
        t(2),
    );
    assert_eq!(
        two.alert.labels["severity"], "critical",
        "two replicas down"
    );
}

#[test]
fn a_resolved_alert_starts_over() {
    let policy = SeverityPolicy::with_rules(vec![rule(
        Condition::FiringFor(Duration::from_secs(60)),
        "critical",
    )]);
    let labels = [("alertname", "X"), ("severity", "warning")];
    assert_eq!(
        policy.apply(alert(&labels, 0, None), t(2)).alert.labels["severity"],
        "critical"
    );
    let resolved = policy.apply(alert(&labels, 0, Some(3)), t(3));
    assert_eq!(
        resolved.alert.labels["severity"], "critical",
        "resolves the copy that fired"
    );
    let fresh = policy.apply(alert(&labels, 10, None), t(10));
    assert_eq!(fresh.alert.labels["severity"], "warning");
}
