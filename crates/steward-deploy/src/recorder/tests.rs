//! Tests of the recorder against the in-memory store failing its writes
//! on command, in paused time: retries, the order of queued events, and
//! the endless retry of the final save and the lock release.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use steward_core::{Actor, EventKind, NewEvent, Version};

use super::{Durability, Recorder};
use crate::{
    model::{Deployment, DeploymentStatus, LockHolder, Plan, Release},
    testing::MemoryStore,
};

fn event(summary: &str) -> NewEvent {
    NewEvent::new(
        EventKind::new("deploy.test").unwrap(),
        Actor::system(),
        summary,
    )
}

fn deployment() -> Deployment {
    Deployment {
        id: "dep_test".to_owned(),
        release: Release {
            version: Version::new("1.0.0").unwrap(),
            services: Vec::new(),
        },
        services: Vec::new(),
        requested_services: None,
        create_only: false,
        previous: Default::default(),
        plan: Plan {
            changes: Vec::new(),
            steps: Vec::new(),
            checks: Vec::new(),
        },
        status: DeploymentStatus::Running,
        actor: Actor::system(),
        reason: None,
        forced: false,
        created_at: Utc::now(),
        finished_at: None,
        error: None,
        engine: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_bounded_save_retries_then_gives_up_and_keeps_its_events() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(10));
    store.fail_writes(true);
    let start = tokio::time::Instant::now();
    let err = recorder
        .save(&deployment(), vec![event("one")], Durability::Bounded)
        .await
        .expect_err("the store is down");
    assert!(err.to_string().contains("disk full"), "{err}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(16),
        "gave up after {waited:?}"
    );
    assert!(store.write_attempts() > 3, "retried");
    assert!(store.summaries().is_empty());

    // Back: the next save writes the kept event before its own.
    store.fail_writes(false);
    recorder
        .save(&deployment(), vec![event("two")], Durability::Bounded)
        .await
        .expect("saved");
    assert_eq!(store.summaries(), ["one", "two"]);
}

#[tokio::test(start_paused = true)]
async fn once_a_bounded_save_gave_up_the_next_ones_try_once_until_one_succeeds() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(10));
    store.fail_writes(true);
    recorder
        .save(&deployment(), vec![event("one")], Durability::Bounded)
        .await
        .expect_err("gave up after its patience");
    // A rollback's saves while the store is still down: one attempt each,
    // so undoing is not slowed by a patience per step.
    let start = tokio::time::Instant::now();
    let attempts = store.write_attempts();
    for _ in 0..3 {
        recorder
            .save(&deployment(), vec![event("more")], Durability::Bounded)
            .await
            .expect_err("still down");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(store.write_attempts(), attempts + 3);
    // Once a save succeeds, bounded saves are patient again.
    store.fail_writes(false);
    recorder
        .save(&deployment(), vec![event("back")], Durability::Bounded)
        .await
        .expect("saved");
    assert_eq!(store.summaries(), ["one", "more", "more", "more", "back"]);
    store.fail_writes(true);
    let start = tokio::time::Instant::now();
    recorder
        .save(&deployment(), vec![event("again")], Durability::Bounded)
        .await
        .expect_err("down again");
    assert!(start.elapsed() >= Duration::from_secs(10), "patient again");
}

#[tokio::test(start_paused = true)]
async fn a_bounded_save_succeeds_when_the_store_comes_back_in_time() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(30));
    store.fail_writes(true);
    let back = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            store.fail_writes(false);
        })
    };
    recorder
        .save(&deployment(), vec![event("one")], Durability::Bounded)
        .await
        .expect("saved once the store is back");
    back.await.unwrap();
    assert_eq!(store.summaries(), ["one"]);
    assert!(store.deployment("dep_test").is_some());
}

#[tokio::test(start_paused = true)]
async fn the_final_save_and_the_unlock_wait_for_the_store_however_long() {
    let store = Arc::new(MemoryStore::new());
    store.set_holder(Some(LockHolder {
        deployment_id: "dep_test".to_owned(),
        host: "h".to_owned(),
        pid: 1,
        pid_start: 1,
        since: Utc::now(),
    }));
    let recorder = Recorder::new(store.clone(), Duration::from_secs(1));
    store.fail_writes(true);
    let back = {
        let store = store.clone();
        tokio::spawn(async move {
            // Far beyond the patience of bounded saves.
            tokio::time::sleep(Duration::from_secs(600)).await;
            store.fail_writes(false);
        })
    };
    let mut finished = deployment();
    finished.status = DeploymentStatus::RolledBack;
    recorder
        .save(&finished, vec![event("end")], Durability::UntilSaved)
        .await
        .expect("saved in the end");
    recorder.unlock("dep_test").await;
    back.await.unwrap();
    assert_eq!(store.summaries(), ["end"]);
    assert!(store.holder().is_none(), "lock released");
}

#[tokio::test(start_paused = true)]
async fn rollout_events_that_fail_wait_in_order_for_the_next_save() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(1));
    recorder.journal(event("live"));
    recorder.flush().await;
    assert_eq!(store.summaries(), ["live"], "written at once");

    store.fail_writes(true);
    recorder.journal(event("a"));
    recorder.flush().await;
    store.fail_writes(false);
    // The store is back, but `b` must not overtake `a`.
    recorder.journal(event("b"));
    recorder.flush().await;
    assert_eq!(store.summaries(), ["live"]);
    recorder
        .save(&deployment(), vec![event("step")], Durability::Bounded)
        .await
        .expect("saved");
    assert_eq!(store.summaries(), ["live", "a", "b", "step"]);
}
