//! Inhibition: source and target matchers, `equal` labels (missing on
//! both sides is equal), only firing sources, no self-inhibition, garbage
//! collection, and the marker.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::alert::AlertState;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn alert(pairs: &[(&str, &str)], ends: i64) -> Alert {
    Alert {
        labels: labels(pairs),
        annotations: LabelSet::new(),
        starts_at: t(0),
        ends_at: Some(t(ends)),
        generator_url: String::new(),
        updated_at: t(0),
        timeout: false,
    }
}

fn rule(source: &str, target: &str, equal: &[&str]) -> InhibitRule {
    InhibitRule {
        source: Matchers::parse(source).unwrap(),
        target: Matchers::parse(target).unwrap(),
        equal: equal.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn a_firing_source_mutes_targets_with_equal_labels() {
    let ih = Inhibitor::new(
        vec![rule("severity=critical", "severity=warning", &["cluster"])],
        Marker::new(),
    );
    let source = alert(&[("severity", "critical"), ("cluster", "a")], 100);
    ih.observe(&source);
    let now = t(10);
    let same = labels(&[("severity", "warning"), ("cluster", "a")]);
    let other = labels(&[("severity", "warning"), ("cluster", "b")]);
    let not_target = labels(&[("severity", "info"), ("cluster", "a")]);
    assert_eq!(ih.inhibited_by(&same, now), Some(source.fingerprint()));
    assert_eq!(ih.inhibited_by(&other, now), None);
    assert_eq!(ih.inhibited_by(&not_target, now), None);
    // Resolved sources inhibit nothing, and are collected.
    assert_eq!(ih.inhibited_by(&same, t(100)), None);
    ih.gc(t(100));
    assert_eq!(ih.inhibited_by(&same, t(10)), None);
}

#[test]
fn a_label_missing_on_both_sides_counts_as_equal() {
    let ih = Inhibitor::new(
        vec![rule(
            "alertname=Down",
            "alertname=Slow",
            &["cluster", "zone"],
        )],
        Marker::new(),
    );
    ih.observe(&alert(&[("alertname", "Down"), ("zone", "")], 100));
    let now = t(10);
    assert!(
        ih.inhibited_by(&labels(&[("alertname", "Slow")]), now)
            .is_some()
    );
    assert!(
        ih.inhibited_by(&labels(&[("alertname", "Slow"), ("cluster", "x")]), now)
            .is_none()
    );
}

#[test]
fn an_alert_matching_both_sides_does_not_inhibit_itself_nor_its_peers() {
    // Every `severity=~"warning|critical"` alert is source and target.
    let ih = Inhibitor::new(
        vec![rule(
            r#"severity=~"warning|critical""#,
            r#"severity=~"warning|critical""#,
            &["alertname"],
        )],
        Marker::new(),
    );
    let a = alert(&[("alertname", "X"), ("severity", "critical")], 100);
    let b = alert(&[("alertname", "X"), ("severity", "warning")], 100);
    ih.observe(&a);
    ih.observe(&b);
    let now = t(10);
    assert_eq!(ih.inhibited_by(&a.labels, now), None);
    assert_eq!(ih.inhibited_by(&b.labels, now), None);

    // A target that is not also a source is muted by either.
    let one_sided = Inhibitor::new(
        vec![rule(r#"severity=~"warning|critical""#, "alertname=X", &[])],
        Marker::new(),
    );
    one_sided.observe(&a);
    let target = labels(&[("alertname", "X"), ("severity", "info")]);
    assert_eq!(one_sided.inhibited_by(&target, now), Some(a.fingerprint()));
    // The source itself matches the target side too: not muted by itself.
    assert_eq!(one_sided.inhibited_by(&a.labels, now), None);
}

#[test]
fn muting_marks_the_inhibiting_alert() {
    let marker = Marker::new();
    let ih = Inhibitor::new(vec![rule("a=src", "a=dst", &[])], marker.clone());
    let source = alert(&[("a", "src")], 100);
    ih.observe(&source);
    let target = labels(&[("a", "dst")]);
    assert!(ih.mutes(&target, t(10)));
    let status = marker.status(Fingerprint::of(&target));
    assert_eq!(status.state, AlertState::Suppressed);
    assert_eq!(status.inhibited_by, [source.fingerprint().to_string()]);
    assert!(!ih.mutes(&target, t(200)));
    assert_eq!(
        marker.status(Fingerprint::of(&target)).state,
        AlertState::Active
    );
    assert_eq!(ih.rules().count(), 1);
}

#[test]
fn a_resent_source_replaces_the_one_kept() {
    let ih = Inhibitor::new(vec![rule("a=src", "a=dst", &[])], Marker::new());
    ih.observe(&alert(&[("a", "src")], 100));
    // Resolved by the new version of the same alert.
    ih.observe(&alert(&[("a", "src")], 5));
    assert_eq!(ih.inhibited_by(&labels(&[("a", "dst")]), t(10)), None);
}
