//! Unit tests for the `files` module.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn created_directories_are_private_and_existing_ones_untouched() {
    let root = tempfile::tempdir().unwrap();
    let shared = root.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, Permissions::from_mode(0o755)).unwrap();
    create_private_dir(&shared.join("a/b")).unwrap();
    assert_eq!(mode(&shared.join("a")), 0o700);
    assert_eq!(mode(&shared.join("a/b")), 0o700);
    assert_eq!(
        mode(&shared),
        0o755,
        "a directory that existed is left alone"
    );
}

#[test]
fn the_database_file_is_created_private_and_an_open_one_tightened() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("steward.db");
    prepare_database_file(&file).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);

    std::fs::write(&file, b"kept").unwrap();
    std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
    prepare_database_file(&file).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::read(&file).unwrap(), b"kept", "never truncated");
}

#[test]
fn companions_of_the_database_are_tightened_and_others_not() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("steward.db");
    for name in [
        "steward.db",
        "steward.db-wal",
        "steward.db.steward-lock",
        "other.txt",
    ] {
        let path = root.path().join(name);
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
    }
    tighten_companions(&file).unwrap();
    for name in ["steward.db", "steward.db-wal", "steward.db.steward-lock"] {
        assert_eq!(mode(&root.path().join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&root.path().join("other.txt")), 0o644);
}
