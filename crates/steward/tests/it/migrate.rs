//! `steward migrate` as real processes: exit codes, two processes at once,
//! and kill -9 in the middle of apply on every engine.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use steward_migrate::{Dialect, MigrationManager, Options, Source, status::State, testing};

use crate::support::{BIN, stderr, stdout};

/// Writes `count` migrations that each create two tables around a slow
/// statement (about 0.4 s), so that a kill lands inside one.
fn slow_migrations(dir: &Path, dialect: Dialect, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let slow = match dialect {
        Dialect::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) SELECT count(*) FROM c"
        }
        Dialect::Postgres => "SELECT pg_sleep(0.4)",
        Dialect::Mysql => "SELECT SLEEP(0.4)",
    };
    for n in 1..=count {
        std::fs::write(
            dir.join(format!("V{n}__step{n}.sql")),
            format!("CREATE TABLE t{n}a (x INT);\n{slow};\nCREATE TABLE t{n}b (x INT);\n"),
        )
        .unwrap();
    }
}

fn migrate(url: &str, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["migrate", "--url", url, "--dir"])
        .arg(dir)
        .arg("--backup-dir")
        .arg(dir.parent().unwrap().join("backups"))
        .args(args)
        .env_remove("DATABASE_URL");
    command
}

fn manager(url: &str, dir: &Path) -> MigrationManager {
    let mut options = Options::new(dir.parent().unwrap().join("backups"));
    options.lock_timeout = Duration::from_secs(10);
    MigrationManager::new(url, Source::from_dir(dir).unwrap(), options).unwrap()
}

/// Tables t<n>a/t<n>b present in the schema.
async fn tables(url: &str, dir: &Path) -> Vec<String> {
    let dump = manager(url, dir).schema_dump().await.unwrap();
    let is_table = |word: &&str| {
        word.len() >= 3
            && word.starts_with('t')
            && (word.ends_with('a') || word.ends_with('b'))
            && word[1..word.len() - 1].bytes().all(|b| b.is_ascii_digit())
    };
    let mut found: Vec<String> = dump
        .iter()
        .flat_map(|line| {
            line.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(is_table)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn exit_codes_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("V1__a.sql"), "CREATE TABLE a (x INT);").unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let applied = migrate(&url, &migrations, &["apply"]).output().unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(
        stdout(&applied).contains("applied 1 migration(s)"),
        "{}",
        stdout(&applied)
    );

    std::fs::write(
        migrations.join("V2__bad.sql"),
        "CREATE TABLE b (x INT);\nSELEC 1;",
    )
    .unwrap();
    let failed = migrate(&url, &migrations, &["apply"]).output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let message = stderr(&failed);
    assert!(
        message.contains("V2__bad.sql:2") && message.contains("rolled back"),
        "{message}"
    );

    let status = migrate(&url, &migrations, &["status", "--output", "json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["entries"][1]["state"], "failed");

    let invalid = migrate(&url, &migrations, &["validate"]).output().unwrap();
    assert_eq!(
        invalid.status.code(),
        Some(1),
        "a failed migration needs attention"
    );

    std::fs::write(migrations.join("bad-name.sql"), "SELECT 1;").unwrap();
    let bad_dir = migrate(&url, &migrations, &["status"]).output().unwrap();
    assert_eq!(
        bad_dir.status.code(),
        Some(2),
        "a malformed directory is a usage error"
    );
    assert!(
        stderr(&bad_dir).contains("bad-name.sql"),
        "{}",
        stderr(&bad_dir)
    );
}

#[test]
fn plan_prints_the_sql_and_denies_risky_changes() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("V1__a.sql"),
        "CREATE TABLE a (x INT, y INT);",
    )
    .unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    assert!(
        migrate(&url, &migrations, &["apply"])
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(
        migrations.join("V2__drop.sql"),
        "-- tidy up\nALTER TABLE a DROP COLUMN y;",
    )
    .unwrap();
    let plan = migrate(&url, &migrations, &["plan"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(0));
    let text = stdout(&plan);
    assert!(
        text.contains("-- 2 drop (V2__drop.sql, in one transaction)"),
        "{text}"
    );
    assert!(text.contains("ALTER TABLE a DROP COLUMN y;"), "{text}");
    assert!(text.contains("error[drop-column] V2__drop.sql:2"), "{text}");
    let denied = migrate(&url, &migrations, &["apply", "--deny", "error"])
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        stderr(&denied).contains("lint denied the plan"),
        "{}",
        stderr(&denied)
    );
    let dry = migrate(&url, &migrations, &["apply", "--dry-run"])
        .output()
        .unwrap();
    assert!(stdout(&dry).contains("DROP COLUMN"));
    let status = migrate(&url, &migrations, &["status", "--output", "json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["entries"][1]["state"], "pending",
        "a dry run changes nothing"
    );
}

/// Waits until the first process holds the lock. A SQLite lock file names
/// its holder once taken, so the second process starts only then (a fixed
/// sleep raced with a machine fast enough to finish every migration
/// first); the server engines' slow statements sleep long enough.
fn holder_appears(db: &testing::TestDatabase, pid: u32) {
    let Some(file) = steward_migrate::sqlite_file(&db.url) else {
        std::thread::sleep(Duration::from_millis(500));
        return;
    };
    let mut lock = file.into_os_string();
    lock.push(".steward-lock");
    let holder = format!("pid {pid}");
    for _ in 0..1000 {
        if std::fs::read_to_string(&lock).is_ok_and(|note| note.contains(&holder)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the first process never took the lock");
}

async fn two_processes_at_once(dialect: Dialect) {
    let Some(db) = testing::database(dialect).await else {
        return;
    };
    let migrations = db.dir.path().join("migrations");
    slow_migrations(&migrations, dialect, 3);
    let spawn = |timeout: &str| {
        migrate(&db.url, &migrations, &["apply", "--lock-timeout", timeout])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("30s");
    holder_appears(&db, first.id());
    let impatient = spawn("100ms").wait_with_output().unwrap();
    assert_eq!(impatient.status.code(), Some(1));
    let message = stderr(&impatient);
    assert!(
        message.contains("the database is being migrated by"),
        "{message}"
    );
    if dialect != Dialect::Mysql {
        assert!(
            message.contains(&format!("pid {}", first.id())),
            "the holder is named: {message}"
        );
    }
    let patient = spawn("60s").wait_with_output().unwrap();
    assert_eq!(patient.status.code(), Some(0), "{}", stderr(&patient));
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(tables(&db.url, &migrations).await.len(), 6);
}

/// Kills `steward migrate apply` with SIGKILL after each delay, checking
/// each time that the database is before or after the migration in
/// progress, the history agrees with it, and no lock is left; then a
/// final apply finishes the job.
async fn kill_9_during_apply(dialect: Dialect) {
    let Some(db) = testing::database(dialect).await else {
        return;
    };
    let migrations = db.dir.path().join("migrations");
    slow_migrations(&migrations, dialect, 6);
    for delay in [150u64, 450, 700, 1000, 1300] {
        let mut child = migrate(&db.url, &migrations, &["apply", "--lock-timeout", "10s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // A dump tool that steward started keeps running after steward
        // dies; look at the database once it is done.
        let database = db.url.rsplit('/').next().unwrap().to_owned();
        while Command::new("pgrep")
            .args(["-f", &database])
            .output()
            .unwrap()
            .status
            .success()
        {
            std::thread::sleep(Duration::from_millis(50));
        }

        let status = manager(&db.url, &migrations).status().await.unwrap();
        let present = tables(&db.url, &migrations).await;
        let mut expected = Vec::new();
        for (n, entry) in status.entries.iter().enumerate() {
            let n = n + 1;
            match entry.state {
                State::Applied => expected.extend([format!("t{n}a"), format!("t{n}b")]),
                State::Pending => {}
                // Statement by statement (MariaDB): the history says how far
                // it got, exactly.
                State::Interrupted | State::Failed if dialect == Dialect::Mysql => {
                    let done = entry.statements_applied.unwrap_or(0);
                    if done >= 1 {
                        expected.push(format!("t{n}a"));
                    }
                    if done >= 3 {
                        expected.push(format!("t{n}b"));
                    }
                }
                other => panic!("after a kill at {delay} ms, migration {n} is {other:?}"),
            }
        }
        expected.sort();
        if dialect == Dialect::Mysql && present != expected {
            // MariaDB commits each DDL statement by itself: a kill between a
            // statement and its progress row leaves one more table than the
            // history says, inside an interrupted migration. The next run
            // restores the run's backup and applies it again (checked below).
            // A restore cut short is finished by the next run as well.
            let interrupted = status.entries.iter().any(|e| e.state == State::Interrupted);
            let restoring = db
                .dir
                .path()
                .join("backups/restore-in-progress.json")
                .exists();
            let mut known = present.clone();
            known.retain(|table| expected.contains(table));
            assert!(
                restoring
                    || (interrupted && present.len() == expected.len() + 1 && known == expected),
                "after a kill at {delay} ms: {present:?} vs {expected:?}"
            );
            continue;
        }
        assert_eq!(
            present, expected,
            "after a kill at {delay} ms the schema matches the history"
        );
    }
    // No lock is left behind, and the rest applies (resuming a partial run).
    let finish = migrate(&db.url, &migrations, &["apply", "--lock-timeout", "5s"])
        .output()
        .unwrap();
    assert_eq!(finish.status.code(), Some(0), "{}", stderr(&finish));
    assert_eq!(tables(&db.url, &migrations).await.len(), 12);
    let status = manager(&db.url, &migrations).validate().await.unwrap();
    assert!(status.entries.iter().all(|e| e.state == State::Applied));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_at_once() {
    two_processes_at_once(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_at_once() {
    two_processes_at_once(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_two_processes_at_once() {
    two_processes_at_once(Dialect::Mysql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9_during_apply() {
    kill_9_during_apply(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_kill_9_during_apply() {
    kill_9_during_apply(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_survives_kill_9_during_apply() {
    kill_9_during_apply(Dialect::Mysql).await;
}
