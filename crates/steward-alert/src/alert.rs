//! Alerts as Alertmanager 0.25 keeps them (`types.Alert`): labels,
//! annotations, the active range `startsAt`..`endsAt`, when they were last
//! updated and whether `endsAt` is only the resolve timeout. Their
//! fingerprint, their resolved-ness at a time, how a re-sent alert merges
//! with the stored one (`types.Alert.Merge` and the `mem` provider's
//! `Put`), how an alert posted without times gets them (API v2's
//! `postAlertsHandler`, with the configuration's `resolve_timeout`), the
//! order in which a notification lists alerts (`types.AlertSlice`), and
//! the label set's printed form used in group keys.
//!
//! - [`store`]: where alerts live ([`AlertStore`], in memory here).
//! - [`marker`]: each alert's status (active, or suppressed by which
//!   silences and inhibiting alerts), as API v2 shows it.

pub mod marker;
pub mod store;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::chrono_duration;
use crate::{Error, LabelSet, Result};

pub use marker::{AlertState, AlertStatus, Marker};
pub use store::{AlertStore, MemAlertStore};

/// The identity of a label set: Prometheus' `model.LabelSet.Fingerprint`,
/// 64-bit FNV-1a over the labels in name order, each name and each value
/// followed by the byte `0xff`; the empty set hashes to FNV's offset basis.
/// Computed the same way as Alertmanager's, so that the fingerprints API v2
/// shows (16 hexadecimal digits) are the same for the same labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(pub u64);

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

impl Fingerprint {
    /// The fingerprint of a label set.
    pub fn of(labels: &LabelSet) -> Self {
        let mut hash = FNV_OFFSET;
        let mut add = |bytes: &[u8]| {
            for b in bytes {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        };
        for (name, value) in labels {
            add(name.as_bytes());
            add(&[SEPARATOR]);
            add(value.as_bytes());
            add(&[SEPARATOR]);
        }
        Fingerprint(hash)
    }
}

/// 16 lowercase hexadecimal digits, as Alertmanager prints it.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| Error::InvalidAlert(format!("invalid fingerprint {s:?}")))
    }
}

/// An alert: its labels (its identity), annotations and active range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The labels, which identify the alert.
    pub labels: LabelSet,
    /// The annotations (summary, description, runbook...).
    pub annotations: LabelSet,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
    /// When it was resolved, or until when it holds unless re-sent; `None`
    /// is Go's zero time: firing with no end (only in notifications, which
    /// clear the end of firing alerts as Alertmanager does).
    pub ends_at: Option<DateTime<Utc>>,
    /// A link to what generated it (the rule's expression).
    pub generator_url: String,
    /// When it was last received.
    pub updated_at: DateTime<Utc>,
    /// Whether `ends_at` is only the resolve timeout (the sender gave no end).
    pub timeout: bool,
}

/// Whether an alert is firing or resolved at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatusKind {
    /// Active: no end, or an end after the time.
    Firing,
    /// Its end is at or before the time.
    Resolved,
}

impl AlertStatusKind {
    /// `firing` or `resolved`, as in webhook payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatusKind::Firing => "firing",
            AlertStatusKind::Resolved => "resolved",
        }
    }
}

/// Go's zero time stands for a missing end; it is before every real time.
fn or_zero(t: Option<DateTime<Utc>>) -> DateTime<Utc> {
    t.unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Alert {
    /// The alert's fingerprint (of its labels).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// The `alertname` label, empty when missing.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Whether it is resolved at `at`: it has an end, at or before `at`.
    pub fn resolved_at(&self, at: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|end| end <= at)
    }

    /// Firing or resolved at `at`.
    pub fn status_at(&self, at: DateTime<Utc>) -> AlertStatusKind {
        match self.resolved_at(at) {
            true => AlertStatusKind::Resolved,
            false => AlertStatusKind::Firing,
        }
    }

    /// The alert that results from receiving `self` and `other` (same
    /// labels), as `types.Alert.Merge`: the younger one (later
    /// `updated_at`) gives annotations and everything else, the earliest
    /// start wins; if the younger is resolved (at `now`), the later end of
    /// the two wins when both are resolved; if it is firing, the older
    /// end wins when it is later and not just a resolve timeout.
    pub fn merge(&self, other: &Alert, now: DateTime<Utc>) -> Alert {
        if other.updated_at < self.updated_at {
            return other.merge(self, now);
        }
        let (older, younger) = (self, other);
        let mut merged = younger.clone();
        if older.starts_at < younger.starts_at {
            merged.starts_at = older.starts_at;
        }
        let older_ends_later = or_zero(older.ends_at) > or_zero(younger.ends_at);
        if younger.resolved_at(now) {
            if older.resolved_at(now) && older_ends_later {
                merged.ends_at = older.ends_at;
            }
        } else if older_ends_later && !older.timeout {
            merged.ends_at = older.ends_at;
        }
        merged
    }

    /// What the store keeps when `incoming` arrives for the stored `old`
    /// (the `mem` provider's `Put`): the two merge only when their active
    /// ranges overlap (the incoming end falls inside the old range, or the
    /// incoming start does); otherwise the incoming alert replaces the old
    /// one, which is how a resolved alert fires again with a new start.
    pub fn stored_after(old: &Alert, incoming: Alert, now: DateTime<Utc>) -> Alert {
        let (old_start, old_end) = (old.starts_at, or_zero(old.ends_at));
        let new_end = or_zero(incoming.ends_at);
        let overlaps = (new_end > old_start && new_end < old_end)
            || (incoming.starts_at > old_start && incoming.starts_at < old_end);
        match overlaps {
            true => old.merge(&incoming, now),
            false => incoming,
        }
    }

    /// A copy as a notification shows it at `now`: a firing alert has no
    /// end (Alertmanager clears it so that alerts do not resolve while the
    /// notification is under way).
    pub fn for_notification(&self, now: DateTime<Utc>) -> Alert {
        let mut copy = self.clone();
        if !copy.resolved_at(now) {
            copy.ends_at = None;
        }
        copy
    }
}

/// An alert as a source sends it (API v2 `postableAlert`, a rule
/// evaluation, a webhook): times may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingAlert {
    /// The labels; empty values are dropped, as Alertmanager does.
    pub labels: LabelSet,
    /// The annotations.
    pub annotations: LabelSet,
    /// When it started, if the source says.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends or ended, if the source says.
    pub ends_at: Option<DateTime<Utc>>,
    /// A link to what generated it.
    pub generator_url: String,
}

impl IncomingAlert {
    /// The alert as received at `now`, as API v2's `postAlertsHandler`
    /// prepares it: a missing start is `now` (or the end, when only the
    /// end is given); a missing end is `now + resolve_timeout`, marked as
    /// a timeout; labels with empty values are dropped; then it is
    /// validated with Alertmanager's messages (`types.Alert.Validate`).
    pub fn into_alert(self, now: DateTime<Utc>, resolve_timeout: Duration) -> Result<Alert> {
        let mut labels = self.labels;
        labels.retain(|_, v| !v.is_empty());
        let starts_at = self.starts_at.or(self.ends_at).unwrap_or(now);
        let (ends_at, timeout) = match self.ends_at {
            Some(end) => (end, false),
            None => (now + chrono_duration(resolve_timeout), true),
        };
        if ends_at < starts_at {
            return Err(Error::InvalidAlert(
                "start time must be before end time".to_owned(),
            ));
        }
        if let Some(name) = labels.keys().find(|n| !is_valid_label_name(n)) {
            return Err(Error::InvalidAlert(format!(
                "invalid label set: invalid name {}",
                go_quote(name)
            )));
        }
        if labels.is_empty() {
            return Err(Error::InvalidAlert(
                "at least one label pair required".to_owned(),
            ));
        }
        if let Some(name) = self.annotations.keys().find(|n| !is_valid_label_name(n)) {
            return Err(Error::InvalidAlert(format!(
                "invalid annotations: invalid name {}",
                go_quote(name)
            )));
        }
        Ok(Alert {
            labels,
            annotations: self.annotations,
            starts_at,
            ends_at: Some(ends_at),
            generator_url: self.generator_url,
            updated_at: now,
            timeout,
        })
    }
}

/// Whether `name` is a valid label name for Alertmanager 0.25
/// (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The order in which notifications list alerts (`types.AlertSlice`):
/// by `job`, then `instance` (an alert with the label before one without),
/// then by label set as `model.LabelSet.Before` (fewer labels first, then
/// the first differing label in name order).
pub fn notification_order(a: &Alert, b: &Alert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => {}
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            (Some(_), Some(_)) => {}
        }
    }
    if labels_before(&a.labels, &b.labels) {
        Ordering::Less
    } else if labels_before(&b.labels, &a.labels) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// `model.LabelSet.Before`.
pub(crate) fn labels_before(ls: &LabelSet, other: &LabelSet) -> bool {
    if ls.len() != other.len() {
        return ls.len() < other.len();
    }
    let mut names: Vec<&String> = ls.keys().chain(other.keys()).collect();
    names.sort();
    for name in names {
        let Some(mine) = ls.get(name) else {
            return true;
        };
        let Some(theirs) = other.get(name) else {
            return false;
        };
        if mine != theirs {
            return mine < theirs;
        }
    }
    false
}

/// A label set printed as Prometheus' `model.LabelSet.String`:
/// `{a="1", b="2"}`, each pair `name=%q`, the pairs sorted as strings
/// (which differs from name order when a name is a prefix of another).
/// Group keys embed it.
pub fn label_set_string(labels: &LabelSet) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("{n}={}", go_quote(v)))
        .collect();
    pairs.sort();
    format!("{{{}}}", pairs.join(", "))
}

/// A string quoted as Go's `%q` (`strconv.Quote`): `"` and `\` escaped,
/// `\a \b \f \n \r \t \v` by name, other control characters as `\xNN`
/// or `\uNNNN`, and Unicode spaces other than ` ` as `\uNNNN` (Go's
/// `IsPrint` rejects them); everything else as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                let code = c as u32;
                match code < 0x10000 {
                    true => out.push_str(&format!("\\u{code:04x}")),
                    false => out.push_str(&format!("\\U{code:08x}")),
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
