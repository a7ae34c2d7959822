//! Backups hold every row of a database: their directory is its owner's
//! only (0700) and every file in it (dumps and their descriptions) 0600.

use std::os::unix::fs::PermissionsExt;

use steward_migrate::{BackupPolicy, testing::TestDatabase};

use crate::support::{Dir, id_column, manager_with, options};

crate::engine_suite!(backups_are_readable_by_their_owner_only);

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn backups_are_readable_by_their_owner_only(db: TestDatabase) {
    let dir = Dir::new(&db, "migrations");
    let id = id_column(db.dialect);
    dir.write(
        "V1__secrets.sql",
        &format!(
            "CREATE TABLE secrets ({id}, v TEXT);\nINSERT INTO secrets (v) VALUES ('hunter2');"
        ),
    )
    .write("V2__more.sql", &format!("CREATE TABLE more ({id});"));
    let mut opts = options(&db);
    opts.backup = BackupPolicy::PerMigration;
    // Nested below a missing directory: every directory created is private.
    opts.backup_dir = db.dir.path().join("data/backups/app");
    let report = manager_with(&db, &dir, opts.clone()).apply().await.unwrap();
    assert!(!report.backups.is_empty(), "backups were taken");
    for created in [
        db.dir.path().join("data"),
        db.dir.path().join("data/backups"),
        opts.backup_dir.clone(),
    ] {
        assert_eq!(mode(&created), 0o700, "{}", created.display());
    }
    let files: Vec<_> = std::fs::read_dir(&opts.backup_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(
        files.len() >= 2 * report.backups.len(),
        "a dump and its description per backup: {files:?}"
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}
