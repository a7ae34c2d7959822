//! One aggregation group (Alertmanager's `aggrGroup`): its alerts by
//! fingerprint, and a task that flushes them on the group's timer.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::RouteOpts;
use super::pipeline::{GroupContext, Pipeline};
use crate::LabelSet;
use crate::alert::{Alert, Fingerprint, notification_order};
use crate::clock::chrono_duration;

pub(super) struct AggrGroup {
    context: GroupContext,
    state: Mutex<State>,
    /// Wakes the task when `next` moved earlier.
    wake: Notify,
    cancel: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    alerts: HashMap<Fingerprint, Alert>,
    /// When the next flush is due.
    next: Instant,
    has_flushed: bool,
}

impl AggrGroup {
    /// A group whose first flush is due `group_wait` from now.
    pub(super) fn new(route: Arc<RouteOpts>, labels: LabelSet, cancel: CancellationToken) -> Self {
        let next = Instant::now() + route.group_wait;
        Self {
            context: GroupContext {
                key: route.group_key(&labels),
                labels,
                route,
            },
            state: Mutex::new(State {
                alerts: HashMap::new(),
                next,
                has_flushed: false,
            }),
            wake: Notify::new(),
            cancel,
            task: Mutex::new(None),
        }
    }

    pub(super) fn key(&self) -> &str {
        &self.context.key
    }

    pub(super) fn labels(&self) -> &LabelSet {
        &self.context.labels
    }

    pub(super) fn route(&self) -> &Arc<RouteOpts> {
        &self.context.route
    }

    pub(super) fn alerts(&self) -> Vec<Alert> {
        self.state.lock().alerts.values().cloned().collect()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.state.lock().alerts.is_empty()
    }

    /// Adds or replaces an alert. Before the first flush, an alert that
    /// started more than `group_wait` before `now` makes the flush due at
    /// once (the group's wait is over for it).
    pub(super) fn insert(&self, alert: Alert, now: DateTime<Utc>) {
        let overdue = alert.starts_at + chrono_duration(self.context.route.group_wait) < now;
        let mut state = self.state.lock();
        state.alerts.insert(alert.fingerprint(), alert);
        if !state.has_flushed && overdue {
            state.next = Instant::now();
            drop(state);
            self.wake.notify_one();
        }
    }

    pub(super) fn start(self: &Arc<Self>, pipeline: Arc<Pipeline>) {
        let handle = tokio::spawn(self.clone().run(pipeline));
        *self.task.lock() = Some(handle);
    }

    pub(super) fn stop(&self) {
        self.cancel.cancel();
    }

    /// Stops the group and waits for its task.
    pub(super) async fn join(&self) {
        self.cancel.cancel();
        let handle = self.task.lock().take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
            && e.is_panic()
        {
            tracing::error!(group = %self.context.key, error = %e, "alert group task panicked");
        }
    }

    async fn run(self: Arc<Self>, pipeline: Arc<Pipeline>) {
        loop {
            let next = self.state.lock().next;
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return,
                () = self.wake.notified() => continue,
                () = tokio::time::sleep_until(due_tick(next)) => {}
            }
            // The next flush is due a group interval after this one
            // started, however long this one takes.
            {
                let mut state = self.state.lock();
                state.next = Instant::now() + self.context.route.group_interval;
                state.has_flushed = true;
            }
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return,
                () = self.flush(&pipeline) => {}
            }
        }
    }

    /// Sends the group's alerts through the pipeline; once that succeeds,
    /// removes the resolved ones that were not re-sent meanwhile.
    async fn flush(&self, pipeline: &Pipeline) {
        let now = pipeline.clock().now();
        let mut alerts: Vec<Alert> = {
            let state = self.state.lock();
            if state.alerts.is_empty() {
                return;
            }
            state
                .alerts
                .values()
                .map(|a| a.for_notification(now))
                .collect()
        };
        alerts.sort_by(notification_order);
        tracing::debug!(group = %self.context.key, alerts = alerts.len(), "flushing alert group");
        if !pipeline.run(&self.context, &alerts).await {
            return;
        }
        let mut state = self.state.lock();
        for a in alerts.iter().filter(|a| a.ends_at.is_some()) {
            let fp = a.fingerprint();
            if state
                .alerts
                .get(&fp)
                .is_some_and(|current| current.updated_at == a.updated_at)
            {
                state.alerts.remove(&fp);
            }
        }
    }
}

/// The instant to sleep until for a flush due at `due`. tokio's timers
/// count whole milliseconds and round a deadline up to the next one, and
/// the wake-up comes later still: a group timer fired 1 to 1.6 ms after it
/// was due (measured under load), which every first notification waited
/// on top of its group wait. Asking for the millisecond at or before the
/// deadline makes it fire within a millisecond of it instead; deadlines on
/// a millisecond (all of them on paused time) are unchanged.
fn due_tick(due: Instant) -> Instant {
    due.checked_sub(std::time::Duration::from_nanos(999_999))
        .unwrap_or(due)
}
