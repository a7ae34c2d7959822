//! Impact: which services an incident reaches and how hard, recomputed
//! as what it knows changes.
//!
//! The failing services are those alerting; every service that depends
//! on one of them, directly or through others, is impacted (with the
//! chain of dependencies that reaches it). Replicas down and the error
//! budget's burn rate (the error ratio over what the objective allows:
//! 1 spends the budget exactly over the objective's period, 14.4 spends
//! a 30-day budget's 2% in an hour, Google's SRE workbook's paging
//! threshold) come from the metrics; tasks failed where the services
//! count them. [`Impact::severity`] turns it into a SEV.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::incident::Severity;

/// Burn rate at which an error budget pages at once (the SRE workbook's
/// fast burn: 2% of 30 days' budget in an hour).
pub const FAST_BURN: f64 = 14.4;
/// Burn rate that warrants a ticket-level response (6 hours at 5%).
pub const SLOW_BURN: f64 = 6.0;

/// A service's replicas: how many should run, how many are ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas {
    /// Desired.
    pub desired: u32,
    /// Ready (running and healthy).
    pub ready: u32,
}

/// A service's error ratio against its objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorBudget {
    /// The share of requests or tasks failing now (0 to 1).
    pub error_ratio: f64,
    /// The objective (0.999: 99.9% succeed).
    pub objective: f64,
}

impl ErrorBudget {
    /// How fast the budget burns: the error ratio over the allowed one.
    pub fn burn_rate(self) -> f64 {
        let allowed = (1.0 - self.objective).max(f64::EPSILON);
        self.error_ratio / allowed
    }
}

/// What the assessment reads.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The services alerting.
    pub failing: BTreeSet<String>,
    /// Each service's dependencies (what it calls).
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
    /// Replicas per service, where known.
    pub replicas: BTreeMap<String, Replicas>,
    /// Error budgets per service, where known.
    pub budgets: BTreeMap<String, ErrorBudget>,
    /// Tasks (or requests) failed since the incident started, per
    /// service, where the metrics count them.
    pub failed_tasks: BTreeMap<String, f64>,
    /// Services whose failure is a SEV1 on its own.
    pub critical: BTreeSet<String>,
}

/// An incident's impact.
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    /// The services alerting.
    pub failing: BTreeSet<String>,
    /// Services that depend on a failing one, each with the chain that
    /// reaches it (`gateway -> agent`: gateway calls agent, which fails).
    pub impacted: BTreeMap<String, Vec<String>>,
    /// Services with replicas not ready: (ready, desired).
    pub replicas_down: BTreeMap<String, (u32, u32)>,
    /// Burn rates of the failing and impacted services that have budgets.
    pub burn_rates: BTreeMap<String, f64>,
    /// Tasks failed per service.
    pub failed_tasks: BTreeMap<String, f64>,
    critical_hit: BTreeSet<String>,
}

/// Assesses what `observed` says.
pub fn assess(observed: &Observed) -> Impact {
    // dependents: the reverse of the dependency graph
    let mut dependents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (service, dependencies) in &observed.dependencies {
        for dependency in dependencies {
            dependents
                .entry(dependency.as_str())
                .or_default()
                .insert(service.as_str());
        }
    }
    let mut impacted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue: VecDeque<(&str, Vec<String>)> = observed
        .failing
        .iter()
        .map(|s| (s.as_str(), vec![s.clone()]))
        .collect();
    while let Some((service, chain)) = queue.pop_front() {
        for dependent in dependents.get(service).into_iter().flatten() {
            if observed.failing.contains(*dependent) || impacted.contains_key(*dependent) {
                continue;
            }
            let mut path = vec![(*dependent).to_owned()];
            path.extend(chain.iter().cloned());
            impacted.insert((*dependent).to_owned(), path.clone());
            queue.push_back((dependent, path));
        }
    }
    let reached = |s: &String| observed.failing.contains(s) || impacted.contains_key(s);
    let replicas_down = observed
        .replicas
        .iter()
        .filter(|(_, r)| r.ready < r.desired)
        .map(|(s, r)| (s.clone(), (r.ready, r.desired)))
        .collect();
    let burn_rates = observed
        .budgets
        .iter()
        .filter(|(s, _)| reached(s))
        .map(|(s, b)| (s.clone(), b.burn_rate()))
        .collect();
    let critical_hit = observed
        .critical
        .iter()
        .filter(|s| reached(s))
        .cloned()
        .collect();
    Impact {
        failing: observed.failing.clone(),
        impacted,
        replicas_down,
        burn_rates,
        failed_tasks: observed.failed_tasks.clone(),
        critical_hit,
    }
}

impl Impact {
    /// The severity the impact calls for: SEV1 when a critical service
    /// is reached, a budget burns at [`FAST_BURN`] or every replica of a
    /// failing service is down; SEV2 at [`SLOW_BURN`] or with dependents
    /// impacted; SEV3 with replicas down or a budget burning faster than
    /// it refills; SEV4 otherwise.
    pub fn severity(&self) -> Severity {
        let max_burn = self.burn_rates.values().copied().fold(0.0, f64::max);
        let all_down = self
            .replicas_down
            .iter()
            .any(|(s, (ready, desired))| *ready == 0 && *desired > 0 && self.failing.contains(s));
        if !self.critical_hit.is_empty() || max_burn >= FAST_BURN || all_down {
            Severity::Sev1
        } else if max_burn >= SLOW_BURN || !self.impacted.is_empty() {
            Severity::Sev2
        } else if !self.replicas_down.is_empty() || max_burn > 1.0 {
            Severity::Sev3
        } else {
            Severity::Sev4
        }
    }

    /// The impact in sentences, for the incident's page and postmortem.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.failing.is_empty() {
            out.push(format!("failing: {}", join(self.failing.iter())));
        }
        for (service, chain) in &self.impacted {
            out.push(format!("{service} impacted through {}", chain.join(" -> ")));
        }
        for (service, (ready, desired)) in &self.replicas_down {
            out.push(format!("{service}: {ready} of {desired} replicas ready"));
        }
        for (service, rate) in &self.burn_rates {
            out.push(format!("{service}: error budget burning at {rate:.1}x"));
        }
        for (service, failed) in &self.failed_tasks {
            out.push(format!("{service}: {failed:.0} tasks failed"));
        }
        for service in &self.critical_hit {
            out.push(format!("{service} is a critical service"));
        }
        out
    }
}

fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
