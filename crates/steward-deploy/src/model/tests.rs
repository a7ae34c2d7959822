//! Unit tests of specs: what changes a replica's identity and what is hidden.

use steward_config::{BackendKind, load_str};
use steward_core::Version;

use super::{DeploymentStatus, ServiceSpec};

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
