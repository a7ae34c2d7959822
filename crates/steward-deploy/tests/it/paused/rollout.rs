//! Rolling and blue-green updates, and versions that never get healthy,
//! observed at every change of the backend: how many replicas run and
//! how many take traffic.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use steward_deploy::{
    DeploymentStatus, Replica, StepStatus,
    testing::{Behaviour, Change, Transition},
};
use steward_proxy::UpstreamState;
use tokio::time::Instant;

use super::{Agent, Paused, acting};

/// At one change of the backend: replicas that run, and the versions of
/// those that take traffic (active in the proxy).
#[derive(Debug, Clone)]
struct Sample {
    running: usize,
    serving: Vec<String>,
}

/// Records a [`Sample`] at every change of the backend from now on.
fn sample(paused: &Paused) -> Arc<Mutex<Vec<Sample>>> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&samples);
    let proxies = paused.manager.proxies().clone();
    paused
        .backend
        .observe(move |_: &Change, replicas: &[Replica]| {
            let (proxy, _) = proxies.get("agent").expect("the agent has a proxy");
            let serving = proxy
                .upstreams()
                .into_iter()
                .filter(|status| status.state == UpstreamState::Active)
                .map(|status| {
                    replicas
                        .iter()
                        .find(|replica| replica.id == status.upstream.id)
                        .map_or_else(|| "gone".to_owned(), |replica| replica.version.to_string())
                })
                .collect();
            seen.lock().unwrap().push(Sample {
                running: replicas.len(),
                serving,
            });
        });
    samples
}

#[tokio::test(start_paused = true)]
async fn a_rolling_update_stays_within_max_surge_and_max_unavailable() {
    // (max_surge, max_unavailable)
    for (surge, unavailable) in [(1u32, 0u32), (0, 1), (2, 1)] {
        let paused = Paused::new();
        let mut agent = Agent::new(4);
        agent.max_surge = surge;
        agent.max_unavailable = unavailable;
        let config = paused.config(&agent);
        let first = paused.deploy(&config, "1.0.0").await;
        assert_eq!(
            first.status,
            DeploymentStatus::Succeeded,
            "{:?}",
            first.error
        );
        let old = paused.in_proxy();
        assert_eq!(old.len(), 4);

        paused.backend.set_version(
            "2.0.0",
            Behaviour::healthy().ready_after(Duration::from_millis(200)),
        );
        let samples = sample(&paused);
        let begin = Instant::now();
        let done = paused.deploy(&config, "2.0.0").await;
        let case = format!("max_surge {surge}, max_unavailable {unavailable}");
        assert_eq!(
            done.status,
            DeploymentStatus::Succeeded,
            "{case}: {:?}",
            done.error
        );
        assert!(begin.elapsed() < Duration::from_secs(10), "{case}");
        let samples = samples.lock().unwrap().clone();
        let most = samples.iter().map(|s| s.running).max().unwrap_or_default();
        let least = samples
            .iter()
            .map(|s| s.serving.len())
            .min()
            .unwrap_or_default();
        // Both limits are reached, and neither is passed.
        let (most_allowed, least_allowed) = (4 + surge as usize, 4 - unavailable as usize);
        assert_eq!(most, most_allowed, "{case}: {samples:?}");
        assert_eq!(least, least_allowed, "{case}: {samples:?}");
        assert_eq!(paused.backend.peak("agent"), most_allowed, "{case}");

        assert_eq!(paused.versions(), ["2.0.0"; 4], "{case}");
        let serving = paused.in_proxy();
        assert_eq!(serving.len(), 4, "{case}");
        assert!(serving.iter().all(|id| !old.contains(id)), "{case}");
        let history = paused.backend.history();
        let started = |version: &str| {
            history
                .iter()
                .filter(|change| {
                    change.kind == Transition::Started && change.version.as_str() == version
                })
                .count()
        };
        assert_eq!(started("2.0.0"), 4, "{case}: nothing started twice");
        assert!(
            history
                .iter()
                .all(|change| change.kind != Transition::Stopped { killed: true }),
            "{case}: every old replica stopped within its grace"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_blue_green_update_switches_at_once_keeps_the_old_set_for_an_instant_rollback_then_stops_it()
 {
    let paused = Paused::new();
    let mut agent = Agent::new(3);
    agent.strategy = "blue_green";
    agent.keep_old_for = "10m";
    let config = paused.config(&agent);
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let blue = paused.in_proxy();

    paused.backend.set_version(
        "2.0.0",
        Behaviour::healthy().ready_after(Duration::from_millis(500)),
    );
    let samples = sample(&paused);
    let green = paused.deploy(&config, "2.0.0").await;
    assert_eq!(
        green.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        green.error
    );
    for sample in samples.lock().unwrap().iter() {
        // Never fewer than the desired count, never two versions at once.
        assert_eq!(sample.serving.len(), 3, "{sample:?}");
        assert!(
            sample.serving.iter().all(|v| v == &sample.serving[0]),
            "{sample:?}"
        );
    }
    assert_eq!(
        paused.backend.peak("agent"),
        6,
        "the whole green set at once"
    );
    let serving = paused.in_proxy();
    assert!(serving.iter().all(|id| !blue.contains(id)), "{serving:?}");
    // Blue runs on, out of the proxy.
    assert_eq!(paused.versions().len(), 6);

    // Rolling back within keep_old_for switches back without starting
    // anything.
    let starts = |paused: &Paused| {
        paused
            .backend
            .history()
            .iter()
            .filter(|change| change.kind == Transition::Started)
            .count()
    };
    let before = starts(&paused);
    let back = paused.deploy(&config, "1.0.0").await;
    assert_eq!(back.status, DeploymentStatus::Succeeded, "{:?}", back.error);
    assert_eq!(starts(&paused), before, "no replica started");
    let mut serving = paused.in_proxy();
    serving.sort();
    let mut expected = blue.clone();
    expected.sort();
    assert_eq!(serving, expected, "blue serves again");

    // After keep_old_for the idle green set is stopped.
    tokio::time::sleep(Duration::from_secs(9 * 60)).await;
    assert_eq!(paused.versions().len(), 6, "kept for 10 minutes");
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    assert_eq!(paused.versions(), ["1.0.0"; 3]);
}

#[tokio::test(start_paused = true)]
async fn a_version_that_never_gets_healthy_is_rolled_back_at_its_progress_deadline() {
    let paused = Paused::new();
    let mut agent = Agent::new(2);
    // Failures do not count for 10 minutes: only the deadline ends it.
    agent.start_period = "10m";
    agent.progress_deadline = "30s";
    let config = paused.config(&agent);
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let old = paused.in_proxy();
    paused
        .backend
        .set_version("2.0.0", Behaviour::healthy().never_ready());
    let begin = Instant::now();
    let failed = paused.deploy(&config, "2.0.0").await;
    let took = begin.elapsed();
    assert_eq!(failed.status, DeploymentStatus::RolledBack);
    assert_eq!(
        failed.error.as_deref(),
        Some("update_services:agent failed: updating agent passed its progress deadline of 30s")
    );
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(31),
        "{took:?}"
    );
    assert_eq!(
        acting(&failed),
        [
            ("update_services:agent".to_owned(), StepStatus::RolledBack),
            ("verify_health".to_owned(), StepStatus::Skipped)
        ]
    );
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
    assert_eq!(paused.in_proxy(), old, "the old replicas served throughout");
}

#[tokio::test(start_paused = true)]
async fn a_version_failing_its_health_check_is_rolled_back_after_its_threshold() {
    let paused = Paused::new();
    let config = paused.config(&Agent::new(1));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    paused.backend.set_version(
        "2.0.0",
        Behaviour::healthy().unhealthy("GET /healthz answered 500 Internal Server Error"),
    );
    let begin = Instant::now();
    let failed = paused.deploy(&config, "2.0.0").await;
    let took = begin.elapsed();
    assert_eq!(failed.status, DeploymentStatus::RolledBack);
    let error = failed.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("update_services:agent failed: replica agent-")
            && error.ends_with(
                "of agent is unhealthy: GET /healthz answered 500 Internal Server Error"
            ),
        "{error}"
    );
    // Three failures, counted at most once per 1 s interval: the third
    // at 2 s.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // Until it first answers, a replica is probed every 25 ms.
    let bad = paused
        .backend
        .history()
        .into_iter()
        .find(|change| change.version.as_str() == "2.0.0")
        .expect("the new replica started")
        .replica;
    let probes = paused.backend.probes(&bad);
    assert!((70..=90).contains(&probes), "{probes} probes in 2 s");
    assert_eq!(paused.versions(), ["1.0.0"]);
}

#[tokio::test(start_paused = true)]
async fn a_version_that_cannot_start_is_rolled_back() {
    let paused = Paused::new();
    let config = paused.config(&Agent::new(2));
    assert_eq!(
        paused.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    paused.backend.set_version(
        "2.0.0",
        Behaviour::healthy().fails_to_start("program `agent` not found"),
    );
    let failed = paused.deploy(&config, "2.0.0").await;
    assert_eq!(failed.status, DeploymentStatus::RolledBack);
    let error = failed.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with(
            "update_services:agent failed: memory backend: cannot start replica agent-"
        ) && error.ends_with("of agent: program `agent` not found"),
        "{error}"
    );
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
    assert_eq!(paused.in_proxy().len(), 2);
}
