//! Tests of the recorder against an in-memory store that fails on
//! command, in paused time: retries, the order of queued events, and the
//! endless retry of the final save and the lock release.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::Utc;
use steward_core::{Actor, EventKind, Name, NewEvent, Version};

use super::{Durability, Recorder};
use crate::{
    Error, Result,
    model::{
        Deployment, DeploymentStatus, DeploymentSummary, LockHolder, Plan, Release, ServiceSpec,
    },
    store::DeployStore,
};

/// A store in memory whose writes fail while `down` is set.
#[derive(Default)]
struct FlakyStore {
    down: AtomicBool,
    attempts: AtomicU32,
    saved: Mutex<HashMap<String, Deployment>>,
    journal: Mutex<Vec<String>>,
    lock: Mutex<Option<LockHolder>>,
}

impl FlakyStore {
    fn check(&self) -> Result<()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(Error::Store("connection refused".to_owned()))
        } else {
            Ok(())
        }
    }

    fn journaled(&self) -> Vec<String> {
        self.journal.lock().unwrap().clone()
    }
}

#[async_trait]
impl DeployStore for FlakyStore {
    async fn try_lock(&self, holder: &LockHolder) -> Result<Option<LockHolder>> {
        self.check()?;
        let mut lock = self.lock.lock().unwrap();
        match &*lock {
            Some(current) => Ok(Some(current.clone())),
            None => {
                *lock = Some(holder.clone());
                Ok(None)
            }
        }
    }

    async fn take_over_lock(&self, _stale: &LockHolder, holder: &LockHolder) -> Result<bool> {
        self.check()?;
        *self.lock.lock().unwrap() = Some(holder.clone());
        Ok(true)
    }

    async fn unlock(&self, deployment_id: &str) -> Result<()> {
        self.check()?;
        let mut lock = self.lock.lock().unwrap();
        if lock
            .as_ref()
            .is_some_and(|holder| holder.deployment_id == deployment_id)
        {
            *lock = None;
        }
        Ok(())
    }

    async fn lock_holder(&self) -> Result<Option<LockHolder>> {
        self.check()?;
        Ok(self.lock.lock().unwrap().clone())
    }

    async fn save(&self, deployment: &Deployment, events: Vec<NewEvent>) -> Result<()> {
        self.check()?;
        self.saved
            .lock()
            .unwrap()
            .insert(deployment.id.clone(), deployment.clone());
        self.journal
            .lock()
            .unwrap()
            .extend(events.into_iter().map(|event| event.summary));
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Deployment>> {
        self.check()?;
        Ok(self.saved.lock().unwrap().get(id).cloned())
    }

    async fn list(&self, _service: Option<&str>, _limit: u32) -> Result<Vec<DeploymentSummary>> {
        Ok(Vec::new())
    }

    async fn unfinished(&self) -> Result<Vec<Deployment>> {
        Ok(Vec::new())
    }

    async fn current(&self) -> Result<Vec<ServiceSpec>> {
        Ok(Vec::new())
    }

    async fn succeeded(&self, _service: Option<&Name>, _limit: u32) -> Result<Vec<Deployment>> {
        Ok(Vec::new())
    }

    async fn journal(&self, events: Vec<NewEvent>) -> Result<()> {
        self.check()?;
        self.journal
            .lock()
            .unwrap()
            .extend(events.into_iter().map(|event| event.summary));
        Ok(())
    }
}

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
    let store = Arc::new(FlakyStore::default());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(10));
    store.down.store(true, Ordering::SeqCst);
    let start = tokio::time::Instant::now();
    let err = recorder
        .save(&deployment(), vec![event("one")], Durability::Bounded)
        .await
        .expect_err("the store is down");
    assert!(err.to_string().contains("connection refused"), "{err}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(16),
        "gave up after {waited:?}"
    );
    assert!(store.attempts.load(Ordering::SeqCst) > 3, "retried");
    assert!(store.journaled().is_empty());

    // Back: the next save writes the kept event before its own.
    store.down.store(false, Ordering::SeqCst);
    recorder
        .save(&deployment(), vec![event("two")], Durability::Bounded)
        .await
        .expect("saved");
    assert_eq!(store.journaled(), ["one", "two"]);
}

#[tokio::test(start_paused = true)]
async fn a_bounded_save_succeeds_when_the_store_comes_back_in_time() {
    let store = Arc::new(FlakyStore::default());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(30));
    store.down.store(true, Ordering::SeqCst);
    let back = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            store.down.store(false, Ordering::SeqCst);
        })
    };
    recorder
        .save(&deployment(), vec![event("one")], Durability::Bounded)
        .await
        .expect("saved once the store is back");
    back.await.unwrap();
    assert_eq!(store.journaled(), ["one"]);
    assert!(store.saved.lock().unwrap().contains_key("dep_test"));
}

#[tokio::test(start_paused = true)]
async fn the_final_save_and_the_unlock_wait_for_the_store_however_long() {
    let store = Arc::new(FlakyStore::default());
    *store.lock.lock().unwrap() = Some(LockHolder {
        deployment_id: "dep_test".to_owned(),
        host: "h".to_owned(),
        pid: 1,
        pid_start: 1,
        since: Utc::now(),
    });
    let recorder = Recorder::new(store.clone(), Duration::from_secs(1));
    store.down.store(true, Ordering::SeqCst);
    let back = {
        let store = store.clone();
        tokio::spawn(async move {
            // Far beyond the patience of bounded saves.
            tokio::time::sleep(Duration::from_secs(600)).await;
            store.down.store(false, Ordering::SeqCst);
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
    assert_eq!(store.journaled(), ["end"]);
    assert!(store.lock.lock().unwrap().is_none(), "lock released");
}

#[tokio::test(start_paused = true)]
async fn rollout_events_that_fail_wait_in_order_for_the_next_save() {
    let store = Arc::new(FlakyStore::default());
    let recorder = Recorder::new(store.clone(), Duration::from_secs(1));
    recorder.journal(event("live"));
    recorder.flush().await;
    assert_eq!(store.journaled(), ["live"], "written at once");

    store.down.store(true, Ordering::SeqCst);
    recorder.journal(event("a"));
    recorder.flush().await;
    store.down.store(false, Ordering::SeqCst);
    // The store is back, but `b` must not overtake `a`.
    recorder.journal(event("b"));
    recorder.flush().await;
    assert_eq!(store.journaled(), ["live"]);
    recorder
        .save(&deployment(), vec![event("step")], Durability::Bounded)
        .await
        .expect("saved");
    assert_eq!(store.journaled(), ["live", "a", "b", "step"]);
}
