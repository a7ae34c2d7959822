//! Alerts starting and stopping, reported once each with their source
//! (a put at once, an end that passed by the sweep), and the firing
//! alerts by service, on paused tokio time through the AlertManager
//! ([`Setup`] of the manager's tests).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::*;
use crate::alert::{AlertStore, IncomingAlert, MemAlertStore};
use crate::clock::Clock;
use crate::manager::tests::{MINUTE, Setup, labels, wall_start};
use crate::manager::{Maintenance, STATE_SWEEP_INTERVAL};

/// Records what the AlertManager reports of alerts starting and stopping.
#[derive(Default)]
struct Changes(Mutex<Vec<(String, StateChange, Source)>>);

impl StateListener for Changes {
    fn changed(&self, alert: &Alert, change: StateChange, source: Source) {
        self.0
            .lock()
            .push((alert.labels["alertname"].clone(), change, source));
    }
}

#[tokio::test(start_paused = true)]
async fn alerts_starting_and_stopping_are_reported_once_each() {
    let s = Setup::new().await;
    // firing before the listener: not reported later
    s.fire(&[("alertname", "Before")]).await;
    let changes = Arc::new(Changes::default());
    s.manager.set_state_listener(Some(changes.clone()));

    let now = s.clock.now();
    let alert = |name: &str, end: DateTime<Utc>| IncomingAlert {
        labels: labels(&[("alertname", name)]),
        starts_at: Some(now),
        ends_at: Some(end),
        ..Default::default()
    };
    let ahead = now + chrono::TimeDelta::minutes(4);
    s.manager
        .put_alerts_from(
            Source::Rules,
            vec![alert("Rule", ahead), alert("Api", ahead)],
        )
        .await
        .unwrap();
    // a re-send is no change
    s.manager
        .put_alerts_from(Source::Rules, vec![alert("Rule", ahead)])
        .await
        .unwrap();
    // resolved by its sender
    s.manager
        .put_alerts_from(Source::Rules, vec![alert("Rule", now)])
        .await
        .unwrap();
    assert_eq!(
        *changes.0.lock(),
        vec![
            ("Rule".to_owned(), StateChange::Firing, Source::Rules),
            ("Api".to_owned(), StateChange::Firing, Source::Rules),
            ("Rule".to_owned(), StateChange::Resolved, Source::Rules),
        ]
    );
    changes.0.lock().clear();

    // never re-sent: resolved when its end passes, noticed by the sweep;
    // `Before` (resolve timeout 5 minutes) ends with it
    tokio::time::sleep(4 * MINUTE + STATE_SWEEP_INTERVAL).await;
    let mut swept = changes.0.lock().clone();
    swept.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        swept,
        vec![("Api".to_owned(), StateChange::Resolved, Source::Rules)]
    );
    tokio::time::sleep(MINUTE + STATE_SWEEP_INTERVAL).await;
    assert_eq!(
        changes.0.lock().last().cloned(),
        Some(("Before".to_owned(), StateChange::Resolved, Source::Api))
    );
    assert_eq!(changes.0.lock().len(), 2, "each reported once");
}

fn services(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

async fn firing_names(s: &Setup, on: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = s
        .manager
        .firing_on(&services(on))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.labels["alertname"].clone())
        .collect();
    names.sort();
    names
}

#[tokio::test(start_paused = true)]
async fn firing_alerts_are_found_by_service_without_the_resolved_ones() {
    let s = Setup::new().await;
    s.fire(&[("alertname", "A"), ("service", "api")]).await;
    s.fire(&[
        ("alertname", "B"),
        ("service", "db"),
        ("severity", "critical"),
    ])
    .await;
    s.fire(&[("alertname", "C"), ("service", "billing")]).await;
    s.fire(&[("alertname", "NoService")]).await;
    // already over when it arrives: never firing
    s.manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "D"), ("service", "api")]),
            starts_at: Some(wall_start() - chrono::TimeDelta::hours(1)),
            ends_at: Some(wall_start() - chrono::TimeDelta::minutes(1)),
            ..Default::default()
        }])
        .await
        .unwrap();
    assert_eq!(
        firing_names(&s, &["api", "db"]).await,
        ["A", "B"],
        "the resolved D and the other service's C are not"
    );
    assert!(firing_names(&s, &["nothing"]).await.is_empty());

    // resolved by its sender: gone at once
    let now = s.clock.now();
    s.manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "A"), ("service", "api")]),
            ends_at: Some(now),
            ..Default::default()
        }])
        .await
        .unwrap();
    assert_eq!(firing_names(&s, &["api", "db"]).await, ["B"]);

    // an end that passed is not firing, before the sweep notices it too
    let later = s.clock.now() + chrono::TimeDelta::minutes(2);
    s.manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "E"), ("service", "db")]),
            ends_at: Some(later),
            ..Default::default()
        }])
        .await
        .unwrap();
    assert_eq!(firing_names(&s, &["db"]).await, ["B", "E"]);
    tokio::time::sleep(2 * MINUTE + std::time::Duration::from_secs(1)).await;
    assert_eq!(firing_names(&s, &["db"]).await, ["B"]);

    // firing again after it resolved: found again
    s.fire(&[("alertname", "A"), ("service", "api")]).await;
    assert_eq!(firing_names(&s, &["api"]).await, ["A"]);
}

#[tokio::test(start_paused = true)]
async fn alerts_read_back_at_start_are_found_by_service() {
    // a store holding a firing alert, as after a restart
    let store = Arc::new(MemAlertStore::new());
    let alert = IncomingAlert {
        labels: labels(&[("alertname", "A"), ("service", "api")]),
        ..Default::default()
    }
    .into_alert(wall_start(), std::time::Duration::from_secs(300))
    .unwrap();
    store.put(alert, wall_start()).await.unwrap();
    let s = Setup::with_store(store, Maintenance::default()).await;
    assert_eq!(firing_names(&s, &["api"]).await, ["A"]);
    // and a reload keeps them
    s.manager
        .reload(crate::manager::tests::configured(&s.recorder))
        .await
        .unwrap();
    assert_eq!(firing_names(&s, &["api"]).await, ["A"]);
}

#[test]
fn the_index_forgets_a_service_with_nothing_firing() {
    let alert = |name: &str, service: &str| {
        IncomingAlert {
            labels: labels(&[("alertname", name), ("service", service)]),
            ..Default::default()
        }
        .into_alert(wall_start(), std::time::Duration::from_secs(300))
        .unwrap()
    };
    let (a, b) = (alert("A", "api"), alert("B", "api"));
    let mut firing = Firing::default();
    assert!(firing.start(&a, Source::Api));
    assert!(!firing.start(&a, Source::Rules), "known already");
    assert!(firing.start(&b, Source::Webhook));
    assert_eq!(firing.on_services(&services(&["api"])).len(), 2);
    assert_eq!(firing.stop(a.fingerprint()), Some(Source::Rules));
    assert_eq!(firing.stop(a.fingerprint()), None);
    assert_eq!(firing.stop(b.fingerprint()), Some(Source::Webhook));
    assert!(firing.by_service.is_empty());
    assert!(firing.alerts.is_empty());
}
