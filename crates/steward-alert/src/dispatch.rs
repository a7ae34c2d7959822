//! The dispatcher and its aggregation groups, as Alertmanager 0.25's
//! `dispatch` package: each alert goes to every route it matches (a
//! [`Router`]); per route, alerts with the same values of the route's
//! `group_by` labels form a group, keyed `{route key}:{group labels}`.
//! A group's first flush comes `group_wait` after it was created (at
//! once if an alert already started longer ago than that, before the
//! first flush), later ones every `group_interval`. Each flush hands the
//! group's alerts to the notification [`Pipeline`]: muted alerts drop out
//! (inhibited, silenced; a whole group outside its time intervals), the
//! notification log decides per integration whether there is anything to
//! say ([`crate::nflog::needs_update`]), the [`Notifier`] sends, and the
//! log records it; after a flush that succeeded, the resolved alerts
//! leave the group. Empty groups are removed every 30 seconds.
//!
//! Timers run on tokio's clock (tests pause it); wall times come from the
//! pipeline's [`crate::clock::Clock`].
//!
//! Wiring (the AlertManager's job): every incoming alert is stored
//! ([`crate::alert::AlertStore::put`]), and the alert *as stored* is given
//! to the inhibitor ([`crate::inhibit::Inhibitor::observe`]) and to
//! [`Dispatcher::dispatch`]; at start, every stored alert is dispatched
//! once (as Alertmanager's dispatcher first receives all current alerts).
//!
//! - [`pipeline`]: what a flush does, and the [`Muter`], [`GroupMuter`]
//!   and [`Notifier`] traits.

mod group;
pub mod pipeline;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::LabelSet;
use crate::alert::{Alert, label_set_string, notification_order};
use group::AggrGroup;

pub use pipeline::{GroupMuter, Integration, Muter, Notification, Notifier, Pipeline};

/// How often empty groups are removed (Alertmanager's maintenance
/// interval).
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

/// The options of a route that the dispatcher needs (the route tree's
/// `RouteOpts`, with the route's identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    /// Unique among the tree's routes (Alertmanager's `Route.ID()`): groups
    /// are per route, and sibling routes may share a key.
    pub id: String,
    /// The route's key (Alertmanager's `Route.Key()`, e.g.
    /// `{}/{env="prod"}`), the first part of its groups' keys.
    pub key: String,
    /// The receiver notified.
    pub receiver: String,
    /// The labels that split alerts into groups; `None` is `'...'` (every
    /// label: one group per alert).
    pub group_by: Option<BTreeSet<String>>,
    /// How long a new group waits before its first notification.
    pub group_wait: Duration,
    /// How long between two flushes of a group.
    pub group_interval: Duration,
    /// How long before an unchanged group is notified again.
    pub repeat_interval: Duration,
    /// Names of time intervals during which the route's notifications
    /// are muted (a [`GroupMuter`] resolves them).
    pub mute_time_intervals: Vec<String>,
    /// Names of time intervals outside of which they are muted.
    pub active_time_intervals: Vec<String>,
}

impl RouteOpts {
    /// A route with Alertmanager's defaults: no grouping label, 30s group
    /// wait, 5m group interval, 4h repeat interval, no time intervals.
    pub fn new(id: impl Into<String>, key: impl Into<String>, receiver: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: key.into(),
            receiver: receiver.into(),
            group_by: Some(BTreeSet::new()),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 60 * 60),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }

    /// The labels of an alert's `labels` that name its group under this route
    /// (`getGroupLabels`: the `group_by` labels it has; all with `'...'`).
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            None => labels.clone(),
            Some(by) => labels
                .iter()
                .filter(|(n, _)| by.contains(*n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
        }
    }

    /// The key of the group with these labels: `{route key}:{labels}`,
    /// the labels printed as Prometheus prints a label set.
    pub fn group_key(&self, group_labels: &LabelSet) -> String {
        format!("{}:{}", self.key, label_set_string(group_labels))
    }
}

/// Which routes an alert takes (the route tree, with `continue`).
pub trait Router: Send + Sync + 'static {
    /// The routes matching `labels`, in the tree's order; shared so that
    /// dispatching an alert copies no options.
    fn routes(&self, labels: &LabelSet) -> Vec<Arc<RouteOpts>>;
}

/// A group as the API shows it (`alerts/groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// The group's key.
    pub key: String,
    /// The route's options.
    pub route: Arc<RouteOpts>,
    /// The group's labels.
    pub labels: LabelSet,
    /// Its alerts, in notification order.
    pub alerts: Vec<Alert>,
}

/// Dispatches alerts to aggregation groups; cheap to clone (shared).
/// Needs a tokio runtime; [`Dispatcher::stop`] ends its tasks (dropping
/// the last clone does too).
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

type GroupId = (String, LabelSet);

struct Inner {
    router: Arc<dyn Router>,
    pipeline: Arc<Pipeline>,
    groups: Mutex<HashMap<GroupId, Arc<AggrGroup>>>,
    cancel: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("groups", &self.inner.groups.lock().len())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher routing with `router` and flushing through
    /// `pipeline`; starts its maintenance task.
    pub fn new(router: Arc<dyn Router>, pipeline: Pipeline) -> Self {
        let inner = Arc::new(Inner {
            router,
            pipeline: Arc::new(pipeline),
            groups: Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
        });
        tokio::spawn(maintain(Arc::downgrade(&inner), inner.cancel.clone()));
        Self { inner }
    }

    /// Puts an alert (as stored) into the group of each route it takes,
    /// creating the groups that do not exist yet.
    pub fn dispatch(&self, alert: &Alert) {
        for route in self.inner.router.routes(&alert.labels) {
            self.insert(alert, route);
        }
    }

    fn insert(&self, alert: &Alert, route: Arc<RouteOpts>) {
        let labels = route.group_labels(&alert.labels);
        let now = self.inner.pipeline.clock().now();
        let mut groups = self.inner.groups.lock();
        let id = (route.id.clone(), labels);
        if let Some(group) = groups.get(&id) {
            group.insert(alert.clone(), now);
            return;
        }
        let group = Arc::new(AggrGroup::new(
            route,
            id.1.clone(),
            self.inner.cancel.child_token(),
        ));
        // The first alert is in before the group's task starts, so that
        // its first flush sees it.
        group.insert(alert.clone(), now);
        group.start(self.inner.pipeline.clone());
        groups.insert(id, group);
    }

    /// The groups and their alerts, sorted by key.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        let groups: Vec<Arc<AggrGroup>> = self.inner.groups.lock().values().cloned().collect();
        let mut snapshots: Vec<GroupSnapshot> = groups
            .iter()
            .map(|g| {
                let mut alerts = g.alerts();
                alerts.sort_by(notification_order);
                GroupSnapshot {
                    key: g.key().to_owned(),
                    route: g.route().clone(),
                    labels: g.labels().clone(),
                    alerts,
                }
            })
            .collect();
        snapshots.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.route.id.cmp(&b.route.id)));
        snapshots
    }

    /// Removes the groups that have no alert left (done every
    /// [`MAINTENANCE_INTERVAL`]); returns how many.
    pub fn remove_empty_groups(&self) -> usize {
        remove_empty(&self.inner)
    }

    /// Stops every group (an in-flight notification is abandoned, as
    /// Alertmanager cancels it) and the maintenance task.
    pub async fn stop(&self) {
        self.inner.cancel.cancel();
        let groups: Vec<Arc<AggrGroup>> =
            self.inner.groups.lock().drain().map(|(_, g)| g).collect();
        for g in groups {
            g.join().await;
        }
    }
}

fn remove_empty(inner: &Inner) -> usize {
    let mut groups = inner.groups.lock();
    let before = groups.len();
    groups.retain(|_, g| {
        let keep = !g.is_empty();
        if !keep {
            g.stop();
        }
        keep
    });
    before - groups.len()
}

async fn maintain(inner: Weak<Inner>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + MAINTENANCE_INTERVAL,
        MAINTENANCE_INTERVAL,
    );
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let removed = remove_empty(&inner);
        if removed > 0 {
            tracing::debug!(removed, "removed empty alert groups");
        }
    }
}

#[cfg(test)]
mod tests;
