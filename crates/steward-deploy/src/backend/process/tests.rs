//! Unit tests for the process backend: what a real replica leaves on disk
//! (private records and logs) and its logs' rotation while it runs.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use steward_config::{BackendKind, Environment, load_str};

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A service whose replica writes `bytes` bytes to stdout, then sleeps.
fn spec(dir: &Path, bytes: usize) -> ServiceSpec {
    let toml = format!(
        r#"
[[services]]
name = "chatty"
process.command = ["sh", "-c", "head -c {bytes} /dev/zero | tr '\\0' x; echo; echo done >&2; exec sleep 30"]
env = {{ API_KEY = "hunter2" }}
"#
    );
    let loaded = load_str("test.toml", &toml, dir, &Environment::default()).unwrap();
    ServiceSpec::from_config(
        &loaded.config.services[0],
        &Version::new("1.0.0").unwrap(),
        BackendKind::Process,
    )
    .unwrap()
}

async fn start(backend: &ProcessBackend, spec: &ServiceSpec) -> Replica {
    backend
        .start(StartRequest {
            spec,
            id: "chatty-r1".to_owned(),
            index: 0,
            deployment_id: "dep_test",
        })
        .await
        .unwrap()
}

/// Waits (bounded) until `path` holds at least `len` bytes.
async fn wait_for_size(path: &Path, len: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(path).map_or(0, |m| m.len()) < len {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never reached {len} bytes",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_replica_leaves_only_private_files_and_directories() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let backend = ProcessBackend::open(data.join("replicas"), data.join("logs"))
        .await
        .unwrap();
    let spec = spec(root.path(), 10);
    let replica = start(&backend, &spec).await;
    let (stdout, stderr) = backend.log_files("chatty", &replica.id);
    wait_for_size(&stderr, 5).await;

    let record = data.join("replicas/chatty-r1.json");
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .contains("hunter2"),
        "the record holds the environment, so it must be private"
    );
    for dir in [
        data.clone(),
        data.join("replicas"),
        data.join("logs"),
        data.join("logs/chatty"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [&record, &stdout, &stderr] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    backend
        .stop(&replica.id, Duration::from_secs(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_running_replicas_log_is_rotated_by_copy_and_truncate() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let backend = ProcessBackend::open(data.join("replicas"), data.join("logs"))
        .await
        .unwrap();
    let spec = spec(root.path(), 200_000);
    let replica = start(&backend, &spec).await;
    let (stdout, stderr) = backend.log_files("chatty", &replica.id);
    wait_for_size(&stdout, 200_001).await;
    wait_for_size(&stderr, 5).await;

    let retention = LogRetention {
        max_size: 100_000,
        keep: 3,
        max_age: Some(Duration::from_secs(14 * 24 * 3600)),
    };
    let done = clean_logs(&data.join("replicas"), &data.join("logs"), retention)
        .await
        .unwrap();
    assert_eq!(
        done,
        LogCleanup {
            rotated: 1,
            deleted: 0
        }
    );
    let copy = stdout.with_file_name(format!("{}.stdout.log.1", replica.id));
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), 200_001);
    assert_eq!(mode(&copy), 0o600);
    assert_eq!(std::fs::metadata(&stdout).unwrap().len(), 0);
    assert_eq!(
        std::fs::read_to_string(&stderr).unwrap(),
        "done\n",
        "small logs stay"
    );

    // The running replica is never pruned, and a stopped one's logs stay
    // until they are old.
    backend
        .stop(&replica.id, Duration::from_secs(5))
        .await
        .unwrap();
    let done = backend.clean_logs(retention).await.unwrap();
    assert_eq!(done, LogCleanup::default());
    assert!(stdout.exists() && copy.exists());
}
