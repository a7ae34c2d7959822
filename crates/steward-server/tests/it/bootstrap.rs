//! The data directory and the bootstrap admin token: the directory is
//! private (created so, or tightened) with every file in it; one token for
//! all the instances that start at once on a shared PostgreSQL database,
//! written to disk without following a symlink planted in the directory.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use steward_config::{Environment, load_str};
use steward_server::{ADMIN_TOKEN_FILE, ensure_admin_token, secure_data_dir, start};
use steward_store::{Store, testing};
use tokio_util::sync::CancellationToken;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `dir`, recursively.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(tree(&path));
        }
        found.push(path);
    }
    found
}

#[test]
fn a_new_data_directory_is_created_private() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("var/steward");
    secure_data_dir(&data_dir).unwrap();
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&root.path().join("var")), 0o700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_server_tightens_its_data_directory_and_writes_private_files() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n";
    let config = load_str("files.toml", text, root.path(), &Environment::default()).unwrap();
    let running = start(config, CancellationToken::new()).await.unwrap();
    assert_eq!(mode(&data_dir), 0o700, "tightened at start");
    let files = tree(&data_dir);
    for name in ["steward.db", "steward.db-wal", ADMIN_TOKEN_FILE] {
        assert!(files.contains(&data_dir.join(name)), "{name} in {files:?}");
    }
    for path in &files {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(path), expected, "{}", path.display());
    }
    running.shutdown();
    running.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_instances_on_postgres_bootstrap_one_admin_token() {
    let Some(url) = testing::postgres_database().await else {
        return;
    };
    // Migrated once, so the instances race on the bootstrap, not the schema.
    let first = Store::connect(&url).await.unwrap();
    for round in 0..3 {
        let root = tempfile::tempdir().unwrap();
        const INSTANCES: usize = 6;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(INSTANCES));
        let mut instances = Vec::new();
        for n in 0..INSTANCES {
            let store = Store::connect(&url).await.unwrap();
            store.ping().await.unwrap();
            let data_dir = root.path().join(format!("instance-{n}"));
            let start = start.clone();
            instances.push(tokio::spawn(async move {
                start.wait().await;
                let created = ensure_admin_token(&store, &data_dir).await;
                store.close().await;
                created
            }));
        }
        let mut written = Vec::new();
        for instance in instances {
            if let Some(path) = instance.await.unwrap().unwrap() {
                written.push(path);
            }
        }
        assert_eq!(written.len(), 1, "round {round}: {written:?}");
        assert_eq!(first.live_admin_tokens().await.unwrap(), 1, "round {round}");
        let secret = std::fs::read_to_string(&written[0]).unwrap();
        let token = first.authenticate(secret.trim()).await.unwrap().unwrap();
        // Next round: no admin again.
        let mut tx = first.begin().await.unwrap();
        tx.revoke_token(&token.id).await.unwrap();
        tx.commit().await.unwrap();
    }
    first.close().await;
}

#[tokio::test]
async fn a_symlink_planted_at_the_temporary_path_is_not_followed() {
    let test = testing::sqlite().await;
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let victim = root.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let temporary = data_dir.join(format!("{ADMIN_TOKEN_FILE}.tmp"));
    std::os::unix::fs::symlink(&victim, &temporary).unwrap();

    let path = ensure_admin_token(&test.store, &data_dir)
        .await
        .unwrap()
        .expect("a token is created");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let metadata = std::fs::symlink_metadata(&path).unwrap();
    assert!(metadata.file_type().is_file(), "a regular file, not a link");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let secret = std::fs::read_to_string(&path).unwrap();
    assert!(
        test.store
            .authenticate(secret.trim())
            .await
            .unwrap()
            .is_some()
    );
    assert!(!temporary.exists(), "nothing is left at the temporary path");
}
