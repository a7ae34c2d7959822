//! Unit tests for the `retention` module: the schedule (paused time) and a
//! pass over a real SQLite store, real replica logs and real backups.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use steward_core::ByteSize;
use steward_migrate::{BackupPolicy, MigrationManager, Options, Source};
use steward_store::{EventQuery, testing};

use super::*;
use steward_core::EventKind;

#[tokio::test(start_paused = true)]
async fn passes_run_shortly_after_start_then_every_interval_until_shutdown() {
    let passes = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let (passes, shutdown) = (passes.clone(), shutdown.clone());
        async move {
            schedule(
                Duration::from_secs(60),
                Duration::from_secs(600),
                shutdown,
                || async {
                    passes.fetch_add(1, Ordering::SeqCst);
                },
            )
            .await;
        }
    });
    let count = || passes.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(count(), 0, "not right at start");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(), 1, "a minute after start");
    tokio::time::sleep(Duration::from_secs(598)).await;
    assert_eq!(count(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(), 2, "then every interval");
    shutdown.cancel();
    task.await.unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(count(), 2, "none after shutdown");
}

async fn append_events(store: &Store, count: usize) {
    for n in 0..count {
        store
            .append(NewEvent::new(
                EventKind::new("test.event").unwrap(),
                Actor::system(),
                format!("event {n}"),
            ))
            .await
            .unwrap();
    }
}

/// Three real SQLite backups of a database `app`, in
/// `<data_dir>/backups/app`.
async fn take_backups(data_dir: &Path) -> PathBuf {
    let url = format!("sqlite://{}?mode=rwc", data_dir.join("app.db").display());
    let source = Source::from_files((1..=3).map(|n| {
        (
            PathBuf::from(format!("V{n}__t{n}.sql")),
            format!("CREATE TABLE t{n} (id INTEGER PRIMARY KEY);"),
        )
    }))
    .unwrap();
    let backups = data_dir.join("backups/app");
    let mut options = Options::new(&backups);
    options.backup = BackupPolicy::PerMigration;
    options.keep_backups = 100;
    let report = MigrationManager::new(url, source, options)
        .unwrap()
        .apply()
        .await
        .unwrap();
    assert_eq!(report.backups.len(), 3);
    backups
}

fn retention() -> RetentionConfig {
    RetentionConfig {
        journal_max_events: 10,
        logs_max_size: ByteSize(1024),
        backups_keep: 2,
        ..RetentionConfig::default()
    }
}

#[tokio::test]
async fn a_pass_prunes_journal_logs_and_backups_and_journals_what_it_did() {
    let test = testing::sqlite().await;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_owned();
    append_events(&test.store, 30).await;
    // A running replica (it has a record) with a big log; a replica gone
    // for a month.
    std::fs::create_dir_all(data_dir.join("replicas")).unwrap();
    std::fs::write(data_dir.join("replicas/svc-r1.json"), "{}").unwrap();
    let logs = data_dir.join("logs/svc");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("svc-r1.stdout.log"), vec![b'x'; 2048]).unwrap();
    let gone = logs.join("svc-r0.stdout.log");
    std::fs::write(&gone, b"bye").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&gone)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(30 * 24 * 3600))
        .unwrap();
    let backups = take_backups(&data_dir).await;

    let pass = Retention {
        store: test.store.clone(),
        retention: retention(),
        data_dir: data_dir.clone(),
    };
    let pruned = pass.run(Utc::now()).await;
    assert_eq!(
        pruned,
        Pruned {
            journal_events: 20,
            log_files_rotated: 1,
            log_files_deleted: 1,
            backups_deleted: 1,
        }
    );
    assert!(logs.join("svc-r1.stdout.log.1").exists() && !gone.exists());
    assert_eq!(steward_migrate::backup::list(&backups).unwrap().len(), 2);
    let page = test
        .store
        .events(&EventQuery {
            limit: Some(100),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 11, "10 kept and the summary");
    let summary = &page.events[0];
    assert_eq!(summary.kind.as_str(), "retention.pruned");
    assert_eq!(summary.payload["journal_events"], 20);
    assert_eq!(summary.payload["backups_deleted"], 1);

    // A month on, backups are past their age, but the newest stays.
    let pruned = pass.run(Utc::now() + chrono::Duration::days(31)).await;
    assert_eq!(pruned.backups_deleted, 1);
    assert_eq!(steward_migrate::backup::list(&backups).unwrap().len(), 1);
}

#[tokio::test]
async fn a_pass_that_removes_nothing_journals_nothing() {
    let test = testing::sqlite().await;
    let data = tempfile::tempdir().unwrap();
    append_events(&test.store, 3).await;
    let pass = Retention {
        store: test.store.clone(),
        retention: RetentionConfig::default(),
        data_dir: data.path().to_owned(),
    };
    assert_eq!(pass.run(Utc::now()).await, Pruned::default());
    let page = test.store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(page.events.len(), 3);
}
