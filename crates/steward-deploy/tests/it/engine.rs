//! The engine owns every deployment: a caller that stops waiting, a
//! panicking step, a state store that fails for a while, or an engine
//! that is gone never leave the deploy lock held or a deployment that
//! nobody finishes; gates (the lock, pre-checks, hooks) are steps in the
//! journal.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use steward_core::{Name, NewEvent};
use steward_deploy::{
    DeployStore, Deployment, DeploymentStatus, DeploymentSummary, Engine, Error, LockHolder,
    ManagerOptions, MetricGate, Result, ServiceSpec, StepKind, StepStatus,
};

use crate::support::{Harness, Service, free_port, wait_for_lock_holder};

/// Every deployment recorded has ended and nobody holds the deploy lock.
async fn all_settled(harness: &Harness) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let unfinished = DeployStore::unfinished(&harness.store.store)
            .await
            .expect("unfinished");
        let holder = DeployStore::lock_holder(&harness.store.store)
            .await
            .expect("holder");
        if unfinished.is_empty() && holder.is_none() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still unfinished: {:?}, lock: {holder:?}",
            unfinished.iter().map(|d| &d.id).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_stops_waiting_leaves_no_lock_and_no_unfinished_deployment() {
    let harness = Harness::new().await;
    let port = free_port();
    let mut service = Service::new(port, 1);
    // The hook that made a 30 s client timeout leak the lock.
    service.extra = "[deploy.hooks]\npre_deploy = [\"sleep\", \"0.3\"]\n".to_owned();
    let config = service.config(harness.dir.path());
    // Give up on the call at several points: before it was recorded,
    // while it waits, once it runs.
    for (round, after_ms) in [0u64, 1, 3, 10, 50, 200].into_iter().enumerate() {
        let request = harness.request(&config, &format!("1.0.{round}"));
        let call = harness.manager.deploy(&config, request);
        let _ = tokio::time::timeout(Duration::from_millis(after_ms), call).await;
    }
    all_settled(&harness).await;
    let mut last = harness.request(&config, "2.0.0");
    last.wait_lock = Duration::from_secs(30);
    let started = harness
        .manager
        .deploy(&config, last)
        .await
        .expect("recorded");
    let done = harness.manager.wait(&started.id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
    all_settled(&harness).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_are_journaled_steps_and_a_waiting_deployment_says_whose_lock_it_waits_for() {
    let harness = Harness::new().await;
    let port = free_port();
    let mut service = Service::new(port, 1);
    service.extra = "[deploy.hooks]\npre_deploy = [\"sleep\", \"1\"]\n".to_owned();
    let config = service.config(harness.dir.path());
    let first = harness
        .manager
        .deploy(&config, harness.request(&config, "1.0.0"))
        .await
        .expect("recorded");
    wait_for_lock_holder(&harness, &first.id).await;
    let mut waiting = harness.request(&config, "1.0.1");
    waiting.wait_lock = Duration::from_secs(60);
    let second = harness
        .manager
        .deploy(&config, waiting)
        .await
        .expect("recorded");
    // It announces whom it waits for, then is cancelled while waiting.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let announced = loop {
        let journal = crate::support::journal_of(&harness, &second.id).await;
        if let Some((_, summary)) = journal
            .iter()
            .find(|(kind, _)| kind == "deploy.lock.waiting")
        {
            break summary.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{journal:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        announced.contains(&format!(
            "waits for deployment {} of 1.0.0 by test",
            first.id
        )),
        "{announced}"
    );
    harness.manager.cancel(&second.id).expect("runs here");
    let second = harness.manager.wait(&second.id).await.expect("ends");
    assert_eq!(second.status, DeploymentStatus::Aborted);
    assert_eq!(second.error.as_deref(), Some("cancelled"));
    assert!(
        second
            .plan
            .steps
            .iter()
            .all(|step| step.kind.is_gate() || step.status == StepStatus::Skipped),
        "nothing acted: {:?}",
        second.plan.steps
    );

    let first = harness.manager.wait(&first.id).await.expect("ends");
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    let labels: Vec<String> = first
        .plan
        .steps
        .iter()
        .map(|step| step.kind.label())
        .collect();
    assert_eq!(
        labels,
        [
            "deploy_lock",
            "pre_checks",
            "hook:pre_deploy",
            "update_services:agent",
            "verify_health"
        ]
    );
    let journal = crate::support::journal_of(&harness, &first.id).await;
    let steps: Vec<&str> = journal
        .iter()
        .filter(|(kind, _)| kind.starts_with("deploy.step."))
        .map(|(_, summary)| summary.as_str())
        .collect();
    for (at, gate) in ["deploy_lock", "pre_checks", "hook:pre_deploy"]
        .into_iter()
        .enumerate()
    {
        assert!(
            steps[2 * at].contains(&format!("{gate} started")),
            "{steps:?}"
        );
        assert!(
            steps[2 * at + 1].contains(&format!("{gate} succeeded")),
            "{steps:?}"
        );
    }
    // `deploy.started` (with the plan) follows the last gate.
    let started = journal
        .iter()
        .position(|(kind, _)| kind == "deploy.started")
        .expect("started");
    let hook_done = journal
        .iter()
        .position(|(_, summary)| summary.contains("hook:pre_deploy succeeded"))
        .expect("hook ran");
    assert_eq!(started, hook_done + 1, "{journal:?}");
    let kinds: Vec<&str> = journal.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"deploy.requested"));
    assert_eq!(kinds.last(), Some(&"deploy.succeeded"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_panics_is_rolled_back_and_releases_the_lock() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 1).config(harness.dir.path());
    let gate = Arc::new(PanickingGate {
        armed: AtomicBool::new(false),
    });
    harness.manager.add_gate(gate.clone());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    gate.armed.store(true, Ordering::SeqCst);
    let panicked = harness.deploy(&config, "1.1.0").await;
    assert_eq!(panicked.status, DeploymentStatus::RolledBack);
    let error = panicked.error.as_deref().unwrap_or_default();
    assert!(
        error.contains(
            "verify_health failed: internal error: the step panicked: a bug in a metric gate"
        ),
        "{error}"
    );
    all_settled(&harness).await;
    let replicas = harness.manager.backend().list().await.expect("list");
    assert!(
        replicas.iter().all(|r| r.version.as_str() == "1.0.0"),
        "{replicas:?}"
    );
    gate.armed.store(false, Ordering::SeqCst);
    let next = harness.deploy(&config, "1.2.0").await;
    assert_eq!(next.status, DeploymentStatus::Succeeded, "{:?}", next.error);
}

/// The real store, whose writes fail while `down` is set (a full disk, a
/// database failover).
struct FailingWrites {
    inner: steward_store::Store,
    down: AtomicBool,
}

impl FailingWrites {
    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(Error::Store("disk full".to_owned()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl DeployStore for FailingWrites {
    async fn try_lock(&self, holder: &LockHolder) -> Result<Option<LockHolder>> {
        self.check()?;
        self.inner.try_lock(holder).await
    }
    async fn take_over_lock(&self, stale: &LockHolder, holder: &LockHolder) -> Result<bool> {
        self.check()?;
        self.inner.take_over_lock(stale, holder).await
    }
    async fn unlock(&self, deployment_id: &str) -> Result<()> {
        self.check()?;
        self.inner.unlock(deployment_id).await
    }
    async fn lock_holder(&self) -> Result<Option<LockHolder>> {
        self.inner.lock_holder().await
    }
    async fn save(&self, deployment: &Deployment, events: Vec<NewEvent>) -> Result<()> {
        self.check()?;
        self.inner.save(deployment, events).await
    }
    async fn get(&self, id: &str) -> Result<Option<Deployment>> {
        self.inner.get(id).await
    }
    async fn list(&self, service: Option<&str>, limit: u32) -> Result<Vec<DeploymentSummary>> {
        self.inner.list(service, limit).await
    }
    async fn unfinished(&self) -> Result<Vec<Deployment>> {
        self.inner.unfinished().await
    }
    async fn current(&self) -> Result<Vec<ServiceSpec>> {
        self.inner.current().await
    }
    async fn succeeded(&self, service: Option<&Name>, limit: u32) -> Result<Vec<Deployment>> {
        self.inner.succeeded(service, limit).await
    }
    async fn journal(&self, events: Vec<NewEvent>) -> Result<()> {
        self.check()?;
        self.inner.journal(events).await
    }
}

/// A gate that takes the store's writes down for `outage` when a version
/// ending in `-outage` is verified.
struct OutageGate {
    store: Arc<FailingWrites>,
    outage: Duration,
}

#[async_trait]
impl MetricGate for OutageGate {
    fn name(&self) -> String {
        "store outage".to_owned()
    }

    async fn check(&self, spec: &ServiceSpec, _since: DateTime<Utc>) -> Result<(), String> {
        if spec.version.as_str().ends_with("-outage") {
            self.store.down.store(true, Ordering::SeqCst);
            let store = Arc::clone(&self.store);
            let outage = self.outage;
            tokio::spawn(async move {
                tokio::time::sleep(outage).await;
                store.down.store(false, Ordering::SeqCst);
            });
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_mid_deployment_rolls_back_and_releases_the_lock_once_the_store_is_back() {
    let state = steward_store::testing::sqlite().await;
    let store = Arc::new(FailingWrites {
        inner: state.store.clone(),
        down: AtomicBool::new(false),
    });
    let harness = Harness::with_store(store.clone(), state, |dir| {
        let mut options = ManagerOptions::new(dir, "test-host");
        options.store_patience = Duration::from_millis(500);
        options
    })
    .await;
    harness.manager.add_gate(Arc::new(OutageGate {
        store: store.clone(),
        outage: Duration::from_secs(4),
    }));
    let port = free_port();
    let config = Service::new(port, 1).config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let started = harness
        .manager
        .deploy(&config, harness.request(&config, "1.1.0-outage"))
        .await
        .expect("recorded");
    let done = harness.manager.wait(&started.id).await.expect("ends");
    assert!(
        !store.down.load(Ordering::SeqCst),
        "ended once the store was back"
    );
    assert_eq!(
        done.status,
        DeploymentStatus::RolledBack,
        "{:?}",
        done.error
    );
    assert!(
        done.error.as_deref().is_some_and(|error| error.starts_with(
            "verify_health succeeded but cannot be recorded in the state database: state database: disk full"
        )),
        "{:?}",
        done.error
    );
    let update = done
        .plan
        .steps
        .iter()
        .find(|step| matches!(step.kind, StepKind::UpdateServices { .. }))
        .expect("update step");
    assert_eq!(update.status, StepStatus::RolledBack);
    all_settled(&harness).await;
    let replicas = harness.manager.backend().list().await.expect("list");
    assert!(
        replicas.iter().all(|r| r.version.as_str() == "1.0.0"),
        "{replicas:?}"
    );
    // Events of the rollback that the store refused were kept, in order.
    let kinds: Vec<String> = crate::support::journal_of(&harness, &done.id)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    let rolling_back = kinds
        .iter()
        .position(|kind| kind == "deploy.step.rolling_back")
        .expect("journaled after all");
    let rolled_back = kinds
        .iter()
        .position(|kind| kind == "deploy.step.rolled_back")
        .expect("journaled after all");
    assert!(rolling_back < rolled_back, "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("deploy.rolled_back"));

    let next = harness.deploy(&config, "1.2.0").await;
    assert_eq!(next.status, DeploymentStatus::Succeeded, "{:?}", next.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_deployment_that_no_engine_runs_fails_instead_of_hanging() {
    let harness = Harness::new().await;
    let config = Service::new(free_port(), 1).config(harness.dir.path());
    let mut plan = harness
        .manager
        .plan(&config, &harness.request(&config, "1.0.0"))
        .await
        .expect("plan");
    // Recorded by a steward process of this host that is gone.
    plan.engine = Some(Engine {
        host: "test-host".to_owned(),
        pid: std::process::id(),
        pid_start: 1,
    });
    DeployStore::save(&harness.store.store, &plan, Vec::new())
        .await
        .expect("save");
    let err = tokio::time::timeout(Duration::from_secs(10), harness.manager.wait(&plan.id))
        .await
        .expect("does not hang")
        .expect_err("orphaned");
    assert!(matches!(err, Error::Orphaned { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!(
            "deployment {} is not running: the steward process that ran it (pid {} on test-host) is gone",
            plan.id,
            std::process::id()
        )),
        "{err}"
    );
    let view = harness
        .manager
        .view(&plan.id)
        .await
        .expect("view")
        .expect("found");
    assert!(view.orphaned);

    // On another host it cannot be checked: assumed alive.
    let mut elsewhere = plan.clone();
    elsewhere.id = "dep_elsewhere".to_owned();
    elsewhere.engine = Some(Engine {
        host: "other-host".to_owned(),
        pid: 1,
        pid_start: 1,
    });
    DeployStore::save(&harness.store.store, &elsewhere, Vec::new())
        .await
        .expect("save");
    assert!(
        !harness
            .manager
            .is_orphaned("dep_elsewhere")
            .await
            .expect("answers")
    );
}
