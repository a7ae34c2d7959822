//! Unit tests for the `logs` module: rotation and pruning on real files.

use std::io::Write;

use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn retention(max_size: u64, keep: u32) -> LogRetention {
    LogRetention {
        max_size,
        keep,
        max_age: Some(14 * DAY),
    }
}

fn live(ids: &[&str]) -> HashSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// A service's log directory and a replica log held open for appending,
/// as the replica holds it.
fn service_log(logs: &Path, id: &str) -> (PathBuf, File) {
    let dir = logs.join("worker");
    private_dir(&dir).unwrap();
    let path = dir.join(format!("{id}.stdout.log"));
    let file = open_log(&path).unwrap();
    (path, file)
}

fn set_age(path: &Path, age: Duration) {
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn rotation_copies_then_truncates_so_the_replica_writes_on_at_the_start() {
    let root = tempfile::tempdir().unwrap();
    let (path, mut replica) = service_log(root.path(), "r1");
    replica.write_all(&[b'a'; 1000]).unwrap();

    let done = clean(
        root.path(),
        &live(&["r1"]),
        &retention(500, 2),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(
        done,
        LogCleanup {
            rotated: 1,
            deleted: 0
        }
    );
    let copy = copy_path(&path, 1);
    assert_eq!(std::fs::read(&copy).unwrap(), vec![b'a'; 1000]);
    assert_eq!(mode(&copy), 0o600);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

    // O_APPEND: the next write goes to the new end, not to offset 1000
    // (which would leave a hole of zeros in front).
    replica.write_all(b"after\n").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"after\n");
}

#[test]
fn copies_shift_up_and_the_oldest_beyond_keep_is_dropped() {
    let root = tempfile::tempdir().unwrap();
    let (path, mut replica) = service_log(root.path(), "r1");
    let mut deleted = 0;
    for round in 0..4u8 {
        replica.write_all(&[b'0' + round; 20]).unwrap();
        let done = clean(
            root.path(),
            &live(&["r1"]),
            &retention(10, 2),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(done.rotated, 1);
        deleted += done.deleted;
    }
    assert_eq!(deleted, 2, "rounds 3 and 4 each dropped the oldest copy");
    assert_eq!(std::fs::read(copy_path(&path, 1)).unwrap(), [b'3'; 20]);
    assert_eq!(std::fs::read(copy_path(&path, 2)).unwrap(), [b'2'; 20]);
    assert!(!copy_path(&path, 3).exists());
}

#[test]
fn keep_zero_truncates_without_a_copy_and_size_zero_never_rotates() {
    let root = tempfile::tempdir().unwrap();
    let (path, mut replica) = service_log(root.path(), "r1");
    replica.write_all(&[b'x'; 100]).unwrap();
    let unlimited = clean(
        root.path(),
        &live(&["r1"]),
        &retention(0, 3),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(unlimited, LogCleanup::default());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100);

    let done = clean(
        root.path(),
        &live(&["r1"]),
        &retention(50, 0),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(
        done,
        LogCleanup {
            rotated: 1,
            deleted: 0
        }
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    assert!(!copy_path(&path, 1).exists());
}

#[test]
fn old_copies_and_logs_of_gone_replicas_are_deleted() {
    let root = tempfile::tempdir().unwrap();
    let (running, _a) = service_log(root.path(), "running");
    let (gone_long_ago, _b) = service_log(root.path(), "gone-old");
    let (gone_recently, _c) = service_log(root.path(), "gone-new");
    let old_copy = copy_path(&running, 1);
    let fresh_copy = copy_path(&running, 2);
    let surplus_copy = copy_path(&running, 5);
    let gone_copy = copy_path(&gone_long_ago, 1);
    for path in [&old_copy, &fresh_copy, &surplus_copy, &gone_copy] {
        std::fs::write(path, b"old lines").unwrap();
    }
    let other = running.with_file_name("notes.txt");
    std::fs::write(&other, b"not a log").unwrap();
    for path in [&running, &gone_long_ago, &old_copy, &gone_copy, &other] {
        set_age(path, 20 * DAY);
    }
    set_age(&gone_recently, DAY);

    let done = clean(
        root.path(),
        &live(&["running"]),
        &retention(1 << 20, 3),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(
        done,
        LogCleanup {
            rotated: 0,
            deleted: 4
        }
    );
    assert!(
        running.exists(),
        "a running replica's log stays, however old"
    );
    assert!(gone_recently.exists(), "a recent log stays");
    assert!(fresh_copy.exists() && other.exists());
    for deleted in [&old_copy, &surplus_copy, &gone_long_ago, &gone_copy] {
        assert!(!deleted.exists(), "{}", deleted.display());
    }

    let keep_all = LogRetention {
        max_age: None,
        ..retention(1 << 20, 3)
    };
    set_age(&gone_recently, 1000 * DAY);
    let done = clean(root.path(), &live(&[]), &keep_all, SystemTime::now()).unwrap();
    assert_eq!(done, LogCleanup::default(), "no age limit: nothing goes");
}

#[test]
fn directories_are_created_and_tightened_to_owner_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs/worker");
    private_dir(&dir).unwrap();
    assert_eq!(mode(&root.path().join("logs")), 0o700);
    assert_eq!(mode(&dir), 0o700);
    std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
    private_dir(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);

    let log = dir.join("r.stdout.log");
    std::fs::write(&log, b"from an older steward").unwrap();
    std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
    drop(open_log(&log).unwrap());
    assert_eq!(mode(&log), 0o600);
}

#[test]
fn log_names_are_recognised() {
    assert_eq!(replica_of("r-1.stdout.log"), Some("r-1"));
    assert_eq!(replica_of("r-1.stderr.log"), Some("r-1"));
    assert_eq!(replica_of(".stdout.log"), None);
    assert_eq!(replica_of("r-1.log"), None);
    assert_eq!(rotation_index("r-1.stderr.log.3"), Some(3));
    assert_eq!(rotation_index("r-1.stderr.log.0"), None);
    assert_eq!(rotation_index("r-1.stderr.log.x"), None);
    assert_eq!(rotation_index("notes.txt.1"), None);
}
