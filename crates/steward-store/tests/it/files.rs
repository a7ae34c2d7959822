//! The SQLite state database holds service environments (secrets) in plain
//! text: its directory, when the store creates it, is 0700, and the file,
//! its WAL, shared memory, lock file and migration backups are 0600.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use steward_core::{Actor, EventKind, NewEvent};
use steward_store::Store;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `dir` (recursively), with its mode.
/// A file gone between listing and reading its mode is left out: SQLite
/// removes its companions (the WAL, shared memory) when the last
/// connection closes, which sqlx's worker threads may finish just after.
fn tree(dir: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let is_dir = meta.is_dir();
        found.push((path.clone(), meta.permissions().mode() & 0o777, is_dir));
        if is_dir {
            found.extend(tree(&path));
        }
    }
    found
}

async fn open_and_write(file: &Path) -> Store {
    let store = Store::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    store
        .append(NewEvent::new(
            EventKind::new("steward.started").unwrap(),
            Actor::system(),
            "started",
        ))
        .await
        .unwrap();
    store
}

fn assert_private(data: &Path, file: &Path) {
    let wal = PathBuf::from(format!("{}-wal", file.display()));
    let shm = PathBuf::from(format!("{}-shm", file.display()));
    assert!(
        wal.is_file() && shm.is_file(),
        "the store is open in WAL mode"
    );
    let entries = tree(data);
    assert!(entries.len() >= 4, "{entries:?}");
    for (path, mode, is_dir) in entries {
        let expected = if is_dir { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{} is {mode:o}", path.display());
    }
}

#[tokio::test]
async fn a_new_state_database_is_private() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let file = data.join("steward.db");
    let store = open_and_write(&file).await;
    assert_eq!(mode(&data), 0o700, "the directory created for it");
    assert_private(&data, &file);
    store.close().await;
}

#[tokio::test]
async fn an_older_world_readable_state_database_is_tightened() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let file = data.join("steward.db");
    open_and_write(&file).await.close().await;
    // What an earlier version left: the database and its companions 0644.
    // (Its backups it leaves to retention; the data directory, 0700, keeps
    // them from other users meanwhile.)
    for (path, _, is_dir) in tree(&data) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !is_dir && name.starts_with("steward.db") {
            // gone meanwhile (see `tree`): nothing to loosen
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
        }
    }
    let store = open_and_write(&file).await;
    assert_private(&data, &file);
    store.close().await;
}
