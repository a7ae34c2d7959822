//! Journal retention: the oldest events beyond a count or an age are
//! deleted, in batches, and ids keep increasing afterwards.

use std::time::Duration;

use chrono::Utc;
use steward_core::{Actor, EventId, EventKind, NewEvent};
use steward_store::{EventQuery, JournalRetention, Order, Store};

crate::store_suite!(
    journal_keeps_the_newest_events_by_count,
    journal_drops_events_older_than_the_age_limit,
    journal_without_limits_keeps_everything
);

async fn append_many(store: &Store, count: usize) -> Vec<EventId> {
    let mut ids = Vec::new();
    for n in 0..count {
        let event = store
            .append(NewEvent::new(
                EventKind::new("test.event").unwrap(),
                Actor::system(),
                format!("event {n}"),
            ))
            .await
            .unwrap();
        ids.push(event.id);
    }
    ids
}

async fn all_ids(store: &Store) -> Vec<EventId> {
    let page = store
        .events(&EventQuery {
            order: Order::Asc,
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    page.events.iter().map(|event| event.id).collect()
}

async fn journal_keeps_the_newest_events_by_count(store: Store) {
    let ids = append_many(&store, 23).await;
    let retention = JournalRetention {
        max_age: None,
        max_events: Some(10),
        // Several batches, the last one partial.
        batch: 4,
    };
    let deleted = store.prune_journal(&retention, Utc::now()).await.unwrap();
    assert_eq!(deleted, 13);
    assert_eq!(all_ids(&store).await, ids[13..]);
    assert_eq!(
        store.prune_journal(&retention, Utc::now()).await.unwrap(),
        0,
        "nothing more to prune"
    );

    // Ids never go back: the next event comes after every deleted one.
    let next = append_many(&store, 1).await[0];
    assert!(next > *ids.last().unwrap(), "{next} after {ids:?}");
    let deleted = store
        .prune_journal(&JournalRetention::new(Duration::ZERO, 1), Utc::now())
        .await
        .unwrap();
    assert_eq!(deleted, 10);
    assert_eq!(all_ids(&store).await, [next]);
    let after = append_many(&store, 1).await[0];
    assert!(after > next);
}

async fn journal_drops_events_older_than_the_age_limit(store: Store) {
    let ids = append_many(&store, 7).await;
    let retention = JournalRetention::new(Duration::from_secs(3600), 0);
    let soon = Utc::now() + chrono::Duration::minutes(30);
    assert_eq!(store.prune_journal(&retention, soon).await.unwrap(), 0);
    assert_eq!(all_ids(&store).await, ids);

    let later = Utc::now() + chrono::Duration::hours(2);
    assert_eq!(store.prune_journal(&retention, later).await.unwrap(), 7);
    assert!(all_ids(&store).await.is_empty());
    let next = append_many(&store, 1).await[0];
    assert!(next > *ids.last().unwrap());
}

async fn journal_without_limits_keeps_everything(store: Store) {
    let ids = append_many(&store, 5).await;
    let retention = JournalRetention::new(Duration::ZERO, 0);
    let far = Utc::now() + chrono::Duration::days(3650);
    assert_eq!(store.prune_journal(&retention, far).await.unwrap(), 0);
    assert_eq!(all_ids(&store).await, ids);
}
