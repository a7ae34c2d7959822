//! The store's two threads: the writer (group commit into the WAL, the
//! head, freezing) and the flusher (frozen heads to segments, WAL
//! deletion, retention).
//!
//! Both are OS threads, not tasks: their work is blocking file IO and
//! CPU (compression, bloom filters), and a push must complete once handed
//! over even if the pusher's future is dropped. They hold the store's
//! state, not its handle: when the last [`LogStore`](super::LogStore)
//! handle goes, the command channel closes and both end.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::Ordering,
        mpsc::{self, Receiver, RecvTimeoutError, Sender},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::{
    Error, PushStream, Result,
    store::{Inner, head::Head, segment, wal},
};

/// What the writer is asked to do.
pub(crate) enum Command {
    /// Store these streams; answer once durable.
    Push {
        streams: Vec<PushStream>,
        /// Their WAL record.
        record: wal::Record,
        bytes: usize,
        /// Its lines and their bytes, counted once acknowledged.
        lines: u64,
        line_bytes: u64,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Freeze the head and answer once every frozen head is a segment.
    Flush { reply: oneshot::Sender<Result<()>> },
}

/// A frozen head for the flusher, and who waits for it.
struct Job {
    frozen: Option<(u64, Arc<Head>)>,
    replies: Vec<oneshot::Sender<Result<()>>>,
}

/// Most commands gathered into one WAL write.
const MAX_BATCH: usize = 4096;
/// How often the writer looks at the head's age, and the flusher at
/// retention.
const TICK: Duration = Duration::from_secs(1);
const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// Wait before retrying a segment write that failed.
const RETRY_FLUSH: Duration = Duration::from_secs(5);

/// Starts the threads; the WAL's next file is `seq`.
pub(crate) fn start(
    inner: &Arc<Inner>,
    seq: u64,
) -> Result<(Sender<Command>, Vec<JoinHandle<()>>)> {
    let wal_dir = inner.options.dir.join("wal");
    let wal = wal::WalFile::create(&wal_dir, seq)?;
    let (commands, receive) = mpsc::channel();
    let (jobs, receive_jobs) = mpsc::channel();
    let spawn = |name: &str| std::thread::Builder::new().name(name.to_owned());
    let writer = {
        let inner = inner.clone();
        spawn("log-writer")
            .spawn(move || write_loop(&inner, wal, &receive, &jobs))
            .map_err(|err| Error::io(&wal_dir, err))?
    };
    let flusher = {
        let inner = inner.clone();
        spawn("log-flusher")
            .spawn(move || flush_loop(&inner, &receive_jobs))
            .map_err(|err| Error::io(&wal_dir, err))?
    };
    Ok((commands, vec![writer, flusher]))
}

fn write_loop(
    inner: &Inner,
    mut wal: wal::WalFile,
    commands: &Receiver<Command>,
    jobs: &Sender<Job>,
) {
    let wal_dir: PathBuf = inner.options.dir.join("wal");
    let mut head_since: Option<Instant> = (!inner.state.read().head.is_empty()).then(Instant::now);
    // A head replayed from the WAL may be due already. Freeze it now: a
    // push is what makes the writer look, and while the head holds more
    // than `max_memory_bytes` every push is refused, so only its age
    // would flush it (minutes without ingestion after a crash).
    if inner.state.read().head.bytes() >= inner.options.flush_bytes {
        freeze(inner, &wal_dir, &mut wal, jobs, Vec::new());
        head_since = None;
    }
    loop {
        let first = match commands.recv_timeout(TICK) {
            Ok(command) => command,
            Err(RecvTimeoutError::Timeout) => {
                if head_since.is_some_and(|t| t.elapsed() >= inner.options.max_head_age) {
                    freeze(inner, &wal_dir, &mut wal, jobs, Vec::new());
                    head_since = None;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        let mut records = Vec::with_capacity(batch.len());
        let mut pushes = Vec::new();
        let mut flushes = Vec::new();
        // lines and bytes of lines of the pushes, counted once durable
        let mut counts = (0u64, 0u64);
        for command in batch {
            match command {
                Command::Push {
                    streams,
                    record,
                    bytes,
                    lines,
                    line_bytes,
                    reply,
                } => {
                    records.push(record);
                    counts.0 += lines;
                    counts.1 += line_bytes;
                    pushes.push((streams, bytes, reply));
                }
                Command::Flush { reply } => flushes.push(reply),
            }
        }
        if !pushes.is_empty() {
            let written = wal.append_sync(&records);
            // the bodies go as soon as they are written, not with the batch
            drop(records);
            match written {
                Ok(()) => {
                    let mut state = inner.state.write();
                    let mut replies = Vec::with_capacity(pushes.len());
                    for (streams, bytes, reply) in pushes {
                        state.head.insert(streams);
                        inner.in_flight.fetch_sub(bytes, Ordering::Relaxed);
                        replies.push(reply);
                    }
                    drop(state);
                    inner.ingested_lines.fetch_add(counts.0, Ordering::Relaxed);
                    inner.ingested_bytes.fetch_add(counts.1, Ordering::Relaxed);
                    head_since.get_or_insert_with(Instant::now);
                    for reply in replies {
                        let _ = reply.send(Ok(()));
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot write the log wal; refusing the pushes");
                    for (_, bytes, reply) in pushes {
                        inner.in_flight.fetch_sub(bytes, Ordering::Relaxed);
                        let _ = reply.send(Err(Error::io(
                            &wal_dir,
                            std::io::Error::other(err.to_string()),
                        )));
                    }
                    // The failed write may have left part of a record: go
                    // on in a new file, so that later records are not
                    // behind a damaged one (replay stops at damage).
                    match wal::WalFile::create(&wal_dir, wal.seq() + 1) {
                        Ok(next) => wal = next,
                        Err(err) => {
                            tracing::error!(error = %err, "cannot start a new log wal file");
                        }
                    }
                }
            }
        }
        let full = inner.state.read().head.bytes() >= inner.options.flush_bytes;
        if full || !flushes.is_empty() {
            freeze(inner, &wal_dir, &mut wal, jobs, flushes);
            head_since = None;
        }
    }
}

/// Freezes the head into a job for the flusher and moves the WAL to a
/// new file. Without a head, the job only carries the replies.
fn freeze(
    inner: &Inner,
    wal_dir: &std::path::Path,
    wal: &mut wal::WalFile,
    jobs: &Sender<Job>,
    replies: Vec<oneshot::Sender<Result<()>>>,
) {
    let mut frozen = None;
    if !inner.state.read().head.is_empty() {
        match wal::WalFile::create(wal_dir, wal.seq() + 1) {
            Ok(next) => {
                let seq = wal.seq();
                let mut state = inner.state.write();
                let mut head = std::mem::take(&mut state.head);
                head.seal();
                let head = Arc::new(head);
                state.frozen.push((seq, head.clone()));
                drop(state);
                *wal = next;
                frozen = Some((seq, head));
            }
            Err(err) => {
                // The head stays and grows; pushes meet the memory bound.
                tracing::error!(error = %err, "cannot start a new log wal file; not flushing");
            }
        }
    }
    let _ = jobs.send(Job { frozen, replies });
}

fn flush_loop(inner: &Inner, jobs: &Receiver<Job>) {
    let seg_dir = inner.options.dir.join("segments");
    let wal_dir = inner.options.dir.join("wal");
    let mut last_retention = Instant::now();
    loop {
        let job = match jobs.recv_timeout(TICK) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Some(Job { frozen, replies }) = job {
            if let Some((seq, head)) = frozen {
                // A segment that cannot be written is retried until it can
                // (a full disk): the head stays queryable meanwhile, and
                // pushes meet the memory bound.
                loop {
                    match segment::write(&seg_dir, seq, &head, inner.options.chunk_bytes) {
                        Ok(segment) => {
                            let mut state = inner.state.write();
                            state.frozen.retain(|(s, _)| *s != seq);
                            state.segments.push(Arc::new(segment));
                            drop(state);
                            delete_wal(&wal_dir, seq);
                            break;
                        }
                        Err(err) => {
                            tracing::error!(error = %err, wal_seq = seq, "cannot write a log segment; retrying");
                            std::thread::sleep(RETRY_FLUSH);
                        }
                    }
                }
                // retention right after a flush: the store just grew
                last_retention = Instant::now() - RETENTION_EVERY;
            }
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        if last_retention.elapsed() >= RETENTION_EVERY {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            if let Err(err) = retention(inner, now) {
                tracing::warn!(error = %err, "log retention failed");
            }
            last_retention = Instant::now();
        }
    }
}

/// Deletes the WAL files up to `seq` (a segment covers them).
fn delete_wal(dir: &std::path::Path, seq: u64) {
    match wal::files(dir) {
        Ok(files) => {
            for (s, path) in files {
                if s <= seq
                    && let Err(err) = std::fs::remove_file(&path)
                {
                    tracing::warn!(path = %path.display(), error = %err, "cannot delete a flushed log wal file");
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot list the log wal"),
    }
}

/// Deletes the segments retention no longer keeps; returns how many.
pub(crate) fn retention(inner: &Inner, now_ns: i64) -> Result<usize> {
    let options = &inner.options;
    let mut state = inner.state.write();
    let mut doomed = Vec::new();
    if let Some(age) = options.retention {
        let oldest = now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
        state.segments.retain(|s| {
            let keep = s.max_ts >= oldest;
            if !keep {
                doomed.push(s.clone());
            }
            keep
        });
    }
    if let Some(max) = options.max_bytes {
        state.segments.sort_by_key(|s| (s.max_ts, s.wal_seq));
        let mut total: u64 = state.segments.iter().map(|s| s.size).sum();
        while total > max && !state.segments.is_empty() {
            let s = state.segments.remove(0);
            total -= s.size;
            doomed.push(s);
        }
        state.segments.sort_by_key(|s| s.wal_seq);
    }
    drop(state);
    for segment in &doomed {
        // Queries still reading it keep their open file.
        std::fs::remove_file(&segment.path).map_err(|err| Error::io(&segment.path, err))?;
        tracing::info!(path = %segment.path.display(), "log segment deleted by retention");
    }
    Ok(doomed.len())
}
