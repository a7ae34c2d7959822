//! Following a log file across rotation, with positions that survive a
//! restart.
//!
//! A [`Follower`] reads the lines appended to a file since its
//! [`Position`] (the file's device and inode, the offset after the last
//! line it returned, and a fingerprint of the file's first bytes). Each
//! [`Line`] carries the position after it, so a caller commits a line's
//! position once the store acknowledged it and restarts from there with
//! [`Start::At`]: nothing lost, nothing twice.
//!
//! Rotation is recognised both ways a log is rotated:
//!
//! - copytruncate (the process backend's, `logs.rs`): the file keeps its
//!   inode but is shorter than the offset, or its first bytes changed.
//!   What was not read yet is in the copy, `<file>.1` (or `.2`... when
//!   rotated more than once): the copy whose first bytes match is read
//!   from the old offset, newer copies whole, then the file from 0. Lines
//!   written between the copy and the truncation are lost by the rotation
//!   itself; with no matching copy, what was not read is lost (a warning
//!   says so).
//!   A file refilled with the very same first 256 bytes is not told from
//!   one that grew (a log's first line usually has a timestamp).
//! - rename and create: the path names another inode. The old file is
//!   read to its end through the handle still open, then the new one from 0.
//!
//! A line without its newline yet is held until the newline comes, for
//! [`FollowConfig::partial_wait`] after its last byte, or until it is
//! [`FollowConfig::max_line_bytes`] long; then it is returned as it is.

use std::{
    collections::VecDeque,
    fs::File,
    io,
    os::unix::fs::{FileExt, MetadataExt},
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::{Error, Result};

/// Bytes at the start of a file whose hash identifies its content: a
/// truncated file refilled past the old offset, or a copy, is told by it.
const HEAD: usize = 256;
/// Rotated copies looked at for the rest of a rotated file.
const MAX_COPIES: u32 = 5;

/// Where a follower is in a file: what a caller saves and restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    /// The file's device.
    pub dev: u64,
    /// The file's inode.
    pub ino: u64,
    /// The offset after the last line returned.
    pub offset: u64,
    /// How many of the file's first bytes `head_hash` covers (at most 256).
    pub head_len: u32,
    /// FNV-1a hash of the file's first `head_len` bytes.
    pub head_hash: u64,
}

/// Where a follower starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the start of the file (or when it appears).
    Beginning,
    /// At its current end: only lines written from now on.
    End,
    /// Where a previous follower was: the file (or the rotated copy of it)
    /// at the position's offset.
    At(Position),
}

/// A follower's limits and waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowConfig {
    /// A line longer than this is returned in pieces of this size.
    pub max_line_bytes: usize,
    /// A last line without its newline is returned when nothing more was
    /// written to it for this long.
    pub partial_wait: Duration,
    /// Bytes read by one [`Follower::poll`] at most (the rest by the next).
    pub read_bytes: usize,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig {
            max_line_bytes: 256 * 1024,
            partial_wait: Duration::from_millis(500),
            read_bytes: 1 << 20,
        }
    }
}

/// One line read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When it was read, in ns since the Unix epoch.
    pub ts: i64,
    /// The line without its newline (nor a `\r` before it); bytes that are
    /// not UTF-8 are replaced.
    pub text: String,
    /// The position after this line: commit it once the line is stored.
    pub position: Position,
}

/// What one [`Follower::poll`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The complete lines read, in order.
    pub lines: Vec<Line>,
    /// The position after them (after the last line returned so far when
    /// there are none); `None` while the file does not exist.
    pub position_after: Option<Position>,
    /// Whether more was left to read: poll again without waiting.
    pub more: bool,
}

/// An open file being read.
#[derive(Debug)]
struct Reader {
    file: File,
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Bytes read so far (the held partial line's included).
    offset: u64,
    /// The file's first bytes, up to [`HEAD`].
    head: Vec<u8>,
    head_hash: u64,
}

impl Reader {
    /// Opens `path` to read from `offset`.
    fn open(path: &Path, offset: u64) -> io::Result<Reader> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let mut reader = Reader {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
            offset,
            head: Vec::new(),
            head_hash: fnv(&[]),
            file,
        };
        let want = usize::try_from(offset.min(meta.len()))
            .unwrap_or(HEAD)
            .min(HEAD);
        reader.head = read_head(&reader.file, want)?;
        reader.head_hash = fnv(&reader.head);
        Ok(reader)
    }

    /// The position at `offset` of this file.
    fn position(&self, offset: u64) -> Position {
        Position {
            dev: self.dev,
            ino: self.ino,
            offset,
            head_len: self.head.len() as u32,
            head_hash: self.head_hash,
        }
    }

    /// Keeps what of `chunk`, read at `at`, belongs to the head.
    fn grow_head(&mut self, at: u64, chunk: &[u8]) {
        let have = self.head.len();
        if have >= HEAD || at > have as u64 {
            return;
        }
        let from = have - at as usize;
        let take = (HEAD - have).min(chunk.len().saturating_sub(from));
        if take > 0 {
            self.head.extend_from_slice(&chunk[from..from + take]);
            self.head_hash = fnv(&self.head);
        }
    }

    /// Starts the file over from 0 (it was truncated).
    fn restart(&mut self) {
        self.offset = 0;
        self.head.clear();
        self.head_hash = fnv(&[]);
    }
}

/// Follows one log file; see the module's documentation.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    config: FollowConfig,
    /// Files to read in order: rotated copies still to finish, then the
    /// file at `path` (the last). Empty until the file exists.
    queue: VecDeque<Reader>,
    /// The bytes of a line whose newline has not come yet (of the first
    /// reader in the queue).
    partial: Vec<u8>,
    /// When the partial line last grew.
    partial_at: Instant,
    buf: Vec<u8>,
}

impl Follower {
    /// A follower of `path` from `start`. The file need not exist yet.
    pub fn new(path: impl Into<PathBuf>, start: Start, config: FollowConfig) -> Result<Follower> {
        let path = path.into();
        let queue = match start {
            Start::Beginning => open_if_exists(&path, 0)?.into_iter().collect(),
            Start::End => {
                let len = match std::fs::metadata(&path) {
                    Ok(meta) => meta.len(),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
                    Err(err) => return Err(Error::io(&path, err)),
                };
                open_if_exists(&path, len)?.into_iter().collect()
            }
            Start::At(saved) => locate(&path, &saved)?,
        };
        Ok(Follower {
            path,
            config,
            queue,
            partial: Vec::new(),
            partial_at: Instant::now(),
            buf: Vec::new(),
        })
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position after the last line returned; `None` while the file
    /// does not exist.
    pub fn position(&self) -> Option<Position> {
        let reader = self.queue.front()?;
        Some(reader.position(reader.offset - self.partial.len() as u64))
    }

    /// Reads what was appended since the last poll (at most
    /// [`FollowConfig::read_bytes`]), following rotations.
    pub fn poll(&mut self) -> Result<Batch> {
        let now = Instant::now();
        let ts = now_ns();
        let mut lines = Vec::new();
        if self.queue.is_empty() {
            match open_if_exists(&self.path, 0)? {
                Some(reader) => self.queue.push_back(reader),
                None => return Ok(Batch::default()),
            }
        }
        if self.queue.len() == 1 {
            self.check_rotation(ts, &mut lines)?;
        }
        let mut budget = self.config.read_bytes.max(1);
        let mut more = false;
        let mut grew = false;
        loop {
            let read = self.read_front(budget, ts, &mut lines)?;
            grew |= read > 0;
            budget -= read;
            if budget == 0 {
                more = true;
                break;
            }
            if self.queue.len() == 1 {
                break;
            }
            // a rotated file read to its end: its last line is complete
            self.flush_partial(ts, &mut lines);
            self.queue.pop_front();
        }
        if grew {
            self.partial_at = now;
        } else if !self.partial.is_empty()
            && now.duration_since(self.partial_at) >= self.config.partial_wait
        {
            self.flush_partial(ts, &mut lines);
        }
        Ok(Batch {
            lines,
            position_after: self.position(),
            more,
        })
    }

    /// Looks at the path and the file being read (the only one queued)
    /// before reading: a new inode at the path is read after this one's
    /// end; a truncated file is replaced by its copies and read from 0.
    fn check_rotation(&mut self, ts: i64, lines: &mut Vec<Line>) -> Result<()> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            // renamed away and not created again yet: finish what is open
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(Error::io(&self.path, err)),
        };
        let Some(current) = self.queue.front_mut() else {
            return Ok(());
        };
        if (meta.dev(), meta.ino()) != (current.dev, current.ino) {
            tracing::debug!(path = %self.path.display(), "log file replaced: finishing the old one");
            if let Some(next) = open_if_exists(&self.path, 0)? {
                self.queue.push_back(next);
            }
            return Ok(());
        }
        let len = meta.len();
        // the first bytes are compared even when the length did not grow:
        // a file truncated and refilled to the very offset looks unchanged
        let truncated = len < current.offset
            || !current.head.is_empty()
                && read_head(&current.file, current.head.len())
                    .map_err(|err| Error::io(&self.path, err))?
                    != current.head;
        if !truncated {
            return Ok(());
        }
        let read = current.position(current.offset);
        let copies = find_copies(&self.path, &read)?;
        if copies.is_empty() {
            if read.offset > 0 {
                tracing::warn!(
                    path = %self.path.display(),
                    offset = read.offset,
                    "log file truncated without a copy of its rest: its unread lines are lost"
                );
            }
            self.flush_partial(ts, lines);
        } else {
            tracing::debug!(path = %self.path.display(), copies = copies.len(), "log file rotated by copy and truncation");
        }
        let Some(mut current) = self.queue.pop_front() else {
            return Ok(());
        };
        current.restart();
        self.queue.extend(copies);
        self.queue.push_back(current);
        Ok(())
    }

    /// Reads the first queued file to its end or `budget` bytes; the
    /// number of bytes read.
    fn read_front(&mut self, budget: usize, ts: i64, lines: &mut Vec<Line>) -> Result<usize> {
        let Some(reader) = self.queue.front_mut() else {
            return Ok(0);
        };
        self.buf.resize(budget.min(64 * 1024), 0);
        let mut total = 0;
        while total < budget {
            let want = self.buf.len().min(budget - total);
            let n = match reader.file.read_at(&mut self.buf[..want], reader.offset) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Error::io(&reader.path, err)),
            };
            if n == 0 {
                break;
            }
            let chunk = &self.buf[..n];
            reader.grow_head(reader.offset, chunk);
            let at = reader.offset;
            reader.offset += n as u64;
            total += n;
            split(
                chunk,
                at,
                reader,
                &mut self.partial,
                self.config.max_line_bytes,
                ts,
                lines,
            );
        }
        Ok(total)
    }

    /// Returns the held partial line as a line.
    fn flush_partial(&mut self, ts: i64, lines: &mut Vec<Line>) {
        let Some(reader) = self.queue.front() else {
            return;
        };
        if !self.partial.is_empty() {
            lines.push(Line {
                ts,
                text: text_of(&self.partial),
                position: reader.position(reader.offset),
            });
            self.partial.clear();
        }
    }
}

/// Cuts `chunk` (read at `at` from `reader`) into lines after what
/// `partial` holds; what follows the last newline stays in `partial`.
fn split(
    chunk: &[u8],
    at: u64,
    reader: &Reader,
    partial: &mut Vec<u8>,
    max: usize,
    ts: i64,
    lines: &mut Vec<Line>,
) {
    let max = max.max(1);
    let mut start = 0;
    // a piece cut at `max` bytes ends before the partial's last bytes
    let cut = |partial: &mut Vec<u8>, end: u64, lines: &mut Vec<Line>| {
        while partial.len() > max {
            let rest = (partial.len() - max) as u64;
            lines.push(Line {
                ts,
                text: text_of(&partial[..max]),
                position: reader.position(end - rest),
            });
            partial.drain(..max);
        }
    };
    for (i, _) in chunk.iter().enumerate().filter(|(_, b)| **b == b'\n') {
        partial.extend_from_slice(&chunk[start..i]);
        let end = at + i as u64;
        cut(partial, end, lines);
        if partial.last() == Some(&b'\r') {
            partial.pop();
        }
        lines.push(Line {
            ts,
            text: text_of(partial),
            position: reader.position(end + 1),
        });
        partial.clear();
        start = i + 1;
    }
    partial.extend_from_slice(&chunk[start..]);
    cut(partial, at + chunk.len() as u64, lines);
}

/// Where `saved` continues: the file at `path` if it is still the same
/// content, else the rotated copy that is, then newer copies and the file.
fn locate(path: &Path, saved: &Position) -> Result<VecDeque<Reader>> {
    if let Some(reader) = open_if_exists(path, saved.offset)?
        && (reader.dev, reader.ino) == (saved.dev, saved.ino)
        && same_content(&reader, saved)?
    {
        return Ok(VecDeque::from([reader]));
    }
    let mut queue: VecDeque<Reader> = find_copies(path, saved)?.into();
    if queue.is_empty() && saved.offset > 0 {
        tracing::warn!(
            path = %path.display(),
            offset = saved.offset,
            "saved log position found neither in the file nor in a rotated copy: reading the file from its start"
        );
    }
    queue.extend(open_if_exists(path, 0)?);
    Ok(queue)
}

/// The rotated copy of `path` (`.1` to `.5`) that holds the content
/// `saved` is a position in (the same inode, or the same first bytes), at
/// the saved offset, followed by the newer copies from 0; empty when no
/// copy is it.
fn find_copies(path: &Path, saved: &Position) -> Result<Vec<Reader>> {
    for index in 1..=MAX_COPIES {
        let copy = copy_path(path, index);
        let Some(reader) = open_if_exists(&copy, saved.offset)? else {
            continue;
        };
        let same_file = (reader.dev, reader.ino) == (saved.dev, saved.ino);
        if !(same_file || same_content(&reader, saved)?) {
            continue;
        }
        let mut queue = vec![reader];
        for newer in (1..index).rev() {
            queue.extend(open_if_exists(&copy_path(path, newer), 0)?);
        }
        return Ok(queue);
    }
    Ok(Vec::new())
}

/// Whether `reader`'s file holds the content `saved` was read from: it is
/// at least as long as the saved offset and starts with the same bytes.
fn same_content(reader: &Reader, saved: &Position) -> Result<bool> {
    let len = reader
        .file
        .metadata()
        .map_err(|err| Error::io(&reader.path, err))?
        .len();
    if len < saved.offset {
        return Ok(false);
    }
    let head = read_head(&reader.file, saved.head_len as usize)
        .map_err(|err| Error::io(&reader.path, err))?;
    Ok(head.len() == saved.head_len as usize && fnv(&head) == saved.head_hash)
}

/// Opens `path` at `offset`; `None` when it does not exist.
fn open_if_exists(path: &Path, offset: u64) -> Result<Option<Reader>> {
    match Reader::open(path, offset) {
        Ok(reader) => Ok(Some(reader)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::io(path, err)),
    }
}

/// Up to `len` (at most [`HEAD`]) first bytes of `file`.
fn read_head(file: &File, len: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0; len.min(HEAD)];
    let mut filled = 0;
    while filled < head.len() {
        match file.read_at(&mut head[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// The `index`th rotated copy of `path`, as the process backend names it.
fn copy_path(path: &Path, index: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Now in ns since the epoch (saturated: a clock before 1970 reads 0).
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
