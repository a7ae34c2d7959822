//! Severity (the specification's `determine_severity`): an alert's
//! severity starts as its `severity` label and is raised by rules: it has
//! fired longer than a time, it fired a number of times within a window,
//! its service is marked critical, or it fires on many replicas of its
//! service at once. The raised severity is written into the label, so it
//! routes like any label (`determine_routes`).
//!
//! Labels are an alert's identity: raising the severity makes the alert
//! a new one. The policy remembers what each alert (its labels without
//! the severity) was last given; when that changes, the caller resolves
//! the alert under its previous severity, so exactly one copy fires. A
//! raised severity sticks while the alert fires.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::alert::{Alert, AlertStatusKind, Fingerprint};
use crate::{LabelSet, Matchers};

/// When a rule raises the severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The alert has fired for at least this long.
    FiringFor(Duration),
    /// The alert started firing at least `count` times within `within`.
    FiredTimes {
        /// How many times.
        count: usize,
        /// Within how long.
        within: Duration,
    },
    /// The alert's `service` label is one of these.
    CriticalService(BTreeSet<String>),
    /// Alerts of the same name and service fire for at least this many
    /// distinct values of `label` (`replica`, `instance`) at once.
    Replicas {
        /// The label that tells replicas apart.
        label: String,
        /// How many at least.
        at_least: usize,
    },
}

/// One rule: alerts its matchers select, under its condition, get at
/// least `raise_to`.
#[derive(Debug, Clone)]
pub struct SeverityRule {
    /// Which alerts (none: every alert).
    pub matchers: Matchers,
    /// When.
    pub condition: Condition,
    /// The severity they get at least.
    pub raise_to: String,
}

/// The severities in order and the rules that raise them.
#[derive(Debug)]
pub struct SeverityPolicy {
    label: String,
    levels: Vec<String>,
    rules: Vec<SeverityRule>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per alert (labels without the severity): the starts seen, and the
    /// severity it was last given with the labels it then had.
    alerts: HashMap<Fingerprint, Tracked>,
    /// Per (alertname, service): which replicas fire now.
    replicas: HashMap<(String, String), BTreeMap<String, Fingerprint>>,
}

#[derive(Debug, Default)]
struct Tracked {
    starts: VecDeque<DateTime<Utc>>,
    last: Option<(String, LabelSet)>,
}

/// What [`SeverityPolicy::apply`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The alert with its severity label set.
    pub alert: Alert,
    /// The same alert under the severity it had before, to resolve now.
    pub superseded: Option<LabelSet>,
}

impl SeverityPolicy {
    /// A policy over the `label` label with `levels` from least to most
    /// severe (a value not listed counts as the least).
    pub fn new(label: impl Into<String>, levels: Vec<String>, rules: Vec<SeverityRule>) -> Self {
        SeverityPolicy {
            label: label.into(),
            levels,
            rules,
            state: Mutex::default(),
        }
    }

    /// `severity` and Alertmanager users' usual levels: info, warning,
    /// error, critical.
    pub fn with_rules(rules: Vec<SeverityRule>) -> Self {
        Self::new(
            "severity",
            ["info", "warning", "error", "critical"]
                .map(String::from)
                .to_vec(),
            rules,
        )
    }

    fn rank(&self, level: &str) -> usize {
        self.levels.iter().position(|l| l == level).unwrap_or(0)
    }

    /// Decides `alert`'s severity at `now`.
    pub fn apply(&self, mut alert: Alert, now: DateTime<Utc>) -> Decision {
        let mut identity = alert.labels.clone();
        let own = identity.remove(&self.label);
        let key = Fingerprint::of(&identity);
        let firing = alert.status_at(now) == AlertStatusKind::Firing;
        let mut state = self.state.lock();
        let replicas = self.track_replicas(&mut state, &identity, key, firing);
        let tracked = state.alerts.entry(key).or_default();
        if firing && tracked.starts.back() != Some(&alert.starts_at) {
            tracked.starts.push_back(alert.starts_at);
        }
        let longest = self
            .rules
            .iter()
            .filter_map(|r| match r.condition {
                Condition::FiredTimes { within, .. } => Some(within),
                _ => None,
            })
            .max()
            .unwrap_or_default();
        let horizon = now - chrono::Duration::from_std(longest).unwrap_or_default();
        while tracked.starts.len() > 1 && tracked.starts.front().is_some_and(|t| *t < horizon) {
            tracked.starts.pop_front();
        }
        let mut level = own
            .clone()
            .unwrap_or_else(|| self.levels.first().cloned().unwrap_or_default());
        for rule in &self.rules {
            if !rule.matchers.matches(&alert.labels) {
                continue;
            }
            let holds = match &rule.condition {
                Condition::FiringFor(d) => {
                    firing
                        && now - alert.starts_at
                            >= chrono::Duration::from_std(*d).unwrap_or_default()
                }
                Condition::FiredTimes { count, within } => {
                    let since = now - chrono::Duration::from_std(*within).unwrap_or_default();
                    tracked.starts.iter().filter(|t| **t >= since).count() >= *count
                }
                Condition::CriticalService(services) => identity
                    .get("service")
                    .is_some_and(|s| services.contains(s)),
                Condition::Replicas { label, at_least } => {
                    firing && identity.contains_key(label) && replicas >= *at_least
                }
            };
            if holds && self.rank(&rule.raise_to) > self.rank(&level) {
                level.clone_from(&rule.raise_to);
            }
        }
        // a raised severity sticks while the alert fires, and its
        // resolution resolves the copy that fired
        if let Some((last, _)) = &tracked.last
            && self.rank(last) > self.rank(&level)
        {
            level.clone_from(last);
        }
        if own.as_deref() != Some(level.as_str()) && !level.is_empty() {
            alert.labels.insert(self.label.clone(), level.clone());
        }
        let superseded = match &tracked.last {
            Some((_, labels)) if *labels != alert.labels => Some(labels.clone()),
            _ => None,
        };
        tracked.last = match firing {
            true => Some((level, alert.labels.clone())),
            false => None,
        };
        if !firing && tracked.starts.is_empty() {
            state.alerts.remove(&key);
        }
        Decision { alert, superseded }
    }

    /// Updates which replicas of the alert's name and service fire, and
    /// says how many do.
    fn track_replicas(
        &self,
        state: &mut State,
        identity: &LabelSet,
        key: Fingerprint,
        firing: bool,
    ) -> usize {
        let Some(label) = self.rules.iter().find_map(|r| match &r.condition {
            Condition::Replicas { label, .. } => Some(label),
            _ => None,
        }) else {
            return 0;
        };
        let group = (
            identity.get("alertname").cloned().unwrap_or_default(),
            identity.get("service").cloned().unwrap_or_default(),
        );
        let replicas = state.replicas.entry(group.clone()).or_default();
        if let Some(replica) = identity.get(label) {
            match firing {
                true => {
                    replicas.insert(replica.clone(), key);
                }
                false => {
                    replicas.remove(replica);
                }
            }
        }
        let n = replicas.len();
        if n == 0 {
            state.replicas.remove(&group);
        }
        n
    }
}

#[cfg(test)]
mod tests;
