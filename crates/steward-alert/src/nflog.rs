//! The notification log as Alertmanager 0.25's `nflog` and the decision
//! of its `notify.DedupStage`: for each alert group and each integration
//! of a receiver, the fingerprints of the alerts last notified as firing
//! and as resolved, and when. A group is notified again only when that
//! tells the receiver something new ([`needs_update`]) or the repeat
//! interval has passed. Entries expire a retention after they were
//! written.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::Result;
use crate::alert::Fingerprint;
use crate::clock::chrono_duration;

/// One integration of a receiver (`nflogpb.Receiver`): the receiver's
/// name, the integration's kind (`webhook`, `email`...) and its index
/// among the receiver's integrations of that kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReceiverKey {
    /// The receiver's name.
    pub receiver: String,
    /// The integration's kind.
    pub integration: String,
    /// Its index among the receiver's integrations of that kind.
    pub index: u32,
}

/// `receiver/integration/index`, Alertmanager's `receiverKey`.
impl fmt::Display for ReceiverKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.receiver, self.integration, self.index)
    }
}

/// What was last notified to an integration about a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NflogEntry {
    /// The group's key.
    pub group_key: String,
    /// The integration.
    pub receiver: ReceiverKey,
    /// When it was notified.
    pub timestamp: DateTime<Utc>,
    /// The alerts notified as firing.
    pub firing: BTreeSet<Fingerprint>,
    /// The alerts notified as resolved.
    pub resolved: BTreeSet<Fingerprint>,
    /// When the entry may be forgotten.
    pub expires_at: DateTime<Utc>,
}

impl NflogEntry {
    /// Whether every alert of `set` was notified as firing.
    pub fn is_firing_subset(&self, set: &BTreeSet<Fingerprint>) -> bool {
        set.is_subset(&self.firing)
    }

    /// Whether every alert of `set` was notified as resolved.
    pub fn is_resolved_subset(&self, set: &BTreeSet<Fingerprint>) -> bool {
        set.is_subset(&self.resolved)
    }

    /// Whether the last notification had nothing firing.
    pub fn all_resolved(&self) -> bool {
        self.firing.is_empty()
    }
}

/// Why a group is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateReason {
    /// Never notified to this integration, and something fires.
    FirstNotification,
    /// Some alert fires that was not notified as firing.
    NewAlerts,
    /// Nothing fires any more, and something did at the last notification
    /// (sent even without `send_resolved`, to clear the log).
    AllResolved,
    /// With `send_resolved`, some alert resolved since the last one.
    NewResolved,
    /// Nothing changed but the repeat interval has passed.
    RepeatInterval,
}

impl UpdateReason {
    /// A short description for logs and history.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateReason::FirstNotification => "first notification",
            UpdateReason::NewAlerts => "new alerts added",
            UpdateReason::AllResolved => "all alerts resolved",
            UpdateReason::NewResolved => "some alerts resolved",
            UpdateReason::RepeatInterval => "repeat interval elapsed",
        }
    }
}

/// Why the group must be notified now, or `None` when it must not:
/// Alertmanager 0.25's `DedupStage.needsUpdate`, in its order. Without an
/// entry, when something fires. Then when some firing alert was not in
/// the last firing set; when nothing fires, only if something did (the
/// receiver knows nothing of alerts that fired and resolved between two
/// notifications); with `send_resolved`, when some resolved alert was not
/// in the last resolved set; else when the last notification is older
/// than `repeat_interval` (strictly).
pub fn update_reason(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
    repeat_interval: Duration,
    send_resolved: bool,
    now: DateTime<Utc>,
) -> Option<UpdateReason> {
    let Some(entry) = entry else {
        return (!firing.is_empty()).then_some(UpdateReason::FirstNotification);
    };
    if !entry.is_firing_subset(firing) {
        return Some(UpdateReason::NewAlerts);
    }
    if firing.is_empty() {
        return (!entry.firing.is_empty()).then_some(UpdateReason::AllResolved);
    }
    if send_resolved && !entry.is_resolved_subset(resolved) {
        return Some(UpdateReason::NewResolved);
    }
    (entry.timestamp < now - chrono_duration(repeat_interval))
        .then_some(UpdateReason::RepeatInterval)
}

/// Whether the group must be notified now ([`update_reason`] says why).
pub fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
    repeat_interval: Duration,
    send_resolved: bool,
    now: DateTime<Utc>,
) -> bool {
    update_reason(entry, firing, resolved, repeat_interval, send_resolved, now).is_some()
}

/// The notification log (steward-store implements it durably).
#[async_trait::async_trait]
pub trait NotificationLog: Send + Sync + 'static {
    /// The last entry for this group and integration.
    async fn query(&self, group_key: &str, receiver: &ReceiverKey) -> Result<Option<NflogEntry>>;

    /// Records a notification at `now` (replacing the previous entry,
    /// unless that one is newer).
    async fn log(
        &self,
        group_key: &str,
        receiver: &ReceiverKey,
        firing: BTreeSet<Fingerprint>,
        resolved: BTreeSet<Fingerprint>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Forgets the entries expired at `now`; returns how many.
    async fn gc(&self, now: DateTime<Utc>) -> Result<usize>;
}

/// The notification log in memory.
#[derive(Debug)]
pub struct MemNotificationLog {
    retention: Duration,
    entries: RwLock<HashMap<(String, ReceiverKey), NflogEntry>>,
}

impl MemNotificationLog {
    /// A log whose entries expire `retention` after they are written
    /// (Alertmanager's `--data.retention`, 120h by default).
    pub fn new(retention: Duration) -> Self {
        Self {
            retention,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> Vec<NflogEntry> {
        self.entries.read().values().cloned().collect()
    }
}

#[async_trait::async_trait]
impl NotificationLog for MemNotificationLog {
    async fn query(&self, group_key: &str, receiver: &ReceiverKey) -> Result<Option<NflogEntry>> {
        let key = (group_key.to_owned(), receiver.clone());
        Ok(self.entries.read().get(&key).cloned())
    }

    async fn log(
        &self,
        group_key: &str,
        receiver: &ReceiverKey,
        firing: BTreeSet<Fingerprint>,
        resolved: BTreeSet<Fingerprint>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let key = (group_key.to_owned(), receiver.clone());
        let mut entries = self.entries.write();
        if entries.get(&key).is_some_and(|e| e.timestamp > now) {
            return Ok(());
        }
        entries.insert(
            key,
            NflogEntry {
                group_key: group_key.to_owned(),
                receiver: receiver.clone(),
                timestamp: now,
                firing,
                resolved,
                expires_at: now + chrono_duration(self.retention),
            },
        );
        Ok(())
    }

    async fn gc(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut entries = self.entries.write();
        let before = entries.len();
        entries.retain(|_, e| e.expires_at > now);
        Ok(before - entries.len())
    }
}

#[cfg(test)]
mod tests;
