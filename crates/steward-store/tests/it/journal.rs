//! Journal behaviour: append, read back, filter, paginate, transactions,
//! watchers and concurrent writers.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use serde_json::json;
use steward_core::{Actor, EventId, EventKind, Name, NewEvent, Severity, Version};
use steward_store::{Error, EventQuery, Order, Store};

crate::store_suite!(
    appended_events_read_back_whole,
    filters_combine,
    text_search_is_case_insensitive_and_literal,
    pages_cover_everything_once,
    rolled_back_events_never_appear,
    watchers_learn_of_commits_only,
    concurrent_appends_get_distinct_ordered_ids,
    bad_queries_are_rejected,
);

fn event(kind: &str, summary: &str) -> NewEvent {
    NewEvent::new(EventKind::new(kind).unwrap(), Actor::system(), summary)
}

async fn appended_events_read_back_whole(store: Store) {
    let new = event("deploy.step.completed", "migrated database `agents`")
        .service(Name::new("gateway").unwrap())
        .version(Version::new("1.4.2").unwrap())
        .severity(Severity::Warning)
        .payload(json!({"step": "database_migration", "took_ms": 120, "nested": {"ok": true}}));
    let before = Utc::now() - Duration::seconds(1);
    let appended = store.append(new.clone()).await.unwrap();
    assert!(appended.id.0 > 0);
    assert!(appended.time >= before && appended.time <= Utc::now());
    let read = store.event(appended.id).await.unwrap();
    assert_eq!(read, appended);
    assert_eq!(read.kind.as_str(), "deploy.step.completed");
    assert_eq!(read.service.as_deref(), Some("gateway"));
    assert_eq!(read.version.as_deref(), Some("1.4.2"));
    assert_eq!(read.severity, Severity::Warning);
    assert_eq!(read.payload["nested"]["ok"], true);
    let missing = store
        .event(EventId(appended.id.0 + 1000))
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing}");
}

async fn filters_combine(store: Store) {
    let gateway = Name::new("gateway").unwrap();
    let ci = Actor::new("token:ci").unwrap();
    store
        .append(event("deploy.started", "a").service(gateway.clone()))
        .await
        .unwrap();
    store
        .append(event("deploy.succeeded", "b").service(gateway.clone()))
        .await
        .unwrap();
    store.append(event("deployment", "c")).await.unwrap();
    store.append(event("deploy", "d")).await.unwrap();
    let mut by_ci = event("deploy.started", "e");
    by_ci.actor = ci.clone();
    store.append(by_ci).await.unwrap();

    let summaries = |page: steward_store::EventPage| -> Vec<String> {
        page.events.into_iter().map(|e| e.summary).collect()
    };
    let query = |f: fn(&mut EventQuery)| {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    };
    let deploys = store
        .events(&query(|q| q.kind = Some("deploy".into())))
        .await
        .unwrap();
    assert_eq!(
        summaries(deploys),
        ["e", "d", "b", "a"],
        "prefix matches whole segments only"
    );
    let gateway_deploys = store
        .events(&query(|q| {
            q.kind = Some("deploy.started".into());
            q.service = Some("gateway".into());
        }))
        .await
        .unwrap();
    assert_eq!(summaries(gateway_deploys), ["a"]);
    let by_actor = store
        .events(&query(|q| q.actor = Some("token:ci".into())))
        .await
        .unwrap();
    assert_eq!(summaries(by_actor), ["e"]);
    let future = store
        .events(&EventQuery {
            since: Some(Utc::now() + Duration::hours(1)),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert!(future.events.is_empty());
    let past = store
        .events(&EventQuery {
            until: Some(Utc::now() - Duration::hours(1)),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert!(past.events.is_empty());
    let window = store
        .events(&EventQuery {
            since: Some(Utc::now() - Duration::hours(1)),
            until: Some(Utc::now() + Duration::hours(1)),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(window.events.len(), 5);
}

async fn text_search_is_case_insensitive_and_literal(store: Store) {
    store
        .append(event("note", "Rolled back GATEWAY"))
        .await
        .unwrap();
    store
        .append(event("note", "error rate 50% on agents"))
        .await
        .unwrap();
    store
        .append(event("note", "error rate 500 on agents"))
        .await
        .unwrap();
    store
        .append(event("note", "plain").payload(json!({"reason": "Disk Full on host-3"})))
        .await
        .unwrap();
    let search = |text: &str| {
        let store = store.clone();
        let text = text.to_owned();
        async move {
            let page = store
                .events(&EventQuery {
                    text: Some(text),
                    ..EventQuery::default()
                })
                .await
                .unwrap();
            page.events
                .into_iter()
                .map(|e| e.summary)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("gateway").await, ["Rolled back GATEWAY"]);
    assert_eq!(
        search("50%").await,
        ["error rate 50% on agents"],
        "% is literal"
    );
    assert_eq!(
        search("disk full").await,
        ["plain"],
        "payload is searched too"
    );
    assert!(search("r_te").await.is_empty(), "_ is literal");
}

async fn pages_cover_everything_once(store: Store) {
    for i in 0..25 {
        store
            .append(event("tick", &format!("event {i}")))
            .await
            .unwrap();
    }
    for order in [Order::Desc, Order::Asc] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store
                .events(&EventQuery {
                    cursor,
                    order,
                    limit: Some(10),
                    ..EventQuery::default()
                })
                .await
                .unwrap();
            pages += 1;
            seen.extend(page.events.iter().map(|e| e.id.0));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{order:?}");
        assert_eq!(seen.len(), 25);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        if order == Order::Desc {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "{order:?} pages keep their order");
    }
    let exact = store
        .events(&EventQuery {
            limit: Some(25),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(exact.events.len(), 25);
    assert_eq!(exact.next_cursor, None, "no cursor when nothing is left");
}

async fn rolled_back_events_never_appear(store: Store) {
    let mut watcher = store.subscribe();
    let start = *watcher.borrow_and_update();
    {
        let mut tx = store.begin().await.unwrap();
        tx.append(event("doomed", "never committed")).await.unwrap();
        // Dropped without commit: rolled back.
    }
    let page = store.events(&EventQuery::default()).await.unwrap();
    assert!(page.events.iter().all(|e| e.kind.as_str() != "doomed"));
    assert!(!watcher.has_changed().unwrap(), "no news for a rollback");
    assert_eq!(*watcher.borrow(), start);
}

async fn watchers_learn_of_commits_only(store: Store) {
    let mut watcher = store.subscribe();
    watcher.borrow_and_update();
    let mut tx = store.begin().await.unwrap();
    let first = tx.append(event("batch", "one")).await.unwrap();
    let second = tx.append(event("batch", "two")).await.unwrap();
    assert!(second.id > first.id);
    assert!(!watcher.has_changed().unwrap(), "nothing before commit");
    tx.commit().await.unwrap();
    assert!(watcher.has_changed().unwrap());
    assert_eq!(*watcher.borrow_and_update(), second.id);
    assert_eq!(store.refresh_latest().await.unwrap(), second.id);
}

async fn concurrent_appends_get_distinct_ordered_ids(store: Store) {
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..25 {
                    let appended = store
                        .append(event("load", &format!("w{writer} #{i}")))
                        .await
                        .unwrap();
                    ids.push(appended.id);
                }
                ids
            })
        })
        .collect();
    let mut all = HashSet::new();
    for writer in writers {
        let ids = writer.await.unwrap();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "a writer's ids increase"
        );
        all.extend(ids);
    }
    assert_eq!(all.len(), 100);
    let page = store
        .events(&EventQuery {
            kind: Some("load".into()),
            order: Order::Asc,
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 100);
}

async fn bad_queries_are_rejected(store: Store) {
    for limit in [0, 1001] {
        let err = store
            .events(&EventQuery {
                limit: Some(limit),
                ..EventQuery::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidQuery(_)), "{err}");
        assert!(
            err.to_string().contains("limit must be between 1 and 1000"),
            "{err}"
        );
    }
}
