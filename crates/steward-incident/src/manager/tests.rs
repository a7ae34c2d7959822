//! Tests of the IncidentManager on tokio's paused clock, over an
//! in-memory store and recording fakes of the pager's contacts and the
//! plan's responder (the server's end-to-end tests run the real ones):
//! an alert group opens an incident with the policy's severity, level 1
//! is paged and level 2 after the delay, the plan's rollback runs once,
//! the group's resolution resolves the incident; acknowledgements stop
//! paging and their timeout starts it again; approvals, failures and
//! retries; a restart does not run a step twice.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use steward_core::{Actor, NewEvent};

use super::*;
use crate::{
    events::IncidentEvent,
    incident::Status,
    oncall::{EscalationPolicySpec, LevelSpec},
    plan::{StepSpec, StepState},
    policy::AlertView,
};

/// Incidents and journal in memory.
#[derive(Default)]
struct MemoryStore {
    incidents: Mutex<BTreeMap<String, Incident>>,
    events: Mutex<Vec<NewEvent>>,
}

impl MemoryStore {
    fn kinds(&self) -> Vec<String> {
        self.events
            .lock()
            .expect("events")
            .iter()
            .map(|e| e.kind.to_string())
            .collect()
    }

    fn count(&self, kind: IncidentEvent) -> usize {
        self.kinds().iter().filter(|k| *k == kind.as_str()).count()
    }
}

#[async_trait::async_trait]
impl IncidentStore for MemoryStore {
    async fn save(&self, incident: &Incident, events: Vec<NewEvent>) -> Result<()> {
        self.incidents
            .lock()
            .expect("incidents")
            .insert(incident.id.clone(), incident.clone());
        self.events.lock().expect("events").extend(events);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>> {
        Ok(self.incidents.lock().expect("incidents").get(id).cloned())
    }

    async fn list(&self, open_only: bool, limit: u32) -> Result<Vec<Incident>> {
        let mut all: Vec<Incident> = self
            .incidents
            .lock()
            .expect("incidents")
            .values()
            .filter(|i| !open_only || i.is_open())
            .cloned()
            .collect();
        all.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
        all.truncate(limit as usize);
        Ok(all)
    }

    async fn open_with_dedup_key(&self, key: &str) -> Result<Option<Incident>> {
        Ok(self
            .incidents
            .lock()
            .expect("incidents")
            .values()
            .find(|i| i.is_open() && i.dedup_key.as_deref() == Some(key))
            .cloned())
    }
}

/// Records each page: (user, level from 1, when).
#[derive(Default)]
struct Recorded {
    pages: Mutex<Vec<(String, usize, DateTime<Utc>)>>,
}

#[async_trait::async_trait]
impl Contacts for Recorded {
    async fn page(
        &self,
        user: &str,
        _incident: &Incident,
        page: &Page,
    ) -> std::result::Result<String, String> {
        self.pages
            .lock()
            .expect("pages")
            .push((user.to_owned(), page.level + 1, page.at));
        Ok(format!("webhook to {user}"))
    }
}

/// Executes steps by recording them; fails the first `failures` ones.
#[derive(Default)]
struct Executed {
    actions: Mutex<Vec<StepAction>>,
    failures: Mutex<u32>,
}

#[async_trait::async_trait]
impl Responder for Executed {
    async fn execute(
        &self,
        _incident: &Incident,
        action: &StepAction,
    ) -> std::result::Result<String, String> {
        // a step takes time, as a rollback does
        tokio::time::sleep(Duration::from_secs(20)).await;
        self.actions.lock().expect("actions").push(action.clone());
        let mut failures = self.failures.lock().expect("failures");
        if *failures > 0 {
            *failures -= 1;
            return Err("the deployment failed".into());
        }
        Ok(format!("{} done", describe(action)))
    }
}

fn policy() -> EscalationPolicy {
    let level = |user: &str, delay: &str| LevelSpec {
        users: vec![user.to_owned()],
        schedules: Vec::new(),
        delay: delay.parse().expect("duration"),
    };
    EscalationPolicy::new(
        &EscalationPolicySpec {
            name: "default".into(),
            levels: vec![level("ana", "5m"), level("bo", "10m")],
            repeat: 0,
        },
        &BTreeMap::new(),
    )
    .expect("policy")
}

fn rollback_plan(requires_approval: bool) -> ResponsePlanSpec {
    ResponsePlanSpec {
        name: "agent".into(),
        services: vec!["agent".into()],
        alerts: Vec::new(),
        steps: vec![
            StepSpec {
                action: StepAction::Rollback {
                    service: "agent".into(),
                },
                requires_approval,
            },
            StepSpec {
                action: StepAction::Manual {
                    text: "check the dashboards".into(),
                },
                requires_approval: false,
            },
        ],
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    contacts: Arc<Recorded>,
    responder: Arc<Executed>,
    manager: IncidentManager,
}

fn fixture(settings: Settings) -> Fixture {
    let store = Arc::new(MemoryStore::default());
    let contacts = Arc::new(Recorded::default());
    let responder = Arc::new(Executed::default());
    let manager =
        IncidentManager::new(store.clone(), contacts.clone(), responder.clone(), settings);
    Fixture {
        store,
        contacts,
        responder,
        manager,
    }
}

fn settings(plan: Option<ResponsePlanSpec>) -> Settings {
    Settings {
        policy: OpenPolicy::default(),
        escalation: Some(policy()),
        ack_timeout: Some(Duration::from_secs(30 * 60)),
        plans: plan.into_iter().collect(),
        auto_resolve: true,
    }
}

fn group(key: &str, service: &str, severity: &str, starts_at: DateTime<Utc>) -> AlertGroupView {
    AlertGroupView {
        key: key.into(),
        alerts: vec![AlertView {
            labels: BTreeMap::from([
                ("alertname".to_owned(), "ErrorRatioHigh".to_owned()),
                ("service".to_owned(), service.to_owned()),
                ("severity".to_owned(), severity.to_owned()),
            ]),
            starts_at,
        }],
    }
}

fn resolved(key: &str) -> AlertGroupView {
    AlertGroupView {
        key: key.into(),
        alerts: Vec::new(),
    }
}

/// Lets the manager's tasks run `secs` of paused time.
async fn advance(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn an_alert_group_opens_an_incident_pages_escalates_rolls_back_and_resolves() {
    let f = fixture(settings(Some(rollback_plan(false))));
    let start = f.manager.now();
    let id = f
        .manager
        .alert_group(group("g1", "agent", "critical", start))
        .await
        .expect("hand-off")
        .expect("an incident");
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert_eq!(incident.severity, Severity::Sev1, "critical is SEV1");
    assert_eq!(incident.status, Status::Triggered);
    assert_eq!(incident.title, "ErrorRatioHigh on agent");
    assert_eq!(incident.detected_at, Some(start));
    assert_eq!(
        incident.plan.as_ref().map(|p| p.plan.as_str()),
        Some("agent")
    );

    // level 1 at once, the rollback started
    advance(1).await;
    let pages = f.contacts.pages.lock().expect("pages").clone();
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!((pages[0].0.as_str(), pages[0].1), ("ana", 1));

    // the same group flushed again: the same incident, nothing new
    let again = f
        .manager
        .alert_group(group("g1", "agent", "critical", start))
        .await
        .expect("hand-off");
    assert_eq!(again.as_deref(), Some(id.as_str()));
    assert_eq!(f.store.count(IncidentEvent::Opened), 1);

    // nobody acknowledges: level 2 after level 1's 5 minutes
    advance(5 * 60).await;
    let pages = f.contacts.pages.lock().expect("pages").clone();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!((pages[1].0.as_str(), pages[1].1), ("bo", 2));
    assert_eq!(pages[1].2 - pages[0].2, TimeDelta::minutes(5));
    assert_eq!(f.store.count(IncidentEvent::Paged), 2);

    // the rollback ran once and succeeded; the checklist item waits
    let actions = f.responder.actions.lock().expect("actions").clone();
    assert_eq!(
        actions,
        vec![StepAction::Rollback {
            service: "agent".into()
        }]
    );
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    let run = incident.plan.expect("plan");
    assert!(matches!(run.steps[0].state, StepState::Succeeded { .. }));
    assert!(matches!(run.steps[1].state, StepState::Running { .. }));
    assert_eq!(run.steps[0].attempts, 1);

    // the group resolves: so does the incident, and paging is over
    f.manager
        .alert_group(resolved("g1"))
        .await
        .expect("hand-off");
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert_eq!(incident.status, Status::Resolved);
    assert!(incident.firing_groups.is_empty());
    advance(3600).await;
    assert_eq!(f.contacts.pages.lock().expect("pages").len(), 2);
    assert_eq!(f.store.count(IncidentEvent::Resolved), 1);
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn groups_below_the_threshold_open_nothing_and_later_groups_join_and_raise() {
    let f = fixture(settings(None));
    let now = f.manager.now();
    assert_eq!(
        f.manager
            .alert_group(group("w", "agent", "warning", now))
            .await
            .expect("hand-off"),
        None,
        "SEV3 is below the default SEV2 threshold"
    );
    let id = f
        .manager
        .alert_group(group("e", "agent", "error", now))
        .await
        .expect("hand-off")
        .expect("incident");
    // a critical group on the same service joins it and raises it
    let joined = f
        .manager
        .alert_group(group("c", "agent", "critical", now))
        .await
        .expect("hand-off");
    assert_eq!(joined.as_deref(), Some(id.as_str()));
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert_eq!(incident.severity, Severity::Sev1);
    assert_eq!(incident.alert_groups.len(), 2);
    // one of two groups resolving does not resolve the incident
    f.manager
        .alert_group(resolved("e"))
        .await
        .expect("hand-off");
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert_eq!(incident.status, Status::Triggered);
    f.manager
        .alert_group(resolved("c"))
        .await
        .expect("hand-off");
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert_eq!(incident.status, Status::Resolved);
    assert_eq!(f.store.count(IncidentEvent::SeverityChanged), 1);
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_acknowledgement_stops_paging_until_it_times_out() {
    let f = fixture(settings(None));
    let incident = f
        .manager
        .open(
            OpenRequest {
                title: "checkout is slow".into(),
                severity: Severity::Sev2,
                services: BTreeSet::from(["agent".to_owned()]),
                commander: None,
            },
            Actor::system(),
        )
        .await
        .expect("open");
    advance(60).await;
    f.manager
        .act(&incident.id, Action::Acknowledge, Actor::system())
        .await
        .expect("ack");
    // level 2 would have been paged at 5 minutes
    advance(20 * 60).await;
    assert_eq!(f.contacts.pages.lock().expect("pages").len(), 1);
    // 30 minutes after the acknowledgement: triggered again, level 1 paged
    advance(11 * 60).await;
    let pages = f.contacts.pages.lock().expect("pages").clone();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[1].1, 1, "paging starts over from level 1");
    let now = f
        .manager
        .get(&incident.id)
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(now.status, Status::Triggered);
    assert_eq!(f.store.count(IncidentEvent::Unacknowledged), 1);
    // acknowledged again, then mitigated: no more pages
    f.manager
        .act(&incident.id, Action::Acknowledge, Actor::system())
        .await
        .expect("ack");
    f.manager
        .act(&incident.id, Action::Mitigate, Actor::system())
        .await
        .expect("mitigate");
    advance(3 * 3600).await;
    assert_eq!(f.contacts.pages.lock().expect("pages").len(), 2);
    // notes go to the journal, bounded
    f.manager
        .note(&incident.id, "rolled back by hand", Actor::system())
        .await
        .expect("note");
    assert!(
        f.manager
            .note(&incident.id, &"x".repeat(MAX_TEXT + 1), Actor::system())
            .await
            .is_err()
    );
    assert_eq!(f.store.count(IncidentEvent::Note), 1);
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn steps_wait_for_approval_and_failed_steps_for_a_retry() {
    let f = fixture(settings(Some(rollback_plan(true))));
    *f.responder.failures.lock().expect("failures") = 1;
    let id = f
        .manager
        .alert_group(group("g", "agent", "critical", f.manager.now()))
        .await
        .expect("hand-off")
        .expect("incident");
    advance(60).await;
    assert!(f.responder.actions.lock().expect("actions").is_empty());
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert_eq!(
        incident.plan.expect("plan").steps[0].state,
        StepState::AwaitingApproval
    );
    // the second step cannot be ticked before the first is done
    assert!(
        f.manager
            .step(&id, 2, StepCommand::Done, Actor::system())
            .await
            .is_err()
    );
    f.manager
        .step(&id, 1, StepCommand::Approve, Actor::system())
        .await
        .expect("approve");
    advance(60).await;
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    assert!(matches!(
        incident.plan.expect("plan").steps[0].state,
        StepState::Failed { .. }
    ));
    // a failed step is not run again by itself
    advance(600).await;
    assert_eq!(f.responder.actions.lock().expect("actions").len(), 1);
    f.manager
        .step(&id, 1, StepCommand::Retry, Actor::system())
        .await
        .expect("retry");
    advance(60).await;
    assert_eq!(f.responder.actions.lock().expect("actions").len(), 2);
    f.manager
        .step(&id, 2, StepCommand::Done, Actor::system())
        .await
        .expect("tick");
    let incident = f.manager.get(&id).await.expect("get").expect("saved");
    let run = incident.plan.expect("plan");
    assert_eq!(run.steps[0].attempts, 2);
    assert!(
        run.steps
            .iter()
            .all(|s| matches!(s.state, StepState::Succeeded { .. }))
    );
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_step_running_when_steward_stopped_is_not_run_again() {
    let f = fixture(settings(Some(rollback_plan(false))));
    let id = f
        .manager
        .alert_group(group("g", "agent", "critical", f.manager.now()))
        .await
        .expect("hand-off")
        .expect("incident");
    advance(1).await;
    // steward "crashes" while the rollback runs: a new manager over the
    // same store
    let store = f.store.clone();
    let contacts = Arc::new(Recorded::default());
    let responder = Arc::new(Executed::default());
    let again = IncidentManager::new(
        store.clone(),
        contacts.clone(),
        responder.clone(),
        settings(Some(rollback_plan(false))),
    );
    again.recover().await.expect("recover");
    advance(120).await;
    assert!(
        responder.actions.lock().expect("actions").is_empty(),
        "the interrupted rollback is not run again"
    );
    let incident = again.get(&id).await.expect("get").expect("saved");
    let StepState::Failed { error, .. } = &incident.plan.expect("plan").steps[0].state else {
        panic!("the interrupted step is failed");
    };
    assert!(error.contains("outcome is unknown"), "{error}");
    // escalation started again from level 1
    assert_eq!(contacts.pages.lock().expect("pages").len(), 1);
    again.stop().await;
    f.manager.stop().await;
}

#[tokio::test(start_paused = true)]
async fn action_items_are_added_and_changed() {
    let f = fixture(settings(None));
    let incident = f
        .manager
        .open(
            OpenRequest {
                title: "queue backlog".into(),
                severity: Severity::Sev3,
                services: BTreeSet::new(),
                commander: Some("ana".into()),
            },
            Actor::system(),
        )
        .await
        .expect("open");
    let item = f
        .manager
        .action_item(
            &incident.id,
            ActionItemChange {
                title: Some("alert on queue depth".into()),
                ..ActionItemChange::default()
            },
            Actor::system(),
        )
        .await
        .expect("add");
    assert_eq!(item.kind, ActionKind::Prevent);
    assert_eq!(item.status, ActionStatus::Open);
    let item = f
        .manager
        .action_item(
            &incident.id,
            ActionItemChange {
                id: Some(item.id.clone()),
                owner: Some("bo".into()),
                status: Some(ActionStatus::Done),
                ..ActionItemChange::default()
            },
            Actor::system(),
        )
        .await
        .expect("change");
    assert_eq!(item.owner.as_deref(), Some("bo"));
    let err = f
        .manager
        .action_item(
            &incident.id,
            ActionItemChange {
                id: Some("nope".into()),
                ..ActionItemChange::default()
            },
            Actor::system(),
        )
        .await
        .expect_err("unknown item");
    assert!(err.to_string().contains("no action item nope"), "{err}");
    let saved = f
        .manager
        .get(&incident.id)
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(saved.action_items, vec![item]);
    assert_eq!(f.store.count(IncidentEvent::ActionItem), 2);
    f.manager.stop().await;
}
