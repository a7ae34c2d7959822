//! Deployment state on both engines: the deploy lock, deployments saved
//! with their events, listings, unfinished ones, and the spec each service
//! settled on.

use std::collections::BTreeMap;

use chrono::Utc;
use steward_config::{BackendKind, Environment, load_str};
use steward_core::{Actor, EventKind, Name, NewEvent, Version};
use steward_deploy::{
    DeployStore, Deployment, DeploymentStatus, LockHolder, Plan, Release, ServiceSpec,
};
use steward_store::{EventQuery, Store};

fn spec(name: &str, version: &str) -> ServiceSpec {
    let toml = format!(
        "[[services]]\nname = \"{name}\"\nprocess.command = [\"agent\"]\nenv = {{ KEY = \"secret\" }}\n"
    );
    let loaded = load_str(
        "t.toml",
        &toml,
        std::path::Path::new("."),
        &Environment::default(),
    )
    .expect("valid");
    ServiceSpec::from_config(
        &loaded.config.services[0],
        &Version::new(version).unwrap(),
        BackendKind::Process,
    )
    .expect("spec")
}

fn deployment(id: &str, version: &str, services: &[&str], status: DeploymentStatus) -> Deployment {
    Deployment {
        id: id.to_owned(),
        release: Release {
            version: Version::new(version).unwrap(),
            services: services.iter().map(|name| spec(name, version)).collect(),
        },
        requested_services: None,
        create_only: false,
        services: services
            .iter()
            .map(|name| Name::new(*name).unwrap())
            .collect(),
        previous: services
            .iter()
            .map(|name| (Name::new(*name).unwrap(), None))
            .collect::<BTreeMap<_, _>>(),
        plan: Plan {
            changes: vec![],
            steps: vec![],
            checks: vec![],
        },
        status,
        actor: Actor::new("token:ci").unwrap(),
        reason: None,
        forced: false,
        created_at: Utc::now(),
        finished_at: None,
        error: None,
        engine: None,
    }
}

fn holder(deployment: &str, pid: u32) -> LockHolder {
    LockHolder {
        deployment_id: deployment.to_owned(),
        host: "host-a".to_owned(),
        pid,
        pid_start: 42,
        since: Utc::now(),
    }
}

async fn the_deploy_lock_has_one_holder_and_is_taken_over_only_from_the_one_seen(store: Store) {
    let first = holder("dep_1", 100);
    assert_eq!(
        store.try_lock(&first).await.unwrap(),
        None,
        "free lock taken"
    );
    assert_eq!(
        store.try_lock(&first).await.unwrap(),
        None,
        "taking it again is idempotent"
    );
    let second = holder("dep_2", 200);
    let seen = store.try_lock(&second).await.unwrap().expect("held");
    assert_eq!((seen.deployment_id.as_str(), seen.pid), ("dep_1", 100));

    let wrong = holder("dep_1", 999);
    assert!(
        !store.take_over_lock(&wrong, &second).await.unwrap(),
        "not the holder seen"
    );
    assert!(store.take_over_lock(&seen, &second).await.unwrap());
    assert!(
        !store
            .take_over_lock(&seen, &holder("dep_3", 300))
            .await
            .unwrap(),
        "changed hands already"
    );
    store.unlock("dep_1").await.unwrap();
    assert_eq!(
        store.lock_holder().await.unwrap().map(|h| h.deployment_id),
        Some("dep_2".to_owned()),
        "only its holder unlocks"
    );
    store.unlock("dep_2").await.unwrap();
    assert_eq!(store.lock_holder().await.unwrap(), None);
}

async fn deployments_are_saved_with_their_events_and_settle_the_services(store: Store) {
    let mut running = deployment(
        "dep_a",
        "1.0.0",
        &["api", "worker"],
        DeploymentStatus::Running,
    );
    let started = NewEvent::new(
        EventKind::new("deploy.started").unwrap(),
        running.actor.clone(),
        "started",
    )
    .payload(serde_json::json!({"deployment": "dep_a"}));
    store.save(&running, vec![started]).await.unwrap();
    assert_eq!(store.unfinished().await.unwrap(), vec![running.clone()]);
    assert!(
        store.current().await.unwrap().is_empty(),
        "nothing settled while running"
    );
    let events = store
        .events(&EventQuery {
            kind: Some("deploy".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.events.len(), 1);

    running.status = DeploymentStatus::Succeeded;
    running.finished_at = Some(Utc::now());
    store.save(&running, vec![]).await.unwrap();
    assert!(store.unfinished().await.unwrap().is_empty());
    let current = store.current().await.unwrap();
    assert_eq!(
        current
            .iter()
            .map(|s| (s.name.as_str(), s.version.as_str()))
            .collect::<Vec<_>>(),
        [("api", "1.0.0"), ("worker", "1.0.0")]
    );
    assert_eq!(
        current[0].env["KEY"], "secret",
        "the state keeps what a rollback needs"
    );

    // A rolled-back deployment of `api` leaves it on its previous spec.
    let mut failed = deployment("dep_b", "2.0.0", &["api"], DeploymentStatus::RolledBack);
    failed
        .previous
        .insert(Name::new("api").unwrap(), Some(spec("api", "1.0.0")));
    failed.created_at = Utc::now() + chrono::Duration::seconds(1);
    store.save(&failed, vec![]).await.unwrap();
    let current = store.current().await.unwrap();
    assert_eq!(current[0].version.as_str(), "1.0.0");

    // Removing `worker` settles it as gone.
    let mut removal = deployment("dep_c", "2.1.0", &[], DeploymentStatus::Succeeded);
    removal.services = vec![Name::new("worker").unwrap()];
    removal.created_at = Utc::now() + chrono::Duration::seconds(2);
    store.save(&removal, vec![]).await.unwrap();
    let current = store.current().await.unwrap();
    assert_eq!(
        current.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["api"]
    );

    let all = store.list(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dep_c", "dep_b", "dep_a"]
    );
    let api = store.list(Some("api"), 10).await.unwrap();
    assert_eq!(
        api.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dep_b", "dep_a"]
    );
    assert_eq!(
        store.list(Some("ap"), 10).await.unwrap().len(),
        0,
        "whole names only"
    );
    let succeeded = store
        .succeeded(Some(&Name::new("api").unwrap()), 10)
        .await
        .unwrap();
    assert_eq!(
        succeeded.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dep_a"]
    );
    assert_eq!(store.get("dep_b").await.unwrap(), Some(failed));
    assert_eq!(store.get("dep_x").await.unwrap(), None);
}

crate::store_suite!(
    the_deploy_lock_has_one_holder_and_is_taken_over_only_from_the_one_seen,
    deployments_are_saved_with_their_events_and_settle_the_services,
);
