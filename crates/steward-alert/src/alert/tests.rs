//! Alerts: fingerprints as Alertmanager computes them, resolved-ness,
//! merging and the provider's put rule, preparation of posted alerts,
//! notification order, printed label sets, the in-memory store and the
//! marker.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

fn alert(starts: i64, ends: Option<i64>, updated: i64) -> Alert {
    Alert {
        labels: labels(&[("alertname", "A")]),
        annotations: LabelSet::new(),
        starts_at: t(starts),
        ends_at: ends.map(t),
        generator_url: String::new(),
        updated_at: t(updated),
        timeout: false,
    }
}

#[test]
fn fingerprints_are_prometheus_fnv1a_over_sorted_labels() {
    // Values computed independently from the algorithm's definition; the
    // same as Alertmanager's API shows for these label sets.
    assert_eq!(
        Fingerprint::of(&LabelSet::new()).to_string(),
        "cbf29ce484222325"
    );
    let l = labels(&[("job", "api"), ("alertname", "HighLatency")]);
    assert_eq!(Fingerprint::of(&l).to_string(), "144419c8ae624785");
    assert_eq!(
        Fingerprint::of(&labels(&[("a", "b")])).to_string(),
        "d2b371819297f98a"
    );
    let parsed: Fingerprint = "144419c8ae624785".parse().unwrap();
    assert_eq!(parsed, Fingerprint::of(&l));
    assert!("xyz".parse::<Fingerprint>().is_err());
}

#[test]
fn resolved_at_means_an_end_at_or_before_the_time() {
    let a = alert(0, Some(10), 0);
    assert!(!a.resolved_at(t(9)));
    assert!(a.resolved_at(t(10)));
    assert!(a.resolved_at(t(11)));
    assert!(!alert(0, None, 0).resolved_at(t(1000)));
    assert_eq!(a.status_at(t(11)).as_str(), "resolved");
    assert_eq!(a.status_at(t(1)).as_str(), "firing");
}

#[test]
fn merge_keeps_the_younger_alert_the_earliest_start_and_the_right_end() {
    let now = t(100);
    // The younger (later updated_at) gives the annotations, whichever side
    // it is on; the earliest start wins.
    let mut older = alert(0, Some(500), 10);
    older.annotations = labels(&[("summary", "old")]);
    let mut younger = alert(20, Some(400), 20);
    younger.annotations = labels(&[("summary", "new")]);
    for merged in [older.merge(&younger, now), younger.merge(&older, now)] {
        assert_eq!(merged.annotations["summary"], "new");
        assert_eq!(merged.starts_at, t(0));
        // Younger firing: the older end is later and not a timeout: it wins.
        assert_eq!(merged.ends_at, Some(t(500)));
    }
    // ...unless the older end is only a resolve timeout.
    older.timeout = true;
    assert_eq!(older.merge(&younger, now).ends_at, Some(t(400)));
    // Younger resolved: the later end wins only if the older is resolved too.
    let resolved_young = alert(20, Some(60), 30);
    let resolved_old = alert(0, Some(80), 10);
    assert_eq!(
        resolved_old.merge(&resolved_young, now).ends_at,
        Some(t(80))
    );
    let firing_old = alert(0, Some(300), 10);
    assert_eq!(firing_old.merge(&resolved_young, now).ends_at, Some(t(60)));
}

#[test]
fn put_merges_overlapping_alerts_and_replaces_others() {
    let now = t(1000);
    // A re-sent firing alert overlaps the stored one: merged (start kept).
    let stored = alert(0, Some(1200), 900);
    let resent = alert(950, Some(1300), 1000);
    let kept = Alert::stored_after(&stored, resent, now);
    assert_eq!(kept.starts_at, t(0));
    assert_eq!(kept.ends_at, Some(t(1300)));
    // A resolution inside the stored range: merged, resolved.
    let resolution = alert(0, Some(1000), 1000);
    let kept = Alert::stored_after(&stored, resolution, now);
    assert!(kept.resolved_at(now));
    // A resolved alert that fires again later: no overlap, replaced, so it
    // is active again with its new start.
    let old = alert(0, Some(100), 100);
    let again = alert(500, Some(1300), 1000);
    let kept = Alert::stored_after(&old, again.clone(), now);
    assert_eq!(kept, again);
    assert!(!kept.resolved_at(now));
}

#[test]
fn incoming_alerts_get_times_and_are_validated_as_alertmanager_does() {
    let now = t(100);
    let timeout = Duration::from_secs(300);
    let bare = IncomingAlert {
        labels: labels(&[("alertname", "A"), ("empty", "")]),
        ..Default::default()
    };
    let a = bare.clone().into_alert(now, timeout).unwrap();
    assert_eq!(a.starts_at, now);
    assert_eq!(a.ends_at, Some(t(400)));
    assert!(a.timeout);
    assert_eq!(a.updated_at, now);
    assert!(!a.labels.contains_key("empty"));

    let ended = IncomingAlert {
        ends_at: Some(t(50)),
        ..bare.clone()
    }
    .into_alert(now, timeout)
    .unwrap();
    assert_eq!(ended.starts_at, t(50));
    assert!(!ended.timeout);
    assert!(ended.resolved_at(now));

    let err = |i: IncomingAlert| i.into_alert(now, timeout).unwrap_err().to_string();
    assert_eq!(
        err(IncomingAlert {
            starts_at: Some(t(60)),
            ends_at: Some(t(50)),
            ..bare.clone()
        }),
        "start time must be before end time"
    );
    assert_eq!(
        err(IncomingAlert {
            labels: labels(&[("0bad", "x")]),
            ..Default::default()
        }),
        r#"invalid label set: invalid name "0bad""#
    );
    assert_eq!(
        err(IncomingAlert {
            labels: labels(&[("only", "")]),
            ..Default::default()
        }),
        "at least one label pair required"
    );
    assert_eq!(
        err(IncomingAlert {
            annotations: labels(&[("a-b", "x")]),
            ..bare
        }),
        r#"invalid annotations: invalid name "a-b""#
    );
}

#[test]
fn notifications_list_alerts_by_job_instance_then_label_set() {
    let mk = |pairs: &[(&str, &str)]| Alert {
        labels: labels(pairs),
        ..alert(0, None, 0)
    };
    let mut alerts = [
        mk(&[("x", "1")]),
        mk(&[("job", "b")]),
        mk(&[("job", "a"), ("instance", "2")]),
        mk(&[("job", "a"), ("instance", "1")]),
        mk(&[("a", "1"), ("b", "1")]),
        mk(&[("a", "0")]),
    ];
    alerts.sort_by(notification_order);
    let shown: Vec<String> = alerts.iter().map(|a| label_set_string(&a.labels)).collect();
    assert_eq!(
        shown,
        [
            r#"{instance="1", job="a"}"#,
            r#"{instance="2", job="a"}"#,
            r#"{job="b"}"#,
            // model.LabelSet.Before: at the first name of either set, the
            // set that lacks it comes first.
            r#"{x="1"}"#,
            r#"{a="0"}"#,
            r#"{a="1", b="1"}"#,
        ]
    );
}

#[test]
fn label_sets_print_as_prometheus_sorting_the_pairs_as_strings() {
    // "a0=..." sorts before "a=..." as strings though "a" < "a0" as names.
    let l = labels(&[("a", "x"), ("a0", "y"), ("b", "q\"uo\\te\n\u{1}é")]);
    assert_eq!(
        label_set_string(&l),
        r#"{a0="y", a="x", b="q\"uo\\te\n\x01é"}"#
    );
    assert_eq!(label_set_string(&LabelSet::new()), "{}");
    assert_eq!(go_quote("tab\there\u{a0}"), r#""tab\there\u00a0""#);
}

#[test]
fn for_notification_clears_the_end_of_firing_alerts_only() {
    let firing = alert(0, Some(500), 0).for_notification(t(100));
    assert_eq!(firing.ends_at, None);
    let resolved = alert(0, Some(50), 0).for_notification(t(100));
    assert_eq!(resolved.ends_at, Some(t(50)));
}

#[tokio::test]
async fn the_memory_store_merges_on_put_and_collects_resolved_alerts() {
    let store = MemAlertStore::new();
    let first = alert(0, Some(300), 0);
    store.put(first.clone(), t(0)).await.unwrap();
    let stored = store.put(alert(10, Some(60), 60), t(60)).await.unwrap();
    assert_eq!(stored.starts_at, t(0));
    assert!(stored.resolved_at(t(60)));
    assert_eq!(store.get(first.fingerprint()).await.unwrap(), Some(stored));
    let mut other = alert(0, Some(1000), 0);
    other.labels = labels(&[("alertname", "B")]);
    store.put(other.clone(), t(60)).await.unwrap();
    assert_eq!(store.list().await.unwrap().len(), 2);
    // Kept for the retention after resolving, then collected.
    let hour = Duration::from_secs(3600);
    assert!(store.gc(t(120), hour).await.unwrap().is_empty());
    assert_eq!(
        store.gc(t(60 + 3600), hour).await.unwrap(),
        [first.fingerprint()]
    );
    assert_eq!(store.len(), 1);
    assert_eq!(store.get(other.fingerprint()).await.unwrap(), Some(other));
}

#[test]
fn the_marker_tracks_silences_and_inhibitions() {
    let marker = Marker::new();
    let fp = Fingerprint(1);
    assert_eq!(marker.status(fp).state, AlertState::Unprocessed);
    marker.set_silenced(fp, vec!["s1".to_owned()]);
    assert_eq!(marker.status(fp).state, AlertState::Suppressed);
    marker.set_inhibited(fp, vec!["00000000000000ff".to_owned()]);
    marker.set_silenced(fp, Vec::new());
    let status = marker.status(fp);
    assert_eq!(status.state, AlertState::Suppressed);
    assert_eq!(status.inhibited_by, ["00000000000000ff"]);
    marker.set_inhibited(fp, Vec::new());
    assert_eq!(marker.status(fp).state.as_str(), "active");
    assert_eq!(marker.count(AlertState::Active), 1);
    marker.delete(fp);
    assert_eq!(marker.status(fp), AlertStatus::default());
}
