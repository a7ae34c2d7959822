//! The AlertManager's durable state on both engines: alerts merged as
//! Alertmanager merges them and collected once resolved long enough,
//! silences that a new `Silences` (a restarted steward) finds again, and
//! the notification log, whose newer entries are never overwritten by
//! older ones.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use steward_alert::{
    LabelSet, Matchers,
    alert::{AlertStore, Fingerprint, IncomingAlert},
    clock::{ManualClock, SharedClock},
    nflog::{NotificationLog, ReceiverKey},
    silence::{Silence, SilenceQuery, Silences},
};
use steward_store::{Store, StoreAlerts, StoreNotificationLog, StoreSilences};

crate::store_suite!(
    alerts_merge_and_resolved_ones_are_collected,
    a_batch_is_stored_in_one_go_and_merged_in_order,
    a_batch_larger_than_one_statement_is_stored_whole,
    what_decides_firing_is_written_before_the_put_returns,
    concurrent_puts_of_new_alerts_all_commit,
    silences_outlive_a_restart,
    the_notification_log_keeps_the_newest_entry,
);

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn alerts_merge_and_resolved_ones_are_collected(store: Store) {
    let alerts = StoreAlerts::load(store).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let minute = chrono::Duration::minutes(1);
    let incoming = |start, end| IncomingAlert {
        labels: labels(&[("alertname", "TaskErrors"), ("service", "agent-worker")]),
        annotations: labels(&[("summary", "tasks fail")]),
        starts_at: Some(start),
        ends_at: Some(end),
        generator_url: "http://steward/graph".into(),
    };
    let first = incoming(t0, t0 + minute * 5)
        .into_alert(t0, Duration::from_secs(300))
        .unwrap();
    let fp = first.fingerprint();
    alerts.put(first.clone(), t0).await.unwrap();
    // a resend with a later end extends the stored alert
    let again = incoming(t0 + minute, t0 + minute * 10)
        .into_alert(t0 + minute, Duration::from_secs(300))
        .unwrap();
    let stored = alerts.put(again, t0 + minute).await.unwrap();
    assert_eq!(stored.starts_at, t0, "the earlier start is kept");
    assert_eq!(stored.ends_at, Some(t0 + minute * 10));
    assert_eq!(alerts.get(fp).await.unwrap(), Some(stored.clone()));
    assert_eq!(alerts.list().await.unwrap(), vec![stored]);
    assert_eq!(alerts.get(Fingerprint(7)).await.unwrap(), None);

    // still within the retention after its end: kept; beyond it: gone
    let removed = alerts
        .gc(t0 + minute * 20, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(removed.is_empty());
    let removed = alerts
        .gc(t0 + minute * 80, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(removed, vec![fp]);
    assert!(alerts.list().await.unwrap().is_empty());
}

async fn silences_outlive_a_restart(store: Store) {
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let shared: SharedClock = Arc::new(clock.clone());
    let backing = Arc::new(StoreSilences(store.clone()));
    let silences = Silences::new(backing.clone(), shared.clone(), Duration::from_secs(3600))
        .await
        .unwrap();
    let matchers =
        Matchers::parse(r#"{alertname=~"Task.*", service!="db", msg="a \"quoted\" value"}"#)
            .unwrap();
    let id = silences
        .set(Silence::new(
            matchers.clone(),
            t0,
            t0 + chrono::Duration::hours(2),
            "alice",
            "deploying",
        ))
        .await
        .unwrap();

    // steward restarts: a new Silences reads the same store
    let restarted = Silences::new(backing, shared, Duration::from_secs(3600))
        .await
        .unwrap();
    let found = restarted.get(&id).expect("the silence survives");
    assert_eq!(found.matchers, matchers);
    assert_eq!(found.created_by, "alice");
    assert_eq!(found.ends_at, t0 + chrono::Duration::hours(2));
    assert_eq!(
        restarted.silenced_by(
            &labels(&[("alertname", "TaskErrors"), ("msg", "a \"quoted\" value")]),
            t0
        ),
        vec![id.clone()]
    );
    restarted.expire(&id).await.unwrap();
    let again = Silences::new(
        Arc::new(StoreSilences(store)),
        Arc::new(clock),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert!(
        again
            .query(&SilenceQuery::default())
            .iter()
            .all(|s| s.ends_at <= t0),
        "the expiry was stored"
    );
}

async fn the_notification_log_keeps_the_newest_entry(store: Store) {
    let log = StoreNotificationLog::load(store.clone(), Duration::from_secs(3600))
        .await
        .unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let key = ReceiverKey {
        receiver: "team-a".into(),
        integration: "webhook".into(),
        index: 0,
    };
    let group = "{}:{alertname=\"TaskErrors\"}";
    let set = |fps: &[u64]| fps.iter().map(|f| Fingerprint(*f)).collect::<BTreeSet<_>>();
    assert_eq!(log.query(group, &key).await.unwrap(), None);
    log.log(
        group,
        &key,
        set(&[1, u64::MAX]),
        set(&[]),
        t0 + chrono::Duration::seconds(10),
    )
    .await
    .unwrap();
    // a slower flush that decided earlier does not overwrite it
    log.log(group, &key, set(&[2]), set(&[3]), t0)
        .await
        .unwrap();
    let entry = log.query(group, &key).await.unwrap().unwrap();
    assert_eq!(entry.firing, set(&[1, u64::MAX]));
    assert!(entry.resolved.is_empty());
    assert_eq!(entry.timestamp, t0 + chrono::Duration::seconds(10));
    let other = ReceiverKey {
        index: 1,
        ..key.clone()
    };
    assert_eq!(log.query(group, &other).await.unwrap(), None);
    // a restart reads the log back from the database
    let again = StoreNotificationLog::load(store.clone(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(again.query(group, &key).await.unwrap(), Some(entry));
    assert_eq!(again.query(group, &other).await.unwrap(), None);
    assert_eq!(log.gc(t0).await.unwrap(), 0);
    assert_eq!(log.gc(t0 + chrono::Duration::hours(2)).await.unwrap(), 1);
    assert_eq!(log.query(group, &key).await.unwrap(), None);
    let again = StoreNotificationLog::load(store, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(again.query(group, &key).await.unwrap(), None);
}

async fn a_batch_is_stored_in_one_go_and_merged_in_order(store: Store) {
    let alerts = StoreAlerts::load(store).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let minute = chrono::Duration::minutes(1);
    let alert = |name: &str, start, end| {
        IncomingAlert {
            labels: labels(&[("alertname", name)]),
            starts_at: Some(start),
            ends_at: Some(end),
            ..IncomingAlert::default()
        }
        .into_alert(t0, Duration::from_secs(300))
        .unwrap()
    };
    // the same alert twice in one batch: the second merges with the first
    let stored = alerts
        .put_all(
            vec![
                alert("A", t0, t0 + minute * 5),
                alert("B", t0, t0 + minute),
                alert("A", t0 + minute, t0 + minute * 9),
            ],
            t0,
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[2].starts_at, t0);
    assert_eq!(stored[2].ends_at, Some(t0 + minute * 9));
    let mut listed = alerts.list().await.unwrap();
    listed.sort_by(|a, b| a.labels.cmp(&b.labels));
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], stored[2]);
}

async fn a_batch_larger_than_one_statement_is_stored_whole(store: Store) {
    let alerts = StoreAlerts::load(store.clone()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let batch: Vec<_> = (0..2000)
        .map(|i| {
            IncomingAlert {
                labels: labels(&[("alertname", "Many"), ("instance", &i.to_string())]),
                starts_at: Some(t0),
                ..IncomingAlert::default()
            }
            .into_alert(t0, Duration::from_secs(300))
            .unwrap()
        })
        .collect();
    assert_eq!(alerts.put_all(batch.clone(), t0).await.unwrap().len(), 2000);
    // again: every one merges with its stored self
    let again = alerts.put_all(batch, t0).await.unwrap();
    assert!(again.iter().all(|a| a.starts_at == t0));
    assert_eq!(alerts.list().await.unwrap().len(), 2000);
    // all new, so all written before the put returned
    let restarted = StoreAlerts::load(store).await.unwrap();
    assert_eq!(restarted.list().await.unwrap().len(), 2000);
}

/// A restart (a new `StoreAlerts` on the same database) sees at once what
/// decides whether an alert fires; a firing alert's later end waits for
/// the next flush.
async fn what_decides_firing_is_written_before_the_put_returns(store: Store) {
    let alerts = StoreAlerts::load(store.clone()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let minute = chrono::Duration::minutes(1);
    let alert = |start, end, now| {
        IncomingAlert {
            labels: labels(&[("alertname", "Deferred")]),
            starts_at: Some(start),
            ends_at: Some(end),
            ..IncomingAlert::default()
        }
        .into_alert(now, Duration::from_secs(300))
        .unwrap()
    };
    let reloaded = || {
        let store = store.clone();
        async move {
            let fresh = StoreAlerts::load(store).await.unwrap();
            let mut all = fresh.list().await.unwrap();
            assert!(all.len() <= 1);
            all.pop()
        }
    };

    // new: written at once
    alerts
        .put(alert(t0, t0 + minute * 4, t0), t0)
        .await
        .unwrap();
    assert_eq!(reloaded().await.unwrap().ends_at, Some(t0 + minute * 4));
    assert_eq!(alerts.pending(), 0);

    // re-sent with a later end: held back until a flush
    let now = t0 + minute;
    alerts
        .put(alert(t0, now + minute * 4, now), now)
        .await
        .unwrap();
    assert_eq!(alerts.pending(), 1);
    assert_eq!(reloaded().await.unwrap().ends_at, Some(t0 + minute * 4));
    alerts.flush().await.unwrap();
    assert_eq!(alerts.pending(), 0);
    assert_eq!(reloaded().await.unwrap().ends_at, Some(now + minute * 4));

    // resolved: written at once
    let now = t0 + minute * 2;
    alerts.put(alert(t0, now, now), now).await.unwrap();
    let stored = reloaded().await.unwrap();
    assert!(stored.resolved_at(now), "{stored:?}");
    assert_eq!(alerts.pending(), 0);

    // firing again with a new start: written at once
    let now = t0 + minute * 10;
    alerts
        .put(alert(now, now + minute * 4, now), now)
        .await
        .unwrap();
    let stored = reloaded().await.unwrap();
    assert_eq!(stored.starts_at, now);
    assert!(!stored.resolved_at(now));
}

/// Puts of new alerts running at once share commits (whichever takes the
/// writer commits what all wait for): every one returns with its alerts
/// in the database.
async fn concurrent_puts_of_new_alerts_all_commit(store: Store) {
    let alerts = StoreAlerts::load(store.clone()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let puts: Vec<_> = (0..16)
        .map(|p| {
            let alerts = alerts.clone();
            tokio::spawn(async move {
                let batch: Vec<_> = (0..8)
                    .map(|i| {
                        IncomingAlert {
                            labels: labels(&[
                                ("alertname", "Concurrent"),
                                ("n", &format!("{p}-{i}")),
                            ]),
                            starts_at: Some(t0),
                            ..IncomingAlert::default()
                        }
                        .into_alert(t0, Duration::from_secs(300))
                        .unwrap()
                    })
                    .collect();
                alerts.put_all(batch, t0).await.unwrap();
            })
        })
        .collect();
    for put in puts {
        put.await.unwrap();
    }
    let restarted = StoreAlerts::load(store).await.unwrap();
    assert_eq!(restarted.list().await.unwrap().len(), 16 * 8);
}
