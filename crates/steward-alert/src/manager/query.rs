//! The AlertManager's queries as API v2 asks them: which alerts
//! ([`AlertQuery`]: label filters, states, a receiver expression), how an
//! API filter matches an alert's labels ([`filter_matches`]) or a
//! silence ([`silence_matches_filter`]), and what the queries answer.

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::alert::{Alert, AlertState, AlertStatus, Fingerprint};
use crate::silence::{Silence, SilenceState};
use crate::{LabelSet, Matcher};

/// Which alerts a query selects (`GET /alerts` and `/alerts/groups`);
/// the default selects every unresolved alert.
#[derive(Debug, Clone)]
pub struct AlertQuery {
    /// The `filter` matchers, all of which must match ([`filter_matches`]).
    pub matchers: Vec<Matcher>,
    /// Whether active alerts (neither silenced nor inhibited) are kept.
    pub active: bool,
    /// Whether silenced alerts are kept.
    pub silenced: bool,
    /// Whether inhibited alerts are kept.
    pub inhibited: bool,
    /// Whether unprocessed alerts are kept (the query decides every
    /// alert's status first, so none is unprocessed when listed).
    pub unprocessed: bool,
    /// Only alerts routed to a receiver whose whole name this matches
    /// (built with [`AlertQuery::receiver_pattern`]).
    pub receiver: Option<Regex>,
}

impl Default for AlertQuery {
    fn default() -> Self {
        Self {
            matchers: Vec::new(),
            active: true,
            silenced: true,
            inhibited: true,
            unprocessed: true,
            receiver: None,
        }
    }
}

impl AlertQuery {
    /// The receiver expression anchored at both ends, as Alertmanager
    /// compiles the `receiver` parameter.
    pub fn receiver_pattern(pattern: &str) -> Result<Regex, regex::Error> {
        Regex::new(&format!("^(?:{pattern})$"))
    }

    /// Whether an alert routed to these receivers is kept: any of them
    /// matches the receiver expression (or there is none).
    pub(crate) fn keeps_receivers(&self, receivers: &[String]) -> bool {
        self.receiver
            .as_ref()
            .is_none_or(|re| receivers.iter().any(|r| re.is_match(r)))
    }

    /// Whether a group of this receiver is kept.
    pub(crate) fn keeps_receiver(&self, receiver: &str) -> bool {
        self.receiver
            .as_ref()
            .is_none_or(|re| re.is_match(receiver))
    }

    /// Whether an alert with this status is kept.
    pub(crate) fn keeps_status(&self, status: &AlertStatus) -> bool {
        !(!self.active && status.state == AlertState::Active
            || !self.unprocessed && status.state == AlertState::Unprocessed
            || !self.silenced && !status.silenced_by.is_empty()
            || !self.inhibited && !status.inhibited_by.is_empty())
    }
}

/// Whether labels match an API filter as Alertmanager 0.25's
/// `matchFilterLabels` decides: every matcher matches the label's value,
/// except that `name=""` (or `=~""`) also holds when the label is missing
/// and `name!=""` (or `!~""`) holds whenever the label is present.
pub fn filter_matches(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| {
        let value = labels.get(&m.name);
        let skipped = m.value.is_empty()
            && match m.kind.is_negative() {
                true => value.is_some(),
                false => value.is_none(),
            };
        skipped || m.matches(value.map_or("", String::as_str))
    })
}

/// Whether a silence passes an API filter (Alertmanager 0.25's
/// `CheckSilenceMatchesFilterLabels`): for every matcher of the filter,
/// the silence has a matcher with the same name, operator and value. The
/// filter compares matchers as written; it does not match labels.
pub fn silence_matches_filter(silence: &Silence, filter: &[Matcher]) -> bool {
    filter.iter().all(|f| {
        silence
            .matchers
            .0
            .iter()
            .any(|m| m.name == f.name && m.kind == f.kind && m.value == f.value)
    })
}

/// An alert as `GET /alerts` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The alert as stored.
    pub alert: Alert,
    /// Its status, decided when queried.
    pub status: AlertStatus,
    /// The receivers of the routes it takes (for `GET /alerts`, in the
    /// tree's order; in a group, those of the listed groups, sorted).
    pub receivers: Vec<String>,
}

/// An aggregation group as `GET /alerts/groups` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroupView {
    /// The group's labels.
    pub labels: LabelSet,
    /// Its route's receiver.
    pub receiver: String,
    /// Its alerts the query selects, in notification order.
    pub alerts: Vec<AlertView>,
}

/// A silence and its state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceView {
    /// The silence.
    pub silence: Silence,
    /// Its state when queried.
    pub state: SilenceState,
}

/// The version `GET /api/v2/status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The Alertmanager version the API is compatible with.
    pub version: String,
    /// The revision.
    pub revision: String,
    /// The branch.
    pub branch: String,
    /// Who built it.
    pub build_user: String,
    /// When it was built.
    pub build_date: String,
    /// The Go version (none: steward is not written in Go).
    pub go_version: String,
}

impl Default for VersionInfo {
    /// Version `0.25.0`, because amtool 0.25 warns on every command when
    /// the version differs from its own; the revision names steward's.
    fn default() -> Self {
        Self {
            version: "0.25.0".to_owned(),
            revision: concat!("steward-", env!("CARGO_PKG_VERSION")).to_owned(),
            branch: "steward".to_owned(),
            build_user: "steward".to_owned(),
            build_date: String::new(),
            go_version: "none".to_owned(),
        }
    }
}

/// What `GET /api/v2/status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// The cluster's status: always `disabled` (steward does not gossip).
    pub cluster_status: &'static str,
    /// The version.
    pub version: VersionInfo,
    /// The configuration's text.
    pub original: String,
    /// When the AlertManager started.
    pub uptime: DateTime<Utc>,
}
