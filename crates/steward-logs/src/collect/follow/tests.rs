//! Tests of following files, with real files in a temporary directory.

use std::{
    fs::OpenOptions,
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use super::*;

/// A replica's log file and a writer that appends to it as a replica
/// does (`O_APPEND`).
struct Log {
    _dir: tempfile::TempDir,
    path: PathBuf,
    writer: File,
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("r1.stdout.log");
        let writer = append(&path);
        Log {
            _dir: dir,
            path,
            writer,
        }
    }

    fn write(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).expect("written");
    }

    /// Rotates as the process backend does: copies to `.1` (shifting
    /// `.1` to `.2`) and truncates in place.
    fn copytruncate(&self) {
        let one = copy_path(&self.path, 1);
        if one.exists() {
            std::fs::rename(&one, copy_path(&self.path, 2)).expect("shifted");
        }
        std::fs::copy(&self.path, &one).expect("copied");
        OpenOptions::new()
            .write(true)
            .open(&self.path)
            .expect("opened")
            .set_len(0)
            .expect("truncated");
    }

    /// Rotates by renaming to `.1`; the writer still holds the old file
    /// until `reopen`.
    fn rename(&self) {
        std::fs::rename(&self.path, copy_path(&self.path, 1)).expect("renamed");
    }

    fn reopen(&mut self) {
        self.writer = append(&self.path);
    }

    fn follower(&self, start: Start) -> Follower {
        Follower::new(&self.path, start, FollowConfig::default()).expect("follows")
    }
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("opened for appending")
}

fn texts(batch: &Batch) -> Vec<&str> {
    batch.lines.iter().map(|line| line.text.as_str()).collect()
}

fn poll(follower: &mut Follower) -> Vec<String> {
    let batch = follower.poll().expect("polled");
    texts(&batch).into_iter().map(str::to_owned).collect()
}

#[test]
fn reads_appended_lines() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("one\ntwo\r\n");
    let batch = follower.poll().expect("polled");
    assert_eq!(texts(&batch), ["one", "two"]);
    assert_eq!(batch.lines[0].position.offset, 4);
    assert_eq!(batch.lines[1].position.offset, 9);
    assert_eq!(batch.position_after, Some(batch.lines[1].position));
    assert!(!batch.more);
    assert!(poll(&mut follower).is_empty());
    log.write("three\n");
    assert_eq!(poll(&mut follower), ["three"]);
}

#[test]
fn waits_for_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("late.stderr.log");
    let mut follower = Follower::new(&path, Start::End, FollowConfig::default()).expect("follows");
    let batch = follower.poll().expect("polled");
    assert!(batch.lines.is_empty());
    assert_eq!(batch.position_after, None);
    append(&path).write_all(b"first\n").expect("written");
    assert_eq!(poll(&mut follower), ["first"]);
}

#[test]
fn starts_at_the_end() {
    let mut log = Log::new();
    log.write("old\n");
    let mut follower = log.follower(Start::End);
    assert!(poll(&mut follower).is_empty());
    log.write("new\n");
    assert_eq!(poll(&mut follower), ["new"]);
}

#[tokio::test(start_paused = true)]
async fn partial_lines_wait_for_their_newline_or_a_pause() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("par");
    assert!(poll(&mut follower).is_empty());
    log.write("tial\nnext");
    assert_eq!(poll(&mut follower), ["partial"]);
    tokio::time::advance(Duration::from_millis(499)).await;
    assert!(poll(&mut follower).is_empty());
    tokio::time::advance(Duration::from_millis(1)).await;
    let batch = follower.poll().expect("polled");
    assert_eq!(texts(&batch), ["next"]);
    assert_eq!(batch.lines[0].position.offset, 12);
    // what comes after is a line of its own
    log.write(" more\n");
    assert_eq!(poll(&mut follower), [" more"]);
}

#[test]
fn long_lines_come_in_pieces() {
    let mut log = Log::new();
    let config = FollowConfig {
        max_line_bytes: 4,
        ..FollowConfig::default()
    };
    let mut follower = Follower::new(&log.path, Start::Beginning, config).expect("follows");
    log.write("abcdefghij\nxy\n");
    let batch = follower.poll().expect("polled");
    assert_eq!(texts(&batch), ["abcd", "efgh", "ij", "xy"]);
    let offsets: Vec<u64> = batch.lines.iter().map(|l| l.position.offset).collect();
    assert_eq!(offsets, [4, 8, 11, 14]);
}

#[test]
fn reads_a_bounded_amount_per_poll() {
    let mut log = Log::new();
    let config = FollowConfig {
        read_bytes: 5,
        ..FollowConfig::default()
    };
    let mut follower = Follower::new(&log.path, Start::Beginning, config).expect("follows");
    log.write("aaa\nbbb\nccc\n");
    let first = follower.poll().expect("polled");
    assert_eq!(texts(&first), ["aaa"]);
    assert!(first.more);
    assert_eq!(poll(&mut follower), ["bbb"]);
    assert_eq!(poll(&mut follower), ["ccc"]);
}

#[test]
fn follows_copytruncate() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("1\n2\n");
    assert_eq!(poll(&mut follower), ["1", "2"]);
    // unread lines, one of them partial, then the rotation
    log.write("3\n4");
    log.copytruncate();
    log.write("5\n");
    assert_eq!(poll(&mut follower), ["3", "4", "5"]);
    log.write("6\n");
    assert_eq!(poll(&mut follower), ["6"]);
}

#[test]
fn copytruncate_refilled_past_the_offset() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("1\n");
    assert_eq!(poll(&mut follower), ["1"]);
    log.write("2\n");
    log.copytruncate();
    log.write("a line longer than the old file\n");
    assert_eq!(
        poll(&mut follower),
        ["2", "a line longer than the old file"]
    );
}

#[test]
fn partial_line_is_kept_across_copytruncate_polls() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("hal");
    assert!(poll(&mut follower).is_empty());
    log.write("f\n");
    log.copytruncate();
    log.write("new\n");
    assert_eq!(poll(&mut follower), ["half", "new"]);
}

#[test]
fn truncation_without_a_copy_starts_over() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("1\n2\n");
    assert_eq!(poll(&mut follower), ["1", "2"]);
    log.write("lost\n");
    OpenOptions::new()
        .write(true)
        .open(&log.path)
        .expect("opened")
        .set_len(0)
        .expect("truncated");
    log.write("x\n");
    assert_eq!(poll(&mut follower), ["x"]);
}

#[test]
fn follows_rename_and_create() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("a\n");
    assert_eq!(poll(&mut follower), ["a"]);
    log.write("b\n");
    log.rename();
    // the writer still writes to the old file until it reopens
    log.write("b2\n");
    log.reopen();
    log.write("c\n");
    assert_eq!(poll(&mut follower), ["b", "b2", "c"]);
    log.write("d\n");
    assert_eq!(poll(&mut follower), ["d"]);
}

#[test]
fn the_path_may_be_missing_for_a_while() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("a\n");
    log.rename();
    log.write("b\n");
    assert_eq!(poll(&mut follower), ["a", "b"]);
    log.reopen();
    log.write("c\n");
    assert_eq!(poll(&mut follower), ["c"]);
}

#[test]
fn restarts_from_a_saved_position() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("1\n2\n3\n");
    let batch = follower.poll().expect("polled");
    // the store acknowledged the first two lines only
    let saved = batch.lines[1].position;
    drop(follower);
    let json = serde_json::to_string(&saved).expect("serialises");
    let restored: Position = serde_json::from_str(&json).expect("deserialises");
    let mut follower = log.follower(Start::At(restored));
    assert_eq!(poll(&mut follower), ["3"]);
    log.write("4\n");
    assert_eq!(poll(&mut follower), ["4"]);
}

#[test]
fn restarts_after_a_copytruncate_while_down() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("1\n");
    let saved = follower
        .poll()
        .expect("polled")
        .position_after
        .expect("a position");
    drop(follower);
    log.write("2\n");
    log.copytruncate();
    log.write("3\n");
    log.copytruncate();
    log.write("4\n");
    let mut follower = log.follower(Start::At(saved));
    // .2 from the saved offset, .1 whole, the file
    assert_eq!(poll(&mut follower), ["2", "3", "4"]);
}

#[test]
fn restarts_after_a_rename_while_down() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.write("1\n");
    let saved = follower
        .poll()
        .expect("polled")
        .position_after
        .expect("a position");
    drop(follower);
    log.write("2\n");
    log.rename();
    log.reopen();
    log.write("3\n");
    let mut follower = log.follower(Start::At(saved));
    assert_eq!(poll(&mut follower), ["2", "3"]);
}

#[test]
fn restarts_within_a_copy_being_read() {
    let mut log = Log::new();
    let config = FollowConfig {
        read_bytes: 2,
        ..FollowConfig::default()
    };
    let mut follower = Follower::new(&log.path, Start::Beginning, config).expect("follows");
    log.write("1\n");
    assert_eq!(poll(&mut follower), ["1"]);
    log.write("2\n3\n");
    log.copytruncate();
    log.write("4\n");
    // one line of the copy, then a restart from it
    let batch = follower.poll().expect("polled");
    assert_eq!(texts(&batch), ["2"]);
    let saved = batch.lines[0].position;
    drop(follower);
    let mut follower = log.follower(Start::At(saved));
    assert_eq!(poll(&mut follower), ["3", "4"]);
}

#[test]
fn an_unknown_position_reads_the_file_from_its_start() {
    let mut log = Log::new();
    log.write("a\n");
    let saved = Position {
        dev: 0,
        ino: 0,
        offset: 100,
        head_len: 3,
        head_hash: 1,
    };
    let mut follower = log.follower(Start::At(saved));
    assert_eq!(poll(&mut follower), ["a"]);
}

#[test]
fn invalid_utf8_is_replaced() {
    let mut log = Log::new();
    let mut follower = log.follower(Start::Beginning);
    log.writer.write_all(b"ok \xff\n").expect("written");
    assert_eq!(poll(&mut follower), ["ok \u{fffd}"]);
}
