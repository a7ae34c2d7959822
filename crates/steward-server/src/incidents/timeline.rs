//! What an incident's record does not hold but the rest of steward
//! knows, assembled when asked: its timeline from the journal (its own
//! events, and the alerts, notifications, deployments and migrations of
//! its services around it), its root-cause candidates (the changes of
//! the deployments' records and the journal, ranked by steward-incident),
//! its impact (the dependency graph of the configuration and the
//! replicas running), and the postmortem written from all of them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use steward_alert::AlertManagerEvent;
use steward_core::{Event, EventKind};
use steward_deploy::{DeployEvent, DeploymentStatus};
use steward_incident::{
    events::IncidentEvent,
    impact::{self, Observed, Replicas},
    incident::Incident,
    plan::{StepAction, StepState},
    postmortem::{self, EntryKind, TimelineEntry},
    rca::{self, Candidate, ChangeKind, ChangeRecord, PastFix},
};
use steward_migrate::MigrationEvent;
use steward_rules::events::AlertEvent;
use steward_store::{EventQuery, Order};

use super::Incidents;

/// How far around the incident its services' events are on its timeline.
const AROUND: TimeDelta = TimeDelta::minutes(30);
/// How long the objectives' expressions may take together.
const SLO_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
/// The most journal events read for one timeline.
const MAX_EVENTS: u32 = 1000;

/// A root-cause candidate as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CandidateView {
    /// The change's id (a deployment's, a journal event's).
    pub id: String,
    /// `deployment`, `config`, `migration` or `optimization`.
    pub kind: String,
    /// The service it changed.
    pub service: String,
    /// When it took effect.
    pub at: DateTime<Utc>,
    /// What it did.
    pub summary: String,
    /// Its score (higher is likelier), comparable within one ranking.
    pub score: f64,
    /// Hops from an affected service.
    pub distance: u32,
    /// Why it is a candidate.
    pub evidence: Vec<String>,
}

impl From<&Candidate> for CandidateView {
    fn from(c: &Candidate) -> Self {
        CandidateView {
            id: c.change.id.clone(),
            kind: serde_json::to_value(c.change.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            service: c.change.service.clone(),
            at: c.change.at,
            summary: c.change.summary.clone(),
            score: c.score,
            distance: c.distance,
            evidence: c.evidence.clone(),
        }
    }
}

impl Incidents {
    /// `[incidents] rca_window`.
    fn rca_window(&self) -> TimeDelta {
        TimeDelta::from_std(self.config().config.incidents.rca_window.get())
            .unwrap_or(TimeDelta::hours(2))
    }

    /// Each service's dependencies: its `depends_on`, and the databases
    /// its environment names (by name or URL).
    pub(crate) fn dependencies(&self) -> BTreeMap<String, BTreeSet<String>> {
        let config = &self.config().config;
        config
            .services
            .iter()
            .map(|service| {
                let mut deps: BTreeSet<String> = service
                    .depends_on
                    .iter()
                    .map(|d| d.as_str().to_owned())
                    .collect();
                for database in &config.databases {
                    let url = database.url.expose();
                    if service.env.values().any(|v| {
                        let v = v.expose();
                        v == url || v.contains(database.name.as_str())
                    }) {
                        deps.insert(database.name.as_str().to_owned());
                    }
                }
                (service.name.as_str().to_owned(), deps)
            })
            .collect()
    }

    /// The incident's timeline, oldest first.
    pub async fn timeline(&self, incident: &Incident) -> crate::Result<Vec<TimelineEntry>> {
        let start = incident.detected_at.unwrap_or(incident.opened_at) - AROUND;
        let end = incident.resolved_at.map(|r| r + AROUND);
        let mut events: BTreeMap<i64, Event> = BTreeMap::new();
        let mut read = |page: Vec<Event>| {
            for event in page {
                events.insert(event.id.0, event);
            }
        };
        // its own events, and whatever names it (deployments it caused)
        read(
            self.events(EventQuery {
                since: Some(incident.opened_at - TimeDelta::seconds(1)),
                text: Some(incident.id.clone()),
                ..EventQuery::default()
            })
            .await?,
        );
        for service in &incident.services {
            read(
                self.events(EventQuery {
                    since: Some(start),
                    until: end,
                    service: Some(service.clone()),
                    ..EventQuery::default()
                })
                .await?,
            );
        }
        // deployments name their services in their records, not in
        // every event: the events of those that touched its services
        if let Some(deployments) = self.deployments() {
            let touching: BTreeSet<String> = deployments
                .list(None, 200)
                .await?
                .into_iter()
                .filter(|d| {
                    d.services
                        .iter()
                        .any(|s| incident.services.contains(s.as_str()))
                })
                .map(|d| d.id)
                .collect();
            if !touching.is_empty() {
                let page = self
                    .events(EventQuery {
                        since: Some(start),
                        until: end,
                        kind: Some(DeployEvent::PREFIX.to_owned()),
                        ..EventQuery::default()
                    })
                    .await?;
                read(
                    page.into_iter()
                        .filter(|e| {
                            e.payload["deployment"]
                                .as_str()
                                .is_some_and(|d| touching.contains(d))
                        })
                        .collect(),
                );
            }
        }
        let mut entries: Vec<TimelineEntry> = events
            .values()
            .filter_map(|event| entry(event, incident))
            .collect();
        entries.sort_by_key(|e| e.at);
        Ok(entries)
    }

    async fn events(&self, mut query: EventQuery) -> crate::Result<Vec<Event>> {
        query.order = Order::Asc;
        query.limit = Some(MAX_EVENTS);
        Ok(self.store().events(&query).await?.events)
    }

    /// The changes of the window before `first_alert`: deployments (a
    /// deployment of the version a service already ran is a
    /// configuration change), migrations.
    async fn changes(
        &self,
        first_alert: DateTime<Utc>,
        exclude_actor: &str,
    ) -> crate::Result<Vec<ChangeRecord>> {
        let since = first_alert - self.rca_window();
        let mut changes = Vec::new();
        if let Some(deployments) = self.deployments() {
            for summary in deployments.list(None, 200).await? {
                if summary.created_at < since
                    || summary.created_at > first_alert
                    || summary.actor.as_str() == exclude_actor
                    || !matches!(
                        summary.status,
                        DeploymentStatus::Succeeded | DeploymentStatus::Running
                    )
                {
                    continue;
                }
                let Some(deployment) = deployments.get(&summary.id).await? else {
                    continue;
                };
                for service in &deployment.services {
                    let Some(spec) = deployment.release.service(service.as_str()) else {
                        continue;
                    };
                    let before = deployment.previous.get(service).cloned().flatten();
                    let (kind, summary_line) = match &before {
                        Some(old) if old.version == spec.version => (
                            ChangeKind::Config,
                            format!(
                                "{service} {} redeployed with a new configuration",
                                spec.version
                            ),
                        ),
                        Some(old) => (
                            ChangeKind::Deployment,
                            format!("{service} {} -> {}", old.version, spec.version),
                        ),
                        None => (
                            ChangeKind::Deployment,
                            format!("{service} {} created", spec.version),
                        ),
                    };
                    changes.push(ChangeRecord {
                        id: deployment.id.clone(),
                        kind,
                        service: service.as_str().to_owned(),
                        at: deployment.created_at,
                        summary: match &deployment.reason {
                            Some(reason) => format!("{summary_line} ({reason})"),
                            None => summary_line,
                        },
                    });
                }
            }
        }
        let databases: BTreeSet<&str> = self
            .config()
            .config
            .databases
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        for event in self
            .events(EventQuery {
                since: Some(since),
                until: Some(first_alert),
                kind: Some(MigrationEvent::Applied.as_str().to_owned()),
                ..EventQuery::default()
            })
            .await?
        {
            let database = event
                .payload
                .get("database")
                .and_then(|d| d.as_str())
                .map(str::to_owned)
                .or_else(|| {
                    databases
                        .iter()
                        .find(|d| {
                            event.summary.ends_with(&format!(" to {d}"))
                                || event.summary.contains(&format!(" to {d} "))
                        })
                        .map(|d| (*d).to_owned())
                });
            let Some(database) = database else { continue };
            changes.push(ChangeRecord {
                id: format!("event-{}", event.id.0),
                kind: ChangeKind::Migration,
                service: database,
                at: event.time,
                summary: event.summary.clone(),
            });
        }
        Ok(changes)
    }

    /// The services whose alerts started firing around `first_alert`
    /// (within a half-life on either side), from the journal: where the
    /// ranking looks for the service a failure starts at.
    async fn failing_around(&self, first_alert: DateTime<Utc>) -> crate::Result<BTreeSet<String>> {
        let half_life = TimeDelta::from_std(self.config().config.incidents.rca_half_life.get())
            .unwrap_or(TimeDelta::minutes(15));
        let mut failing = BTreeSet::new();
        for kind in [
            AlertEvent::Firing.as_str(),
            AlertManagerEvent::AlertFiring.as_str(),
        ] {
            for event in self
                .events(EventQuery {
                    since: Some(first_alert - half_life),
                    until: Some(first_alert + half_life),
                    kind: Some(kind.to_owned()),
                    ..EventQuery::default()
                })
                .await?
            {
                if let Some(service) = &event.service {
                    failing.insert(service.as_str().to_owned());
                }
            }
        }
        Ok(failing)
    }

    /// Earlier incidents that a rollback of their plan resolved.
    async fn history(&self, incident: &Incident) -> crate::Result<Vec<PastFix>> {
        let mut fixes = Vec::new();
        for past in self.manager().list(false, 200).await? {
            if past.id == incident.id || past.is_open() {
                continue;
            }
            for step in past.plan.iter().flat_map(|p| &p.steps) {
                if let (StepAction::Rollback { service }, StepState::Succeeded { .. }) =
                    (&step.spec.action, &step.state)
                {
                    fixes.push(PastFix {
                        incident: past.id.clone(),
                        kind: ChangeKind::Deployment,
                        service: service.clone(),
                    });
                }
            }
        }
        Ok(fixes)
    }

    /// The incident's root-cause candidates, best first.
    pub async fn candidates(&self, incident: &Incident) -> crate::Result<Vec<Candidate>> {
        let first_alert = incident.detected_at.unwrap_or(incident.opened_at);
        let own = format!("incident:{}", incident.id);
        let changes = self.changes(first_alert, &own).await?;
        let history = self.history(incident).await?;
        let dependencies = self.dependencies();
        let failing = self.failing_around(first_alert).await?;
        Ok(rca::rank(
            &changes,
            &rca::Context {
                affected: &incident.services,
                dependencies: &dependencies,
                first_alert,
                window: self.rca_window(),
                half_life: TimeDelta::from_std(self.config().config.incidents.rca_half_life.get())
                    .unwrap_or(TimeDelta::minutes(15)),
                history: &history,
                failing: &failing,
            },
        ))
    }

    /// The incident's impact: its failing services (while it is open,
    /// or always with `as_it_was`), the services that depend on them,
    /// replicas not ready now.
    pub async fn impact(
        &self,
        incident: &Incident,
        as_it_was: bool,
    ) -> crate::Result<impact::Impact> {
        let mut observed = Observed {
            failing: if incident.is_open() || as_it_was {
                incident.services.clone()
            } else {
                BTreeSet::new()
            },
            dependencies: self.dependencies(),
            ..Observed::default()
        };
        self.observe_slos(incident, &mut observed).await;
        if let Some(deployments) = self.deployments() {
            for status in deployments.status(&self.config().config).await? {
                let ready = status
                    .replicas
                    .iter()
                    .filter(|r| r.state == steward_deploy::backend::ReplicaState::Running)
                    .count();
                observed.replicas.insert(
                    status.service.as_str().to_owned(),
                    Replicas {
                        desired: status.desired,
                        ready: u32::try_from(ready).unwrap_or(u32::MAX),
                    },
                );
            }
        }
        Ok(impact::assess(&observed))
    }

    /// The error budgets (`[[incidents.slos]]`) of the incident's
    /// services and those they reach (the error ratio now, or halfway
    /// through a resolved incident), and their tasks failed since it was
    /// detected (until it was resolved), from the metrics (within
    /// [`SLO_BUDGET`]).
    async fn observe_slos(&self, incident: &Incident, observed: &mut Observed) {
        let Some(metrics) = self.metrics() else {
            return;
        };
        let slos = &self.config().config.incidents.slos;
        if slos.is_empty() {
            return;
        }
        let start = incident.detected_at.unwrap_or(incident.opened_at);
        let end = incident.resolved_at.unwrap_or_else(Utc::now);
        let window = format!("{}s", (end - start).num_seconds().max(60));
        let reach = impact::assess(observed);
        let concerned = |service: &str| {
            incident.services.contains(service) || reach.impacted.contains_key(service)
        };
        let mut exprs = BTreeSet::new();
        for slo in slos.iter().filter(|s| concerned(&s.service)) {
            exprs.insert(slo.error_ratio.clone());
            if let Some(failed) = &slo.failed {
                exprs.insert(failed.replace("$window", &window));
            }
        }
        let values = crate::evaluate::instant_values(
            metrics,
            exprs,
            // an open incident's burn is now's; a resolved one's, halfway
            // through it (at its end it is over)
            match incident.resolved_at {
                None => end.timestamp_millis(),
                Some(_) => (start + (end - start) / 2).timestamp_millis(),
            },
            SLO_BUDGET,
        )
        .await;
        for slo in slos.iter().filter(|s| concerned(&s.service)) {
            if let Some(ratio) = values
                .get(&slo.error_ratio)
                .and_then(crate::evaluate::number)
                && ratio.is_finite()
            {
                observed.budgets.insert(
                    slo.service.clone(),
                    impact::ErrorBudget {
                        error_ratio: ratio,
                        objective: slo.objective,
                    },
                );
            }
            if let Some(failed) = slo
                .failed
                .as_ref()
                .and_then(|f| values.get(&f.replace("$window", &window)))
                .and_then(crate::evaluate::number)
                && failed.is_finite()
            {
                observed.failed_tasks.insert(slo.service.clone(), failed);
            }
        }
    }

    /// The incident's postmortem in Markdown.
    pub async fn postmortem(&self, incident: &Incident) -> crate::Result<String> {
        let candidates = self.candidates(incident).await?;
        let timeline = self.timeline(incident).await?;
        let impact = self.impact(incident, true).await?;
        let mut impact_lines = impact.summary();
        if impact_lines.is_empty() {
            impact_lines.push(format!(
                "services affected: {}",
                incident
                    .services
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(postmortem::postmortem(&postmortem::Sources {
            incident,
            impact: &impact_lines,
            candidates: &candidates,
            timeline: &timeline,
            action_items: &incident.action_items,
        }))
    }
}

/// The timeline entry of a journal event, if it belongs on one.
fn entry(event: &Event, incident: &Incident) -> Option<TimelineEntry> {
    let kind = classify(&event.kind, event, incident)?;
    Some(TimelineEntry {
        at: event.time,
        kind,
        text: event.summary.clone(),
    })
}

fn classify(kind: &EventKind, event: &Event, incident: &Incident) -> Option<EntryKind> {
    let kind = kind.as_str();
    let mine = event.payload.get("incident").and_then(|i| i.as_str()) == Some(&incident.id);
    if let Some(kind) = IncidentEvent::parse(kind) {
        if !mine {
            return None;
        }
        return Some(match kind {
            IncidentEvent::Paged | IncidentEvent::PageFailed => {
                let level = event.payload["details"]["level"].as_u64().unwrap_or(1);
                if level > 1 {
                    EntryKind::Escalation
                } else {
                    EntryKind::Notification
                }
            }
            IncidentEvent::Note => EntryKind::Note,
            IncidentEvent::Step => EntryKind::Action,
            IncidentEvent::ActionItem => return None,
            _ => EntryKind::Status,
        });
    }
    if let Some(kind) = DeployEvent::parse(kind) {
        return matches!(
            kind,
            DeployEvent::Started
                | DeployEvent::Succeeded
                | DeployEvent::RolledBack
                | DeployEvent::Failed
                | DeployEvent::Aborted
        )
        .then_some(EntryKind::Change);
    }
    if let Some(kind) = MigrationEvent::parse(kind) {
        return matches!(
            kind,
            MigrationEvent::Applied
                | MigrationEvent::Failed
                | MigrationEvent::RolledBack
                | MigrationEvent::Undone
                | MigrationEvent::Restored
        )
        .then_some(EntryKind::Change);
    }
    if let Some(kind) = AlertEvent::parse(kind) {
        return matches!(kind, AlertEvent::Firing | AlertEvent::Resolved)
            .then_some(EntryKind::Alert);
    }
    match AlertManagerEvent::parse(kind)? {
        AlertManagerEvent::AlertFiring | AlertManagerEvent::AlertResolved => Some(EntryKind::Alert),
        AlertManagerEvent::NotificationSent | AlertManagerEvent::NotificationFailed => {
            Some(EntryKind::Notification)
        }
        _ => None,
    }
}
