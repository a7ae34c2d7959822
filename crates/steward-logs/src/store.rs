//! The embedded log store: [`LogStore`].
//!
//! Writes: a push is framed into the WAL by one writer thread, which
//! gathers the pushes waiting for it into one write and one fsync (group
//! commit), then adds them to the head and acknowledges them: nothing is
//! acknowledged before it is on disk. When the head reaches
//! `flush_bytes` (or `max_head_age`), the writer freezes it and starts a
//! new WAL file; a flusher thread writes the frozen head as a segment
//! (`segment.rs`: compressed chunks per stream, a bloom filter of 4-grams
//! per chunk, an index), publishes it and deletes the WAL files it
//! covers. Memory is bounded: a push is refused with
//! [`Error::Backpressure`] while the head, the frozen heads and the pushes
//! in flight hold more than `max_memory_bytes`.
//!
//! Reads (`read.rs`): a query takes, under a read lock, the head's blocks
//! and the segments it needs, then decompresses and filters chunks on
//! worker threads, handing them to the query in time order per stream.
//!
//! Retention: segments wholly older than `retention` are deleted, then the
//! oldest ones while the segments take more than `max_bytes`.

mod bloom;
mod codec;
mod files;
mod head;
mod read;
mod segment;
mod wal;
mod writer;

#[cfg(test)]
mod tests;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use parking_lot::{Mutex, RwLock};
use steward_metrics::{Labels, Matcher};
use tokio::sync::oneshot;

use crate::{Entry, Error, LogSource, PushStream, Result, Selection};

use head::Head;
use segment::Segment;

/// How the store is sized and kept.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Directory of the store (`wal/` and `segments/` under it).
    pub dir: PathBuf,
    /// Head size (bytes of entries in memory) at which it is flushed.
    pub flush_bytes: usize,
    /// Oldest a head may get before it is flushed anyway.
    pub max_head_age: Duration,
    /// Memory the head, the frozen heads and the pushes in flight may
    /// take before pushes are refused with [`Error::Backpressure`].
    pub max_memory_bytes: usize,
    /// Bytes of lines per chunk in a segment.
    pub chunk_bytes: usize,
    /// Segments wholly older than this are deleted.
    pub retention: Option<Duration>,
    /// The oldest segments are deleted while all take more than this.
    pub max_bytes: Option<u64>,
    /// Threads that decompress chunks for a query.
    pub read_threads: usize,
}

impl StoreOptions {
    /// Defaults for a store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StoreOptions {
            dir: dir.into(),
            flush_bytes: 64 << 20,
            max_head_age: Duration::from_secs(300),
            max_memory_bytes: 256 << 20,
            chunk_bytes: 512 << 10,
            retention: None,
            max_bytes: None,
            read_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// What the store holds, for `/metrics` and `steward logs stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Lines in the head and frozen heads (in memory and the WAL).
    pub head_lines: usize,
    /// Memory they take, approximately.
    pub head_bytes: usize,
    /// Segment files.
    pub segments: usize,
    /// Bytes of segment files on disk.
    pub segment_bytes: u64,
    /// Lines in segments.
    pub segment_lines: u64,
    /// Bytes of lines in segments, uncompressed.
    pub segment_raw_bytes: u64,
    /// Lines acknowledged since the store opened.
    pub ingested_lines: u64,
    /// Bytes of the lines acknowledged since the store opened.
    pub ingested_bytes: u64,
    /// Pushes refused with [`Error::Backpressure`] since it opened.
    pub refused_pushes: u64,
}

pub(crate) struct State {
    pub(crate) head: Head,
    /// Heads being written as segments, with the WAL seq each ends with.
    pub(crate) frozen: Vec<(u64, Arc<Head>)>,
    pub(crate) segments: Vec<Arc<Segment>>,
}

pub(crate) struct Inner {
    pub(crate) options: StoreOptions,
    pub(crate) state: RwLock<State>,
    /// Bytes of pushes sent to the writer and not yet in the head.
    pub(crate) in_flight: AtomicUsize,
    /// Lines and bytes of lines acknowledged, pushes refused.
    pub(crate) ingested_lines: AtomicU64,
    pub(crate) ingested_bytes: AtomicU64,
    pub(crate) refused_pushes: AtomicU64,
    commands: Mutex<Option<std::sync::mpsc::Sender<writer::Command>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// The embedded log store (a cheap handle).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
    /// Closes the writer's channel when the last handle goes (the threads
    /// hold `inner`, so its own drop would never come).
    _closer: Arc<Closer>,
}

struct Closer(Arc<Inner>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.commands.lock().take();
    }
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("dir", &self.inner.options.dir)
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// Opens (or creates) the store: reads the segments' indexes, deletes
    /// WAL files a segment covers, replays the others into the head, and
    /// starts the writer and flusher threads.
    pub fn open(options: StoreOptions) -> Result<LogStore> {
        let wal_dir = options.dir.join("wal");
        let seg_dir = options.dir.join("segments");
        files::private_dir(&options.dir)?;
        files::private_dir(&wal_dir)?;
        files::private_dir(&seg_dir)?;
        let segments = open_segments(&seg_dir)?;
        let covered = segments.iter().map(|s| s.wal_seq).max().unwrap_or(0);
        let mut head = Head::default();
        let mut last = covered;
        for (seq, path) in wal::files(&wal_dir)? {
            last = last.max(seq);
            if seq <= covered {
                std::fs::remove_file(&path).map_err(|err| Error::io(&path, err))?;
                continue;
            }
            wal::replay(&path, &mut |streams| head.insert(streams))?;
        }
        if !head.is_empty() {
            tracing::info!(lines = head.lines(), "log store replayed its wal");
        }
        let inner = Arc::new(Inner {
            options,
            state: RwLock::new(State {
                head,
                frozen: Vec::new(),
                segments,
            }),
            in_flight: AtomicUsize::new(0),
            ingested_lines: AtomicU64::new(0),
            ingested_bytes: AtomicU64::new(0),
            refused_pushes: AtomicU64::new(0),
            commands: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        });
        let (commands, threads) = writer::start(&inner, last + 1)?;
        *inner.commands.lock() = Some(commands);
        *inner.threads.lock() = threads;
        Ok(LogStore {
            _closer: Arc::new(Closer(inner.clone())),
            inner,
        })
    }

    /// Stores the streams durably: returns once they are in the fsync'd
    /// WAL and visible to queries. Refused with [`Error::Backpressure`]
    /// while the store holds too much in memory. The write goes on if the
    /// caller stops waiting.
    pub async fn push(&self, streams: Vec<PushStream>) -> Result<()> {
        self.push_as(streams, None).await
    }

    /// [`push`](Self::push) of what a Loki push `body` (a snappy-compressed
    /// protobuf `PushRequest`) decoded into: the WAL keeps the body as it
    /// came instead of encoding the streams, and a replay decodes it again
    /// ([`decode_protobuf`](crate::ingest::loki::decode_protobuf)), so
    /// `streams` must be what that decoding gave.
    pub async fn push_loki_protobuf(
        &self,
        streams: Vec<PushStream>,
        body: bytes::Bytes,
    ) -> Result<()> {
        self.push_as(streams, Some(body)).await
    }

    async fn push_as(&self, streams: Vec<PushStream>, body: Option<bytes::Bytes>) -> Result<()> {
        let (mut bytes, mut lines, mut line_bytes) = (0usize, 0u64, 0u64);
        for entry in streams.iter().flat_map(|s| &s.entries) {
            bytes += head::entry_bytes(entry);
            lines += 1;
            line_bytes += entry.line.len() as u64;
        }
        if bytes == 0 {
            return Ok(());
        }
        let held = self.memory() + self.inner.in_flight.load(Ordering::Relaxed);
        if held + bytes > self.inner.options.max_memory_bytes {
            self.inner.refused_pushes.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Backpressure {
                retry_after_secs: 1,
            });
        }
        let record = match body {
            Some(body) if wal::Record::fits(body.len()) => wal::Record::loki_protobuf(body),
            _ => wal::Record::encoded(&streams),
        };
        let (reply, answer) = oneshot::channel();
        self.inner.in_flight.fetch_add(bytes, Ordering::Relaxed);
        let sent = match &*self.inner.commands.lock() {
            Some(commands) => commands
                .send(writer::Command::Push {
                    streams,
                    record,
                    bytes,
                    lines,
                    line_bytes,
                    reply,
                })
                .is_ok(),
            None => false,
        };
        if !sent {
            self.inner.in_flight.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Error::Closed);
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Memory the head and frozen heads take.
    fn memory(&self) -> usize {
        let state = self.inner.state.read();
        state.head.bytes() + state.frozen.iter().map(|(_, h)| h.bytes()).sum::<usize>()
    }

    /// Freezes the head and waits until it is written as a segment (for
    /// tests and a graceful stop: it makes the next open quicker).
    pub async fn flush(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let sent = match &*self.inner.commands.lock() {
            Some(commands) => commands.send(writer::Command::Flush { reply }).is_ok(),
            None => false,
        };
        if !sent {
            return Err(Error::Closed);
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Applies retention now (it also runs after every flush and every
    /// minute).
    pub fn apply_retention(&self) -> Result<usize> {
        writer::retention(
            &self.inner,
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        )
    }

    /// What the store holds.
    pub fn stats(&self) -> StoreStats {
        let state = self.inner.state.read();
        let mut stats = StoreStats {
            head_lines: state.head.lines()
                + state.frozen.iter().map(|(_, h)| h.lines()).sum::<usize>(),
            head_bytes: state.head.bytes()
                + state.frozen.iter().map(|(_, h)| h.bytes()).sum::<usize>(),
            segments: state.segments.len(),
            ingested_lines: self.inner.ingested_lines.load(Ordering::Relaxed),
            ingested_bytes: self.inner.ingested_bytes.load(Ordering::Relaxed),
            refused_pushes: self.inner.refused_pushes.load(Ordering::Relaxed),
            ..StoreStats::default()
        };
        for segment in &state.segments {
            stats.segment_bytes += segment.size;
            for chunk in segment.streams.iter().flat_map(|s| &s.chunks) {
                stats.segment_lines += u64::from(chunk.lines);
                stats.segment_raw_bytes += chunk.raw_bytes;
            }
        }
        stats
    }

    /// Stops the threads (pushes already acknowledged are in the WAL;
    /// the head is not flushed: the next open replays it).
    pub fn close(&self) {
        self.inner.commands.lock().take();
        let threads = std::mem::take(&mut *self.inner.threads.lock());
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn open_segments(dir: &Path) -> Result<Vec<Arc<Segment>>> {
    let mut segments = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|err| Error::io(dir, err))?;
    for entry in entries {
        let path = entry.map_err(|err| Error::io(dir, err))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".seg.tmp") {
            // a flush a crash interrupted: its WAL files are still there
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".seg") {
            continue;
        }
        match Segment::open(&path) {
            Ok(segment) => segments.push(segment),
            Err(err) => {
                // Keep the damaged file for a person to look at, out of
                // the way, and go on with the rest.
                tracing::error!(path = %path.display(), error = %err, "unreadable log segment; moving it aside");
                let aside = path.with_extension("seg.damaged");
                std::fs::rename(&path, &aside).map_err(|err| Error::io(&path, err))?;
            }
        }
    }
    segments.sort_by_key(|s| s.wal_seq);
    Ok(segments)
}

impl LogSource for LogStore {
    fn select(
        &self,
        selection: &Selection<'_>,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> std::ops::ControlFlow<()>,
    ) -> Result<()> {
        read::select(&self.inner, selection, visit)
    }

    fn series(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Labels>> {
        Ok(read::series(&self.inner, matchers, start, end))
    }
}
