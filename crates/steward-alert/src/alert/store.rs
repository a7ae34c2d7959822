//! Where alerts live: the [`AlertStore`] trait (steward-store implements
//! it durably) and [`MemAlertStore`], in memory as Alertmanager's `mem`
//! provider keeps them.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use super::{Alert, Fingerprint};
use crate::Result;
use crate::clock::chrono_duration;

/// The alerts the AlertManager knows, by fingerprint.
#[async_trait::async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// Stores an incoming alert: when one with the same fingerprint is
    /// stored, what is kept is [`Alert::stored_after`] (merged when their
    /// ranges overlap, replaced otherwise), decided atomically with the
    /// write. Returns the alert as stored, which is what the dispatcher
    /// and the inhibitor must see.
    async fn put(&self, alert: Alert, now: DateTime<Utc>) -> Result<Alert>;

    /// Stores a batch (what one POST or one rule evaluation sends), each
    /// as [`put`](Self::put) does, in order; returns them as stored. A
    /// durable store writes the batch in one transaction.
    async fn put_all(&self, alerts: Vec<Alert>, now: DateTime<Utc>) -> Result<Vec<Alert>> {
        let mut stored = Vec::with_capacity(alerts.len());
        for alert in alerts {
            stored.push(self.put(alert, now).await?);
        }
        Ok(stored)
    }

    /// [`put_all`](Self::put_all), telling `merged` the alerts as stored
    /// as soon as they are merged, before waiting for them to be durable
    /// (the AlertManager dispatches them there, so that a group's wait
    /// starts when its alert arrived, as Alertmanager's, not after a
    /// commit). `merged` is called at most once, and not when the batch
    /// could not be merged; an error after it means the merged alerts are
    /// held (and dispatched) but may not be durable, and the sender, told
    /// so, sends them again. The default merges and writes in one step.
    async fn put_all_with(
        &self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
        merged: &(dyn for<'a> Fn(&'a [Alert]) + Send + Sync),
    ) -> Result<Vec<Alert>> {
        let stored = self.put_all(alerts, now).await?;
        merged(&stored);
        Ok(stored)
    }

    /// The alert with this fingerprint.
    async fn get(&self, fp: Fingerprint) -> Result<Option<Alert>>;

    /// Every stored alert, in no particular order.
    async fn list(&self) -> Result<Vec<Alert>>;

    /// Removes the alerts resolved at `now - retention` or earlier and
    /// returns their fingerprints (the marker forgets them). A zero
    /// retention is Alertmanager's: every resolved alert goes.
    async fn gc(&self, now: DateTime<Utc>, retention: Duration) -> Result<Vec<Fingerprint>>;

    /// Writes whatever a store holds back (a durable store that defers
    /// some writes); the AlertManager calls it when it stops.
    async fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Alerts in memory.
#[derive(Debug, Default)]
pub struct MemAlertStore {
    alerts: RwLock<HashMap<Fingerprint, Alert>>,
}

impl MemAlertStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many alerts it holds.
    pub fn len(&self) -> usize {
        self.alerts.read().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.alerts.read().is_empty()
    }
}

#[async_trait::async_trait]
impl AlertStore for MemAlertStore {
    async fn put(&self, alert: Alert, now: DateTime<Utc>) -> Result<Alert> {
        let fp = alert.fingerprint();
        let mut alerts = self.alerts.write();
        let stored = match alerts.get(&fp) {
            Some(old) => Alert::stored_after(old, alert, now),
            None => alert,
        };
        alerts.insert(fp, stored.clone());
        Ok(stored)
    }

    async fn get(&self, fp: Fingerprint) -> Result<Option<Alert>> {
        Ok(self.alerts.read().get(&fp).cloned())
    }

    async fn list(&self) -> Result<Vec<Alert>> {
        Ok(self.alerts.read().values().cloned().collect())
    }

    async fn gc(&self, now: DateTime<Utc>, retention: Duration) -> Result<Vec<Fingerprint>> {
        let horizon = now - chrono_duration(retention);
        let mut removed = Vec::new();
        self.alerts.write().retain(|fp, a| {
            let keep = !a.resolved_at(horizon);
            if !keep {
                removed.push(*fp);
            }
            keep
        });
        Ok(removed)
    }
}
