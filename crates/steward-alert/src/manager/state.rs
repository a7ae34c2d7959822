//! Which alerts fire, as the AlertManager tracks it: alerts that start or
//! stop firing are told to a [`StateListener`] (the server journals them)
//! with the [`Source`] they came from, and the firing alerts are indexed
//! by their `service` label, so that what fires on a service (a
//! notification's related alerts) is found without scanning every alert.
//!
//! A put reports its alerts' changes at once; an alert that stops firing
//! because its end passed without a re-send is noticed by a sweep every
//! [`super::STATE_SWEEP_INTERVAL`]. The record changes only when an
//! alert starts or stops firing, not on each re-send (Prometheus re-sends
//! every firing alert each minute), so keeping it costs a lookup per
//! alert put.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::Inner;
use crate::Result;
use crate::alert::{Alert, Fingerprint};

/// The label whose value names an alert's service.
pub const SERVICE_LABEL: &str = "service";

/// Where an alert came from, as the journal tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// API v2's `POST /alerts` (a Prometheus, amtool).
    Api,
    /// Steward's own rule evaluation.
    Rules,
    /// The generic webhook.
    Webhook,
    /// A PagerDuty Events v2 sender.
    PagerDuty,
}

impl Source {
    /// `api`, `rules`, `webhook` or `pagerduty`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Rules => "rules",
            Source::Webhook => "webhook",
            Source::PagerDuty => "pagerduty",
        }
    }
}

/// How an alert the AlertManager holds changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// It started firing (new, or firing again after it resolved).
    Firing,
    /// It resolved: sent resolved, or its end passed without a re-send.
    Resolved,
}

/// Told of every alert that starts or stops firing (the server journals
/// them). Called outside the AlertManager's locks; must not block.
pub trait StateListener: Send + Sync + 'static {
    /// `alert` (as stored) changed; `source` is where the alert that
    /// caused it came from, or where the alert last came from when its end
    /// passed.
    fn changed(&self, alert: &Alert, change: StateChange, source: Source);
}

/// The alerts last known firing: where each last came from, and which
/// fire on each service.
#[derive(Debug, Default)]
pub(super) struct Firing {
    alerts: HashMap<Fingerprint, Known>,
    by_service: HashMap<String, HashSet<Fingerprint>>,
}

#[derive(Debug)]
struct Known {
    source: Source,
    service: Option<String>,
}

impl Firing {
    /// Notes `alert` firing, from `source`; whether it was not known
    /// firing before.
    pub(super) fn start(&mut self, alert: &Alert, source: Source) -> bool {
        let fp = alert.fingerprint();
        if let Some(known) = self.alerts.get_mut(&fp) {
            known.source = source;
            return false;
        }
        let service = alert.labels.get(SERVICE_LABEL).cloned();
        if let Some(service) = &service {
            self.by_service
                .entry(service.clone())
                .or_default()
                .insert(fp);
        }
        self.alerts.insert(fp, Known { source, service });
        true
    }

    /// Notes `alert` firing unless it is known; its source then is the API
    /// (alerts read back from the store at start or at a reload).
    fn start_known(&mut self, alert: &Alert) {
        if !self.alerts.contains_key(&alert.fingerprint()) {
            self.start(alert, Source::Api);
        }
    }

    /// Forgets `fp`; where it last came from, if it was known firing.
    pub(super) fn stop(&mut self, fp: Fingerprint) -> Option<Source> {
        let known = self.alerts.remove(&fp)?;
        if let Some(service) = known.service
            && let Some(set) = self.by_service.get_mut(&service)
        {
            set.remove(&fp);
            if set.is_empty() {
                self.by_service.remove(&service);
            }
        }
        Some(known.source)
    }

    fn known(&self) -> Vec<(Fingerprint, Source)> {
        self.alerts.iter().map(|(fp, k)| (*fp, k.source)).collect()
    }

    /// The alerts known firing on any of `services`.
    pub(super) fn on_services(&self, services: &BTreeSet<String>) -> Vec<Fingerprint> {
        services
            .iter()
            .filter_map(|s| self.by_service.get(s))
            .flatten()
            .copied()
            .collect()
    }
}

impl Inner {
    /// Notes the alerts of `alerts` (stored, or read back) that fire, as
    /// known firing from their start: they are not reported.
    pub(super) fn know_firing(&self, alerts: &[Alert], now: DateTime<Utc>) {
        let mut firing = self.firing.lock();
        for alert in alerts.iter().filter(|a| !a.resolved_at(now)) {
            firing.start_known(alert);
        }
    }

    /// Notes which stored alerts started or stopped firing and tells the
    /// listener, outside the lock.
    pub(super) fn track(&self, stored: &[Alert], source: Source, now: DateTime<Utc>) {
        let mut changes = Vec::new();
        {
            let mut firing = self.firing.lock();
            for alert in stored {
                match alert.resolved_at(now) {
                    true => {
                        if firing.stop(alert.fingerprint()).is_some() {
                            changes.push((alert, StateChange::Resolved));
                        }
                    }
                    false => {
                        if firing.start(alert, source) {
                            changes.push((alert, StateChange::Firing));
                        }
                    }
                }
            }
        }
        if changes.is_empty() {
            return;
        }
        if let Some(listener) = self.listener.read().clone() {
            for (alert, change) in changes {
                listener.changed(alert, change, source);
            }
        }
    }

    /// Reports the alerts known firing whose end has passed.
    pub(super) async fn sweep_resolved(&self) -> Result<()> {
        let now = self.clock.now();
        let known = self.firing.lock().known();
        let mut ended = Vec::new();
        for (fp, source) in known {
            match self.alerts.get(fp).await? {
                Some(alert) if !alert.resolved_at(now) => {}
                found => {
                    // a put may have seen it first
                    if self.firing.lock().stop(fp).is_some()
                        && let Some(alert) = found
                    {
                        ended.push((alert, source));
                    }
                }
            }
        }
        if let Some(listener) = self.listener.read().clone() {
            for (alert, source) in &ended {
                listener.changed(alert, StateChange::Resolved, *source);
            }
        }
        Ok(())
    }

    /// The alerts firing now on any of `services`, from the store.
    pub(super) async fn firing_on(&self, services: &BTreeSet<String>) -> Result<Vec<Alert>> {
        let now = self.clock.now();
        let fps = self.firing.lock().on_services(services);
        let mut out = Vec::with_capacity(fps.len());
        for fp in fps {
            // known firing until the sweep notices an end that passed
            if let Some(alert) = self.alerts.get(fp).await?
                && !alert.resolved_at(now)
            {
                out.push(alert);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
