//! The step engine's paths that real processes make slow or racy: a
//! cancel at each gate and during each acting step, a state store that
//! fails for longer than the deployment's patience, a panicking step,
//! and the deploy lock waited for or not long enough.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use steward_deploy::{
    DeployEvent, DeploymentStatus, MetricGate, ServiceSpec, StepStatus,
    testing::{Behaviour, MemoryStore, Transition},
};
use steward_test_support::wait_until;
use tokio::time::Instant;

use super::{Agent, PATIENCE, Paused, acting};

/// Everything a deployment stopped at a gate must leave as it was.
fn assert_aborted_untouched(paused: &Paused, deployment: &steward_deploy::Deployment) {
    assert_eq!(deployment.status, DeploymentStatus::Aborted);
    assert_eq!(deployment.error.as_deref(), Some("cancelled"));
    assert!(
        acting(deployment)
            .iter()
            .all(|(_, status)| *status == StepStatus::Skipped),
        "{:?}",
        deployment.plan.steps
    );
    assert!(paused.store.holder().is_none(), "the deploy lock is free");
    assert!(
        paused
            .backend
            .history()
            .iter()
            .all(|change| change.version.as_str() == "1.0.0"),
        "nothing of the new version started"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancel_at_any_gate_aborts_before_anything_acts() {
    // deploy_lock: waiting for another deployment's lock.
    let paused = Paused::new();
    let config = paused.config(&Agent::new(2));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    paused
        .backend
        .set_version("1.1.0", Behaviour::healthy().never_ready());
    let holder = paused
        .start(&config, paused.request(&config, "1.1.0"))
        .await;
    paused
        .until_step(&holder, "update_services:agent", StepStatus::Running)
        .await;
    let mut request = paused.request(&config, "1.0.0");
    request.wait_lock = PATIENCE;
    let waiting = paused.start(&config, request).await;
    wait_until("it says whose lock it waits for", PATIENCE, async || {
        paused
            .store
            .kinds_of(&waiting)
            .contains(&DeployEvent::LockWaiting.as_str().to_owned())
    })
    .await;
    paused.manager.cancel(&waiting).expect("runs here");
    let waiting = paused.manager.wait(&waiting).await.expect("ends");
    assert_eq!(waiting.status, DeploymentStatus::Aborted);
    assert_eq!(waiting.error.as_deref(), Some("cancelled"));
    assert_eq!(waiting.plan.steps[0].status, StepStatus::Failed);
    paused.manager.cancel(&holder).expect("runs here");
    let holder = paused.manager.wait(&holder).await.expect("ends");
    assert_eq!(holder.status, DeploymentStatus::RolledBack);
    assert!(paused.store.holder().is_none());

    // pre_checks: a backend that takes its time to answer.
    let paused = Paused::new();
    let config = paused.config(&Agent::new(2));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    paused.backend.set_ping_delay(PATIENCE);
    let id = paused
        .start(&config, paused.request(&config, "1.1.0"))
        .await;
    paused
        .until_step(&id, "pre_checks", StepStatus::Running)
        .await;
    paused.manager.cancel(&id).expect("runs here");
    let done = paused.manager.wait(&id).await.expect("ends");
    assert_aborted_untouched(&paused, &done);

    // hook:pre_deploy: a hook that runs for a minute (a real process,
    // killed by the cancel).
    let paused = Paused::new();
    let mut agent = Agent::new(2);
    let config = paused.config(&agent);
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    agent.extra = "[deploy.hooks]\npre_deploy = [\"sleep\", \"60\"]\n".to_owned();
    let hooked = paused.config(&agent);
    let id = paused
        .start(&hooked, paused.request(&hooked, "1.1.0"))
        .await;
    paused
        .until_step(&id, "hook:pre_deploy", StepStatus::Running)
        .await;
    paused.manager.cancel(&id).expect("runs here");
    let done = paused.manager.wait(&id).await.expect("ends");
    assert_aborted_untouched(&paused, &done);
}

#[tokio::test(start_paused = true)]
async fn a_cancel_during_an_acting_step_rolls_back() {
    // update_services: the new version is not ready yet.
    let paused = Paused::new();
    let config = paused.config(&Agent::new(2));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let old = paused.in_proxy();
    paused
        .backend
        .set_version("2.0.0", Behaviour::healthy().ready_after(PATIENCE));
    let id = paused
        .start(&config, paused.request(&config, "2.0.0"))
        .await;
    wait_until("a new replica starts", PATIENCE, async || {
        paused.versions().contains(&"2.0.0".to_owned())
    })
    .await;
    paused.manager.cancel(&id).expect("runs here");
    let done = paused.manager.wait(&id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::RolledBack);
    assert_eq!(
        done.error.as_deref(),
        Some("update_services:agent failed: cancelled")
    );
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
    assert_eq!(paused.in_proxy(), old);
    assert!(paused.store.holder().is_none());

    // verify_health: during the verify window, after every old replica
    // was replaced.
    let paused = Paused::new();
    let mut agent = Agent::new(2);
    agent.verify_window = "1h";
    let config = paused.config(&agent);
    let first = paused
        .start(&config, paused.request(&config, "1.0.0"))
        .await;
    paused
        .until_step(&first, "verify_health", StepStatus::Running)
        .await;
    // Let the first deployment finish: cancel nothing yet.
    let first = paused.manager.wait(&first).await.expect("ends");
    assert_eq!(first.status, DeploymentStatus::Succeeded);
    let id = paused
        .start(&config, paused.request(&config, "2.0.0"))
        .await;
    paused
        .until_step(&id, "verify_health", StepStatus::Running)
        .await;
    assert_eq!(paused.versions(), ["2.0.0"; 2], "every replica replaced");
    paused.manager.cancel(&id).expect("runs here");
    let done = paused.manager.wait(&id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::RolledBack);
    assert_eq!(
        done.error.as_deref(),
        Some("verify_health failed: cancelled")
    );
    assert_eq!(
        acting(&done),
        [
            ("update_services:agent".to_owned(), StepStatus::RolledBack),
            ("verify_health".to_owned(), StepStatus::RolledBack)
        ]
    );
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
    assert!(paused.store.holder().is_none());
}

/// A gate that takes the store's writes down for `outage` when a version
/// ending in `-outage` is verified, noting when.
struct OutageGate {
    store: MemoryStore,
    outage: Duration,
    began: Mutex<Option<Instant>>,
}

#[async_trait]
impl MetricGate for OutageGate {
    fn name(&self) -> String {
        "store outage".to_owned()
    }

    async fn check(&self, spec: &ServiceSpec, _since: DateTime<Utc>) -> Result<(), String> {
        if spec.version.as_str().ends_with("-outage") {
            *self.began.lock().unwrap() = Some(Instant::now());
            self.store.fail_writes(true);
            let store = self.store.clone();
            let outage = self.outage;
            tokio::spawn(async move {
                tokio::time::sleep(outage).await;
                store.fail_writes(false);
            });
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_outage_rolls_back_after_the_patience_and_the_end_waits_for_the_store() {
    let paused = Paused::with_patience(Duration::from_secs(5));
    let gate = Arc::new(OutageGate {
        store: paused.store.clone(),
        outage: Duration::from_secs(120),
        began: Mutex::new(None),
    });
    paused.manager.add_gate(gate.clone());
    let config = paused.config(&Agent::new(2));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let id = paused
        .start(&config, paused.request(&config, "1.1.0-outage"))
        .await;
    let done = paused.manager.wait(&id).await.expect("ends");
    let began = gate.began.lock().unwrap().expect("the outage happened");
    assert!(
        !paused.store.writes_failing(),
        "ended once the store was back"
    );
    assert!(
        began.elapsed() >= Duration::from_secs(120),
        "the final save waited for the store"
    );
    assert_eq!(
        done.status,
        DeploymentStatus::RolledBack,
        "{:?}",
        done.error
    );
    assert_eq!(
        done.error.as_deref(),
        Some(
            "verify_health succeeded but cannot be recorded in the state database: state database: disk full"
        )
    );
    assert_eq!(
        acting(&done)[0],
        ("update_services:agent".to_owned(), StepStatus::RolledBack)
    );
    // The rollback went on without waiting for the store: each of its
    // saves gave up after the patience.
    let undone = paused
        .backend
        .history()
        .into_iter()
        .find(|change| change.kind == Transition::Stopping && change.version.as_str() != "1.0.0")
        .expect("the new replicas were stopped");
    let after = undone.at - began;
    assert!(
        after >= Duration::from_secs(5) && after < Duration::from_secs(60),
        "rolled back {after:?} into the outage"
    );
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
    assert!(paused.store.holder().is_none(), "the lock is released");
    // Events the store refused were kept, in order, for the next save.
    let kinds = paused.store.kinds_of(&id);
    let position = |kind: DeployEvent| {
        kinds
            .iter()
            .position(|k| k == kind.as_str())
            .unwrap_or_else(|| panic!("{kind:?} in {kinds:?}"))
    };
    assert!(position(DeployEvent::StepRollingBack) < position(DeployEvent::StepRolledBack));
    assert_eq!(
        kinds.last().map(String::as_str),
        Some(DeployEvent::RolledBack.as_str())
    );

    let next = paused.deploy(&config, "1.2.0").await;
    assert_eq!(next.status, DeploymentStatus::Succeeded, "{:?}", next.error);
}

/// A gate that panics while armed: a bug in a step.
struct PanickingGate {
    armed: AtomicBool,
}

#[async_trait]
impl MetricGate for PanickingGate {
    fn name(&self) -> String {
        "panics on demand".to_owned()
    }

    async fn check(&self, _spec: &ServiceSpec, _since: DateTime<Utc>) -> Result<(), String> {
        assert!(!self.armed.load(Ordering::SeqCst), "a bug in a metric gate");
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_that_panics_is_rolled_back_and_releases_the_lock() {
    let paused = Paused::new();
    let gate = Arc::new(PanickingGate {
        armed: AtomicBool::new(false),
    });
    paused.manager.add_gate(gate.clone());
    let config = paused.config(&Agent::new(2));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    gate.armed.store(true, Ordering::SeqCst);
    let panicked = paused.deploy(&config, "1.1.0").await;
    assert_eq!(panicked.status, DeploymentStatus::RolledBack);
    assert_eq!(
        panicked.error.as_deref(),
        Some("verify_health failed: internal error: the step panicked: a bug in a metric gate")
    );
    assert!(paused.store.holder().is_none());
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
    gate.armed.store(false, Ordering::SeqCst);
    let next = paused.deploy(&config, "1.2.0").await;
    assert_eq!(next.status, DeploymentStatus::Succeeded, "{:?}", next.error);
}

#[tokio::test(start_paused = true)]
async fn the_deploy_lock_is_waited_for_and_a_wait_that_runs_out_aborts() {
    let paused = Paused::new();
    let mut agent = Agent::new(1);
    agent.start_period = "1m";
    let config = paused.config(&agent);
    // The first deployment holds the lock for 10 s and its verify window.
    paused.backend.set_version(
        "1.0.0",
        Behaviour::healthy().ready_after(Duration::from_secs(10)),
    );
    let holder = paused
        .start(&config, paused.request(&config, "1.0.0"))
        .await;
    paused
        .until_step(&holder, "deploy_lock", StepStatus::Succeeded)
        .await;

    let mut impatient = paused.request(&config, "1.0.1");
    impatient.wait_lock = Duration::from_secs(3);
    let begin = Instant::now();
    let impatient = paused.start(&config, impatient).await;
    let impatient = paused.manager.wait(&impatient).await.expect("ends");
    let waited = begin.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_millis(3500),
        "{waited:?}"
    );
    assert_eq!(impatient.status, DeploymentStatus::Aborted);
    let error = impatient.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "deployment {holder} is in progress (lock held by pid "
        )),
        "{error}"
    );
    let announced = paused
        .store
        .events_of(&impatient.id)
        .into_iter()
        .find(|event| event.kind.as_str() == DeployEvent::LockWaiting.as_str())
        .expect("it said whom it waited for");
    assert!(
        announced
            .summary
            .contains(&format!("waits for deployment {holder} of 1.0.0 by test")),
        "{}",
        announced.summary
    );

    let mut patient = paused.request(&config, "1.0.2");
    patient.wait_lock = PATIENCE;
    let patient = paused.start(&config, patient).await;
    let patient = paused.manager.wait(&patient).await.expect("ends");
    assert_eq!(
        patient.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        patient.error
    );
    let holder = paused
        .manager
        .wait(&holder)
        .await
        .expect("the first one ended");
    assert_eq!(holder.status, DeploymentStatus::Succeeded);
    let lock = &patient.plan.steps[0];
    assert!(
        lock.detail
            .as_deref()
            .is_some_and(|detail| detail.starts_with("deploy lock taken after waiting")),
        "{lock:?}"
    );
    assert!(
        lock.finished_at >= holder.finished_at,
        "taken once released"
    );
    assert_eq!(paused.versions(), ["1.0.2"]);
}

#[tokio::test(start_paused = true)]
async fn a_create_only_deployment_leaves_a_service_deployed_meanwhile_as_it_runs() {
    // `steward up`'s first deployment waits for the lock while a user's
    // deployment of a newer version creates the service.
    let paused = Paused::new();
    let config = paused.config(&Agent::new(2));
    let newer = paused.deploy(&config, "1.1.0").await;
    assert_eq!(
        newer.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        newer.error
    );
    let mut first = paused.request(&config, "1.0.0");
    first.create_only = true;
    let id = paused.start(&config, first).await;
    let first = paused.manager.wait(&id).await.expect("ends");
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    assert!(
        first
            .plan
            .changes
            .iter()
            .all(|change| change.kind == steward_deploy::ChangeKind::Unchanged),
        "{:?}",
        first.plan.changes
    );
    assert_eq!(paused.versions(), ["1.1.0", "1.1.0"], "not downgraded");
}
