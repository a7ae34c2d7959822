//! Inhibition as Alertmanager 0.25's `inhibit` package: a rule mutes the
//! alerts its target matchers match while a *firing* alert that its
//! source matchers match has the same values for the rule's `equal`
//! labels (a label missing on both sides counts as equal, both being
//! empty). An alert that matches both the source and the target side of
//! a rule is never muted by an alert that does too (in particular not by
//! itself), as in Alertmanager.
//!
//! The [`Inhibitor`] keeps, per rule, the alerts that match its source
//! side: the AlertManager calls [`Inhibitor::observe`] with every alert
//! it stores (as Alertmanager's inhibitor subscribes to its alert
//! provider), and [`Inhibitor::gc`] drops the resolved ones.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::alert::{Alert, Fingerprint, Marker};
use crate::dispatch::Muter;
use crate::{LabelSet, Matchers};

/// An inhibition rule (the configuration's `inhibit_rules` entry, its
/// `source_match`/`source_match_re`/`source_matchers` folded into
/// `source`, and the same for `target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InhibitRule {
    /// What an inhibiting alert matches.
    pub source: Matchers,
    /// What an inhibited alert matches.
    pub target: Matchers,
    /// Labels whose values must be equal on both alerts.
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// Whether `source` (firing, checked by the caller) inhibits an alert
    /// with `target` labels under this rule, given that the target
    /// matches the target side; `target_is_source` is whether it also
    /// matches the source side.
    fn inhibits(&self, source: &LabelSet, target: &LabelSet, target_is_source: bool) -> bool {
        self.equal
            .iter()
            .all(|n| label_value(source, n) == label_value(target, n))
            && !(target_is_source && self.target.matches(source) && self.source.matches(source))
    }
}

/// A label's value, empty when missing.
fn label_value<'a>(labels: &'a LabelSet, name: &str) -> &'a str {
    labels.get(name).map_or("", String::as_str)
}

/// Mutes alerts by the inhibition rules; cheap to clone (shared).
#[derive(Clone)]
pub struct Inhibitor {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Vec<RuleState>,
    marker: Marker,
}

struct RuleState {
    rule: InhibitRule,
    /// The alerts matching the source side, by fingerprint (in order, so
    /// that the inhibiting alert named is the same from run to run).
    sources: RwLock<BTreeMap<Fingerprint, Alert>>,
}

impl fmt::Debug for Inhibitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inhibitor")
            .field("rules", &self.inner.rules.len())
            .finish_non_exhaustive()
    }
}

impl Inhibitor {
    /// An inhibitor for `rules` that marks alerts on `marker`.
    pub fn new(rules: Vec<InhibitRule>, marker: Marker) -> Self {
        let rules = rules
            .into_iter()
            .map(|rule| RuleState {
                rule,
                sources: RwLock::new(BTreeMap::new()),
            })
            .collect();
        Self {
            inner: Arc::new(Inner { rules, marker }),
        }
    }

    /// Its rules.
    pub fn rules(&self) -> impl Iterator<Item = &InhibitRule> {
        self.inner.rules.iter().map(|r| &r.rule)
    }

    /// Takes note of a stored alert (as stored, after merging): it is a
    /// possible source for each rule whose source side it matches.
    pub fn observe(&self, alert: &Alert) {
        for r in &self.inner.rules {
            if r.rule.source.matches(&alert.labels) {
                r.sources.write().insert(alert.fingerprint(), alert.clone());
            }
        }
    }

    /// The fingerprint of an alert firing at `now` that inhibits an alert
    /// with these labels, if any (Alertmanager's `Mutes`: the first rule
    /// whose target side matches and that has an inhibiting source).
    pub fn inhibited_by(&self, labels: &LabelSet, now: DateTime<Utc>) -> Option<Fingerprint> {
        self.inner.rules.iter().find_map(|r| {
            if !r.rule.target.matches(labels) {
                return None;
            }
            let target_is_source = r.rule.source.matches(labels);
            r.sources
                .read()
                .iter()
                .find(|(_, a)| {
                    !a.resolved_at(now) && r.rule.inhibits(&a.labels, labels, target_is_source)
                })
                .map(|(fp, _)| *fp)
        })
    }

    /// Forgets the source alerts resolved at `now`.
    pub fn gc(&self, now: DateTime<Utc>) {
        for r in &self.inner.rules {
            r.sources.write().retain(|_, a| !a.resolved_at(now));
        }
    }
}

impl Muter for Inhibitor {
    fn mutes(&self, labels: &LabelSet, now: DateTime<Utc>) -> bool {
        let by = self.inhibited_by(labels, now);
        let ids = by.map(|fp| vec![fp.to_string()]).unwrap_or_default();
        self.inner
            .marker
            .set_inhibited(Fingerprint::of(labels), ids);
        by.is_some()
    }
}

#[cfg(test)]
mod tests;
