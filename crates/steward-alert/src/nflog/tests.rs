//! The notification log: every branch of Alertmanager's `needsUpdate`,
//! and the in-memory log's writes, queries and retention.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

fn set(fps: &[u64]) -> BTreeSet<Fingerprint> {
    fps.iter().copied().map(Fingerprint).collect()
}

fn receiver() -> ReceiverKey {
    ReceiverKey {
        receiver: "team".to_owned(),
        integration: "webhook".to_owned(),
        index: 0,
    }
}

fn entry(firing: &[u64], resolved: &[u64], at: i64) -> NflogEntry {
    NflogEntry {
        group_key: "{}:{}".to_owned(),
        receiver: receiver(),
        timestamp: t(at),
        firing: set(firing),
        resolved: set(resolved),
        expires_at: t(at + 3600),
    }
}

const REPEAT: Duration = Duration::from_secs(3600);

fn reason(
    e: Option<&NflogEntry>,
    firing: &[u64],
    resolved: &[u64],
    send_resolved: bool,
    now: i64,
) -> Option<UpdateReason> {
    update_reason(
        e,
        &set(firing),
        &set(resolved),
        REPEAT,
        send_resolved,
        t(now),
    )
}

#[test]
fn without_an_entry_only_something_firing_is_notified() {
    assert_eq!(
        reason(None, &[1], &[], true, 0),
        Some(UpdateReason::FirstNotification)
    );
    assert_eq!(reason(None, &[], &[1], true, 0), None);
    assert!(!needs_update(
        None,
        &set(&[]),
        &set(&[]),
        REPEAT,
        true,
        t(0)
    ));
}

#[test]
fn a_firing_alert_not_notified_as_firing_is_news() {
    let e = entry(&[1, 2], &[], 0);
    assert_eq!(
        reason(Some(&e), &[1, 3], &[], false, 10),
        Some(UpdateReason::NewAlerts)
    );
    // A subset of what fired is not news (an alert left, or resolved
    // without send_resolved).
    assert_eq!(reason(Some(&e), &[1], &[2], false, 10), None);
}

#[test]
fn all_resolved_is_sent_only_when_something_fired_last_time() {
    let e = entry(&[1], &[], 0);
    // Regardless of send_resolved: the log must forget what fired.
    assert_eq!(
        reason(Some(&e), &[], &[1], false, 10),
        Some(UpdateReason::AllResolved)
    );
    assert_eq!(
        reason(Some(&e), &[], &[1], true, 10),
        Some(UpdateReason::AllResolved)
    );
    // Fired and resolved between two notifications: the receiver never
    // knew, so nothing.
    let quiet = entry(&[], &[1], 0);
    assert_eq!(reason(Some(&quiet), &[], &[1, 2], true, 10), None);
}

#[test]
fn new_resolved_alerts_are_news_only_with_send_resolved() {
    let e = entry(&[1, 2], &[], 0);
    assert_eq!(
        reason(Some(&e), &[1], &[2], true, 10),
        Some(UpdateReason::NewResolved)
    );
    assert_eq!(reason(Some(&e), &[1], &[2], false, 10), None);
    let known = entry(&[1], &[2], 0);
    assert_eq!(reason(Some(&known), &[1], &[2], true, 10), None);
}

#[test]
fn an_unchanged_group_repeats_strictly_after_the_repeat_interval() {
    let e = entry(&[1], &[], 0);
    assert_eq!(reason(Some(&e), &[1], &[], true, 3600), None);
    assert_eq!(
        reason(Some(&e), &[1], &[], true, 3601),
        Some(UpdateReason::RepeatInterval)
    );
    assert_eq!(
        UpdateReason::RepeatInterval.as_str(),
        "repeat interval elapsed"
    );
}

#[tokio::test]
async fn the_memory_log_keeps_the_latest_entry_until_it_expires() {
    let log = MemNotificationLog::new(Duration::from_secs(3600));
    let (gk, r) = ("{}:{a=\"1\"}", receiver());
    assert_eq!(log.query(gk, &r).await.unwrap(), None);
    log.log(gk, &r, set(&[1]), set(&[]), t(10)).await.unwrap();
    let e = log.query(gk, &r).await.unwrap().unwrap();
    assert_eq!((e.timestamp, e.expires_at), (t(10), t(3610)));
    assert_eq!(e.firing, set(&[1]));
    assert!(!e.all_resolved());
    // An older write does not replace a newer entry.
    log.log(gk, &r, set(&[]), set(&[1]), t(5)).await.unwrap();
    assert_eq!(log.query(gk, &r).await.unwrap().unwrap().timestamp, t(10));
    log.log(gk, &r, set(&[]), set(&[1]), t(20)).await.unwrap();
    assert!(log.query(gk, &r).await.unwrap().unwrap().all_resolved());
    // Entries are per integration.
    let other = ReceiverKey {
        index: 1,
        ..receiver()
    };
    assert_eq!(other.to_string(), "team/webhook/1");
    assert_eq!(log.query(gk, &other).await.unwrap(), None);
    assert_eq!(log.gc(t(3619)).await.unwrap(), 0);
    assert_eq!(log.gc(t(3620)).await.unwrap(), 1);
    assert!(log.entries().is_empty());
}
