//! Tests of the pipeline and of collecting a file.

use std::{fs::OpenOptions, io::Write, time::Duration};

use super::*;
use crate::collect::{
    follow::{FollowConfig, Start},
    parse::{LEVEL, TRACE_ID},
};

fn origin(stream: StreamName) -> Origin {
    Origin {
        service: "gateway".to_owned(),
        version: "1.2.0".to_owned(),
        replica: "gateway-1".to_owned(),
        stream,
    }
}

#[test]
fn labels_name_the_replica_stream() {
    let labels = origin(StreamName::Stderr).labels();
    assert_eq!(labels.get("service"), Some("gateway"));
    assert_eq!(labels.get("version"), Some("1.2.0"));
    assert_eq!(labels.get("replica"), Some("gateway-1"));
    assert_eq!(labels.get("stream"), Some("stderr"));
}

#[test]
fn joins_then_annotates() {
    let mut pipeline =
        Pipeline::new(&origin(StreamName::Stdout), &MultilineConfig::default()).expect("valid");
    assert!(pipeline.take().is_none());
    pipeline.push(1, r#"{"level":"info","trace_id":"t1","msg":"hi"}"#, 1);
    pipeline.push(2, "Traceback (most recent call last):", 2);
    pipeline.push(3, "  File \"a.py\", line 1", 3);
    pipeline.push(4, "ValueError: boom", 4);
    pipeline.push(5, "next", 5);
    let collected = pipeline.take().expect("complete entries");
    assert_eq!(collected.cursor, 4);
    let entries = &collected.stream.entries;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].metadata(LEVEL), Some("info"));
    assert_eq!(entries[0].metadata(TRACE_ID), Some("t1"));
    assert_eq!(entries[1].ts, 2);
    assert_eq!(entries[1].metadata(LEVEL), Some("error"));
    assert!(entries[1].line.ends_with("ValueError: boom"));
    assert!(pipeline.take().is_none());
    pipeline.flush();
    let last = pipeline.take().expect("flushed");
    assert_eq!(last.stream.entries[0].line, "next");
    assert_eq!(last.cursor, 5);
}

#[tokio::test(start_paused = true)]
async fn collects_a_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("gateway-1.stderr.log");
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("opened");
    writer
        .write_all(b"level=warn msg=slow\nthread 'main' panicked at src/main.rs:2:5:\nboom\n")
        .expect("written");
    let follower =
        Follower::new(&path, Start::Beginning, FollowConfig::default()).expect("follows");
    let pipeline =
        Pipeline::new(&origin(StreamName::Stderr), &MultilineConfig::default()).expect("valid");
    let (tx, mut rx) = mpsc::channel(4);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(collect_file(
        follower,
        pipeline,
        Duration::from_millis(250),
        tx,
        cancel.clone(),
    ));

    let first = rx.recv().await.expect("entries");
    assert_eq!(first.stream.labels.get("stream"), Some("stderr"));
    assert_eq!(first.stream.entries.len(), 1);
    assert_eq!(first.stream.entries[0].line, "level=warn msg=slow");
    assert_eq!(first.stream.entries[0].metadata(LEVEL), Some("warn"));
    assert_eq!(first.cursor.offset, 20);

    // the panic is complete once nothing more came for max_wait
    let second = rx.recv().await.expect("entries");
    let panic = &second.stream.entries[0];
    assert_eq!(
        panic.line,
        "thread 'main' panicked at src/main.rs:2:5:\nboom"
    );
    assert_eq!(panic.metadata(LEVEL), Some("error"));
    assert_eq!(second.cursor.offset, 68);

    // a restart from the saved cursor reads nothing twice
    writer.write_all(b"after\n").expect("written");
    let third = rx.recv().await.expect("entries");
    assert_eq!(third.stream.entries[0].line, "after");

    cancel.cancel();
    task.await.expect("joined").expect("stopped cleanly");
    let mut again =
        Follower::new(&path, Start::At(second.cursor), FollowConfig::default()).expect("follows");
    let batch = again.poll().expect("polled");
    assert_eq!(batch.lines.len(), 1);
    assert_eq!(batch.lines[0].text, "after");
}

#[tokio::test(start_paused = true)]
async fn stops_when_the_receiver_is_gone() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("x.stdout.log");
    std::fs::write(&path, "a\nb\n").expect("written");
    let follower =
        Follower::new(&path, Start::Beginning, FollowConfig::default()).expect("follows");
    let pipeline =
        Pipeline::new(&origin(StreamName::Stdout), &MultilineConfig::default()).expect("valid");
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let result = collect_file(
        follower,
        pipeline,
        Duration::from_millis(250),
        tx,
        CancellationToken::new(),
    )
    .await;
    assert!(result.is_ok());
}
