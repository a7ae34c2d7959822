//! The remote write queue on disk: what was appended to the store and
//! still has to reach one remote end, so a restart or an outage of the
//! remote loses nothing.
//!
//! The queue itself is generic over bytes: [`Queue::append_raw`] and
//! [`QueueReader::read_raw`] take and give opaque payloads with a count
//! (samples here; steward-logs' forwarding queues Loki pushes and counts
//! lines with the same code). [`Queue::append`] and [`QueueReader::read`]
//! are the remote write form, a protobuf `WriteRequest` per record.
//!
//! A directory of numbered segment files (`00000001`, ...) of records and a
//! `position` file. A record is `len u32 | crc32 u32 | body`, the body
//! `count u32 | payload` (for remote write, the payload is a protobuf
//! `WriteRequest` and the count its samples), little-endian, the CRC over
//! the body. [`Queue::append`] writes a record and syncs it before returning,
//! then publishes the new end, so a reader never sees half a record.
//! Each open starts a fresh segment, so a torn tail left by a crash is
//! only ever at the end of an older segment, where the reader skips it.
//!
//! The sender commits a position once every sample before it was sent (or
//! dropped); segments wholly before it are deleted, and a restart resumes
//! there: delivery is at least once (a round in flight at a crash is sent
//! again; Prometheus ignores a sample identical to one it has). When the
//! queue outgrows its disk budget the oldest segments are deleted even
//! unsent, and their samples counted as dropped.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use prost::Message;

use super::proto::WriteRequest;
use crate::tsdb::fsutil::{create_private, io, private_dir, sync_dir};
use crate::{Error, Result};

/// A segment is closed and a new one started past this size.
pub const DEFAULT_SEGMENT_SIZE: u64 = 8 << 20;

/// A record body larger than this is corrupt (no batch is that big).
const MAX_RECORD: u32 = 256 << 20;

const HEADER: usize = 8;
const POSITION_FILE: &str = "position";

/// A place in the queue: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The segment's number.
    pub segment: u64,
    /// The offset in bytes.
    pub offset: u64,
}

/// One record read back as bytes ([`QueueReader::read_raw`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Where the record ends: committing this position acknowledges it.
    pub end: Position,
    /// The count it was appended with (samples, lines...).
    pub count: usize,
    /// The payload it was appended with.
    pub payload: Vec<u8>,
}

/// One record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Where the record ends: committing this position acknowledges it.
    pub end: Position,
    /// The samples it holds.
    pub samples: usize,
    /// Its series and samples.
    pub request: WriteRequest,
}

#[derive(Debug, Clone, Copy, Default)]
struct SegmentInfo {
    size: u64,
    samples: u64,
}

struct Writer {
    file: File,
    /// The segment written and its durable end.
    end: Position,
    segments: BTreeMap<u64, SegmentInfo>,
    committed: Position,
}

/// A remote write queue on disk (shared by the appending side and the
/// sender).
pub struct Queue {
    dir: PathBuf,
    segment_size: u64,
    max_size: u64,
    writer: Mutex<Writer>,
    pending: AtomicU64,
    dropped: AtomicU64,
    notify: tokio::sync::Notify,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("dir", &self.dir)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:08}"))
}

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The next whole record of `file` at its current offset, `None` at the
/// end or at a torn or corrupt tail (told apart by the caller from where
/// the segment should end).
fn read_record(file: &mut File, path: &Path) -> Result<Option<(usize, Vec<u8>, u64)>> {
    let mut header = [0u8; HEADER];
    match file.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(4..=MAX_RECORD).contains(&len) {
        return Ok(None);
    }
    let mut body = vec![0u8; len as usize];
    match file.read_exact(&mut body) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    }
    if crc32fast::hash(&body) != crc {
        return Ok(None);
    }
    let samples = u32::from_le_bytes([body[0], body[1], body[2], body[3]]) as usize;
    Ok(Some((samples, body, HEADER as u64 + u64::from(len))))
}

/// The samples in `path` from `offset` on, reading headers and bodies
/// (the CRC decides where valid data ends).
fn count_samples(path: &Path, offset: u64) -> Result<u64> {
    let mut file = File::open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    let mut total = 0;
    while let Some((samples, _, _)) = read_record(&mut file, path)? {
        total += samples as u64;
    }
    Ok(total)
}

fn read_position(dir: &Path) -> Result<Option<Position>> {
    let path = dir.join(POSITION_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    if bytes.len() != 20 || crc32fast::hash(&bytes[..16]) != u32_at(&bytes, 16) {
        return Err(corrupt(&path, "bad length or checksum"));
    }
    Ok(Some(Position {
        segment: u64_at(&bytes, 0),
        offset: u64_at(&bytes, 8),
    }))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn open_segment(dir: &Path, n: u64) -> Result<File> {
    let path = segment_path(dir, n);
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    sync_dir(dir)?;
    Ok(file)
}

impl Queue {
    /// Opens (or creates) the queue in `dir`, resuming at its committed
    /// position. `max_size` bounds the bytes of its segments.
    pub fn open(dir: &Path, segment_size: u64, max_size: u64) -> Result<Queue> {
        private_dir(dir)?;
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name();
            let Some(n) = name.to_str().and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            let size = entry.metadata().map_err(io(dir))?.len();
            segments.insert(
                n,
                SegmentInfo {
                    size,
                    ..SegmentInfo::default()
                },
            );
        }
        let first = segments.keys().next().copied().unwrap_or(1);
        let committed = read_position(dir)?.unwrap_or(Position {
            segment: first,
            offset: 0,
        });
        // segments before the committed one were sent: a crash came
        // between writing the position and deleting them
        let done: Vec<u64> = segments
            .range(..committed.segment)
            .map(|(n, _)| *n)
            .collect();
        for n in done {
            segments.remove(&n);
            let path = segment_path(dir, n);
            fs::remove_file(&path).map_err(io(&path))?;
        }
        let mut pending = 0;
        for (n, info) in &mut segments {
            let offset = if *n == committed.segment {
                committed.offset
            } else {
                0
            };
            info.samples = count_samples(&segment_path(dir, *n), offset)?;
            pending += info.samples;
        }
        let next = segments.keys().next_back().map_or(first, |n| n + 1);
        let file = open_segment(dir, next)?;
        segments.insert(next, SegmentInfo::default());
        Ok(Queue {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(1),
            max_size,
            writer: Mutex::new(Writer {
                file,
                end: Position {
                    segment: next,
                    offset: 0,
                },
                segments,
                committed,
            }),
            pending: AtomicU64::new(pending),
            dropped: AtomicU64::new(0),
            notify: tokio::sync::Notify::new(),
        })
    }

    /// Appends `request` (holding `samples` samples) durably. Errors leave
    /// the queue as it was.
    pub fn append(&self, request: &WriteRequest, samples: usize) -> Result<()> {
        let mut payload = Vec::with_capacity(request.encoded_len());
        request
            .encode(&mut payload)
            .map_err(|e| corrupt(&self.dir, e.to_string()))?;
        self.append_raw(&payload, samples)
    }

    /// Appends `payload` (holding `count` items: samples, lines...)
    /// durably: it is synced before this returns. Errors leave the queue
    /// as it was.
    pub fn append_raw(&self, payload: &[u8], count: usize) -> Result<()> {
        let too_big = || corrupt(&self.dir, "record larger than the queue takes");
        let len = u32::try_from(4 + payload.len()).map_err(|_| too_big())?;
        if len > MAX_RECORD {
            return Err(too_big());
        }
        let samples = count;
        let mut body = Vec::with_capacity(4 + payload.len());
        body.extend_from_slice(&(u32::try_from(count).unwrap_or(u32::MAX)).to_le_bytes());
        body.extend_from_slice(payload);
        let mut record = Vec::with_capacity(HEADER + body.len());
        record.extend_from_slice(&(body.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        record.extend_from_slice(&body);
        let mut w = self.writer.lock();
        let path = segment_path(&self.dir, w.end.segment);
        let written = w.file.write_all(&record).and_then(|()| w.file.sync_data());
        if let Err(e) = written {
            // cut what may have been written, so the next record follows a whole one
            let _ = w.file.set_len(w.end.offset);
            return Err(io(&path)(e));
        }
        w.end.offset += record.len() as u64;
        let Position { segment, offset } = w.end;
        if let Some(info) = w.segments.get_mut(&segment) {
            info.size = offset;
            info.samples += samples as u64;
        }
        self.pending.fetch_add(samples as u64, Ordering::Relaxed);
        if w.end.offset >= self.segment_size {
            let next = segment + 1;
            w.file = open_segment(&self.dir, next)?;
            w.end = Position {
                segment: next,
                offset: 0,
            };
            w.segments.insert(next, SegmentInfo::default());
        }
        self.enforce_size(&mut w);
        drop(w);
        self.notify.notify_one();
        Ok(())
    }

    /// Deletes the oldest segments (never the one written) while the queue
    /// is over its budget.
    fn enforce_size(&self, w: &mut Writer) {
        let mut total: u64 = w.segments.values().map(|s| s.size).sum();
        while total > self.max_size && w.segments.len() > 1 {
            let Some((&n, &info)) = w.segments.iter().next() else {
                break;
            };
            if n == w.end.segment {
                break;
            }
            w.segments.remove(&n);
            total -= info.size;
            let path = segment_path(&self.dir, n);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete queue segment");
            }
            self.dropped.fetch_add(info.samples, Ordering::Relaxed);
            let _ = self
                .pending
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                    Some(p.saturating_sub(info.samples))
                });
            tracing::warn!(
                queue = %self.dir.display(),
                segment = n,
                count = info.samples,
                bytes = info.size,
                "queue over its size limit: its oldest records are dropped unsent"
            );
        }
    }

    /// The committed position: where a reader starts after an open.
    pub fn committed(&self) -> Position {
        self.writer.lock().committed
    }

    /// Records that everything before `pos` was sent or dropped, `samples`
    /// samples since the last commit; deletes the segments before it.
    pub fn commit(&self, pos: Position, samples: usize) -> Result<()> {
        let mut bytes = Vec::with_capacity(20);
        bytes.extend_from_slice(&pos.segment.to_le_bytes());
        bytes.extend_from_slice(&pos.offset.to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        let tmp = self.dir.join("position.tmp");
        let mut file = create_private(&tmp)?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io(&tmp))?;
        let target = self.dir.join(POSITION_FILE);
        fs::rename(&tmp, &target).map_err(io(&target))?;
        sync_dir(&self.dir)?;
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(samples as u64))
            });
        let mut w = self.writer.lock();
        w.committed = pos;
        let done: Vec<u64> = w.segments.range(..pos.segment).map(|(n, _)| *n).collect();
        for n in done {
            w.segments.remove(&n);
            let path = segment_path(&self.dir, n);
            if let Err(e) = fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete sent queue segment");
            }
        }
        Ok(())
    }

    /// Bytes of the queue's segments on disk.
    pub fn size(&self) -> u64 {
        self.writer.lock().segments.values().map(|s| s.size).sum()
    }

    /// Samples appended and not yet committed.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Samples deleted unsent because the queue outgrew its size limit.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until something is appended after this call (or a wake-up
    /// was left by an append nobody waited for).
    pub async fn appended(&self) {
        self.notify.notified().await;
    }

    /// The durable end and the segments that exist from `from` on.
    fn end_and_next(&self, from: u64) -> (Position, Option<u64>) {
        let w = self.writer.lock();
        let next = w.segments.range(from..).next().map(|(n, _)| *n);
        (w.end, next)
    }
}

/// Reads a queue's records in order from a position (the sender's cursor,
/// ahead of the committed position while a round is in flight).
#[derive(Debug)]
pub struct QueueReader {
    cursor: Position,
    file: Option<(u64, File)>,
}

impl QueueReader {
    /// A reader at `start`.
    pub fn new(start: Position) -> Self {
        QueueReader {
            cursor: start,
            file: None,
        }
    }

    /// Where the next record starts.
    pub fn cursor(&self) -> Position {
        self.cursor
    }

    /// The records from the cursor on, until at least `max_samples` samples
    /// were read or the durable end is reached.
    pub fn read(&mut self, queue: &Queue, max_samples: usize) -> Result<Vec<Record>> {
        let raw = self.read_raw(queue, max_samples, usize::MAX)?;
        let mut out = Vec::with_capacity(raw.len());
        for r in raw {
            let request = WriteRequest::decode(r.payload.as_slice())
                .map_err(|e| corrupt(&segment_path(&queue.dir, r.end.segment), e.to_string()))?;
            out.push(Record {
                end: r.end,
                samples: r.count,
                request,
            });
        }
        Ok(out)
    }

    /// The records from the cursor on as bytes, until at least `max_count`
    /// items or `max_bytes` bytes of payload were read, or the durable end
    /// is reached (at least one record when there is one).
    pub fn read_raw(
        &mut self,
        queue: &Queue,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<RawRecord>> {
        let mut out = Vec::new();
        let mut samples = 0;
        let mut bytes = 0usize;
        while samples < max_count && bytes < max_bytes {
            let (end, next) = queue.end_and_next(self.cursor.segment);
            if self.cursor >= end {
                break;
            }
            // the cursor's segment may have been deleted over the size limit
            match next {
                Some(n) if n > self.cursor.segment => {
                    self.cursor = Position {
                        segment: n,
                        offset: 0,
                    };
                    self.file = None;
                    continue;
                }
                None => break,
                Some(_) => {}
            }
            let seg = self.cursor.segment;
            let limit = if seg == end.segment {
                end.offset
            } else {
                u64::MAX
            };
            let path = segment_path(&queue.dir, seg);
            if self.file.as_ref().is_none_or(|(n, _)| *n != seg) {
                match File::open(&path) {
                    Ok(mut f) => {
                        f.seek(SeekFrom::Start(self.cursor.offset))
                            .map_err(io(&path))?;
                        self.file = Some((seg, f));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        self.skip_segment();
                        continue;
                    }
                    Err(e) => return Err(io(&path)(e)),
                }
            }
            if self.cursor.offset >= limit {
                break;
            }
            let Some((_, file)) = self.file.as_mut() else {
                break;
            };
            match read_record(file, &path)? {
                Some((n, mut body, len)) if self.cursor.offset + len <= limit => {
                    self.cursor.offset += len;
                    body.drain(..4);
                    samples += n;
                    bytes = bytes.saturating_add(body.len());
                    out.push(RawRecord {
                        end: self.cursor,
                        count: n,
                        payload: body,
                    });
                }
                _ if seg == end.segment => {
                    // reopen at the cursor next time
                    self.file = None;
                    break;
                }
                _ => {
                    // the end of an older segment (or a tail torn by a crash)
                    let (_, next) = queue.end_and_next(seg + 1);
                    if next.is_none() {
                        break;
                    }
                    self.skip_segment();
                }
            }
        }
        Ok(out)
    }

    fn skip_segment(&mut self) {
        self.cursor = Position {
            segment: self.cursor.segment + 1,
            offset: 0,
        };
        self.file = None;
    }
}

#[cfg(test)]
mod tests;
