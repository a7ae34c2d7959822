//! The step engine's edges: a database migration step undone when a later
//! step fails, the progress deadline, cancellation, metric gates, and a
//! rolling update that never runs more replicas than desired.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use steward_deploy::{DeploymentStatus, MetricGate, ServiceSpec, StepKind, StepStatus};

use crate::support::{Harness, Service, free_port};

/// Tables of a SQLite database.
async fn tables(path: &std::path::Path) -> Vec<String> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open database");
    let rows = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'steward_%' ORDER BY name")
        .fetch_all(&mut conn)
        .await
        .expect("tables");
    rows.iter()
        .map(|row| row.get::<String, _>("name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_first_and_are_undone_when_a_later_step_fails() {
    let harness = Harness::new().await;
    let migrations = harness.dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    std::fs::write(
        migrations.join("V1__tasks.sql"),
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY);\n",
    )
    .expect("write");
    std::fs::write(migrations.join("V1__tasks.down.sql"), "DROP TABLE tasks;\n").expect("write");
    let database = harness.dir.path().join("app.db");
    let database_toml = format!(
        "[[databases]]\nname = \"app\"\nurl = \"sqlite://{}\"\nmigrations = \"{}\"\n",
        database.display(),
        migrations.display()
    );
    let mut good = Service::new(free_port(), 1);
    good.extra = database_toml.clone();
    let config = good.config(harness.dir.path());
    let first = harness.deploy(&config, "1.0.0").await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    assert!(
        matches!(&crate::support::actions(&first)[0].kind, StepKind::DatabaseMigration { pending, .. } if pending == &["1 tasks".to_owned()]),
        "{:?}",
        crate::support::actions(&first)[0]
    );
    assert_eq!(tables(&database).await, ["tasks"]);

    // Version 2 adds a table and a replica that never gets healthy: the
    // migration is undone with its down file.
    std::fs::write(
        migrations.join("V2__runs.sql"),
        "CREATE TABLE runs (id INTEGER PRIMARY KEY);\n",
    )
    .expect("write");
    std::fs::write(migrations.join("V2__runs.down.sql"), "DROP TABLE runs;\n").expect("write");
    let mut bad = Service::new(good.port, 1);
    bad.extra = database_toml;
    bad.env = r#"DEMO_AGENT_FAIL_HEALTH = "true""#.to_owned();
    let bad_config = bad.config(harness.dir.path());
    let failed = harness.deploy(&bad_config, "2.0.0").await;
    assert_eq!(
        failed.status,
        DeploymentStatus::RolledBack,
        "{:?}",
        failed.error
    );
    let migration = crate::support::actions(&failed)[0];
    assert_eq!(migration.status, StepStatus::RolledBack);
    assert_eq!(
        migration.detail.as_deref(),
        Some("undid 1 migrations of app")
    );
    assert_eq!(tables(&database).await, ["tasks"], "runs dropped again");
}

/// `service` as a version that is not ready for a minute, inside a long
/// start period, with `deadline` as its progress deadline.
fn never_ready(service: &mut Service, harness: &Harness, deadline: &str) -> steward_config::Config {
    service.env = r#"DEMO_AGENT_STARTUP_DELAY = "60""#.to_owned();
    let toml = service
        .toml()
        .replace(
            "progress_deadline = \"60s\"",
            &format!("progress_deadline = \"{deadline}\""),
        )
        .replace(
            "unhealthy_threshold = 2",
            "unhealthy_threshold = 2\nstart_period = \"5m\"",
        );
    crate::support::load(&toml, harness.dir.path())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_past_its_progress_deadline_fails_and_rolls_back() {
    let harness = Harness::new().await;
    let mut service = Service::new(free_port(), 1);
    let config = service.config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    // Not ready for a minute, inside a long start period: only the
    // deadline ends the wait.
    let slow = never_ready(&mut service, &harness, "2s");
    let failed = harness.deploy(&slow, "1.1.0").await;
    assert_eq!(failed.status, DeploymentStatus::RolledBack);
    assert_eq!(
        failed.error.as_deref(),
        Some("update_services:agent failed: updating agent passed its progress deadline of 2s")
    );
    let replicas = harness.manager.backend().list().await.expect("list");
    assert_eq!(replicas.len(), 1);
    assert_eq!(
        replicas[0].version.as_str(),
        "1.0.0",
        "the slow replica was stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_deployment_rolls_back() {
    let harness = Harness::new().await;
    let mut service = Service::new(free_port(), 1);
    let config = service.config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );
    let slow = never_ready(&mut service, &harness, "60s");
    let started = harness
        .manager
        .deploy(&slow, harness.request(&slow, "1.1.0"))
        .await
        .expect("starts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    harness.manager.cancel(&started.id).expect("running here");
    let done = harness.manager.wait(&started.id).await.expect("ends");
    assert_eq!(done.status, DeploymentStatus::RolledBack);
    assert_eq!(
        done.error.as_deref(),
        Some("update_services:agent failed: cancelled")
    );
    let replicas = harness.manager.backend().list().await.expect("list");
    assert_eq!(
        replicas
            .iter()
            .map(|r| r.version.as_str())
            .collect::<Vec<_>>(),
        ["1.0.0"]
    );
}

/// A gate that fails every version whose name ends in `-slow`, as a
/// latency gate would for a slow build.
struct LatencyGate {
    checked: AtomicUsize,
}

#[async_trait]
impl MetricGate for LatencyGate {
    fn name(&self) -> String {
        "p99 latency < 1s".to_owned()
    }

    async fn check(&self, spec: &ServiceSpec, since: DateTime<Utc>) -> Result<(), String> {
        self.checked.fetch_add(1, Ordering::SeqCst);
        assert!(since <= Utc::now());
        if spec.version.as_str().ends_with("-slow") {
            Err("p99 was 2.4s since the update started".to_owned())
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_metric_gate_rolls_the_deployment_back() {
    let harness = Harness::new().await;
    let gate = Arc::new(LatencyGate {
        checked: AtomicUsize::new(0),
    });
    harness.manager.add_gate(gate.clone());
    let config = Service::new(free_port(), 1).config(harness.dir.path());
    let good = harness.deploy(&config, "1.0.0").await;
    assert_eq!(good.status, DeploymentStatus::Succeeded);
    assert!(
        good.plan
            .steps
            .last()
            .and_then(|s| s.detail.as_deref())
            .is_some_and(|d| d.ends_with("1 metric gates passed"))
    );
    let bad = harness.deploy(&config, "1.1.0-slow").await;
    assert_eq!(bad.status, DeploymentStatus::RolledBack);
    assert_eq!(
        bad.error.as_deref(),
        Some(
            "verify_health failed: metric gate p99 latency < 1s of agent failed: p99 was 2.4s since the update started"
        )
    );
    assert_eq!(gate.checked.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_surge_a_rolling_update_never_exceeds_the_desired_count() {
    let harness = Harness::new().await;
    let mut service = Service::new(free_port(), 3);
    service.rollout = "max_surge = 0\nmax_unavailable = 1".to_owned();
    let config = service.config(harness.dir.path());
    assert_eq!(
        harness.deploy(&config, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );

    let backend = Arc::clone(harness.manager.backend());
    let watching = Arc::new(AtomicUsize::new(0));
    let most = Arc::clone(&watching);
    let watcher = tokio::spawn(async move {
        loop {
            let running = backend.list().await.expect("list").len();
            most.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let done = harness.deploy(&config, "1.1.0").await;
    watcher.abort();
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
    assert_eq!(
        watching.load(Ordering::SeqCst),
        3,
        "never more than 3 replicas"
    );
    let versions: Vec<String> = harness
        .manager
        .backend()
        .list()
        .await
        .expect("list")
        .iter()
        .map(|replica| replica.version.to_string())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.1.0", "1.1.0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_that_fails_leaves_the_deployment_failed_saying_what_runs() {
    let harness = Harness::new().await;
    // Version 1 runs from a copy of the agent that disappears later, so
    // that rolling back to it cannot start a replica.
    let copy = harness.dir.path().join("agent-v1");
    std::fs::copy(crate::support::demo_agent(), &copy).expect("copy agent");
    let mut service = Service::new(free_port(), 2);
    service.rollout = "max_surge = 0\nmax_unavailable = 1".to_owned();
    let original = crate::support::demo_agent().display().to_string();
    let v1 = service
        .toml()
        .replace(&original, &copy.display().to_string());
    let v1 = crate::support::load(&v1, harness.dir.path());
    assert_eq!(
        harness.deploy(&v1, "1.0.0").await.status,
        DeploymentStatus::Succeeded
    );

    std::fs::remove_file(&copy).expect("remove v1");
    service.env = r#"DEMO_AGENT_FAIL_HEALTH = "true""#.to_owned();
    let v2 = service.config(harness.dir.path());
    let failed = harness.deploy(&v2, "2.0.0").await;
    assert_eq!(failed.status, DeploymentStatus::Failed);
    assert_eq!(
        crate::support::actions(&failed)[0].status,
        StepStatus::RollbackFailed
    );
    let error = failed.error.as_deref().expect("says what happened");
    assert!(
        error.starts_with("update_services:agent failed: replica agent-"),
        "{error}"
    );
    assert!(
        error.contains(
            "then the rollback of update_services:agent (rollback failed: process backend: "
        ),
        "{error}"
    );
    assert!(error.contains("Running now: agent: agent-"), "{error}");
    assert!(
        error.contains("@1.0.0"),
        "the remaining old replica is named: {error}"
    );
    assert!(
        error.ends_with("Fix the cause and deploy again, or run `steward rollback`"),
        "{error}"
    );
    assert_eq!(
        harness.manager.backend().list().await.expect("list").len(),
        1,
        "one old replica was replaced before the failure"
    );
}
