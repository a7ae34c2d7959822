//! Tests of the store on real files: durability across reopen, replay
//! without duplicates, chunks skipped by their bloom filters, late lines
//! merged in order, backpressure and retention.

use std::{ops::ControlFlow, time::Duration};

use steward_metrics::{Labels, Matcher};

use super::{
    LogStore, StoreOptions,
    bloom::{Bloom, Probes},
    head::Head,
    segment,
};
use crate::{Entry, Error, LogSource, PushStream, Selection};

fn labels(service: &str) -> Labels {
    Labels::from_pairs([("service", service), ("stream", "stdout")])
}

fn push(service: &str, entries: &[(i64, &str)]) -> Vec<PushStream> {
    vec![PushStream {
        labels: labels(service),
        entries: entries.iter().map(|(ts, l)| Entry::new(*ts, *l)).collect(),
    }]
}

fn options(dir: &std::path::Path) -> StoreOptions {
    StoreOptions {
        chunk_bytes: 64,
        ..StoreOptions::new(dir)
    }
}

/// Every (labels, ts, line) the selection returns, in the order given.
fn read(store: &LogStore, matchers: &[Matcher], contains: &[String]) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    let selection = Selection {
        matchers,
        start: i64::MIN,
        end: i64::MAX,
        contains,
        early: None,
    };
    store
        .select(&selection, &mut |labels, entries| {
            for e in entries {
                out.push((
                    labels.get("service").unwrap_or("").to_owned(),
                    e.ts,
                    e.line.clone(),
                ));
            }
            ControlFlow::Continue(())
        })
        .expect("select");
    out
}

/// Calls `visit` with every batch of an unlimited read of every stream.
fn each_batch(store: &LogStore, visit: &mut dyn FnMut(&Labels, &[Entry]) -> ControlFlow<()>) {
    let selection = Selection {
        matchers: &all(),
        start: i64::MIN,
        end: i64::MAX,
        contains: &[],
        early: None,
    };
    store.select(&selection, visit).expect("select");
}

/// The WAL file of the store in `dir` that holds records.
fn written_wal_file(dir: &std::path::Path) -> std::path::PathBuf {
    super::wal::files(&dir.join("wal"))
        .expect("files")
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        .expect("a written wal file")
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(steward_metrics::MatchOp::Regex, "service", ".+").expect("matcher")]
}

#[tokio::test]
async fn acknowledged_lines_are_read_back_from_the_wal_and_from_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    store
        .push(push("api", &[(1, "one"), (2, "two")]))
        .await
        .expect("push");
    store
        .push(push("worker", &[(3, "three")]))
        .await
        .expect("push");
    let expected = vec![
        ("api".to_owned(), 1, "one".to_owned()),
        ("api".to_owned(), 2, "two".to_owned()),
        ("worker".to_owned(), 3, "three".to_owned()),
    ];
    assert_eq!(read(&store, &all(), &[]), expected);
    store.close();
    drop(store);

    // from the WAL
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(read(&store, &all(), &[]), expected);
    assert_eq!(store.stats().head_lines, 3);
    store.flush().await.expect("flush");
    assert_eq!(store.stats().segments, 1);
    assert_eq!(store.stats().head_lines, 0);
    assert_eq!(read(&store, &all(), &[]), expected);
    store.close();
    drop(store);

    // from the segment, the WAL it covers deleted
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(read(&store, &all(), &[]), expected);
    let stats = store.stats();
    assert_eq!((stats.head_lines, stats.segment_lines), (0, 3));
}

#[tokio::test]
async fn wal_files_a_segment_covers_are_not_replayed_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    store.push(push("api", &[(1, "one")])).await.expect("push");
    let wal = dir.path().join("wal");
    let kept = tempfile::tempdir().expect("tempdir");
    for (_, path) in super::wal::files(&wal).expect("files") {
        std::fs::copy(&path, kept.path().join(path.file_name().expect("name"))).expect("copy");
    }
    store.flush().await.expect("flush");
    store.close();
    drop(store);
    // as if the crash came between the segment's rename and the WAL's deletion
    for entry in std::fs::read_dir(kept.path()).expect("read") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, wal.join(path.file_name().expect("name"))).expect("copy back");
    }
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(
        read(&store, &all(), &[]),
        vec![("api".to_owned(), 1, "one".to_owned())]
    );
}

#[tokio::test]
async fn a_torn_wal_tail_is_cut_and_what_came_before_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    store.push(push("api", &[(1, "one")])).await.expect("push");
    store.close();
    drop(store);
    let path = written_wal_file(dir.path());
    let mut bytes = std::fs::read(&path).expect("read");
    let intact = bytes.len() as u64;
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5]);
    std::fs::write(&path, &bytes).expect("write");
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(
        read(&store, &all(), &[]),
        vec![("api".to_owned(), 1, "one".to_owned())]
    );
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), intact);
    // and the store goes on writing after it
    store.push(push("api", &[(2, "two")])).await.expect("push");
    store.close();
    drop(store);
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(read(&store, &all(), &[]).len(), 2);
}

/// A Loki push's body kept in the WAL as it came is replayed into the
/// same entries (with its structured metadata), between records of the
/// store's own encoding, and a torn one at the end is cut.
#[tokio::test]
async fn loki_push_bodies_in_the_wal_are_replayed_as_they_decoded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    let mut first = push("api", &[(1, "one"), (2, "two")]);
    first[0].entries[1]
        .metadata
        .push(("trace_id".to_owned(), "abc".to_owned()));
    let body = crate::ingest::loki::encode_push(&first);
    let limits = crate::ingest::Limits::default();
    let decoded = crate::ingest::loki::decode_protobuf(&body, &limits).expect("decode");
    store
        .push_loki_protobuf(decoded, body.into())
        .await
        .expect("push");
    store
        .push(push("worker", &[(3, "three")]))
        .await
        .expect("push");
    let second = push("api", &[(4, "four")]);
    let body = crate::ingest::loki::encode_push(&second);
    store
        .push_loki_protobuf(second, body.into())
        .await
        .expect("push");
    store.close();
    drop(store);
    let path = written_wal_file(dir.path());
    let intact = std::fs::metadata(&path).expect("meta").len();

    let store = LogStore::open(options(dir.path())).expect("reopen");
    let expected = vec![
        ("api".to_owned(), 1, "one".to_owned()),
        ("api".to_owned(), 2, "two".to_owned()),
        ("api".to_owned(), 4, "four".to_owned()),
        ("worker".to_owned(), 3, "three".to_owned()),
    ];
    assert_eq!(read(&store, &all(), &[]), expected);
    let mut metadata = Vec::new();
    each_batch(&store, &mut |_, entries| {
        metadata.extend(entries.iter().map(|e| e.metadata.clone()));
        ControlFlow::Continue(())
    });
    assert_eq!(
        metadata
            .iter()
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>(),
        vec![&vec![("trace_id".to_owned(), "abc".to_owned())]]
    );
    store.close();
    drop(store);

    // a Loki body record torn halfway: cut, the rest kept
    let mut bytes = std::fs::read(&path).expect("read");
    let body = crate::ingest::loki::encode_push(&push("api", &[(5, "five")]));
    let mut header = ((body.len() as u32) | (1 << 31)).to_le_bytes().to_vec();
    header.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&body[..body.len() / 2]);
    std::fs::write(&path, &bytes).expect("write");
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(read(&store, &all(), &[]), expected);
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), intact);
}

#[tokio::test]
async fn line_filters_skip_chunks_whose_bloom_filter_rules_them_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    let lines: Vec<String> = (0..200)
        .map(|i| format!("request {i} served in {}ms", i % 7))
        .collect();
    let entries: Vec<(i64, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i as i64, l.as_str()))
        .collect();
    store.push(push("api", &entries)).await.expect("push");
    store
        .push(push("api", &[(500, "panic: database unreachable")]))
        .await
        .expect("push");
    store.flush().await.expect("flush");
    let found = read(&store, &all(), &["unreachable".to_owned()]);
    assert_eq!(
        found,
        vec![(
            "api".to_owned(),
            500,
            "panic: database unreachable".to_owned()
        )]
    );
    assert!(read(&store, &all(), &["nowhere to be found".to_owned()]).is_empty());
    // a hint is only a hint: short literals do not prune, the lines still match
    assert_eq!(read(&store, &all(), &["6ms".to_owned()]).len(), 28);

    // the chunks of the 200 requests were skipped without reading them
    let state = store.inner.state.read();
    let segment = &state.segments[0];
    let chunks = &segment.streams[0].chunks;
    assert!(chunks.len() > 10, "{} chunks", chunks.len());
    let skipped = chunks
        .iter()
        .filter(|c| {
            !segment
                .may_contain(c, &["unreachable".to_owned()])
                .expect("bloom")
        })
        .count();
    assert!(
        skipped >= chunks.len() - 2,
        "{skipped} of {} skipped",
        chunks.len()
    );
}

#[tokio::test]
async fn late_lines_in_another_segment_are_merged_in_time_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    store
        .push(push("api", &[(10, "a"), (30, "c"), (50, "e")]))
        .await
        .expect("push");
    store.flush().await.expect("flush");
    store
        .push(push("api", &[(20, "b"), (40, "d")]))
        .await
        .expect("push");
    store.flush().await.expect("flush");
    store
        .push(push("api", &[(35, "late in the head"), (60, "f")]))
        .await
        .expect("push");
    let times: Vec<i64> = read(&store, &all(), &[])
        .into_iter()
        .map(|(_, ts, _)| ts)
        .collect();
    assert_eq!(times, vec![10, 20, 30, 35, 40, 50, 60]);
}

#[tokio::test]
async fn selections_respect_matchers_and_time_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    store
        .push(push("api", &[(1, "a1"), (5, "a5"), (9, "a9")]))
        .await
        .expect("push");
    store
        .push(push("worker", &[(2, "w2")]))
        .await
        .expect("push");
    store.flush().await.expect("flush");
    store.push(push("api", &[(12, "a12")])).await.expect("push");
    let api = [Matcher::equal("service", "api")];
    let mut got = Vec::new();
    store
        .select(
            &Selection {
                matchers: &api,
                start: 5,
                end: 12,
                contains: &[],
                early: None,
            },
            &mut |_, entries| {
                got.extend(entries.iter().map(|e| e.ts));
                ControlFlow::Continue(())
            },
        )
        .expect("select");
    assert_eq!(got, vec![5, 9]);
    let series = store.series(&all(), 0, 3).expect("series");
    assert_eq!(series, vec![labels("api"), labels("worker")]);
    assert_eq!(
        store.series(&all(), 10, 20).expect("series"),
        vec![labels("api")]
    );
}

/// A store whose two streams each span many small chunks over three
/// segments and the head: `old` at 1..=60, `new` at 41..=100 (the two
/// overlap in time), a late `old` line at 50 in the head.
async fn two_streams(dir: &std::path::Path, read_threads: usize) -> LogStore {
    let store = LogStore::open(StoreOptions {
        read_threads,
        ..options(dir)
    })
    .expect("open");
    let lines = |service: &str, times: std::ops::RangeInclusive<i64>| -> Vec<PushStream> {
        let entries: Vec<(i64, String)> = times
            .map(|t| (t, format!("{service} line {t:04}")))
            .collect();
        let borrowed: Vec<(i64, &str)> = entries.iter().map(|(t, l)| (*t, l.as_str())).collect();
        push(service, &borrowed)
    };
    store.push(lines("old", 1..=30)).await.expect("push");
    store.flush().await.expect("flush");
    store.push(lines("old", 31..=60)).await.expect("push");
    store.push(lines("new", 41..=70)).await.expect("push");
    store.flush().await.expect("flush");
    store.push(lines("new", 71..=100)).await.expect("push");
    store
        .push(push("old", &[(50, "old late line")]))
        .await
        .expect("push");
    store
}

/// What a limited query does with the store's batches (as the engine
/// does): keeps the `limit` first in `direction` and moves the cutoff;
/// returns the kept times in the query's order and the batches given.
fn limited(
    store: &LogStore,
    direction: crate::logql::Direction,
    limit: usize,
) -> (Vec<i64>, usize) {
    use crate::logql::Direction;
    use std::sync::atomic::{AtomicI64, Ordering};
    let backward = direction == Direction::Backward;
    let cutoff = AtomicI64::new(if backward { i64::MIN } else { i64::MAX });
    let selection = Selection {
        matchers: &all(),
        start: i64::MIN,
        end: i64::MAX,
        contains: &[],
        early: Some(crate::Early {
            direction,
            cutoff: &cutoff,
        }),
    };
    let mut kept: Vec<i64> = Vec::new();
    let mut batches = 0;
    store
        .select(&selection, &mut |_, entries| {
            batches += 1;
            kept.extend(entries.iter().map(|e| e.ts));
            kept.sort_unstable();
            if backward {
                kept.reverse();
            }
            kept.truncate(limit);
            if kept.len() == limit {
                cutoff.store(kept[limit - 1], Ordering::Relaxed);
            }
            ControlFlow::Continue(())
        })
        .expect("select");
    (kept, batches)
}

#[tokio::test]
async fn a_limited_query_reads_in_its_order_across_streams_and_stops_early() {
    use crate::logql::Direction;
    for threads in [1, 2, 4] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = two_streams(dir.path(), threads).await;
        let mut all_batches = 0;
        each_batch(&store, &mut |_, _| {
            all_batches += 1;
            ControlFlow::Continue(())
        });

        let (newest, batches) = limited(&store, Direction::Backward, 5);
        assert_eq!(newest, vec![100, 99, 98, 97, 96], "{threads} threads");
        assert!(
            batches * 4 < all_batches,
            "{threads} threads: {batches} of {all_batches} batches read for the newest 5"
        );
        let (oldest, batches) = limited(&store, Direction::Forward, 5);
        assert_eq!(oldest, vec![1, 2, 3, 4, 5], "{threads} threads");
        assert!(
            batches * 4 < all_batches,
            "{threads} threads: {batches} of {all_batches}"
        );

        // Where the streams overlap, both are read and the late line found.
        // 100..=61 of `new`, then 60..=50 of both and the late line
        let (newest, _) = limited(&store, Direction::Backward, 63);
        assert_eq!(newest.iter().filter(|t| **t == 50).count(), 3, "{newest:?}");
        assert_eq!(newest.last(), Some(&50));
    }
}

#[tokio::test]
async fn a_full_store_refuses_pushes_with_backpressure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(StoreOptions {
        max_memory_bytes: 1000,
        flush_bytes: usize::MAX,
        ..options(dir.path())
    })
    .expect("open");
    let line = "x".repeat(300);
    store
        .push(push("api", &[(1, &line), (2, &line)]))
        .await
        .expect("push");
    let err = store
        .push(push("api", &[(3, &line), (4, &line)]))
        .await
        .expect_err("full");
    assert!(
        matches!(
            err,
            Error::Backpressure {
                retry_after_secs: 1
            }
        ),
        "{err}"
    );
    store.flush().await.expect("flush");
    store
        .push(push("api", &[(3, &line)]))
        .await
        .expect("room again after a flush");
}

#[tokio::test]
async fn a_replayed_head_beyond_the_memory_bound_is_flushed_without_waiting_for_a_push() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    let lines: Vec<String> = (0..100).map(|i| format!("line {i:>40}")).collect();
    let entries: Vec<(i64, &str)> = lines
        .iter()
        .zip(1..)
        .map(|(l, t)| (t, l.as_str()))
        .collect();
    store.push(push("api", &entries)).await.expect("push");
    store.close();
    drop(store);

    // what the WAL holds is over both bounds: pushes are refused until the
    // replayed head is a segment, so that must not wait for a push
    let store = LogStore::open(StoreOptions {
        flush_bytes: 1000,
        max_memory_bytes: 2000,
        ..options(dir.path())
    })
    .expect("reopen");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.push(push("api", &[(1000, "after the crash")])).await {
            Ok(()) => break,
            Err(Error::Backpressure { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => panic!("the reopened store takes no push: {err}"),
        }
    }
    assert!(store.stats().segments >= 1);
    assert_eq!(read(&store, &all(), &[]).len(), 101);
}

#[tokio::test]
async fn retention_deletes_old_segments_then_the_oldest_beyond_the_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = chrono::Utc::now().timestamp_nanos_opt().expect("now");
    let hour = 3_600_000_000_000i64;
    let store = LogStore::open(StoreOptions {
        retention: Some(Duration::from_secs(24 * 3600)),
        ..options(dir.path())
    })
    .expect("open");
    for (i, age) in [48, 10, 5, 1].into_iter().enumerate() {
        let line = format!("line {i}");
        store
            .push(push("api", &[(now - age * hour, &line)]))
            .await
            .expect("push");
        store.flush().await.expect("flush");
    }
    // the flusher may have applied it already after a flush
    store.apply_retention().expect("retention");
    assert_eq!(store.stats().segments, 3);
    let left: Vec<String> = read(&store, &all(), &[])
        .into_iter()
        .map(|(_, _, l)| l)
        .collect();
    assert_eq!(left, vec!["line 1", "line 2", "line 3"]);
    let size = store.stats().segment_bytes;
    drop(store);
    let store = LogStore::open(StoreOptions {
        max_bytes: Some(size - 1),
        ..options(dir.path())
    })
    .expect("open");
    assert_eq!(store.apply_retention().expect("retention"), 1);
    let left: Vec<String> = read(&store, &all(), &[])
        .into_iter()
        .map(|(_, _, l)| l)
        .collect();
    assert_eq!(left, vec!["line 2", "line 3"]);
}

#[tokio::test]
async fn a_damaged_segment_is_moved_aside_and_the_rest_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(options(dir.path())).expect("open");
    store.push(push("api", &[(1, "one")])).await.expect("push");
    store.flush().await.expect("flush");
    store.push(push("api", &[(2, "two")])).await.expect("push");
    store.flush().await.expect("flush");
    let path = store.inner.state.read().segments[0].path.clone();
    store.close();
    drop(store);
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.len() - 30;
    bytes[at] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    let store = LogStore::open(options(dir.path())).expect("reopen");
    assert_eq!(
        read(&store, &all(), &[]),
        vec![("api".to_owned(), 2, "two".to_owned())]
    );
    assert!(path.with_extension("seg.damaged").exists());
}

#[test]
fn a_bloom_filter_never_rules_out_a_substring_of_its_lines() {
    for probes in [Probes::Spread, Probes::Blocked] {
        bloom_keeps_substrings(probes);
    }
}

fn bloom_keeps_substrings(probes: Probes) {
    let lines = [
        "GET /api/v1/tasks 200 12ms",
        "tool call search failed: timeout after 30s",
    ];
    let bloom = Bloom::build(
        probes,
        lines.iter().map(|l| l.as_bytes()),
        lines.iter().map(|l| l.len()).sum(),
    );
    for line in lines {
        for i in 0..line.len() {
            for j in i..=line.len() {
                assert!(
                    bloom.may_contain(&line.as_bytes()[i..j]),
                    "{:?}",
                    &line[i..j]
                );
            }
        }
    }
    assert!(!bloom.may_contain(b"database unreachable"));
    let back = Bloom::from_bytes(probes, &bloom.to_bytes()).expect("round trip");
    assert_eq!(back, bloom);
    assert!(
        bloom.len_bytes() <= 1024,
        "folded to {} bytes",
        bloom.len_bytes()
    );
}

#[tokio::test]
async fn limited_log_queries_over_the_store_match_an_unlimited_read() {
    use crate::{
        MemorySource,
        logql::{self, Direction, Engine, RangeParams},
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = two_streams(dir.path(), 2).await;
    // the same entries in memory, read without stopping early
    let memory = MemorySource::new();
    each_batch(&store, &mut |labels, entries| {
        memory.push(vec![PushStream {
            labels: labels.clone(),
            entries: entries.to_vec(),
        }]);
        ControlFlow::Continue(())
    });
    let engine = Engine::default();
    for query in [
        r#"{service=~".+"}"#,
        r#"{service=~".+"} |= "line 00""#,
        r#"{service="old"} != "late""#,
    ] {
        let Ok(logql::Expr::Log(expr)) = logql::parse(query) else {
            panic!("{query} is a log query");
        };
        for direction in [Direction::Backward, Direction::Forward] {
            for limit in [1, 2, 7, 30, 50, 63, 64, 99, 200] {
                for (start, end) in [(0, 1000), (45, 80)] {
                    let params = RangeParams {
                        start,
                        end,
                        step: 1,
                        limit,
                        direction,
                    };
                    // Times only: where entries of two streams tie at
                    // the limit, either may be the one kept.
                    let times = |source: &dyn LogSource| -> Vec<i64> {
                        let mut times: Vec<i64> = engine
                            .query_logs(source, &expr, &params)
                            .expect("query")
                            .iter()
                            .flat_map(|s| s.entries.iter().map(|e| e.ts))
                            .collect();
                        times.sort_unstable();
                        times
                    };
                    assert_eq!(
                        times(&store),
                        times(&memory),
                        "{query} {direction:?} limit {limit} in [{start}, {end})"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn segments_of_the_first_version_are_still_read_and_their_filters_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segments = dir.path().join("segments");
    std::fs::create_dir_all(&segments).expect("mkdir");
    let mut head = Head::default();
    let lines: Vec<String> = (0..40)
        .map(|i| format!("request {i:03} served by replica-{}", i / 10))
        .collect();
    let entries: Vec<(i64, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i as i64, l.as_str()))
        .collect();
    head.insert(push("api", &entries));
    head.seal();
    let written = segment::write_version(&segments, 7, &head, 64, Probes::Spread).expect("write");
    let chunks = &written.streams[0].chunks;
    assert!(chunks.len() > 4, "{} chunks", chunks.len());
    // The version 1 filters are read as such: only the chunks of
    // replica-3's lines may hold it.
    let literal = ["replica-3".to_owned()];
    let may: Vec<bool> = chunks
        .iter()
        .map(|c| written.may_contain(c, &literal).expect("bloom"))
        .collect();
    assert!(may.iter().any(|m| !m), "{may:?}");
    drop(written);

    let store = LogStore::open(options(dir.path())).expect("open");
    let found = read(&store, &all(), &literal);
    assert_eq!(found.len(), 10, "{found:?}");
    assert!(found.iter().all(|(_, _, line)| line.ends_with("replica-3")));
    assert_eq!(read(&store, &all(), &[]).len(), 40);
}
