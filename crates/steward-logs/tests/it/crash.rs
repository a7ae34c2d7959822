//! `kill -9` during ingestion loses no acknowledged line and duplicates
//! none: a child process (this test binary, running only [`child`])
//! pushes batches from several tasks as fast as it can (every other one
//! as a Loki push body) and reports each batch once its push returned `Ok`; the parent kills it with SIGKILL at ten
//! spread moments, reopens the store itself and reads every line back.
//!
//! The child's store flushes its head every few batches into segments of
//! small chunks (and deletes the WAL files they cover), so kills land in
//! WAL appends and segment encoding; some rounds watch the store's files
//! to kill while a segment file is written and between a segment's
//! publication and the deletion of its WAL files. Every round goes on in
//! the same directory, so the recovery of a recovered store is tested too:
//! the checks cover the lines of every round so far, and the reopened
//! store must take pushes again.

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, Write},
    ops::ControlFlow,
    path::Path,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use steward_logs::{
    Entry, Error, LogSource, LogStore, PushStream, Selection, StoreOptions, ingest::encode_push,
};
use steward_metrics::{Labels, Matcher};

const DIR_ENV: &str = "STEWARD_LOGS_CRASH_DIR";
const ROUND_ENV: &str = "STEWARD_LOGS_CRASH_ROUND";
/// Streams (label sets) in every push.
const STREAMS: usize = 3;
/// Lines per stream in every push.
const LINES: usize = 12;
/// Tasks pushing at once, so the writer gathers several pushes into one
/// WAL write (group commit) as it does under load.
const PUSHERS: usize = 4;
/// Timestamp of round 0's first batch, in ns.
const EPOCH: i64 = 1_700_000_000_000_000_000;

/// A store that flushes every few batches into many small chunks.
fn options(dir: &Path) -> StoreOptions {
    StoreOptions {
        flush_bytes: 48 << 10,
        chunk_bytes: 8 << 10,
        max_memory_bytes: 256 << 10,
        read_threads: 2,
        ..StoreOptions::new(dir)
    }
}

fn labels(stream: usize) -> Labels {
    Labels::from_pairs([
        ("test", "crash".to_owned()),
        ("stream", format!("s{stream}")),
    ])
}

/// Line `line` of stream `stream` of batch `batch` of round `round`: its
/// text names it, so the parent can tell what it should be. Mostly in
/// time order; a few lines go back into the batch's past and, now and
/// then, into round 0's (already in segments), as late lines do.
fn entry(round: u64, batch: u64, stream: usize, line: usize) -> Entry {
    let base = EPOCH + ((round * 1_000_000 + batch) * 1_000_000) as i64;
    let ts = match line {
        5 => base - 3_000_000,
        9 if batch % 16 == 3 => EPOCH + batch as i64,
        _ => base + line as i64 * 1_000,
    };
    let mut x = (round << 48) ^ (batch << 16) ^ ((stream as u64) << 8) ^ line as u64;
    let mut payload = String::with_capacity(64);
    for _ in 0..4 {
        // splitmix64: text that does not compress to nothing
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        payload.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    let mut entry = Entry::new(
        ts,
        format!("round={round} batch={batch} stream={stream} line={line} {payload}"),
    );
    if line.is_multiple_of(4) {
        entry.metadata = vec![("trace_id".to_owned(), payload[..16].to_owned())];
    }
    entry
}

fn batch(round: u64, batch: u64) -> Vec<PushStream> {
    (0..STREAMS)
        .map(|s| PushStream {
            labels: labels(s),
            entries: (0..LINES).map(|i| entry(round, batch, s, i)).collect(),
        })
        .collect()
}

/// The ids a line's text names: round, batch, stream, line.
fn ids(line: &str) -> Option<(u64, u64, usize, usize)> {
    let mut words = line.split(' ');
    let mut field = |name: &str| words.next()?.strip_prefix(name)?.parse::<u64>().ok();
    let ids = (
        field("round=")?,
        field("batch=")?,
        field("stream=")?,
        field("line=")?,
    );
    Some((ids.0, ids.1, ids.2 as usize, ids.3 as usize))
}

/// The child: pushes until killed. A no-op when not started by the parent.
#[test]
fn child() {
    let (Ok(dir), Ok(round)) = (std::env::var(DIR_ENV), std::env::var(ROUND_ENV)) else {
        return;
    };
    let round: u64 = round.parse().expect("round");
    let store = LogStore::open(options(Path::new(&dir))).expect("open the store");
    let say = |what: &str| {
        // a line of its own: libtest may have left "test ... " unfinished
        let mut out = std::io::stdout().lock();
        writeln!(out, "\n{what}")
            .and_then(|()| out.flush())
            .expect("stdout");
    };
    say("ready");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let next = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let mut pushers = tokio::task::JoinSet::new();
        for _ in 0..PUSHERS {
            let (store, next) = (store.clone(), next.clone());
            pushers.spawn(async move {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let streams = batch(round, b);
                    // every other batch as a Loki push body, which the
                    // WAL keeps as it came (the push API's path)
                    let body = (b % 2 == 1).then(|| bytes::Bytes::from(encode_push(&streams)));
                    loop {
                        let pushed = match &body {
                            Some(body) => {
                                store
                                    .push_loki_protobuf(streams.clone(), body.clone())
                                    .await
                            }
                            None => store.push(streams.clone()).await,
                        };
                        match pushed {
                            Ok(()) => break,
                            Err(Error::Backpressure { .. }) => {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            Err(err) => return format!("push of batch {b}: {err}"),
                        }
                    }
                    say(&format!("acked {b}"));
                }
            });
        }
        // pushers only stop on an error: the parent sees the child end
        if let Some(stopped) = pushers.join_next().await {
            panic!("a pusher stopped: {stopped:?}");
        }
    });
}

/// The store's files at one moment, as far as they tell which step of
/// the write path is under way.
struct Files {
    /// Sequence numbers of the published segments.
    segments: Vec<u64>,
    /// Whether a segment is being written (its temporary file exists).
    writing: bool,
    /// Sequence numbers of the WAL files.
    wal: Vec<u64>,
}

impl Files {
    fn of(dir: &Path) -> Files {
        let names = |sub: &str| -> Vec<String> {
            std::fs::read_dir(dir.join(sub))
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let seq = |name: &String, suffix: &str| name.strip_suffix(suffix)?.parse::<u64>().ok();
        let segments = names("segments");
        Files {
            writing: segments.iter().any(|n| n.ends_with(".seg.tmp")),
            segments: segments.iter().filter_map(|n| seq(n, ".seg")).collect(),
            wal: names("wal").iter().filter_map(|n| seq(n, ".wal")).collect(),
        }
    }

    /// WAL files a published segment covers: the flusher is between the
    /// segment's rename and their deletion.
    fn covered_wal(&self) -> usize {
        let covered = self.segments.iter().max();
        self.wal.iter().filter(|s| Some(*s) <= covered).count()
    }

    fn describe(&self) -> String {
        format!(
            "segments {}, wal files {} ({} covered by a segment), segment file being written: {}",
            self.segments.len(),
            self.wal.len(),
            self.covered_wal(),
            self.writing
        )
    }
}

/// When a round kills the child, once its delay is over.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    /// At once (mostly during WAL appends and segment encoding).
    Now,
    /// As soon as a segment's temporary file is seen.
    SegmentWrite,
    /// As soon as a published segment's WAL files are seen not deleted yet.
    WalDeletion,
}

impl Moment {
    /// Whether the store's files show the moment (polled for at most
    /// [`WATCH`]: the kill goes ahead anyway after that).
    fn seen(self, dir: &Path) -> bool {
        match self {
            Moment::Now => true,
            Moment::SegmentWrite => Files::of(dir).writing,
            Moment::WalDeletion => Files::of(dir).covered_wal() > 0,
        }
    }
}

/// Longest a round watches for its moment.
const WATCH: Duration = Duration::from_secs(3);

#[test]
fn kill_9_during_ingestion_loses_no_acknowledged_line_and_duplicates_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    // ms of ingestion before the kill, irregular so that kills fall at
    // different points of the flush cycle, and what to wait for then
    let rounds = [
        (9u64, Moment::Now),
        (37, Moment::Now),
        (71, Moment::SegmentWrite),
        (118, Moment::Now),
        (163, Moment::WalDeletion),
        (229, Moment::Now),
        (297, Moment::SegmentWrite),
        (384, Moment::Now),
        (472, Moment::WalDeletion),
        (611, Moment::Now),
    ];
    // the batches acknowledged in each round so far
    let mut acked: Vec<Vec<u64>> = Vec::new();
    let mut err = std::io::stderr().lock();
    let started = Instant::now();
    for (round, (delay, moment)) in rounds.iter().enumerate() {
        let log = logs.path().join(format!("child-{round}.log"));
        let mut proc = Command::new(&exe)
            .args(["crash::child", "--exact", "--nocapture", "--test-threads=1"])
            .env(DIR_ENV, dir.path())
            .env(ROUND_ENV, round.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("child log"))
            .spawn()
            .expect("spawn the child");
        let stdout = proc.stdout.take().expect("child stdout");
        let (events, heard) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = if line == "ready" {
                    None
                } else if let Some(b) = line.strip_prefix("acked ") {
                    Some(b.parse::<u64>().expect("batch id"))
                } else {
                    continue;
                };
                if events.send(event).is_err() {
                    return;
                }
            }
        });
        let child_log = || std::fs::read_to_string(&log).unwrap_or_default();
        match heard.recv_timeout(Duration::from_secs(20)) {
            Ok(None) => {}
            other => panic!(
                "round {round}: the child did not start ({other:?}):\n{}",
                child_log()
            ),
        }
        std::thread::sleep(Duration::from_millis(*delay));
        let mut mine: Vec<u64> = heard.try_iter().flatten().collect();
        if mine.is_empty() && *delay >= 100 {
            // not a moment to kill at yet: a recovered store must take
            // pushes again, soon
            match heard.recv_timeout(Duration::from_secs(10)) {
                Ok(Some(b)) => mine.push(b),
                other => panic!(
                    "round {round}: the reopened store acknowledged no push within 10 s ({other:?}):\n{}",
                    child_log()
                ),
            }
        }
        let watching = Instant::now();
        while !moment.seen(dir.path()) && watching.elapsed() < WATCH {
            std::thread::sleep(Duration::from_micros(200));
        }
        assert!(
            proc.try_wait().expect("child status").is_none(),
            "round {round}: the child ended before it was killed:\n{}",
            child_log()
        );
        proc.kill().expect("SIGKILL"); // SIGKILL
        proc.wait().expect("reap the child");
        reader.join().expect("reader");
        mine.extend(heard.try_iter().flatten());
        acked.push(mine);
        let seen = Files::of(dir.path());
        let when = match moment {
            Moment::Now => String::new(),
            _ if moment.seen(dir.path()) => format!(" at {moment:?}"),
            _ => format!(" ({moment:?} not seen within {WATCH:?})"),
        };

        let store = LogStore::open(options(dir.path())).expect("reopen the store");
        let matchers = [Matcher::equal("test", "crash")];
        let selection = Selection {
            matchers: &matchers,
            start: i64::MIN,
            end: i64::MAX,
            contains: &[],
            early: None,
        };
        let mut lines = HashSet::new();
        let mut duplicates = Vec::new();
        let mut per_batch: HashMap<(u64, u64), usize> = HashMap::new();
        store
            .select(&selection, &mut |labels, entries| {
                for e in entries {
                    let Some((r, b, s, i)) = ids(&e.line) else {
                        panic!("round {round}: a line the child never pushed: {e:?}");
                    };
                    assert_eq!(
                        *labels,
                        self::labels(s),
                        "round {round}: line in the wrong stream"
                    );
                    assert_eq!(
                        *e,
                        entry(r, b, s, i),
                        "round {round}: line read back altered"
                    );
                    if lines.insert(e.line.clone()) {
                        *per_batch.entry((r, b)).or_default() += 1;
                    } else {
                        duplicates.push(e.line.clone());
                    }
                }
                ControlFlow::Continue(())
            })
            .expect("select");
        store.close();
        drop(store);

        let whole = STREAMS * LINES;
        let lost: Vec<(u64, u64, usize)> = acked
            .iter()
            .enumerate()
            .flat_map(|(r, batches)| batches.iter().map(move |b| (r as u64, *b)))
            .filter_map(|(r, b)| {
                let found = per_batch.get(&(r, b)).copied().unwrap_or(0);
                (found != whole).then_some((r, b, found))
            })
            .collect();
        let torn: Vec<_> = per_batch.iter().filter(|(_, n)| **n != whole).collect();
        let acked_lines = acked.iter().map(Vec::len).sum::<usize>() * whole;
        writeln!(
            err,
            "crash round {round}: killed after {delay} ms{when}, batches acknowledged {}, lines acknowledged so far {acked_lines}, lines found {}; after the kill: {}",
            acked[round].len(),
            lines.len(),
            seen.describe()
        )
        .expect("stderr");
        assert!(
            duplicates.is_empty(),
            "round {round}: {} lines duplicated, e.g. {:?}",
            duplicates.len(),
            &duplicates[..duplicates.len().min(3)]
        );
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged batches lost (round, batch, lines found of {whole}): {:?}",
            &lost[..lost.len().min(10)]
        );
        assert!(
            torn.is_empty(),
            "round {round}: pushes only partly kept (a push is one WAL record): {torn:?}"
        );
    }
    let batches: usize = acked.iter().map(Vec::len).sum();
    writeln!(
        err,
        "crash rounds took {:?}: {} kills, {batches} batches ({} lines) acknowledged",
        started.elapsed(),
        rounds.len(),
        batches * STREAMS * LINES
    )
    .expect("stderr");
    assert!(batches > 0, "the children acknowledged nothing");
}
