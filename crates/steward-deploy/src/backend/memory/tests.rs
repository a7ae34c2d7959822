//! The in-memory backend keeps the contract of a real one, in paused
//! time: starts and stops within the grace period (or kills), crash
//! events in the process backend's order, probes answered from the
//! commanded state, and a steward process that dies and another that
//! takes over.

use std::time::Duration;

use steward_config::{BackendKind, Environment, load_str};
use steward_core::Version;
use tokio::time::Instant;

use super::{Behaviour, Health, MemoryBackend, Transition};
use crate::{
    backend::{Backend, ReplicaEvent, ReplicaState, StartRequest},
    model::ServiceSpec,
};

fn spec(version: &str) -> ServiceSpec {
    let toml = r#"
[[services]]
name = "agent"
process.command = ["agent"]
"#;
    let dir = std::env::temp_dir();
    let loaded = load_str("test.toml", toml, &dir, &Environment::default()).unwrap();
    ServiceSpec::from_config(
        &loaded.config.services[0],
        &Version::new(version).unwrap(),
        BackendKind::Process,
    )
    .unwrap()
}

async fn start(backend: &MemoryBackend, spec: &ServiceSpec, id: &str) -> crate::Result<()> {
    backend
        .start(StartRequest {
            spec,
            id: id.to_owned(),
            index: 0,
            deployment_id: "dep_test",
        })
        .await
        .map(|_| ())
}

#[tokio::test(start_paused = true)]
async fn replicas_start_after_their_delay_and_stop_within_their_grace_or_are_killed() {
    let backend = MemoryBackend::new();
    backend.set_version(
        "1.0.0",
        Behaviour::healthy()
            .start_delay(Duration::from_millis(300))
            .stop_takes(Duration::from_secs(10)),
    );
    backend.set_version(
        "2.0.0",
        Behaviour::healthy().fails_to_start("no such image"),
    );
    let (v1, v2) = (spec("1.0.0"), spec("2.0.0"));
    let begin = Instant::now();
    start(&backend, &v1, "a").await.unwrap();
    assert_eq!(begin.elapsed(), Duration::from_millis(300));
    let err = start(&backend, &v2, "b").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "memory backend: cannot start replica b of agent: no such image"
    );
    let listed = backend.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].state),
        ("a", ReplicaState::Running)
    );

    // Ignores SIGTERM for 10 s: killed when the 5 s grace runs out.
    let begin = Instant::now();
    backend.stop("a", Duration::from_secs(5)).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::from_secs(5));
    assert!(backend.list().await.unwrap().is_empty());
    let kinds: Vec<Transition> = backend.history().into_iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            Transition::Started,
            Transition::Stopping,
            Transition::Stopped { killed: true }
        ]
    );
    // Stopping what is gone is not an error.
    backend.stop("a", Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_crash_is_reported_as_exited_then_restarted_and_refuses_probes_meanwhile() {
    let backend = MemoryBackend::new();
    backend.set_version(
        "1.0.0",
        Behaviour::healthy().restart_after(Duration::from_secs(2)),
    );
    let v1 = spec("1.0.0");
    start(&backend, &v1, "a").await.unwrap();
    let mut events = backend.subscribe();
    let probe = backend
        .health_probe()
        .expect("the memory backend answers probes");
    backend.crash("a");
    let exited = events.recv().await.unwrap();
    assert!(
        matches!(&exited, ReplicaEvent::Exited { id, code: Some(1), restart_in, .. } if id == "a" && *restart_in == Duration::from_secs(2)),
        "{exited:?}"
    );
    let replica = backend.replicas().remove(0);
    assert_eq!(replica.state, ReplicaState::Restarting);
    let refused = probe.probe(None, &replica, Duration::from_secs(1)).await;
    assert!(refused.unwrap_err().ends_with("connection refused"));
    let begin = Instant::now();
    let restarted = events.recv().await.unwrap();
    assert_eq!(begin.elapsed(), Duration::from_secs(2));
    assert!(
        matches!(&restarted, ReplicaEvent::Restarted { id, restarts: 1, .. } if id == "a"),
        "{restarted:?}"
    );
    let replica = backend.replicas().remove(0);
    assert_eq!(
        (replica.state, replica.restarts),
        (ReplicaState::Running, 1)
    );
    probe
        .probe(None, &replica, Duration::from_secs(1))
        .await
        .expect("healthy again");
}

#[tokio::test(start_paused = true)]
async fn probes_answer_as_the_test_commands() {
    let backend = MemoryBackend::new();
    backend.set_version(
        "1.0.0",
        Behaviour::healthy().ready_after(Duration::from_secs(3)),
    );
    start(&backend, &spec("1.0.0"), "a").await.unwrap();
    let replica = backend.replicas().remove(0);
    let probe = backend
        .health_probe()
        .expect("the memory backend answers probes");
    let timeout = Duration::from_millis(500);
    assert!(
        probe
            .probe(None, &replica, timeout)
            .await
            .unwrap_err()
            .ends_with("connection refused"),
        "not ready yet"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    probe.probe(None, &replica, timeout).await.expect("ready");
    backend.set_health(
        "a",
        Health::Unhealthy("GET /healthz answered 500".to_owned()),
    );
    assert_eq!(
        probe.probe(None, &replica, timeout).await,
        Err("GET /healthz answered 500".to_owned())
    );
    backend.set_health("a", Health::Hung);
    let begin = Instant::now();
    assert_eq!(
        probe.probe(None, &replica, timeout).await,
        Err("no answer within 500ms".to_owned())
    );
    assert_eq!(begin.elapsed(), timeout);
    assert_eq!(backend.probes("a"), 4);
}

#[tokio::test(start_paused = true)]
async fn a_killed_handle_never_answers_and_a_reopened_one_supervises_the_same_replicas() {
    let backend = MemoryBackend::new();
    start(&backend, &spec("1.0.0"), "a").await.unwrap();
    let mut old_events = backend.subscribe();
    backend.kill();
    let hung = tokio::time::timeout(Duration::from_secs(3600), backend.list()).await;
    assert!(hung.is_err(), "a dead steward's calls never return");

    let reopened = backend.reopen();
    let listed = reopened.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "a");
    let mut events = reopened.subscribe();
    reopened.crash("a");
    assert!(matches!(
        events.recv().await.unwrap(),
        ReplicaEvent::Exited { .. }
    ));
    assert!(
        old_events.try_recv().is_err(),
        "the dead steward hears nothing"
    );
}
