//! Unit tests of specs (what changes a replica's identity and what is
//! hidden) and of check results as stored.

use steward_config::{BackendKind, load_str};
use steward_core::Version;

use serde_json::json;

use super::{CheckKind, CheckResult, DeploymentStatus, ServiceSpec, StepStatus};

fn spec(toml: &str, version: &str) -> ServiceSpec {
    let loaded = load_str(
        "test.toml",
        toml,
        std::path::Path::new("."),
        &Default::default(),
    )
    .expect("valid configuration");
    ServiceSpec::from_config(
        &loaded.config.services[0],
        &Version::new(version).expect("version"),
        BackendKind::Process,
    )
    .expect("process spec")
}

const BASE: &str = r#"
[[services]]
name = "api"
replicas = 2
port = 9000
env = { TOKEN = "s3cret" }
process.command = ["api", "--port", "{port}"]
health.tcp = true
"#;

#[test]
fn the_hash_changes_with_what_a_replica_runs_not_with_counts() {
    let base = spec(BASE, "1.0.0");
    assert_eq!(base.hash(), spec(BASE, "1.0.0").hash());
    assert_ne!(base.hash(), spec(BASE, "1.0.1").hash(), "version");
    let other_env = BASE.replace("s3cret", "other");
    assert_ne!(base.hash(), spec(&other_env, "1.0.0").hash(), "environment");
    let scaled = BASE.replace("replicas = 2", "replicas = 5");
    assert_eq!(base.hash(), spec(&scaled, "1.0.0").hash(), "replica count");
}

#[test]
fn redaction_hides_environment_values() {
    let redacted = spec(BASE, "1.0.0").redacted();
    assert_eq!(redacted.env["TOKEN"], steward_core::REDACTED);
    let json = serde_json::to_string(&redacted).expect("serializes");
    assert!(!json.contains("s3cret"));
}

#[test]
fn final_statuses() {
    for (status, done) in [
        (DeploymentStatus::Running, false),
        (DeploymentStatus::RollingBack, false),
        (DeploymentStatus::Succeeded, true),
        (DeploymentStatus::RolledBack, true),
        (DeploymentStatus::Failed, true),
        (DeploymentStatus::Aborted, true),
    ] {
        assert_eq!(status.is_final(), done, "{status}");
    }
}

#[test]
fn a_check_result_is_stored_with_its_kind() {
    let check = CheckResult {
        name: "no other deployment in progress".to_owned(),
        kind: CheckKind::DeployLock,
        passed: false,
        detail: "held".to_owned(),
    };
    let stored = serde_json::to_value(&check).expect("serializable");
    assert_eq!(
        stored,
        json!({
            "name": "no other deployment in progress",
            "kind": "deploy_lock",
            "passed": false,
            "detail": "held",
        })
    );
    assert_eq!(
        serde_json::from_value::<CheckResult>(stored).expect("readable"),
        check
    );
}

#[test]
fn a_check_stored_before_kinds_gets_its_kind_from_its_name() {
    for (name, kind) in [
        ("configuration valid", CheckKind::Configuration),
        (
            "database main reachable, migrations valid",
            CheckKind::Database,
        ),
        ("backend reachable", CheckKind::Backend),
        ("artifact present", CheckKind::Artifact),
        ("no other deployment in progress", CheckKind::DeployLock),
        ("enough disk", CheckKind::Disk),
        ("outside change freeze", CheckKind::Freeze),
    ] {
        let stored = json!({"name": name, "passed": true, "detail": "ok"});
        let check: CheckResult = serde_json::from_value(stored).expect(name);
        assert_eq!(check.kind, kind, "{name}");
    }
    let unknown = json!({"name": "something else", "passed": true, "detail": ""});
    assert!(serde_json::from_value::<CheckResult>(unknown).is_err());
}

#[test]
fn statuses_display_as_they_serialize() {
    for status in [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::Succeeded,
        StepStatus::Failed,
        StepStatus::RollingBack,
        StepStatus::RolledBack,
        StepStatus::RollbackFailed,
        StepStatus::Skipped,
    ] {
        assert_eq!(
            serde_json::to_value(status).expect("serializable"),
            json!(status.to_string())
        );
    }
    for status in [
        DeploymentStatus::Running,
        DeploymentStatus::RollingBack,
        DeploymentStatus::Succeeded,
        DeploymentStatus::RolledBack,
        DeploymentStatus::Failed,
        DeploymentStatus::Aborted,
    ] {
        assert_eq!(
            serde_json::to_value(status).expect("serializable"),
            json!(status.to_string())
        );
    }
}
