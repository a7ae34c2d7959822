//! Hand-off to incidents: alert groups at or above a configured severity
//! are passed, at each flush, to an [`IncidentSink`] (the IncidentManager
//! implements it; until it exists the server journals them). The sink
//! gets the group's key (one incident per group key), its labels, and
//! its alerts not muted, firing and resolved, so it can open an incident,
//! attach later alerts and see the group resolve.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::LabelSet;
use crate::alert::Alert;

/// One flush of a group worth an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupHandoff {
    /// The group's key.
    pub group_key: String,
    /// The receiver of its route.
    pub receiver: String,
    /// Its labels.
    pub group_labels: LabelSet,
    /// Its alerts (not muted), firing and resolved.
    pub alerts: Vec<Alert>,
    /// The most severe level among them.
    pub severity: String,
    /// When the flush happened.
    pub at: DateTime<Utc>,
}

/// Takes alert groups worth an incident.
#[async_trait::async_trait]
pub trait IncidentSink: Send + Sync + 'static {
    /// One flush of a group at or above the threshold. Deduplication (one
    /// incident per group key) is the sink's business.
    async fn hand_off(&self, group: GroupHandoff);
}

/// Which groups are handed off, and to what.
#[derive(Clone)]
pub struct Handoff {
    /// The sink.
    pub sink: Arc<dyn IncidentSink>,
    /// The label holding the severity.
    pub label: String,
    /// Severities from least to most severe.
    pub levels: Vec<String>,
    /// The least severity handed off.
    pub at_least: String,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("label", &self.label)
            .field("at_least", &self.at_least)
            .finish_non_exhaustive()
    }
}

impl Handoff {
    /// `severity` with the levels info < warning < error < critical,
    /// handing off from `at_least`.
    pub fn new(sink: Arc<dyn IncidentSink>, at_least: impl Into<String>) -> Self {
        Handoff {
            sink,
            label: "severity".to_owned(),
            levels: ["info", "warning", "error", "critical"]
                .map(String::from)
                .to_vec(),
            at_least: at_least.into(),
        }
    }

    fn rank(&self, level: &str) -> Option<usize> {
        self.levels.iter().position(|l| l == level)
    }

    /// The most severe level of `alerts` when it reaches the threshold.
    pub fn qualifies(&self, alerts: &[Alert]) -> Option<String> {
        let threshold = self.rank(&self.at_least)?;
        alerts
            .iter()
            .filter_map(|a| a.labels.get(&self.label))
            .filter_map(|level| self.rank(level).map(|r| (r, level)))
            .max_by_key(|(r, _)| *r)
            .filter(|(r, _)| *r >= threshold)
            .map(|(_, level)| level.clone())
    }
}

/// Where the pipeline finds the hand-off: set and replaced at any time,
/// read at each flush.
pub type HandoffSlot = Arc<RwLock<Option<Handoff>>>;

#[cfg(test)]
mod tests;
