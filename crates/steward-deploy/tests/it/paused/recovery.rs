//! A steward that dies in the middle of a deployment, and the next one
//! that finishes it (rolled back, or resumed with `deploy.on_crash =
//! "resume"`), adopting the replicas that run instead of starting them
//! again; and a replica that crashes, restarted by its backend.

use std::time::Duration;

use steward_deploy::{
    DeployEvent, DeploymentStatus, StepStatus,
    testing::{Behaviour, Transition},
};
use steward_test_support::wait_until;

use super::{Agent, PATIENCE, Paused, acting};

/// Deploys 1.0.0 (two replicas), then starts 2.0.0 (which behaves as
/// `new`) and waits until its first replica runs: the moment steward
/// dies. Returns the deployment's id and the replicas that served.
async fn die_mid_update(
    paused: &Paused,
    config: &steward_config::Config,
    new: Behaviour,
) -> (String, Vec<String>) {
    assert_eq!(
        paused.deploy(config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let serving = paused.in_proxy();
    paused.backend.set_version("2.0.0", new);
    let id = paused.start(config, paused.request(config, "2.0.0")).await;
    wait_until("a replica of 2.0.0 runs", PATIENCE, async || {
        paused.versions().contains(&"2.0.0".to_owned())
    })
    .await;
    paused
        .until_step(&id, "update_services:agent", StepStatus::Running)
        .await;
    (id, serving)
}

#[tokio::test(start_paused = true)]
async fn a_deployment_whose_steward_died_mid_update_is_rolled_back_by_the_next_one() {
    let paused = Paused::new();
    let config = paused.config(&Agent::new(2));
    let (id, serving) = die_mid_update(
        &paused,
        &config,
        Behaviour::healthy().ready_after(Duration::from_secs(60)),
    )
    .await;

    let restarted = paused.crash_and_restart().await;
    assert_eq!(
        restarted.manager.recover(&config).await.expect("recovers"),
        [id.as_str()]
    );
    let done = restarted.manager.wait(&id).await.expect("ends");
    assert_eq!(
        done.status,
        DeploymentStatus::RolledBack,
        "{:?}",
        done.error
    );
    assert_eq!(
        done.error.as_deref(),
        Some("interrupted by a steward crash")
    );
    assert_eq!(
        acting(&done),
        [
            ("update_services:agent".to_owned(), StepStatus::RolledBack),
            ("verify_health".to_owned(), StepStatus::Skipped)
        ]
    );
    assert_eq!(restarted.versions(), ["1.0.0"; 2]);
    // The old replicas were adopted and serve again: none restarted.
    let mut now = restarted.in_proxy();
    now.sort();
    let mut before = serving;
    before.sort();
    assert_eq!(now, before);
    assert!(restarted.store.holder().is_none(), "the lock is released");
    let recovered = restarted
        .store
        .events_of(&id)
        .into_iter()
        .find(|event| event.kind.as_str() == DeployEvent::Recovered.as_str())
        .expect("journaled");
    assert_eq!(recovered.payload["policy"], "rollback");
    assert_eq!(
        recovered.payload["interrupted_steps"],
        serde_json::json!(["update_services:agent"])
    );
}

#[tokio::test(start_paused = true)]
async fn a_deployment_whose_steward_died_mid_update_is_resumed_when_on_crash_is_resume() {
    let paused = Paused::new();
    let mut agent = Agent::new(2);
    agent.extra = "[deploy]\non_crash = \"resume\"\n".to_owned();
    // The new version takes 5 s to boot.
    agent.start_period = "1m";
    let config = paused.config(&agent);
    let (id, _) = die_mid_update(
        &paused,
        &config,
        Behaviour::healthy().ready_after(Duration::from_secs(5)),
    )
    .await;

    let restarted = paused.crash_and_restart().await;
    assert_eq!(
        restarted.manager.recover(&config).await.expect("recovers"),
        [id.as_str()]
    );
    let done = restarted.manager.wait(&id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
    assert_eq!(restarted.versions(), ["2.0.0"; 2]);
    assert_eq!(restarted.in_proxy().len(), 2);
    // The replica the dead steward started was adopted, not duplicated.
    let started = restarted
        .backend
        .history()
        .iter()
        .filter(|change| change.kind == Transition::Started && change.version.as_str() == "2.0.0")
        .count();
    assert_eq!(started, 2);
    assert!(restarted.store.holder().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_deployment_whose_steward_died_before_it_acted_ends_aborted() {
    let paused = Paused::new();
    let config = paused.config(&Agent::new(1));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    paused.backend.set_ping_delay(PATIENCE);
    let id = paused
        .start(&config, paused.request(&config, "2.0.0"))
        .await;
    paused
        .until_step(&id, "pre_checks", StepStatus::Running)
        .await;

    let restarted = paused.crash_and_restart().await;
    restarted.backend.set_ping_delay(Duration::ZERO);
    assert_eq!(
        restarted.manager.recover(&config).await.expect("recovers"),
        [id.as_str()]
    );
    let done = restarted.store.deployment(&id).expect("saved");
    assert_eq!(done.status, DeploymentStatus::Aborted);
    assert_eq!(
        done.error.as_deref(),
        Some(
            "interrupted by a steward restart during pre_checks before it changed anything; deploy again"
        )
    );
    assert!(restarted.store.holder().is_none(), "the lock is released");
    assert_eq!(restarted.versions(), ["1.0.0"]);
    let next = restarted.deploy(&config, "2.0.0").await;
    assert_eq!(next.status, DeploymentStatus::Succeeded, "{:?}", next.error);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_replica_is_journaled_and_restarted_in_place() {
    let paused = Paused::new();
    paused.backend.set_version(
        "1.0.0",
        Behaviour::healthy()
            .restart_after(Duration::from_secs(2))
            .ready_after(Duration::from_millis(300)),
    );
    let config = paused.config(&Agent::new(1));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let replica = paused.backend.replicas().remove(0);
    paused.backend.crash(&replica.id);
    let kinds = |paused: &Paused| -> Vec<String> {
        paused
            .store
            .events()
            .into_iter()
            .map(|event| event.kind.to_string())
            .filter(|kind| kind.starts_with("deploy.replica."))
            .collect()
    };
    wait_until("the restart is journaled", PATIENCE, async || {
        kinds(&paused).contains(&DeployEvent::ReplicaRestarted.as_str().to_owned())
    })
    .await;
    let journaled = kinds(&paused);
    let exited = journaled
        .iter()
        .position(|kind| kind == DeployEvent::ReplicaExited.as_str())
        .expect("the exit is journaled");
    let restarted = journaled
        .iter()
        .position(|kind| kind == DeployEvent::ReplicaRestarted.as_str())
        .expect("the restart is journaled");
    assert!(exited < restarted, "{journaled:?}");
    let history = paused.backend.history();
    let at = |kind: Transition| {
        history
            .iter()
            .find(|change| change.kind == kind)
            .expect("happened")
            .at
    };
    assert_eq!(
        at(Transition::Restarted) - at(Transition::Crashed),
        Duration::from_secs(2)
    );
    let now = paused.backend.replicas();
    assert_eq!(now.len(), 1, "restarted in place, not duplicated");
    assert_eq!(
        (now[0].id.as_str(), now[0].restarts),
        (replica.id.as_str(), 1)
    );
}
