//! The IncidentManager: alert groups become incidents by the opening
//! policy, the on-call people are paged by the escalation policy until
//! someone acknowledges, the response plan runs, and every change is
//! saved with its journal event.
//!
//! One engine owns every change: the public operations run as tasks of
//! the manager (a caller that stops waiting, an HTTP client that hangs
//! up, does not cut a change in half), and changes are serialized by one
//! lock held from loading an incident to saving it, so two changes never
//! overwrite each other. Nothing slow runs under the lock: pages and plan
//! steps are executed outside it and their outcomes saved afterwards.
//!
//! What it cannot do itself it asks of the traits the server implements:
//! [`Contacts`] sends pages (through the AlertManager's notifiers), a
//! [`Responder`] executes automated plan steps (through the
//! DeploymentManager's engine, the AlertManager's silences).
//!
//! After a crash ([`IncidentManager::recover`]): a step that was handed
//! out for execution when steward stopped is not run again (it may have
//! run): it is marked failed with that reason, for a person to retry or
//! skip; escalation of unacknowledged incidents starts again from the
//! first level.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use steward_core::{Actor, NewEvent};
use tokio::sync::watch;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    Error, Result, events,
    incident::{Action, Change, Incident, Severity},
    oncall::{EscalationPolicy, Page, Response},
    plan::{PlanRun, ResponsePlanSpec, StepAction},
    policy::{AlertGroupView, Decision, OpenPolicy},
    postmortem::{ActionItem, ActionKind, ActionStatus},
    store::IncidentStore,
};

/// How the manager decides and acts; replaced whole on a reload.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Which alert groups open incidents.
    pub policy: OpenPolicy,
    /// Who is paged, level after level (none: nobody is paged).
    pub escalation: Option<EscalationPolicy>,
    /// An acknowledgement not followed by a resolution within this long
    /// triggers the incident again.
    pub ack_timeout: Option<Duration>,
    /// Response plans; the first that applies to an incident is run.
    pub plans: Vec<ResponsePlanSpec>,
    /// Resolve an incident opened from alerts once none of its alert
    /// groups fires any more.
    pub auto_resolve: bool,
}

/// Sends pages to people.
#[async_trait::async_trait]
pub trait Contacts: Send + Sync + 'static {
    /// Pages `user` about `incident` (`page` says at which level): what
    /// was sent, or why nothing could be.
    async fn page(
        &self,
        user: &str,
        incident: &Incident,
        page: &Page,
    ) -> std::result::Result<String, String>;
}

/// Executes the automated steps of response plans.
#[async_trait::async_trait]
pub trait Responder: Send + Sync + 'static {
    /// Carries out `action` for `incident` and waits for its end: what
    /// came of it, or why it failed.
    async fn execute(
        &self,
        incident: &Incident,
        action: &StepAction,
    ) -> std::result::Result<String, String>;
}

/// An incident opened by a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    /// What is happening.
    pub title: String,
    /// How bad it is.
    pub severity: Severity,
    /// The services affected.
    pub services: BTreeSet<String>,
    /// Who leads the response.
    pub commander: Option<String>,
}

/// What a person does to a step of an incident's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepCommand {
    /// Approves the step waiting for approval.
    Approve,
    /// Runs the failed step again.
    Retry,
    /// Leaves it out.
    Skip,
    /// Ticks the checklist item.
    Done,
}

/// A change to an action item (a new one when `id` is none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionItemChange {
    /// The item changed; none to add one.
    pub id: Option<String>,
    /// What to do (required for a new item).
    pub title: Option<String>,
    /// What for (a new item: `prevent` by default).
    pub kind: Option<ActionKind>,
    /// Who does it.
    pub owner: Option<String>,
    /// Where it is.
    pub status: Option<ActionStatus>,
}

/// Wall-clock time read from tokio's clock, so that paused-time tests
/// move the incidents' times with the escalation's.
#[derive(Debug, Clone, Copy)]
struct Clock {
    wall: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl Clock {
    fn now(&self) -> DateTime<Utc> {
        self.wall + TimeDelta::from_std(self.origin.elapsed()).unwrap_or(TimeDelta::zero())
    }
}

/// The IncidentManager; cheap to clone (shared). Needs a tokio runtime.
#[derive(Clone)]
pub struct IncidentManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn IncidentStore>,
    contacts: Arc<dyn Contacts>,
    responder: Arc<dyn Responder>,
    settings: RwLock<Arc<Settings>>,
    /// Held from loading an incident to saving it.
    changes: tokio::sync::Mutex<()>,
    /// The running escalations, by incident: what they follow.
    escalations: Mutex<HashMap<String, watch::Sender<Response>>>,
    tasks: TaskTracker,
    stop: CancellationToken,
    clock: Clock,
}

impl std::fmt::Debug for IncidentManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentManager").finish_non_exhaustive()
    }
}

/// The most characters of a note or title kept.
pub const MAX_TEXT: usize = 4096;

impl IncidentManager {
    /// A manager over `store`, paging through `contacts` and executing
    /// plan steps with `responder`. Call [`recover`](Self::recover) once
    /// before handing it work.
    pub fn new(
        store: Arc<dyn IncidentStore>,
        contacts: Arc<dyn Contacts>,
        responder: Arc<dyn Responder>,
        settings: Settings,
    ) -> IncidentManager {
        IncidentManager {
            inner: Arc::new(Inner {
                store,
                contacts,
                responder,
                settings: RwLock::new(Arc::new(settings)),
                changes: tokio::sync::Mutex::new(()),
                escalations: Mutex::default(),
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
                clock: Clock {
                    wall: Utc::now(),
                    origin: tokio::time::Instant::now(),
                },
            }),
        }
    }

    /// The time it is.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the settings (a reload); running escalations keep the
    /// policy they started with.
    pub fn set_settings(&self, settings: Settings) {
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    /// Runs `work` as the manager's own task and waits for it: dropping
    /// the returned future does not stop it.
    async fn owned<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        if self.inner.stop.is_cancelled() {
            return Err(Error::Stopped);
        }
        self.inner
            .tasks
            .spawn(work)
            .await
            .map_err(|join| Error::Store(format!("incident task failed: {join}")))?
    }

    /// Picks up after a restart: steps that were executing are failed
    /// (their outcome is unknown, and they must not run twice), open
    /// incidents' escalations start again, plans go on.
    pub async fn recover(&self) -> Result<()> {
        let this = self.clone();
        self.owned(async move {
            let open = this.inner.store.list(true, 1000).await?;
            for mut incident in open {
                let now = this.now();
                let mut events = Vec::new();
                if let Some(run) = incident.plan.as_mut() {
                    let running: Vec<usize> = run
                        .steps
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| {
                            matches!(s.state, crate::plan::StepState::Running { .. })
                                && !s.spec.action.is_manual()
                        })
                        .map(|(i, _)| i)
                        .collect();
                    let mut lines = Vec::new();
                    for index in running {
                        lines.push((
                            index,
                            run.record(
                                index,
                                Err("steward stopped while it ran: its outcome is unknown; \
                                     retry or skip it"
                                    .to_owned()),
                                now,
                            )?,
                        ));
                    }
                    for (index, line) in lines {
                        events.push(events::step(&incident, &Actor::system(), index, &line));
                    }
                }
                if !events.is_empty() {
                    let _guard = this.inner.changes.lock().await;
                    this.inner.store.save(&incident, events).await?;
                }
                this.follow(&incident, this.now());
                this.drive(&incident.id);
            }
            Ok(())
        })
        .await
    }

    /// Stops paging and executing; waits for the tasks under way (a step
    /// being executed has its outcome saved).
    pub async fn stop(&self) {
        self.inner.stop.cancel();
        self.inner
            .escalations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// One incident.
    pub async fn get(&self, id: &str) -> Result<Option<Incident>> {
        self.inner.store.get(id).await
    }

    /// Incidents newest first.
    pub async fn list(&self, open_only: bool, limit: u32) -> Result<Vec<Incident>> {
        self.inner.store.list(open_only, limit).await
    }

    /// A flush of an alert group worth an incident (its firing alerts;
    /// none when it resolved): opens an incident, attaches the group to
    /// one, or notes that it resolved. Returns the incident's id, if
    /// any.
    pub async fn alert_group(&self, group: AlertGroupView) -> Result<Option<String>> {
        let this = self.clone();
        self.owned(async move { this.alert_group_owned(group).await })
            .await
    }

    async fn alert_group_owned(&self, group: AlertGroupView) -> Result<Option<String>> {
        let settings = self.settings();
        let guard = self.inner.changes.lock().await;
        let now = self.now();
        let actor = Actor::system();
        if group.alerts.is_empty() {
            // resolved: the incident it belongs to may be over
            let Some(mut incident) = self.open_with_group(&group.key).await? else {
                return Ok(None);
            };
            let mut events: Vec<NewEvent> = Vec::new();
            let change = incident.apply(Action::AlertGroupResolved(group.key.clone()), now)?;
            events.extend(events::changed(&incident, &change, &actor));
            if settings.auto_resolve && incident.firing_groups.is_empty() {
                let change = incident.apply(Action::Resolve, now)?;
                events.extend(events::changed(&incident, &change, &actor));
            }
            if !events.is_empty() {
                self.inner.store.save(&incident, events).await?;
            }
            drop(guard);
            self.follow(&incident, now);
            return Ok(Some(incident.id));
        }
        let open = self.inner.store.list(true, 1000).await?;
        let names: BTreeSet<String> = group
            .alerts
            .iter()
            .filter_map(|a| a.labels.get("alertname").cloned())
            .collect();
        match settings.policy.decide(&group, &open) {
            Decision::Ignore(why) => {
                tracing::debug!(group = %group.key, reason = %why, "alert group opens no incident");
                Ok(None)
            }
            Decision::Attach {
                incident,
                services,
                raise_to,
            } => {
                let Some(mut incident) = open.into_iter().find(|i| i.id == incident) else {
                    return Ok(None);
                };
                let mut events = Vec::new();
                let change = incident.apply(
                    Action::AttachAlertGroup {
                        key: group.key.clone(),
                        services,
                        names,
                    },
                    now,
                )?;
                events.extend(events::changed(&incident, &change, &actor));
                if let Some(severity) = raise_to {
                    let change = incident.apply(Action::SetSeverity(severity), now)?;
                    events.extend(events::changed(&incident, &change, &actor));
                }
                if incident.plan.is_none()
                    && let Some(plan) = plan_for(&settings.plans, &incident)
                {
                    incident.plan = Some(PlanRun::new(plan));
                }
                if !events.is_empty() {
                    self.inner.store.save(&incident, events).await?;
                }
                drop(guard);
                self.drive(&incident.id);
                Ok(Some(incident.id))
            }
            Decision::Open {
                title,
                severity,
                services,
                dedup_key,
                detected_at,
            } => {
                let mut incident = Incident::open(new_incident_id(), title, severity, now);
                incident.dedup_key = Some(dedup_key);
                incident.detected_at = Some(detected_at);
                incident.apply(
                    Action::AttachAlertGroup {
                        key: group.key.clone(),
                        services,
                        names,
                    },
                    now,
                )?;
                incident.plan = plan_for(&settings.plans, &incident).map(PlanRun::new);
                self.inner
                    .store
                    .save(&incident, vec![events::opened(&incident, &actor)])
                    .await?;
                drop(guard);
                tracing::info!(incident = %incident.id, severity = %incident.severity, title = %incident.title, "incident opened");
                self.follow(&incident, now);
                self.drive(&incident.id);
                Ok(Some(incident.id))
            }
        }
    }

    async fn open_with_group(&self, key: &str) -> Result<Option<Incident>> {
        if let Some(incident) = self.inner.store.open_with_dedup_key(key).await? {
            return Ok(Some(incident));
        }
        Ok(self
            .inner
            .store
            .list(true, 1000)
            .await?
            .into_iter()
            .find(|i| i.alert_groups.contains(key)))
    }

    /// Opens an incident by hand.
    pub async fn open(&self, request: OpenRequest, actor: Actor) -> Result<Incident> {
        let title = request.title.trim().to_owned();
        if title.is_empty() {
            return Err(Error::InvalidInput("an incident needs a title".into()));
        }
        if title.chars().count() > MAX_TEXT {
            return Err(Error::InvalidInput(format!(
                "the title is longer than {MAX_TEXT} characters"
            )));
        }
        let this = self.clone();
        self.owned(async move {
            let settings = this.settings();
            let guard = this.inner.changes.lock().await;
            let now = this.now();
            let mut incident = Incident::open(new_incident_id(), title, request.severity, now);
            incident.services = request.services;
            incident.commander = request.commander;
            incident.plan = plan_for(&settings.plans, &incident).map(PlanRun::new);
            this.inner
                .store
                .save(&incident, vec![events::opened(&incident, &actor)])
                .await?;
            drop(guard);
            this.follow(&incident, now);
            this.drive(&incident.id);
            Ok(incident)
        })
        .await
    }

    /// Applies `action` to incident `id` by `actor`.
    pub async fn act(&self, id: &str, action: Action, actor: Actor) -> Result<Incident> {
        let (this, id) = (self.clone(), id.to_owned());
        self.owned(async move {
            let guard = this.inner.changes.lock().await;
            let now = this.now();
            let mut incident = this.load(&id).await?;
            let settings = this.settings();
            let change = incident.apply(action, now)?;
            if let Some(event) = events::changed(&incident, &change, &actor) {
                if incident.plan.is_none()
                    && incident.is_open()
                    && let Some(plan) = plan_for(&settings.plans, &incident)
                {
                    incident.plan = Some(PlanRun::new(plan));
                }
                this.inner.store.save(&incident, vec![event]).await?;
            }
            drop(guard);
            if let Change::Status { .. } = change {
                this.follow(&incident, now);
            }
            this.drive(&incident.id);
            Ok(incident)
        })
        .await
    }

    /// A note on incident `id`.
    pub async fn note(&self, id: &str, text: &str, actor: Actor) -> Result<()> {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(Error::InvalidInput("a note needs text".into()));
        }
        if text.chars().count() > MAX_TEXT {
            return Err(Error::InvalidInput(format!(
                "the note is longer than {MAX_TEXT} characters"
            )));
        }
        let (this, id) = (self.clone(), id.to_owned());
        self.owned(async move {
            let _guard = this.inner.changes.lock().await;
            let incident = this.load(&id).await?;
            let event = events::note(&incident, &actor, &text);
            this.inner.store.save(&incident, vec![event]).await
        })
        .await
    }

    /// A person's `command` on step `step` (1 first) of incident `id`'s
    /// plan.
    pub async fn step(
        &self,
        id: &str,
        step: usize,
        command: StepCommand,
        actor: Actor,
    ) -> Result<Incident> {
        let index = step
            .checked_sub(1)
            .ok_or_else(|| Error::InvalidInput("steps are numbered from 1".into()))?;
        let (this, id) = (self.clone(), id.to_owned());
        self.owned(async move {
            let guard = this.inner.changes.lock().await;
            let now = this.now();
            let mut incident = this.load(&id).await?;
            if !incident.is_open() {
                return Err(Error::InvalidTransition(format!(
                    "incident {id} is resolved: its plan does not run any more"
                )));
            }
            let Some(run) = incident.plan.as_mut() else {
                return Err(Error::NotFound(format!(
                    "incident {id} has no response plan"
                )));
            };
            let by = actor.as_str();
            let line = match command {
                StepCommand::Approve => run.approve(index, by)?,
                StepCommand::Retry => run.retry(index, by)?,
                StepCommand::Skip => run.skip(index, by)?,
                StepCommand::Done => run.tick(index, by, now)?,
            };
            let event = events::step(&incident, &actor, index, &line);
            this.inner.store.save(&incident, vec![event]).await?;
            drop(guard);
            this.drive(&id);
            Ok(incident)
        })
        .await
    }

    /// Adds or changes an action item of incident `id`.
    pub async fn action_item(
        &self,
        id: &str,
        change: ActionItemChange,
        actor: Actor,
    ) -> Result<ActionItem> {
        if let Some(title) = &change.title
            && (title.trim().is_empty() || title.chars().count() > MAX_TEXT)
        {
            return Err(Error::InvalidInput(format!(
                "an action item's title is 1 to {MAX_TEXT} characters"
            )));
        }
        let (this, id) = (self.clone(), id.to_owned());
        self.owned(async move {
            let _guard = this.inner.changes.lock().await;
            let mut incident = this.load(&id).await?;
            let (item, added) = match &change.id {
                None => {
                    let title = change.title.clone().ok_or_else(|| {
                        Error::InvalidInput("a new action item needs a title".into())
                    })?;
                    let item = ActionItem {
                        id: format!("{}-{}", incident.id, incident.action_items.len() + 1),
                        title: title.trim().to_owned(),
                        kind: change.kind.unwrap_or(ActionKind::Prevent),
                        owner: change.owner.clone(),
                        status: change.status.unwrap_or(ActionStatus::Open),
                    };
                    incident.action_items.push(item.clone());
                    (item, true)
                }
                Some(item_id) => {
                    let item = incident
                        .action_items
                        .iter_mut()
                        .find(|i| &i.id == item_id)
                        .ok_or_else(|| {
                            Error::NotFound(format!("incident {id} has no action item {item_id}"))
                        })?;
                    if let Some(title) = &change.title {
                        item.title = title.trim().to_owned();
                    }
                    if let Some(kind) = change.kind {
                        item.kind = kind;
                    }
                    if let Some(owner) = &change.owner {
                        item.owner = Some(owner.clone());
                    }
                    if let Some(status) = change.status {
                        item.status = status;
                    }
                    (item.clone(), false)
                }
            };
            let event = events::action_item(&incident, &actor, &item, added);
            this.inner.store.save(&incident, vec![event]).await?;
            Ok(item)
        })
        .await
    }

    async fn load(&self, id: &str) -> Result<Incident> {
        self.inner
            .store
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no incident {id}")))
    }
}

/// The first plan that applies to `incident`.
fn plan_for<'a>(
    plans: &'a [ResponsePlanSpec],
    incident: &Incident,
) -> Option<&'a ResponsePlanSpec> {
    plans.iter().find(|plan| {
        plan.applies(
            incident.services.iter().map(String::as_str),
            incident.alert_names.iter().map(String::as_str),
        )
    })
}

/// A new incident id: `inc-` and 8 hexadecimal digits.
fn new_incident_id() -> String {
    format!("inc-{:08x}", rand::random::<u32>())
}

mod escalation;
mod steps;

pub use steps::describe;

#[cfg(test)]
mod tests;
