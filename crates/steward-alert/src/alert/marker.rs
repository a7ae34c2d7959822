//! Each alert's status as API v2 shows it (Alertmanager's
//! `types.MemMarker`): unprocessed until a silencer or an inhibitor has
//! looked at it, then active, or suppressed with the ids of the silences
//! and the fingerprints of the alerts that mute it. The silencer and the
//! inhibitor write it whenever they decide; the API reads it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::Fingerprint;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlertState {
    /// Not looked at yet.
    #[default]
    Unprocessed,
    /// Neither silenced nor inhibited.
    Active,
    /// Silenced or inhibited.
    Suppressed,
}

impl AlertState {
    /// `unprocessed`, `active` or `suppressed`, as API v2 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unprocessed => "unprocessed",
            AlertState::Active => "active",
            AlertState::Suppressed => "suppressed",
        }
    }
}

/// An alert's status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertStatus {
    /// Its state.
    pub state: AlertState,
    /// The ids of the active silences that mute it, sorted.
    pub silenced_by: Vec<String>,
    /// The fingerprints of the alerts that inhibit it.
    pub inhibited_by: Vec<String>,
}

/// The statuses of all alerts; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Marker(Arc<RwLock<HashMap<Fingerprint, AlertStatus>>>);

impl Marker {
    /// An empty marker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alert's status (unprocessed when never marked).
    pub fn status(&self, fp: Fingerprint) -> AlertStatus {
        self.0.read().get(&fp).cloned().unwrap_or_default()
    }

    /// Records the active silences that mute the alert (none: not silenced).
    pub fn set_silenced(&self, fp: Fingerprint, ids: Vec<String>) {
        let mut map = self.0.write();
        let status = map.entry(fp).or_default();
        status.silenced_by = ids;
        status.state = state_of(status);
    }

    /// Records the alerts that inhibit the alert (none: not inhibited).
    pub fn set_inhibited(&self, fp: Fingerprint, by: Vec<String>) {
        let mut map = self.0.write();
        let status = map.entry(fp).or_default();
        status.inhibited_by = by;
        status.state = state_of(status);
    }

    /// Forgets the alert (when it is garbage-collected).
    pub fn delete(&self, fp: Fingerprint) {
        self.0.write().remove(&fp);
    }

    /// How many alerts are in `state` (unprocessed ones are those marked
    /// and never decided, which does not happen: it counts zero).
    pub fn count(&self, state: AlertState) -> usize {
        self.0.read().values().filter(|s| s.state == state).count()
    }
}

fn state_of(status: &AlertStatus) -> AlertState {
    match status.silenced_by.is_empty() && status.inhibited_by.is_empty() {
        true => AlertState::Active,
        false => AlertState::Suppressed,
    }
}
