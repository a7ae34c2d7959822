//! Incidents on both engines: saved with their journal events in one
//! transaction, read back whole, listed newest first (open ones only or
//! all), and found by their deduplication key while open.

use chrono::{DateTime, TimeDelta, Utc};
use steward_core::Actor;
use steward_incident::{
    events,
    incident::{Action, Incident, Severity},
    store::IncidentStore,
};
use steward_store::{EventQuery, Store};

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + TimeDelta::minutes(minutes)
}

fn incident(id: &str, key: Option<&str>, opened: i64) -> Incident {
    let mut incident = Incident::open(id, format!("{id} title"), Severity::Sev2, at(opened));
    incident.dedup_key = key.map(str::to_owned);
    incident.services.insert("agent".into());
    incident
}

async fn incidents_are_saved_with_their_events_and_read_back(store: Store) {
    let actor = Actor::system();
    let mut first = incident("inc-1", Some("group-a"), 0);
    store
        .save(&first, vec![events::opened(&first, &actor)])
        .await
        .unwrap();
    let change = first.apply(Action::Acknowledge, at(3)).unwrap();
    let event = events::changed(&first, &change, &actor).expect("an event");
    store.save(&first, vec![event]).await.unwrap();
    assert_eq!(store.get("inc-1").await.unwrap(), Some(first.clone()));
    assert_eq!(store.get("inc-9").await.unwrap(), None);

    let journal = store
        .events(&EventQuery {
            kind: Some("incident".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = journal.events.iter().map(|e| e.kind.as_str()).collect();
    // newest first
    assert_eq!(kinds, ["incident.acknowledged", "incident.opened"]);
    assert_eq!(journal.events[1].payload["incident"], "inc-1");
    assert_eq!(journal.events[0].payload["status"], "acknowledged");

    // a second incident on another key, later; the first resolved
    let second = incident("inc-2", Some("group-b"), 10);
    store.save(&second, vec![]).await.unwrap();
    assert_eq!(
        store
            .open_with_dedup_key("group-a")
            .await
            .unwrap()
            .map(|i| i.id),
        Some("inc-1".to_owned())
    );
    first.apply(Action::Resolve, at(20)).unwrap();
    store.save(&first, vec![]).await.unwrap();
    assert_eq!(store.open_with_dedup_key("group-a").await.unwrap(), None);
    let ids = |incidents: Vec<Incident>| incidents.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list(false, 10).await.unwrap()),
        ["inc-2", "inc-1"]
    );
    assert_eq!(ids(store.list(true, 10).await.unwrap()), ["inc-2"]);
    assert_eq!(ids(store.list(false, 1).await.unwrap()), ["inc-2"]);
    // reopened under the same key: found again
    first.apply(Action::Reopen, at(30)).unwrap();
    store.save(&first, vec![]).await.unwrap();
    assert_eq!(
        store
            .open_with_dedup_key("group-a")
            .await
            .unwrap()
            .map(|i| i.reopened),
        Some(1)
    );
}

crate::store_suite!(incidents_are_saved_with_their_events_and_read_back);
