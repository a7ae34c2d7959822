//! Root-cause candidates: the changes (deployments, migrations,
//! configuration changes, optimizations) that may have caused an
//! incident, ranked, each with its evidence.
//!
//! A change is a candidate when it touched an affected service or one
//! of the services it depends on (transitively, up to
//! [`MAX_DISTANCE`]) within the window before the first alert. Its score
//! is the product of:
//! - time proximity: `0.5 ^ (minutes before the first alert / half-life)`
//!   (a change minutes before is far likelier than one hours before),
//!   and a change after the first alert is no cause;
//! - dependency distance: 1 on an affected service, halved at each hop
//!   down the dependency graph;
//! - kind: deployments and configuration changes, which change what
//!   runs, over migrations, over optimizations;
//! - history: doubled when undoing a change of the same kind on the same
//!   service resolved an earlier incident;
//! - where the failure starts: failures travel up the dependency graph
//!   (a gateway fails when the worker it calls does), so among the
//!   services seen failing around the incident, a change on one whose
//!   own dependencies are all healthy while a service depending on it
//!   fails too (where the failure starts, and what spread it) is
//!   doubled, and a change on one with a failing dependency (whose
//!   failure may only be a symptom) is halved.
//!
//! No candidate is an answer too: the incident may have no change behind
//! it (a crash loop, a dependency outside steward, load).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Hops down the dependency graph a change may be from an affected
/// service.
pub const MAX_DISTANCE: u32 = 3;

/// What a change was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A deployment (a new version, or a rollback).
    Deployment,
    /// A configuration change (steward.toml reloaded, a flag).
    Config,
    /// A database migration.
    Migration,
    /// An applied optimization.
    Optimization,
}

impl ChangeKind {
    fn weight(self) -> f64 {
        match self {
            ChangeKind::Deployment | ChangeKind::Config => 1.0,
            ChangeKind::Migration => 0.8,
            ChangeKind::Optimization => 0.6,
        }
    }

    /// What it is called in a sentence (`deployment`).
    pub fn noun(self) -> &'static str {
        match self {
            ChangeKind::Deployment => "deployment",
            ChangeKind::Config => "configuration change",
            ChangeKind::Migration => "migration",
            ChangeKind::Optimization => "optimization",
        }
    }
}

/// A change from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// Its id (the deployment's, the journal event's).
    pub id: String,
    /// What it was.
    pub kind: ChangeKind,
    /// The service it changed (a migration: the service of its database).
    pub service: String,
    /// When it took effect.
    pub at: DateTime<Utc>,
    /// What it did, in a line (`agent 1.0.0 -> 1.1.0`).
    pub summary: String,
}

/// An earlier incident's resolution by undoing a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastFix {
    /// The earlier incident.
    pub incident: String,
    /// The kind of change undone.
    pub kind: ChangeKind,
    /// The service.
    pub service: String,
}

/// What the ranking knows about the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context<'a> {
    /// The services affected (those alerting).
    pub affected: &'a BTreeSet<String>,
    /// Each service's dependencies (what it calls).
    pub dependencies: &'a BTreeMap<String, BTreeSet<String>>,
    /// When the first alert started.
    pub first_alert: DateTime<Utc>,
    /// How far before it changes are looked at.
    pub window: TimeDelta,
    /// Time proximity halves every this much.
    pub half_life: TimeDelta,
    /// Earlier incidents resolved by undoing a change.
    pub history: &'a [PastFix],
    /// The services seen failing around the first alert (alerting),
    /// the affected ones among them; empty: only the affected ones.
    pub failing: &'a BTreeSet<String>,
}

/// A ranked candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The change.
    pub change: ChangeRecord,
    /// Its score (higher is likelier); comparable within one ranking.
    pub score: f64,
    /// Hops from an affected service (0: the service itself).
    pub distance: u32,
    /// Why it is a candidate, a sentence each.
    pub evidence: Vec<String>,
}

/// The candidates among `changes`, best first (ties: the later change
/// first). Empty when no change fits: "no change found".
pub fn rank(changes: &[ChangeRecord], context: &Context<'_>) -> Vec<Candidate> {
    let distances = distances(context.affected, context.dependencies);
    let mut candidates: Vec<Candidate> = changes
        .iter()
        .filter_map(|change| {
            let distance = *distances.get(&change.service)?;
            let before = context.first_alert - change.at;
            if before < TimeDelta::zero() || before > context.window {
                return None;
            }
            let minutes = before.num_seconds() as f64 / 60.0;
            let half_life = (context.half_life.num_seconds() as f64 / 60.0).max(1.0 / 60.0);
            let proximity = 0.5_f64.powf(minutes / half_life);
            let hops = 0.5_f64.powi(distance as i32);
            let fixes: Vec<&PastFix> = context
                .history
                .iter()
                .filter(|f| f.kind == change.kind && f.service == change.service)
                .collect();
            let history = if fixes.is_empty() { 1.0 } else { 2.0 };
            let (origin, origin_note) = match failing_below(&change.service, context) {
                Some(below) => (
                    0.5,
                    Some(format!(
                        "{below}, which {} depends on, fails too: {}'s trouble may come from there",
                        change.service, change.service
                    )),
                ),
                None if failing(&change.service, context) => match failing_above(&change.service, context) {
                    Some(above) => (
                        2.0,
                        Some(format!(
                            "{} fails, none of its dependencies does, and {above}, which depends on it, fails too: the failure starts there",
                            change.service
                        )),
                    ),
                    None => (1.0, None),
                },
                None => (1.0, None),
            };
            let mut evidence = vec![format!(
                "{} of {} ({}) {} before the first alert",
                change.kind.noun(),
                change.service,
                change.summary,
                steward_core::format_duration(before.to_std().unwrap_or_default())
            )];
            evidence.push(if distance == 0 {
                format!("{} is an affected service", change.service)
            } else {
                format!(
                    "{} is {distance} dependenc{} away from an affected service",
                    change.service,
                    if distance == 1 { "y" } else { "ies" }
                )
            });
            evidence.extend(origin_note);
            if !fixes.is_empty() {
                let ids: Vec<&str> = fixes.iter().map(|f| f.incident.as_str()).collect();
                evidence.push(format!(
                    "undoing a {} of {} resolved {}",
                    change.kind.noun(),
                    change.service,
                    ids.join(", ")
                ));
            }
            Some(Candidate {
                change: change.clone(),
                score: proximity * hops * change.kind.weight() * history * origin,
                distance,
                evidence,
            })
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.change.at.cmp(&a.change.at))
            .then_with(|| a.change.id.cmp(&b.change.id))
    });
    candidates
}

/// Whether `service` is seen failing (the affected services always are).
fn failing(service: &str, context: &Context<'_>) -> bool {
    context.affected.contains(service) || context.failing.contains(service)
}

/// A failing service among `service`'s dependencies (transitively, up to
/// [`MAX_DISTANCE`] hops), the nearest first.
fn failing_below(service: &str, context: &Context<'_>) -> Option<String> {
    let mut seen = BTreeSet::from([service.to_owned()]);
    let mut queue: VecDeque<(String, u32)> = VecDeque::from([(service.to_owned(), 0)]);
    while let Some((at, distance)) = queue.pop_front() {
        if distance == MAX_DISTANCE {
            continue;
        }
        for dependency in context.dependencies.get(&at).into_iter().flatten() {
            if !seen.insert(dependency.clone()) {
                continue;
            }
            if failing(dependency, context) {
                return Some(dependency.clone());
            }
            queue.push_back((dependency.clone(), distance + 1));
        }
    }
    None
}

/// A failing service that depends on `service` (directly or through
/// others, up to [`MAX_DISTANCE`] hops).
fn failing_above(service: &str, context: &Context<'_>) -> Option<String> {
    let mut seen = BTreeSet::from([service.to_owned()]);
    let mut queue: VecDeque<(String, u32)> = VecDeque::from([(service.to_owned(), 0)]);
    while let Some((at, distance)) = queue.pop_front() {
        if distance == MAX_DISTANCE {
            continue;
        }
        for (dependent, dependencies) in context.dependencies {
            if !dependencies.contains(&at) || !seen.insert(dependent.clone()) {
                continue;
            }
            if failing(dependent, context) {
                return Some(dependent.clone());
            }
            queue.push_back((dependent.clone(), distance + 1));
        }
    }
    None
}

/// Hops from the affected services down their dependencies, breadth
/// first, up to [`MAX_DISTANCE`].
fn distances(
    affected: &BTreeSet<String>,
    dependencies: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, u32> {
    let mut out: BTreeMap<String, u32> = affected.iter().map(|s| (s.clone(), 0)).collect();
    let mut queue: VecDeque<(String, u32)> = affected.iter().map(|s| (s.clone(), 0)).collect();
    while let Some((service, distance)) = queue.pop_front() {
        if distance == MAX_DISTANCE {
            continue;
        }
        for dependency in dependencies.get(&service).into_iter().flatten() {
            if !out.contains_key(dependency) {
                out.insert(dependency.clone(), distance + 1);
                queue.push_back((dependency.clone(), distance + 1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
