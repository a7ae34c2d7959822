//! Crash safety of the process backend and the manager: replicas adopted
//! by a new steward process, crashed replicas restarted, interrupted
//! deployments rolled back or resumed.

use std::time::Duration;

use steward_deploy::{Backend, DeployStore, DeploymentStatus, ProcessBackend, StepStatus};
use steward_test_support::wait_until;
use tokio_util::sync::CancellationToken;

use crate::support::{Harness, Service, free_port};

/// How long the real processes of these tests may take to get there.
const PATIENCE: Duration = Duration::from_secs(30);

/// The process id a replica's record names.
fn replica_pid(harness: &Harness, id: &str) -> nix::unistd::Pid {
    let path = harness
        .dir
        .path()
        .join("replicas")
        .join(format!("{id}.json"));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("record")).expect("json");
    nix::unistd::Pid::from_raw(record["pid"].as_i64().expect("pid") as i32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_backend_adopts_running_replicas_and_kills_unrecorded_ones() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 2).config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let before = harness.manager.backend().list().await.expect("list");
    assert_eq!(before.len(), 2);

    // A second backend over the same directory (steward restarted): both
    // replicas are found with the same processes, none started.
    let reopened = ProcessBackend::open(
        harness.dir.path().join("replicas"),
        harness.dir.path().join("logs"),
    )
    .await
    .expect("reopen");
    let after = reopened.list().await.expect("list");
    assert_eq!(
        after.iter().map(|r| (&r.id, r.addr)).collect::<Vec<_>>(),
        before.iter().map(|r| (&r.id, r.addr)).collect::<Vec<_>>()
    );

    // A replica process whose record is lost (a crash between spawn and
    // record) is killed by the next adoption.
    let lost = &after[0];
    std::fs::remove_file(
        harness
            .dir
            .path()
            .join("replicas")
            .join(format!("{}.json", lost.id)),
    )
    .expect("remove record");
    let _third = ProcessBackend::open(
        harness.dir.path().join("replicas"),
        harness.dir.path().join("logs"),
    )
    .await
    .expect("reopen");
    let addr = lost.addr;
    wait_until("the unrecorded replica is gone", PATIENCE, async || {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_replica_is_restarted_on_its_port() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 1).config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let mut events = harness.manager.backend().subscribe();
    let replica = harness
        .manager
        .backend()
        .list()
        .await
        .expect("list")
        .remove(0);
    let pid = replica_pid(&harness, &replica.id);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill");

    let exited = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("event")
        .expect("open");
    assert!(
        matches!(exited, steward_deploy::ReplicaEvent::Exited { ref id, .. } if id == &replica.id),
        "{exited:?}"
    );
    let restarted = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("event")
        .expect("open");
    assert!(
        matches!(
            restarted,
            steward_deploy::ReplicaEvent::Restarted { restarts: 1, .. }
        ),
        "{restarted:?}"
    );
    let addr = replica.addr;
    wait_until("the restarted replica answers", PATIENCE, async || {
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let listed = harness.manager.backend().list().await.expect("list");
    assert_eq!(listed.len(), 1, "restarted in place, not duplicated");
    assert_eq!(listed[0].restarts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_interrupted_by_a_crash_is_rolled_back_on_restart() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 2).config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );

    // Simulate a crash in the middle of updating to 2.0.0: the deployment
    // is persisted as running its update step and the lock names a dead
    // steward process on this host.
    let mut crashed = harness
        .manager
        .plan(&config, &harness.request(&config, "2.0.0"))
        .await
        .expect("plan");
    crate::support::crashed_during_first_action(&mut crashed);
    let store: &dyn DeployStore = &harness.store.store;
    store.save(&crashed, vec![]).await.expect("save");
    let dead = steward_deploy::LockHolder {
        deployment_id: crashed.id.clone(),
        host: "test-host".to_owned(),
        pid: 4_000_000,
        pid_start: 1,
        since: chrono::Utc::now(),
    };
    assert_eq!(store.try_lock(&dead).await.expect("lock"), None);

    // The crashed process's proxy is gone with it.
    harness.shutdown.cancel();
    wait_until("the old proxy has closed its port", PATIENCE, async || {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    })
    .await;
    let restarted =
        Harness::manager_on(&harness.store, harness.dir.path(), CancellationToken::new()).await;
    let recovered = restarted.recover(&config).await.expect("recover");
    assert_eq!(recovered, vec![crashed.id.clone()]);
    let done = restarted.wait(&crashed.id).await.expect("ends");
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
        crate::support::actions(&done)[0].status,
        StepStatus::RolledBack
    );
    assert_eq!(
        store.lock_holder().await.expect("holder"),
        None,
        "lock released"
    );
    let status = restarted.status(&config).await.expect("status");
    assert_eq!(
        status[0].version.as_ref().map(|v| v.as_str()),
        Some("1.0.0")
    );
    assert_eq!(status[0].replicas.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resume_policy_finishes_an_interrupted_deployment() {
    let harness = Harness::new().await;
    let port = free_port();
    let mut service = Service::new(port, 1);
    service.extra = "[deploy]\non_crash = \"resume\"\n".to_owned();
    let config = service.config(harness.dir.path());
    let mut crashed = harness
        .manager
        .plan(&config, &harness.request(&config, "1.0.0"))
        .await
        .expect("plan");
    crate::support::crashed_during_first_action(&mut crashed);
    let store: &dyn DeployStore = &harness.store.store;
    store.save(&crashed, vec![]).await.expect("save");

    let recovered = harness.manager.recover(&config).await.expect("recover");
    assert_eq!(recovered.len(), 1);
    let done = harness.manager.wait(&crashed.id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_stops_answering_leaves_its_proxy_until_it_answers_again() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 2).config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    tokio::spawn(harness.manager.health_watch(harness.shutdown.clone()));

    // Freeze one replica: it runs (no crash, no restart) but answers nothing.
    let frozen = harness
        .manager
        .backend()
        .list()
        .await
        .expect("list")
        .remove(0);
    let pid = replica_pid(&harness, &frozen.id);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("stop");
    let in_proxy = async |id: &str| {
        harness.manager.status(&config).await.expect("status")[0]
            .replicas
            .iter()
            .any(|replica| replica.id == id && replica.in_proxy)
    };
    wait_until(
        "the frozen replica leaves the proxy",
        PATIENCE,
        async || !in_proxy(&frozen.id).await,
    )
    .await;

    let load = crate::support::Load::start(std::net::SocketAddr::from(([127, 0, 0, 1], port)), 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;
    assert!(report.sent > 20, "{report:?}");
    assert_eq!(
        report.failed, 0,
        "only the healthy replica serves: {:?}",
        report.errors
    );

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("continue");
    wait_until("the replica is back in the proxy", PATIENCE, async || {
        in_proxy(&frozen.id).await
    })
    .await;
    // The watch puts the replica back before it journals that it did, so
    // the event may follow the proxy change by a moment.
    let kinds = async || -> Vec<String> {
        harness
            .store
            .store
            .events(&steward_store::EventQuery {
                kind: Some("deploy.replica".to_owned()),
                service: Some("agent".to_owned()),
                ..Default::default()
            })
            .await
            .expect("events")
            .events
            .into_iter()
            .map(|event| event.kind.as_str().to_owned())
            .collect()
    };
    wait_until("the recovery is journaled", PATIENCE, async || {
        kinds().await.first().map(String::as_str) == Some("deploy.replica.recovered")
    })
    .await;
    let kinds = kinds().await;
    assert!(
        kinds.iter().any(|kind| kind == "deploy.replica.unhealthy"),
        "{kinds:?}"
    );
}
