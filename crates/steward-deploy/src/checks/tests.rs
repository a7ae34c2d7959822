//! Unit tests of the pre-deployment checks: their order by kind, and the
//! deploy-lock check told the holder and the deployment it plans for.

use chrono::Utc;
use steward_config::{Config, Environment, load_str};
use steward_core::Version;

use super::{Inputs, result, run};
use crate::{
    Result,
    backend::process::ProcessBackend,
    model::{CheckKind, CheckResult, LockHolder, Release},
    plan::release_from_config,
};

const CONFIG: &str = r#"
[[services]]
name = "api"
port = 9000
process.command = ["api", "--port", "{port}"]
health.tcp = true
"#;

fn config(dir: &std::path::Path) -> (Config, Release) {
    let config = load_str("steward.toml", CONFIG, dir, &Environment::default())
        .expect("valid configuration")
        .config;
    let release =
        release_from_config(&config, &Version::new("1.0.0").expect("version")).expect("release");
    (config, release)
}

fn holder(deployment: &str) -> LockHolder {
    LockHolder {
        deployment_id: deployment.to_owned(),
        host: "elsewhere".to_owned(),
        pid: 42,
        pid_start: 1,
        since: Utc::now(),
    }
}

/// Runs the checks with no changes and the given lock state.
async fn checks(
    lock_holder: Result<Option<LockHolder>>,
    own: Option<&str>,
    databases: Vec<CheckResult>,
) -> Vec<CheckResult> {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = ProcessBackend::open(dir.path().join("replicas"), dir.path().join("logs"))
        .await
        .expect("backend");
    let (config, release) = config(dir.path());
    let inputs = Inputs {
        backend: &backend,
        data_dir: dir.path(),
        lock_holder,
        own,
    };
    run(&config, &release, &[], inputs, databases).await
}

#[tokio::test]
async fn checks_are_listed_by_kind_with_databases_in_their_order() {
    let databases = vec![
        result(CheckKind::Database, "database b", Ok("fine".to_owned())),
        result(CheckKind::Database, "database a", Err("down".to_owned())),
    ];
    let checks = checks(Ok(None), None, databases).await;
    let kinds: Vec<CheckKind> = checks.iter().map(|check| check.kind).collect();
    assert_eq!(
        kinds,
        [
            CheckKind::Configuration,
            CheckKind::Database,
            CheckKind::Database,
            CheckKind::Backend,
            CheckKind::Artifact,
            CheckKind::DeployLock,
            CheckKind::Disk,
            CheckKind::Freeze,
        ]
    );
    assert_eq!(checks[1].name, "database b");
    assert_eq!(checks[2].name, "database a");
    assert!(!checks[2].passed);
    assert_eq!(checks[2].detail, "down");
}

#[tokio::test]
async fn the_lock_check_passes_when_free_or_held_by_the_planned_deployment() {
    let lock = |checks: Vec<CheckResult>| {
        checks
            .into_iter()
            .find(|check| check.kind == CheckKind::DeployLock)
            .expect("a deploy lock check")
    };
    let free = lock(checks(Ok(None), Some("d1"), Vec::new()).await);
    assert!(free.passed);
    assert_eq!(free.detail, "deploy lock free");

    let own = lock(checks(Ok(Some(holder("d1"))), Some("d1"), Vec::new()).await);
    assert!(own.passed);
    assert_eq!(own.detail, "deploy lock held by this deployment");

    let other = lock(checks(Ok(Some(holder("d1"))), Some("d2"), Vec::new()).await);
    assert!(!other.passed);
    assert!(
        other
            .detail
            .starts_with("deployment d1 holds the deploy lock (pid 42 on elsewhere since "),
        "{}",
        other.detail
    );

    let unplanned = lock(checks(Ok(Some(holder("d1"))), None, Vec::new()).await);
    assert!(!unplanned.passed);
}
