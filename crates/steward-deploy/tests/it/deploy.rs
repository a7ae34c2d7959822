//! Deployments of the real demo agent on the process backend: first
//! deploy, rolling and blue-green updates under load, automatic rollback of
//! bad versions, refusals, locks, rollback to the previous release.

use std::{net::SocketAddr, time::Duration};

use steward_core::Name;
use steward_deploy::{ChangeKind, DeploymentStatus, StepKind, StepStatus};
use steward_store::EventQuery;

use crate::support::{Harness, Load, Service, free_port};

fn proxy_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn versions_served(port: u16, requests: usize) -> Vec<String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut versions = Vec::new();
    for _ in 0..requests {
        let health: serde_json::Value = client
            .get(format!("http://{}/healthz", proxy_addr(port)))
            .send()
            .await
            .expect("proxy answers")
            .json()
            .await
            .expect("json");
        versions.push(health["version"].as_str().expect("version").to_owned());
    }
    versions.sort();
    versions.dedup();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_of_four_replicas_under_load_fails_no_request() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 4).config(harness.dir.path());

    let first = harness.deploy(&config, "1.0.0").await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    assert_eq!(first.plan.changes[0].kind, ChangeKind::Create);
    assert_eq!(versions_served(port, 8).await, ["1.0.0"]);

    let load = Load::start(proxy_addr(port), 8);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = harness.deploy(&config, "1.1.0").await;
    let report = load.stop().await;
    assert_eq!(
        second.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        second.error
    );
    assert_eq!(second.plan.changes[0].kind, ChangeKind::Update);
    assert!(report.sent > 100, "load ran: {report:?}");
    assert_eq!(
        report.failed,
        0,
        "no failed request: {:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(versions_served(port, 8).await, ["1.1.0"]);

    let status = harness.manager.status(&config).await.expect("status");
    assert_eq!(
        status[0].replicas.len(),
        4,
        "old replicas stopped: {status:?}"
    );
    assert!(
        status[0]
            .replicas
            .iter()
            .all(|replica| replica.version.as_str() == "1.1.0" && replica.in_proxy)
    );

    let kinds = crate::support::event_kinds(&harness, &second.id).await;
    for expected in [
        "deploy.started",
        "deploy.step.started",
        "deploy.replica.started",
        "deploy.replica.healthy",
        "deploy.replica.added",
        "deploy.replica.drained",
        "deploy.replica.stopped",
        "deploy.step.succeeded",
        "deploy.succeeded",
    ] {
        assert!(
            kinds.iter().any(|kind| kind == expected),
            "{expected} journaled: {kinds:?}"
        );
    }
    assert_eq!(kinds.first().map(String::as_str), Some("deploy.requested"));
    // Replica events are journaled before the step that caused them ends
    // (the first step after the gates, which precede `deploy.started`).
    let started = kinds
        .iter()
        .position(|kind| kind == "deploy.started")
        .expect("started");
    let last_stop = kinds
        .iter()
        .rposition(|kind| kind == "deploy.replica.stopped");
    let first_success = kinds
        .iter()
        .skip(started)
        .position(|kind| kind == "deploy.step.succeeded")
        .map(|at| at + started);
    assert!(last_stop < first_success, "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("deploy.succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_at_once_and_rolls_back_instantly() {
    let harness = Harness::new().await;
    let port = free_port();
    let mut service = Service::new(port, 4);
    service.strategy = "blue_green";
    let config = service.config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );

    let load = Load::start(proxy_addr(port), 8);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = harness.deploy(&config, "2.0.0").await;
    let report = load.stop().await;
    assert_eq!(
        second.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        second.error
    );
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(versions_served(port, 8).await, ["2.0.0"]);
    // The blue set keeps running out of the proxy for `keep_old_for`.
    let status = harness.manager.status(&config).await.expect("status");
    let idle: Vec<_> = status[0]
        .replicas
        .iter()
        .filter(|replica| !replica.in_proxy)
        .collect();
    assert_eq!(idle.len(), 4, "{status:?}");
    assert!(
        idle.iter()
            .all(|replica| replica.version.as_str() == "1.0.0")
    );

    // Rolling back to 1.0.0 reuses the kept set: no replica is started.
    let (release, services) = harness
        .manager
        .rollback_release(None, None)
        .await
        .expect("previous release");
    assert_eq!(release.version.as_str(), "1.0.0");
    let mut request = harness.request(&config, "1.0.0");
    request.release = release;
    request.services = Some(services);
    let load = Load::start(proxy_addr(port), 8);
    let rollback = harness
        .manager
        .deploy(&config, request)
        .await
        .expect("rollback starts");
    let rollback = harness
        .manager
        .wait(&rollback.id)
        .await
        .expect("rollback ends");
    let report = load.stop().await;
    assert_eq!(
        rollback.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        rollback.error
    );
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(versions_served(port, 8).await, ["1.0.0"]);
    let kinds = crate::support::event_kinds(&harness, &rollback.id).await;
    assert!(
        !kinds.iter().any(|kind| kind == "deploy.replica.started"),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|kind| kind == "deploy.traffic.switched"),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_failing_its_health_check_is_rolled_back_while_the_old_one_serves() {
    let harness = Harness::new().await;
    let port = free_port();
    let good = Service::new(port, 2);
    let config = good.config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );

    let mut bad = Service::new(port, 2);
    bad.env = r#"DEMO_AGENT_FAIL_HEALTH = "true""#.to_owned();
    let bad_config = bad.config(harness.dir.path());
    let load = Load::start(proxy_addr(port), 4);
    let deployment = harness.deploy(&bad_config, "1.1.0-bad").await;
    let report = load.stop().await;

    assert_eq!(deployment.status, DeploymentStatus::RolledBack);
    let error = deployment.error.as_deref().expect("says why");
    assert!(
        error.starts_with("update_services:agent failed: replica agent-"),
        "{error}"
    );
    assert!(error.contains("GET /healthz answered 503"), "{error}");
    let update = crate::support::actions(&deployment)[0];
    assert!(matches!(update.kind, StepKind::UpdateServices { .. }));
    assert_eq!(update.status, StepStatus::RolledBack);
    assert_eq!(
        crate::support::actions(&deployment)[1].status,
        StepStatus::Skipped,
        "verify never ran"
    );
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(versions_served(port, 6).await, ["1.0.0"]);
    let status = harness.manager.status(&config).await.expect("status");
    assert_eq!(
        status[0].version.as_ref().map(|v| v.as_str()),
        Some("1.0.0")
    );
    assert_eq!(
        status[0].replicas.len(),
        2,
        "bad replicas stopped: {status:?}"
    );
    let kinds = crate::support::event_kinds(&harness, &deployment.id).await;
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("deploy.rolled_back"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|kind| kind == "deploy.replica.unhealthy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_failing_its_smoke_check_is_rolled_back() {
    let harness = Harness::new().await;
    let port = free_port();
    let smoke = r#"
[[services.rollout.smoke]]
http = "/v1/tasks"
method = "POST"
body = '{"prompt": "smoke", "model": "demo-pro"}'
expect_status = 200
"#;
    let mut good = Service::new(port, 2);
    good.rollout = smoke.to_owned();
    let config = good.config(harness.dir.path());
    let first = harness.deploy(&config, "1.0.0").await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    assert!(
        first
            .plan
            .steps
            .last()
            .and_then(|step| step.detail.as_deref())
            .is_some_and(|d| d.contains("1 smoke checks and 0 metric gates passed"))
    );

    // The bad version dropped the model the smoke check uses; the load
    // (default model) still works on it.
    let mut bad = Service::new(port, 2);
    bad.rollout = smoke.to_owned();
    bad.env = r#"DEMO_AGENT_MODELS = "demo-mini:0.00015:0.0006""#.to_owned();
    let bad_config = bad.config(harness.dir.path());
    let load = Load::start(proxy_addr(port), 4);
    let deployment = harness.deploy(&bad_config, "1.1.0").await;
    let report = load.stop().await;
    assert_eq!(deployment.status, DeploymentStatus::RolledBack);
    let error = deployment.error.as_deref().expect("says why");
    assert!(error.starts_with("verify_health failed: smoke check of agent failed: POST /v1/tasks answered 422, expected 200"), "{error}");
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(versions_served(port, 6).await, ["1.0.0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pre_checks_refuse_the_deployment_unless_forced() {
    let harness = Harness::new().await;
    let port = free_port();
    let mut service = Service::new(port, 1);
    service.extra = r#"
[[deploy.freeze]]
start = 2000-01-01T00:00:00Z
end = 2999-01-01T00:00:00Z
reason = "year-end freeze"
"#
    .to_owned();
    let config = service.config(harness.dir.path());
    let refused = harness.deploy(&config, "1.0.0").await;
    assert_eq!(refused.status, DeploymentStatus::Aborted);
    let error = refused.error.as_deref().expect("reason");
    assert!(
        error.contains(
            "outside change freeze: change freeze until 2999-01-01T00:00:00+00:00: year-end freeze"
        ),
        "{error}"
    );
    assert!(
        harness.manager.status(&config).await.expect("status")[0]
            .replicas
            .is_empty(),
        "nothing started"
    );

    let mut forced = harness.request(&config, "1.0.0");
    forced.force = true;
    let started = harness
        .manager
        .deploy(&config, forced)
        .await
        .expect("starts");
    let done = harness.manager.wait(&started.id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
    assert!(done.forced);
    let page = harness
        .store
        .store
        .events(&EventQuery {
            kind: Some("deploy.started".to_owned()),
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let started_event = page
        .events
        .iter()
        .find(|event| event.payload["deployment"] == done.id)
        .expect("journaled");
    assert_eq!(
        started_event.payload["forced_checks"][0]["name"],
        "outside change freeze"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_fails_the_artifact_check() {
    let harness = Harness::new().await;
    let service = Service::new(free_port(), 1);
    let toml = service.toml().replace(
        &crate::support::demo_agent().display().to_string(),
        "/nonexistent/agent-{version}",
    );
    let config = crate::support::load(&toml, harness.dir.path());
    let plan = harness
        .manager
        .plan(&config, &harness.request(&config, "3.1.0"))
        .await
        .expect("plan");
    let artifact = plan
        .plan
        .checks
        .iter()
        .find(|check| check.name == "artifact present")
        .expect("checked");
    assert!(!artifact.passed);
    assert!(
        artifact
            .detail
            .contains("program `/nonexistent/agent-3.1.0` of agent not found"),
        "{}",
        artifact.detail
    );
    let refused = harness.deploy(&config, "3.1.0").await;
    assert_eq!(refused.status, DeploymentStatus::Aborted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_deployment_is_refused_while_one_runs_and_can_wait_for_it() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 2).config(harness.dir.path());
    let first = harness
        .manager
        .deploy(&config, harness.request(&config, "1.0.0"))
        .await
        .expect("starts");
    assert_eq!(first.status, DeploymentStatus::Running);
    crate::support::wait_for_lock_holder(&harness, &first.id).await;

    let refused = harness.deploy(&config, "1.0.1").await;
    assert_eq!(refused.status, DeploymentStatus::Aborted);
    assert!(
        refused
            .error
            .as_deref()
            .is_some_and(|e| e.contains(&format!(
                "deployment {} is in progress (lock held by pid {}",
                first.id,
                std::process::id()
            ))),
        "{:?}",
        refused.error
    );

    let mut waiting = harness.request(&config, "1.0.2");
    waiting.wait_lock = Duration::from_secs(60);
    let queued = harness
        .manager
        .deploy(&config, waiting)
        .await
        .expect("waits, then starts");
    let first = harness.manager.wait(&first.id).await.expect("first ends");
    assert_eq!(first.status, DeploymentStatus::Succeeded);
    let queued = harness.manager.wait(&queued.id).await.expect("second ends");
    assert_eq!(
        queued.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        queued.error
    );
    assert_eq!(versions_served(port, 4).await, ["1.0.2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pre_deploy_hook_aborts_and_hooks_see_the_deployment() {
    let harness = Harness::new().await;
    let out = harness.dir.path().join("post.txt");
    let mut service = Service::new(free_port(), 1);
    service.extra = format!(
        r#"
[deploy.hooks]
pre_deploy = ["sh", "-c", "test \"$STEWARD_VERSION\" != 0.0.1 || {{ echo 'version 0.0.1 is blocked' >&2; exit 1; }}"]
post_deploy = ["sh", "-c", "echo \"$STEWARD_DEPLOYMENT_ID $STEWARD_SERVICES $STEWARD_STATUS\" > {}"]
"#,
        out.display()
    );
    let config = service.config(harness.dir.path());
    let blocked = harness.deploy(&config, "0.0.1").await;
    assert_eq!(blocked.status, DeploymentStatus::Aborted);
    assert!(
        blocked
            .error
            .as_deref()
            .is_some_and(|e| e.contains("version 0.0.1 is blocked")),
        "{:?}",
        blocked.error
    );

    let done = harness.deploy(&config, "0.0.2").await;
    assert_eq!(done.status, DeploymentStatus::Succeeded);
    let written = std::fs::read_to_string(&out).expect("post_deploy ran");
    assert_eq!(written.trim(), format!("{} agent succeeded", done.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_finds_the_previous_release_of_a_service() {
    let harness = Harness::new().await;
    let port = free_port();
    let config = Service::new(port, 1).config(harness.dir.path());
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        assert_eq!(
            harness.deploy(&config, version).await.status,
            DeploymentStatus::Succeeded
        );
    }
    let agent = Name::new("agent").expect("name");
    let (release, services) = harness
        .manager
        .rollback_release(Some(&agent), None)
        .await
        .expect("found");
    assert_eq!(release.version.as_str(), "1.1.0");
    assert_eq!(services, vec![agent.clone()]);
    let version = steward_core::Version::new("1.0.0").expect("version");
    let (release, _) = harness
        .manager
        .rollback_release(Some(&agent), Some(&version))
        .await
        .expect("found");
    assert_eq!(release.version.as_str(), "1.0.0");
    let missing = steward_core::Version::new("0.9.0").expect("version");
    let err = harness
        .manager
        .rollback_release(Some(&agent), Some(&missing))
        .await
        .expect_err("never deployed");
    assert_eq!(err.to_string(), "no successful deployment of version 0.9.0");

    let listed = harness.manager.list(Some("agent"), 10).await.expect("list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].version.as_str(), "1.2.0", "newest first");
}
