//! The health watcher between deployments: a replica that fails
//! `unhealthy_threshold` probes in a row leaves its proxy (never the last
//! one) and returns after `healthy_threshold` successes, at the times the
//! thresholds and the interval say.

use std::time::Duration;

use steward_deploy::{DeployEvent, DeploymentStatus, testing::Health};
use steward_test_support::wait_until;
use tokio::time::Instant;

use super::{Agent, PATIENCE, Paused};

#[tokio::test(start_paused = true)]
async fn a_failing_replica_leaves_its_proxy_never_the_last_and_returns_after_its_threshold() {
    let paused = Paused::new();
    let mut agent = Agent::new(3);
    agent.interval = "1s";
    agent.unhealthy_threshold = 3;
    agent.healthy_threshold = 2;
    let config = paused.config(&agent);
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    tokio::spawn(paused.manager.health_watch(paused.shutdown.clone()));
    let ids: Vec<String> = paused
        .backend
        .replicas()
        .into_iter()
        .map(|replica| replica.id)
        .collect();
    let serves = |id: &str| paused.in_proxy().contains(&id.to_owned());
    // Let the watcher settle into its rhythm.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(paused.in_proxy().len(), 3);

    // Three failures, one per second: out after 2 to 3 s (the first
    // failing probe comes within an interval).
    let failing = Instant::now();
    paused.backend.set_health(
        &ids[0],
        Health::Unhealthy("GET /healthz answered 503".to_owned()),
    );
    wait_until(
        "the failing replica leaves its proxy",
        PATIENCE,
        async || !serves(&ids[0]),
    )
    .await;
    let out_after = failing.elapsed();
    assert!(
        out_after >= Duration::from_secs(2) && out_after <= Duration::from_millis(3300),
        "{out_after:?}"
    );
    assert!(serves(&ids[1]) && serves(&ids[2]));

    // A hung replica too: its probes run into their timeout.
    paused.backend.set_health(&ids[1], Health::Hung);
    wait_until("the hung replica leaves its proxy", PATIENCE, async || {
        !serves(&ids[1])
    })
    .await;
    // The last one fails as well, but stays: it is all the service has.
    paused.backend.set_health(
        &ids[2],
        Health::Unhealthy("GET /healthz answered 503".to_owned()),
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(paused.in_proxy(), [ids[2].clone()]);

    // Two successes in a row bring a replica back, 1 to 2 s after it
    // answers again.
    let healed = Instant::now();
    paused.backend.set_health(&ids[0], Health::Healthy);
    wait_until("the healed replica is back", PATIENCE, async || {
        serves(&ids[0])
    })
    .await;
    let back_after = healed.elapsed();
    assert!(
        back_after >= Duration::from_secs(1) && back_after <= Duration::from_millis(2300),
        "{back_after:?}"
    );
    // Now the failing last replica can leave.
    wait_until("the failing one leaves now", PATIENCE, async || {
        !serves(&ids[2])
    })
    .await;
    assert_eq!(paused.in_proxy(), [ids[0].clone()]);

    let kinds: Vec<String> = paused
        .store
        .events()
        .into_iter()
        .map(|event| event.kind.to_string())
        .collect();
    let count = |kind: DeployEvent| kinds.iter().filter(|k| *k == kind.as_str()).count();
    assert_eq!(count(DeployEvent::ReplicaUnhealthy), 3, "{kinds:?}");
    assert_eq!(count(DeployEvent::ReplicaRecovered), 1, "{kinds:?}");
}
