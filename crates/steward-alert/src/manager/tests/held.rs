//! Puts against a store held back at one step: a put goes on when its
//! caller goes away, and a group's wait starts when its alert arrived,
//! not when the store's commit ends.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::{MINUTE, Setup, labels};
use crate::Result;
use crate::alert::{Alert, AlertStore, Fingerprint, IncomingAlert, MemAlertStore};
use crate::manager::Maintenance;

/// What a [`GatedStore`] holds back until released.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Each `put`, before anything is stored.
    Put,
    /// The commit: the batch is merged (and handed on) at once.
    Commit,
}

/// A memory store held back at one step until released.
struct GatedStore {
    inner: Arc<MemAlertStore>,
    held: Held,
    open: Notify,
}

impl GatedStore {
    fn new(inner: Arc<MemAlertStore>, held: Held) -> Arc<Self> {
        Arc::new(GatedStore {
            inner,
            held,
            open: Notify::new(),
        })
    }
}

#[async_trait::async_trait]
impl AlertStore for GatedStore {
    async fn put(&self, alert: Alert, now: DateTime<Utc>) -> Result<Alert> {
        if self.held == Held::Put {
            self.open.notified().await;
        }
        self.inner.put(alert, now).await
    }
    async fn put_all_with(
        &self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
        merged: &(dyn for<'a> Fn(&'a [Alert]) + Send + Sync),
    ) -> Result<Vec<Alert>> {
        let stored = self.put_all(alerts, now).await?;
        merged(&stored);
        if self.held == Held::Commit {
            self.open.notified().await;
        }
        Ok(stored)
    }
    async fn get(&self, fp: Fingerprint) -> Result<Option<Alert>> {
        self.inner.get(fp).await
    }
    async fn list(&self) -> Result<Vec<Alert>> {
        self.inner.list().await
    }
    async fn gc(&self, now: DateTime<Utc>, retention: Duration) -> Result<Vec<Fingerprint>> {
        self.inner.gc(now, retention).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_put_outlives_its_caller() {
    let mem = Arc::new(MemAlertStore::new());
    let gated = GatedStore::new(mem.clone(), Held::Put);
    let s = Setup::build(mem.clone(), gated.clone(), Maintenance::default()).await;
    let put = s.manager.put_alerts(vec![IncomingAlert {
        labels: labels(&[("alertname", "A")]),
        ..Default::default()
    }]);
    tokio::select! {
        _ = put => panic!("the store is closed"),
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    // The caller is gone (its future dropped); the put goes on.
    gated.open.notify_one();
    tokio::time::sleep(MINUTE).await;
    assert_eq!(mem.len(), 1);
    let sent = s.recorder.sent.lock().clone();
    assert_eq!(sent.len(), 1, "and the alert was dispatched");
}

#[tokio::test(start_paused = true)]
async fn a_group_waits_from_the_alerts_arrival_not_from_its_commit() {
    let mem = Arc::new(MemAlertStore::new());
    let slow = GatedStore::new(mem.clone(), Held::Commit);
    let s = Setup::build(mem, slow.clone(), Maintenance::default()).await;
    let manager = s.manager.clone();
    let put = tokio::spawn(async move {
        manager
            .put_alerts(vec![IncomingAlert {
                labels: labels(&[("alertname", "A")]),
                ..Default::default()
            }])
            .await
    });
    // the commit takes 20 seconds; the route waits 30 from the arrival
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!put.is_finished(), "the commit is not done");
    slow.open.notify_one();
    put.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(9_999)).await;
    assert!(s.recorder.sent.lock().is_empty(), "not before group_wait");
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(
        s.recorder.sent.lock().len(),
        1,
        "group_wait after the arrival, not after the commit"
    );
}
