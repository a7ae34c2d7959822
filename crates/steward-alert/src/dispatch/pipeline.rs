//! What a group's flush does (Alertmanager's notification pipeline):
//! the whole group is dropped when its route is outside its time
//! intervals ([`GroupMuter`]); muted alerts drop out ([`Muter`]: the
//! inhibitor, then the silencer); then, for each integration of the
//! route's receiver, concurrently: the notification log decides whether
//! there is anything new ([`crate::nflog::needs_update`]), the
//! [`Notifier`] sends (without `send_resolved`, only the firing alerts,
//! and nothing when all are resolved), and the log records what was sent.
//! The flush succeeds when every integration did (or had nothing to do);
//! each integration has until the later of the group interval and 10
//! seconds.
//!
//! # Resolutions of muted alerts (steward's rule, issue #226)
//!
//! Alertmanager filters muted alerts before the notification log sees
//! them, so an alert that was notified as firing and then resolves while
//! silenced (or inhibited) never gets its resolution sent. Steward keeps
//! Alertmanager's behaviour for every other case and adds one rule, per
//! integration: **a muted alert that is resolved, and that the
//! integration's last notification listed as firing, is not muted**; it
//! goes through deduplication and is notified as resolved (with
//! `send_resolved`). So that the log keeps remembering that the receiver
//! believes it firing, a muted alert that still fires and was listed as
//! firing is carried into the firing set logged by later notifications of
//! the group (it is not sent in them). Alerts muted before they were ever
//! notified stay silent, resolution included, as in Alertmanager. Time
//! interval muting (a whole group) is Alertmanager's: nothing at all.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RouteOpts;
use crate::alert::{Alert, Fingerprint};
use crate::clock::SharedClock;
use crate::handoff::{GroupHandoff, HandoffSlot};
use crate::nflog::{NotificationLog, ReceiverKey, UpdateReason, update_reason};
use crate::{Error, LabelSet, Result};

/// The least time a notification gets (Alertmanager's `MinTimeout`).
pub const MIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Decides whether an alert is muted (the inhibitor, the silencer).
pub trait Muter: Send + Sync + 'static {
    /// Whether the alert with these labels is muted at `now`.
    fn mutes(&self, labels: &LabelSet, now: DateTime<Utc>) -> bool;
}

/// Decides whether a route's notifications are muted as a whole at a
/// time (its `mute_time_intervals` and `active_time_intervals`).
pub trait GroupMuter: Send + Sync + 'static {
    /// Whether the route's groups must not notify at `now`.
    fn mutes_group(&self, route: &RouteOpts, now: DateTime<Utc>) -> bool;
}

/// One integration of a receiver (one `webhook_configs` entry...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Integration {
    /// The receiver's name.
    pub receiver: String,
    /// The kind: `webhook`, `email`, `slack`, `pagerduty`...
    pub kind: String,
    /// Its index among the receiver's integrations of that kind.
    pub index: u32,
    /// Whether it is told about resolved alerts.
    pub send_resolved: bool,
}

impl Integration {
    /// Its key in the notification log.
    pub fn log_key(&self) -> ReceiverKey {
        ReceiverKey {
            receiver: self.receiver.clone(),
            integration: self.kind.clone(),
            index: self.index,
        }
    }
}

/// One notification for one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The integration to notify.
    pub integration: Integration,
    /// The group's key.
    pub group_key: String,
    /// The group's labels.
    pub group_labels: LabelSet,
    /// The alerts, in notification order: firing ones without an end,
    /// resolved ones (only with `send_resolved`) with theirs.
    pub alerts: Vec<Alert>,
    /// Whether nothing in the group fires (the group is `resolved`).
    pub all_resolved: bool,
    /// Why it is sent.
    pub reason: UpdateReason,
    /// When the flush decided it.
    pub now: DateTime<Utc>,
}

impl Notification {
    /// The receiver's name.
    pub fn receiver(&self) -> &str {
        &self.integration.receiver
    }

    /// `firing` or `resolved`: the group's status.
    pub fn status(&self) -> &'static str {
        match self.all_resolved {
            true => "resolved",
            false => "firing",
        }
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.ends_at.is_none())
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.ends_at.is_some())
    }

    /// The labels every alert has with the same value.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// The annotations every alert has with the same value.
    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut shared = first.clone();
    for set in sets {
        shared.retain(|k, v| set.get(k) == Some(v));
    }
    shared
}

/// Sends notifications (the receivers' integrations).
#[async_trait::async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// The integrations of a receiver (none: nothing is sent, and the
    /// flush succeeds, as for Alertmanager's receivers without configs).
    fn integrations(&self, receiver: &str) -> Vec<Integration>;

    /// Delivers a notification, retrying as the integration does; an
    /// error means it was not delivered (the flush fails, and the
    /// resolved alerts stay for the next one).
    async fn notify(&self, notification: &Notification) -> Result<()>;
}

/// A group as a flush sees it.
#[derive(Debug, Clone)]
pub(crate) struct GroupContext {
    pub(crate) key: String,
    pub(crate) labels: LabelSet,
    pub(crate) route: Arc<RouteOpts>,
}

/// The stages a flush goes through, shared by all groups.
pub struct Pipeline {
    nflog: Arc<dyn NotificationLog>,
    notifier: Arc<dyn Notifier>,
    clock: SharedClock,
    muters: Vec<Arc<dyn Muter>>,
    group_muter: Option<Arc<dyn GroupMuter>>,
    handoff: Option<HandoffSlot>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("muters", &self.muters.len())
            .field("group_muter", &self.group_muter.is_some())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline that deduplicates with `nflog` and sends through
    /// `notifier`, reading wall time from `clock`; no muting yet.
    pub fn new(
        nflog: Arc<dyn NotificationLog>,
        notifier: Arc<dyn Notifier>,
        clock: SharedClock,
    ) -> Self {
        Self {
            nflog,
            notifier,
            clock,
            muters: Vec::new(),
            group_muter: None,
            handoff: None,
        }
    }

    /// Hands groups worth an incident to whatever `slot` holds at each
    /// flush.
    pub fn with_handoff(mut self, slot: HandoffSlot) -> Self {
        self.handoff = Some(slot);
        self
    }

    /// Adds a muter, consulted after those added before (add the
    /// inhibitor, then the silencer, as Alertmanager orders them).
    pub fn with_muter(mut self, muter: Arc<dyn Muter>) -> Self {
        self.muters.push(muter);
        self
    }

    /// Sets what mutes whole groups by time.
    pub fn with_group_muter(mut self, muter: Arc<dyn GroupMuter>) -> Self {
        self.group_muter = Some(muter);
        self
    }

    /// Its clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Flushes a group's alerts (as prepared for notification); whether
    /// everything that had to be sent was.
    pub(crate) async fn run(&self, group: &GroupContext, alerts: &[Alert]) -> bool {
        let now = self.clock.now();
        if self
            .group_muter
            .as_ref()
            .is_some_and(|m| m.mutes_group(&group.route, now))
        {
            tracing::debug!(group = %group.key, "alert group muted by its time intervals");
            return true;
        }
        let muted: Vec<bool> = alerts
            .iter()
            .map(|a| self.muters.iter().any(|m| m.mutes(&a.labels, now)))
            .collect();
        self.hand_off(group, alerts, &muted, now).await;
        let integrations = self.notifier.integrations(&group.route.receiver);
        let timeout = group.route.group_interval.max(MIN_TIMEOUT);
        let muted = &muted;
        let runs = integrations.iter().map(|integration| async move {
            let run = self.run_integration(group, alerts, muted, integration);
            let outcome = match tokio::time::timeout(timeout, run).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::Notify(format!(
                    "notification timed out after {}s",
                    timeout.as_secs()
                ))),
            };
            if let Err(e) = &outcome {
                tracing::warn!(
                    group = %group.key,
                    integration = %integration.log_key(),
                    error = %e,
                    "notify failed",
                );
            }
            outcome.is_ok()
        });
        futures::future::join_all(runs)
            .await
            .into_iter()
            .all(|ok| ok)
    }

    /// Passes the group's unmuted alerts to the incident sink when they
    /// reach its severity.
    async fn hand_off(
        &self,
        group: &GroupContext,
        alerts: &[Alert],
        muted: &[bool],
        now: DateTime<Utc>,
    ) {
        let Some(handoff) = self.handoff.as_ref().and_then(|slot| slot.read().clone()) else {
            return;
        };
        let unmuted: Vec<Alert> = alerts
            .iter()
            .zip(muted)
            .filter(|(_, muted)| !**muted)
            .map(|(a, _)| a.clone())
            .collect();
        let Some(severity) = handoff.qualifies(&unmuted) else {
            return;
        };
        handoff
            .sink
            .hand_off(GroupHandoff {
                group_key: group.key.clone(),
                receiver: group.route.receiver.clone(),
                group_labels: group.labels.clone(),
                alerts: unmuted,
                severity,
                at: now,
            })
            .await;
    }

    async fn run_integration(
        &self,
        group: &GroupContext,
        alerts: &[Alert],
        muted: &[bool],
        integration: &Integration,
    ) -> Result<()> {
        let log_key = integration.log_key();
        let entry = self.nflog.query(&group.key, &log_key).await?;
        let notified_firing =
            |fp: &Fingerprint| entry.as_ref().is_some_and(|e| e.firing.contains(fp));
        let mut sent: Vec<&Alert> = Vec::with_capacity(alerts.len());
        let mut carried = BTreeSet::new();
        for (alert, muted) in alerts.iter().zip(muted) {
            if !muted {
                sent.push(alert);
                continue;
            }
            let fp = alert.fingerprint();
            if notified_firing(&fp) {
                match alert.ends_at.is_some() {
                    true => sent.push(alert),
                    false => {
                        carried.insert(fp);
                    }
                }
            }
        }
        if sent.is_empty() {
            return Ok(());
        }
        let (mut firing, mut resolved) = (BTreeSet::new(), BTreeSet::new());
        for a in &sent {
            match a.ends_at.is_some() {
                true => resolved.insert(a.fingerprint()),
                false => firing.insert(a.fingerprint()),
            };
        }
        let Some(reason) = update_reason(
            entry.as_ref(),
            &firing,
            &resolved,
            group.route.repeat_interval,
            integration.send_resolved,
            self.clock.now(),
        ) else {
            return Ok(());
        };
        // Without send_resolved, resolved alerts are not shown, and a
        // group with nothing firing is not sent at all; it is logged all
        // the same, so that the log forgets what fired.
        if !integration.send_resolved {
            sent.retain(|a| a.ends_at.is_none());
        }
        if !sent.is_empty() {
            let notification = Notification {
                integration: integration.clone(),
                group_key: group.key.clone(),
                group_labels: group.labels.clone(),
                alerts: sent.into_iter().cloned().collect(),
                all_resolved: firing.is_empty(),
                reason,
                now: self.clock.now(),
            };
            self.notifier.notify(&notification).await?;
        }
        firing.extend(carried);
        self.nflog
            .log(&group.key, &log_key, firing, resolved, self.clock.now())
            .await
    }
}
