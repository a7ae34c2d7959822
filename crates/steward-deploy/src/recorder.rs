//! Durable progress of one deployment through a state store that may
//! fail for a while (a database failover, a full disk).
//!
//! Every save is retried with backoff. Before a step acts, a save that
//! still fails after the manager's patience stops the deployment: nothing
//! acts unless it is recorded first. While rolling back, the rollback goes
//! on even when its progress cannot be saved (undoing is what makes the
//! system safe again), and the events that could not be written wait in
//! memory, in order, for the next save; once a save gave up, the next ones
//! try once each until one succeeds, so that a store that is down does not
//! slow the rollback by a patience per step. The final save and the release of
//! the deploy lock are retried until the store is back: the lock is never
//! left held by a deployment that has ended.
//!
//! Rollout events (replicas started, drained...) are journaled as they
//! happen so that watchers see them live; once one cannot be written, it
//! and every later one wait in the same queue, so the journal keeps their
//! order.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use steward_core::NewEvent;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

use crate::{Result, model::Deployment, store::DeployStore};

/// The first wait between two attempts.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest wait between two attempts.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// How often an endless retry says that it still cannot write.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// How hard a save tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Retries for the manager's patience, then fails; the events stay
    /// queued for the next save.
    Bounded,
    /// Retries until it succeeds.
    UntilSaved,
}

enum JournalMsg {
    Event(Box<NewEvent>),
    Flush(oneshot::Sender<()>),
}

/// Saves one deployment's progress and journals its rollout events.
/// Clones share the queue.
#[derive(Clone)]
pub(crate) struct Recorder {
    store: Arc<dyn DeployStore>,
    patience: Duration,
    /// Events not written yet, oldest first.
    pending: Arc<Mutex<Vec<NewEvent>>>,
    journal: mpsc::UnboundedSender<JournalMsg>,
    /// A bounded save gave up and none succeeded since: the next bounded
    /// saves try once, so that a rollback is not slowed by a patience per
    /// step while the store is down.
    failing: Arc<AtomicBool>,
}

impl Recorder {
    /// A recorder over `store` that gives up a bounded save after
    /// `patience`.
    pub(crate) fn new(store: Arc<dyn DeployStore>, patience: Duration) -> Self {
        let pending: Arc<Mutex<Vec<NewEvent>>> = Arc::default();
        let (journal, mut messages) = mpsc::unbounded_channel::<JournalMsg>();
        {
            let store = Arc::clone(&store);
            let pending = Arc::clone(&pending);
            tokio::spawn(async move {
                while let Some(message) = messages.recv().await {
                    match message {
                        JournalMsg::Event(event) => {
                            // Once one event waits, later ones wait
                            // behind it so that the journal keeps their
                            // order. Saves drain the queue only after a
                            // flush, which this task answers in order.
                            if !lock(&pending).is_empty() {
                                lock(&pending).push(*event);
                                continue;
                            }
                            if let Err(err) = store.journal(vec![(*event).clone()]).await {
                                tracing::warn!(error = %err, "cannot journal a rollout event yet; it waits for the next save");
                                lock(&pending).push(*event);
                            }
                        }
                        JournalMsg::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        }
        Recorder {
            store,
            patience,
            pending,
            journal,
            failing: Arc::default(),
        }
    }

    /// Journals a rollout event now, or with the next save when the
    /// store does not take it.
    pub(crate) fn journal(&self, event: NewEvent) {
        let _ = self.journal.send(JournalMsg::Event(Box::new(event)));
    }

    /// Waits until every rollout event sent so far is journaled or queued
    /// for the next save (so that a step's events precede its end).
    pub(crate) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.journal.send(JournalMsg::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }

    /// Saves `deployment` with the queued events and `events`, retrying
    /// as `durability` says.
    pub(crate) async fn save(
        &self,
        deployment: &Deployment,
        events: Vec<NewEvent>,
        durability: Durability,
    ) -> Result<()> {
        self.flush().await;
        let batch: Vec<NewEvent> = {
            let mut pending = lock(&self.pending);
            let mut batch = std::mem::take(&mut *pending);
            batch.extend(events);
            batch
        };
        let result = self
            .retry(durability, "save the deployment", || {
                self.store.save(deployment, batch.clone())
            })
            .await;
        if result.is_err() {
            // Back in front of anything queued meanwhile.
            let mut pending = lock(&self.pending);
            let later = std::mem::take(&mut *pending);
            *pending = batch;
            pending.extend(later);
        }
        result
    }

    /// Releases the deploy lock held by `deployment_id`, retrying until
    /// the store answers.
    pub(crate) async fn unlock(&self, deployment_id: &str) {
        let _ = self
            .retry(Durability::UntilSaved, "release the deploy lock", || {
                self.store.unlock(deployment_id)
            })
            .await;
    }

    async fn retry<F, Fut>(&self, durability: Durability, what: &str, mut attempt: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let start = Instant::now();
        let mut delay = FIRST_RETRY;
        let mut reported: Option<Instant> = None;
        let patience = if self.failing.load(Ordering::SeqCst) {
            Duration::ZERO
        } else {
            self.patience
        };
        loop {
            let err = match attempt().await {
                Ok(()) => {
                    if reported.is_some() || self.failing.swap(false, Ordering::SeqCst) {
                        tracing::info!(after = ?start.elapsed(), "the state store answers again; {what} done");
                    }
                    return Ok(());
                }
                Err(err) => err,
            };
            if durability == Durability::Bounded && start.elapsed() >= patience {
                self.failing.store(true, Ordering::SeqCst);
                tracing::error!(error = %err, after = ?start.elapsed(), "cannot {what}: the state store keeps failing");
                return Err(err);
            }
            if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
                tracing::warn!(error = %err, retry_in = ?delay, "cannot {what} yet; retrying");
                reported = Some(Instant::now());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY);
        }
    }
}

fn lock(pending: &Mutex<Vec<NewEvent>>) -> std::sync::MutexGuard<'_, Vec<NewEvent>> {
    // A panic while holding this lock cannot leave the queue half-changed
    // (every change is one push or swap), so a poisoned lock is usable.
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
