//! Test doubles of the engine's two dependencies (feature `testing`, and
//! this crate's own unit tests): the in-memory [`MemoryBackend`] and an
//! in-memory [`MemoryStore`] whose writes or reads fail on command. With
//! both, deployments, rollbacks, crash recovery and the health watcher
//! run in tokio's paused time, in milliseconds of wall time.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use async_trait::async_trait;
use steward_core::{Name, NewEvent};
use tokio::sync::watch;

pub use crate::backend::memory::{
    Behaviour, Change, Health, MemoryBackend, MemoryProbe, Observer, Transition,
};
use crate::{
    Error, Result,
    model::{Deployment, DeploymentStatus, DeploymentSummary, LockHolder, ServiceSpec},
    store::DeployStore,
};

#[derive(Default)]
struct Data {
    /// In the order they were first saved.
    deployments: Mutex<Vec<Deployment>>,
    current: Mutex<BTreeMap<Name, ServiceSpec>>,
    lock: Mutex<Option<LockHolder>>,
    journal: Mutex<Vec<NewEvent>>,
    writes_down: AtomicBool,
    reads_down: AtomicBool,
    write_attempts: AtomicU32,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A [`DeployStore`] in memory, with the semantics of steward-store's
/// (the lock row, the spec each service settled on, newest-first
/// listings). Its writes ([`Self::fail_writes`]) or reads
/// ([`Self::fail_reads`]) fail on command, like a full disk or a
/// database failover. Cloning shares it.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Arc<Data>,
    dead: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Writes (the lock, saves, the journal) fail while `down`.
    pub fn fail_writes(&self, down: bool) {
        self.data.writes_down.store(down, Ordering::SeqCst);
    }

    /// Reads fail while `down`.
    pub fn fail_reads(&self, down: bool) {
        self.data.reads_down.store(down, Ordering::SeqCst);
    }

    /// Whether writes fail now.
    pub fn writes_failing(&self) -> bool {
        self.data.writes_down.load(Ordering::SeqCst)
    }

    /// Writes tried so far, failed ones included.
    pub fn write_attempts(&self) -> u32 {
        self.data.write_attempts.load(Ordering::SeqCst)
    }

    /// Every event journaled, oldest first.
    pub fn events(&self) -> Vec<NewEvent> {
        locked(&self.data.journal).clone()
    }

    /// The summaries of every event journaled, oldest first.
    pub fn summaries(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .map(|event| event.summary)
            .collect()
    }

    /// The events of deployment `id` (by their payload's `deployment`),
    /// oldest first.
    pub fn events_of(&self, id: &str) -> Vec<NewEvent> {
        self.events()
            .into_iter()
            .filter(|event| event.payload["deployment"] == id)
            .collect()
    }

    /// The kinds of deployment `id`'s events, oldest first.
    pub fn kinds_of(&self, id: &str) -> Vec<String> {
        self.events_of(id)
            .into_iter()
            .map(|event| event.kind.to_string())
            .collect()
    }

    /// Deployment `id` as saved (without waiting, failing or being dead).
    pub fn deployment(&self, id: &str) -> Option<Deployment> {
        locked(&self.data.deployments)
            .iter()
            .find(|deployment| deployment.id == id)
            .cloned()
    }

    /// The holder of the deploy lock now.
    pub fn holder(&self) -> Option<LockHolder> {
        locked(&self.data.lock).clone()
    }

    /// Sets the deploy lock's holder (as a steward process that died
    /// holding it left it).
    pub fn set_holder(&self, holder: Option<LockHolder>) {
        *locked(&self.data.lock) = holder;
    }

    /// The steward process using this handle dies: every call on it from
    /// now on, and every one in progress that reaches it again, never
    /// returns. The data stays.
    pub fn kill(&self) {
        self.dead.send_replace(true);
    }

    /// A handle over the same data for a new steward process.
    pub fn reopen(&self) -> MemoryStore {
        MemoryStore {
            data: Arc::clone(&self.data),
            dead: Arc::default(),
        }
    }

    async fn alive(&self) {
        let mut dead = self.dead.subscribe();
        if *dead.borrow_and_update() {
            std::future::pending::<()>().await;
        }
    }

    async fn write(&self) -> Result<()> {
        self.alive().await;
        self.data.write_attempts.fetch_add(1, Ordering::SeqCst);
        if self.data.writes_down.load(Ordering::SeqCst) {
            Err(Error::Store("disk full".to_owned()))
        } else {
            Ok(())
        }
    }

    async fn read(&self) -> Result<()> {
        self.alive().await;
        if self.data.reads_down.load(Ordering::SeqCst) {
            Err(Error::Store("connection refused".to_owned()))
        } else {
            Ok(())
        }
    }

    /// Newest first, as steward-store lists them.
    fn newest_first(&self, keep: impl Fn(&Deployment) -> bool, limit: u32) -> Vec<Deployment> {
        let mut found: Vec<Deployment> = locked(&self.data.deployments)
            .iter()
            .filter(|deployment| keep(deployment))
            .cloned()
            .collect();
        found.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        found.truncate(limit as usize);
        found
    }
}

fn touches(deployment: &Deployment, service: Option<&str>) -> bool {
    service.is_none_or(|service| {
        deployment
            .services
            .iter()
            .any(|name| name.as_str() == service)
    })
}

#[async_trait]
impl DeployStore for MemoryStore {
    async fn try_lock(&self, holder: &LockHolder) -> Result<Option<LockHolder>> {
        self.write().await?;
        let mut lock = locked(&self.data.lock);
        match &*lock {
            None => {
                *lock = Some(holder.clone());
                Ok(None)
            }
            Some(current)
                if current.deployment_id == holder.deployment_id
                    && current.pid == holder.pid
                    && current.host == holder.host =>
            {
                Ok(None)
            }
            Some(current) => Ok(Some(current.clone())),
        }
    }

    async fn take_over_lock(&self, stale: &LockHolder, holder: &LockHolder) -> Result<bool> {
        self.write().await?;
        let mut lock = locked(&self.data.lock);
        let unchanged = lock.as_ref().is_some_and(|current| {
            current.deployment_id == stale.deployment_id
                && current.host == stale.host
                && current.pid == stale.pid
                && current.pid_start == stale.pid_start
        });
        if unchanged {
            *lock = Some(holder.clone());
        }
        Ok(unchanged)
    }

    async fn unlock(&self, deployment_id: &str) -> Result<()> {
        self.write().await?;
        let mut lock = locked(&self.data.lock);
        if lock
            .as_ref()
            .is_some_and(|holder| holder.deployment_id == deployment_id)
        {
            *lock = None;
        }
        Ok(())
    }

    async fn lock_holder(&self) -> Result<Option<LockHolder>> {
        self.read().await?;
        Ok(self.holder())
    }

    async fn save(&self, deployment: &Deployment, events: Vec<NewEvent>) -> Result<()> {
        self.write().await?;
        {
            let mut deployments = locked(&self.data.deployments);
            match deployments
                .iter_mut()
                .find(|saved| saved.id == deployment.id)
            {
                Some(saved) => *saved = deployment.clone(),
                None => deployments.push(deployment.clone()),
            }
        }
        if deployment.status.is_final() {
            let mut current = locked(&self.data.current);
            for (service, spec) in deployment.outcome() {
                match spec {
                    Some(spec) => current.insert(service, spec),
                    None => current.remove(&service),
                };
            }
        }
        locked(&self.data.journal).extend(events);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Deployment>> {
        self.read().await?;
        Ok(self.deployment(id))
    }

    async fn list(&self, service: Option<&str>, limit: u32) -> Result<Vec<DeploymentSummary>> {
        self.read().await?;
        Ok(self
            .newest_first(|deployment| touches(deployment, service), limit)
            .iter()
            .map(DeploymentSummary::from)
            .collect())
    }

    async fn unfinished(&self) -> Result<Vec<Deployment>> {
        self.read().await?;
        Ok(self.newest_first(|deployment| !deployment.status.is_final(), 1000))
    }

    async fn current(&self) -> Result<Vec<ServiceSpec>> {
        self.read().await?;
        Ok(locked(&self.data.current).values().cloned().collect())
    }

    async fn succeeded(&self, service: Option<&Name>, limit: u32) -> Result<Vec<Deployment>> {
        self.read().await?;
        Ok(self.newest_first(
            |deployment| {
                deployment.status == DeploymentStatus::Succeeded
                    && touches(deployment, service.map(Name::as_str))
            },
            limit,
        ))
    }

    async fn journal(&self, events: Vec<NewEvent>) -> Result<()> {
        self.write().await?;
        locked(&self.data.journal).extend(events);
        Ok(())
    }
}

/// The answer of a [`FakeMetrics`] to a query: its samples' values (none:
/// an empty result), or an error.
pub type FakeAnswer = std::result::Result<Vec<f64>, String>;

/// A [`crate::MetricSource`] answering each query with what a function of
/// the rendered expression returns, counting queries per expression.
/// Cloning shares it.
#[derive(Clone)]
pub struct FakeMetrics {
    answer: Arc<dyn Fn(&str) -> FakeAnswer + Send + Sync>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeMetrics {
    /// Answers with `answer(expr)`.
    pub fn new(answer: impl Fn(&str) -> FakeAnswer + Send + Sync + 'static) -> Self {
        FakeMetrics {
            answer: Arc::new(answer),
            asked: Arc::default(),
        }
    }

    /// Every expression asked so far, in order.
    pub fn asked(&self) -> Vec<String> {
        locked(&self.asked).clone()
    }
}

#[async_trait]
impl crate::MetricSource for FakeMetrics {
    async fn query(&self, expr: &str) -> std::result::Result<Vec<crate::MetricSample>, String> {
        locked(&self.asked).push(expr.to_owned());
        (self.answer)(expr)
            .map(|values| values.into_iter().map(crate::MetricSample::value).collect())
    }
}
