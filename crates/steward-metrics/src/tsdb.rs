//! The persistent embedded time-series store behind [`Storage`].
//!
//! Layout of the directory (0700, files 0600):
//! - `wal/`: the write-ahead log ([`wal`]); every append is written there
//!   and synced before `append` returns;
//! - `blocks/<name>/`: immutable blocks ([`block`]) cut from the head every
//!   `block_duration`, merged by compaction, deleted by retention;
//! - `lock`: held while the store is open, so two processes never share it.
//!
//! The head ([`head`]) keeps the newest samples in compressed chunks with an
//! inverted index. Once it spans a block plus the out-of-order window (at
//! least half a block), the oldest whole block range is written to disk,
//! the head forgets it and the WAL segments before the cut are replaced by a
//! checkpoint holding only what the head still needs. Samples older than the
//! newest block's end are out of bounds.
//!
//! Maintenance (cutting, compaction, retention) runs on a background
//! thread when [`TsdbOptions::maintenance`] is [`Maintenance::Every`], or
//! when the owner calls [`Tsdb::maintain`].

mod block;
mod chunk;
pub(crate) mod fsutil;
mod head;
mod postings;
mod wal;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

pub use chunk::{ChunkAppender, ChunkIter};
pub use wal::WalSync;

use crate::storage::{AppendReport, Series, Storage, TsdbStats, cardinality};
use crate::{Error, Labels, Matcher, Result, Sample};
use block::Block;
use fsutil::{io, private_dir};
use head::Head;
use wal::{Record, WalWriter};

/// When maintenance (block cuts, compaction, retention) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maintenance {
    /// On a background thread at this interval.
    Every(Duration),
    /// Only when [`Tsdb::maintain`] is called.
    Manual,
}

/// How a [`Tsdb`] keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsdbOptions {
    /// Blocks entirely older than this (before the newest sample) are
    /// deleted; `None` keeps them forever.
    pub retention_time: Option<Duration>,
    /// The oldest blocks are deleted while blocks and WAL take more bytes
    /// than this; 0 for no limit.
    pub retention_size: u64,
    /// Samples up to this much older than their series' newest sample are
    /// still accepted; zero refuses any out-of-order sample.
    pub out_of_order_window: Duration,
    /// The time range of a block cut from the head.
    pub block_duration: Duration,
    /// When the WAL is synced to disk.
    pub wal_sync: WalSync,
    /// When maintenance runs.
    pub maintenance: Maintenance,
}

impl Default for TsdbOptions {
    fn default() -> Self {
        Self {
            retention_time: Some(Duration::from_secs(15 * 24 * 3600)),
            retention_size: 0,
            out_of_order_window: Duration::ZERO,
            block_duration: Duration::from_secs(2 * 3600),
            wal_sync: WalSync::EveryBatch,
            maintenance: Maintenance::Every(Duration::from_secs(60)),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The persistent store. Cheap to share behind an `Arc`; dropping it stops
/// the maintenance thread (data is durable at every `append` already).
#[derive(Debug)]
pub struct Tsdb {
    inner: Arc<Inner>,
    stop: Option<mpsc::Sender<()>>,
    worker: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    opts: TsdbOptions,
    /// Serialises appends and the head changes a cut makes.
    wal: Mutex<WalWriter>,
    head: RwLock<Head>,
    /// Sorted by start time, never overlapping.
    blocks: RwLock<Vec<Arc<Block>>>,
    /// One maintenance run at a time.
    maintaining: Mutex<()>,
    _lock: File,
}

impl Tsdb {
    /// Opens (or creates) the store in `dir`, replaying its WAL. A torn or
    /// corrupt WAL tail is cut with a warning; a damaged block is set aside
    /// (renamed `*.corrupt`) with a warning.
    pub fn open(dir: &Path, opts: TsdbOptions) -> Result<Tsdb> {
        private_dir(dir)?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(Error::Locked {
                path: dir.to_path_buf(),
            });
        }
        let blocks = open_blocks(&dir.join("blocks"))?;
        let min_valid = blocks.iter().map(|b| b.meta.maxt).max().unwrap_or(i64::MIN);
        let mut head = Head::new(min_valid, millis(opts.out_of_order_window));
        let wal_dir = dir.join("wal");
        let last = wal::replay(&wal_dir, |rec| head.replay(rec))?;
        let writer = WalWriter::create(&wal_dir, last, opts.wal_sync)?;
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            opts,
            wal: Mutex::new(writer),
            head: RwLock::new(head),
            blocks: RwLock::new(blocks),
            maintaining: Mutex::new(()),
            _lock: lock,
        });
        let (stop, worker) = match inner.opts.maintenance {
            Maintenance::Manual => (None, None),
            Maintenance::Every(every) => {
                let (tx, rx) = mpsc::channel::<()>();
                let weak = Arc::downgrade(&inner);
                let handle = std::thread::Builder::new()
                    .name("tsdb-maintenance".into())
                    .spawn(move || {
                        while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                            let Some(inner) = weak.upgrade() else { break };
                            if let Err(e) = inner.maintain() {
                                tracing::warn!(error = %e, "tsdb maintenance failed");
                            }
                        }
                    })
                    .map_err(io(dir))?;
                (Some(tx), Some(handle))
            }
        };
        Ok(Tsdb {
            inner,
            stop,
            worker,
        })
    }

    /// Cuts due blocks from the head, compacts and applies retention now.
    pub fn maintain(&self) -> Result<()> {
        self.inner.maintain()
    }

    /// Bytes the store takes on disk (blocks and WAL).
    pub fn disk_usage(&self) -> u64 {
        fsutil::disk_usage(&self.inner.dir.join("blocks"))
            + fsutil::disk_usage(&self.inner.dir.join("wal"))
    }

    /// The number of persisted blocks.
    pub fn block_count(&self) -> usize {
        self.inner.blocks.read().len()
    }

    /// Cuts every block range the head holds, whatever the head's span, so
    /// the data is in blocks (for tests and benchmarks measuring blocks).
    pub fn flush_head(&self) -> Result<()> {
        let _one = self.inner.maintaining.lock();
        let bd = millis(self.inner.opts.block_duration).max(1);
        loop {
            // the read guard must be gone before cut() takes the write lock
            let range = self.inner.head.read().time_range();
            let Some((lo, _)) = range else { break };
            let start = lo.div_euclid(bd) * bd;
            self.inner.cut(start, start.saturating_add(bd))?;
        }
        Ok(())
    }
}

impl Drop for Tsdb {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// Opens the blocks under `dir`, removing leftovers of interrupted writes,
/// deletions and compactions.
fn open_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    private_dir(dir)?;
    let mut blocks = Vec::new();
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") || name.ends_with(".deleted") {
            fs::remove_dir_all(&path).map_err(io(&path))?;
            continue;
        }
        if name.contains('.') || !path.is_dir() {
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(err) => {
                tracing::warn!(block = %path.display(), error = %err, "unreadable block set aside");
                let aside = dir.join(format!("{name}.corrupt"));
                fs::rename(&path, &aside).map_err(io(&path))?;
            }
        }
    }
    let replaced: HashSet<String> = blocks.iter().flat_map(|b| b.meta.parents.clone()).collect();
    let mut kept = Vec::new();
    for b in blocks {
        if replaced.contains(&b.name) {
            fsutil::remove_dir_atomic(&b.dir)?;
        } else {
            kept.push(b);
        }
    }
    kept.sort_by_key(|b| b.meta.mint);
    Ok(kept)
}

impl Inner {
    fn maintain(&self) -> Result<()> {
        let _one = self.maintaining.lock();
        let bd = millis(self.opts.block_duration).max(1);
        let keep_after = (bd / 2).max(millis(self.opts.out_of_order_window));
        loop {
            let Some((lo, hi)) = self.head.read().time_range() else {
                break;
            };
            let start = lo.div_euclid(bd) * bd;
            let end = start.saturating_add(bd);
            if hi.saturating_sub(end) < keep_after {
                break;
            }
            self.cut(start, end)?;
        }
        self.compact()?;
        self.retain()
    }

    /// Persists the head's samples in `[start, end)` as a block and makes
    /// the head and WAL forget them.
    fn cut(&self, start: i64, end: i64) -> Result<()> {
        let closed = {
            let mut wal = self.wal.lock();
            let mut head = self.head.write();
            head.min_valid = head.min_valid.max(end);
            wal.rotate()?
        };
        let mint = start.max(self.blocks.read().last().map_or(i64::MIN, |b| b.meta.maxt));
        let list = self.head.read().series_in(mint, end.saturating_sub(1));
        let series = list.into_iter().map(|(labels, r)| {
            let head = self.head.read();
            let samples = head
                .series(r)
                .map(|m| m.samples(mint, end.saturating_sub(1)))
                .unwrap_or_default();
            Ok((labels, samples))
        });
        if let Some(b) =
            block::write_block(&self.dir.join("blocks"), mint, end, 1, Vec::new(), series)?
        {
            let mut blocks = self.blocks.write();
            blocks.push(Arc::new(b));
            blocks.sort_by_key(|b| b.meta.mint);
        }
        let live: HashSet<u64> = {
            let _wal = self.wal.lock();
            let mut head = self.head.write();
            head.truncate(end);
            head.refs().collect()
        };
        wal::checkpoint(&self.dir.join("wal"), closed, |rec| match rec {
            Record::Series(s) => Some(Record::Series(
                s.into_iter().filter(|(r, _)| live.contains(r)).collect(),
            )),
            Record::Samples(s) => {
                let kept: Vec<(u64, Sample)> = s
                    .into_iter()
                    .filter(|(r, x)| x.t >= end && live.contains(r))
                    .collect();
                (!kept.is_empty()).then_some(Record::Samples(kept))
            }
        })
    }

    /// Merges adjacent blocks into ranges of 3, 9, 27... block durations
    /// (capped at a tenth of the retention time, or 31 days), once the
    /// range is wholly persisted.
    fn compact(&self) -> Result<()> {
        let bd = millis(self.opts.block_duration).max(1);
        let cap = self
            .opts
            .retention_time
            .map_or(millis(Duration::from_secs(31 * 24 * 3600)), |r| {
                millis(r) / 10
            });
        let mut range = bd.saturating_mul(3);
        let mut level = 2;
        while range <= cap {
            let persisted = self.head.read().min_valid;
            let blocks = self.blocks.read().clone();
            let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
            for b in blocks {
                let w = b.meta.mint.div_euclid(range);
                let w_end = (w + 1).saturating_mul(range);
                if b.meta.maxt <= w_end && w_end <= persisted {
                    groups.entry(w).or_default().push(b);
                }
            }
            for group in groups.into_values().filter(|g| g.len() > 1) {
                let merged = block::merge(&self.dir.join("blocks"), &group, level)?;
                let names: HashSet<&str> = group.iter().map(|b| b.name.as_str()).collect();
                {
                    let mut blocks = self.blocks.write();
                    blocks.retain(|b| !names.contains(b.name.as_str()));
                    blocks.extend(merged.map(Arc::new));
                    blocks.sort_by_key(|b| b.meta.mint);
                }
                for b in &group {
                    fsutil::remove_dir_atomic(&b.dir)?;
                }
            }
            range = range.saturating_mul(3);
            level += 1;
        }
        Ok(())
    }

    /// Deletes blocks past the retention time, then the oldest blocks while
    /// over the retention size.
    fn retain(&self) -> Result<()> {
        let mut doomed: Vec<Arc<Block>> = Vec::new();
        {
            let mut blocks = self.blocks.write();
            if let Some(keep) = self.opts.retention_time {
                let newest = self
                    .head
                    .read()
                    .time_range()
                    .map(|r| r.1)
                    .into_iter()
                    .chain(blocks.last().map(|b| b.meta.maxt - 1))
                    .max();
                if let Some(newest) = newest {
                    let horizon = newest.saturating_sub(millis(keep));
                    let (old, young): (Vec<_>, Vec<_>) =
                        blocks.drain(..).partition(|b| b.meta.maxt <= horizon);
                    doomed.extend(old);
                    *blocks = young;
                }
            }
            if self.opts.retention_size > 0 {
                let wal = fsutil::disk_usage(&self.dir.join("wal"));
                let mut total: u64 = wal + blocks.iter().map(|b| b.size).sum::<u64>();
                while total > self.opts.retention_size && !blocks.is_empty() {
                    let b = blocks.remove(0);
                    total -= b.size;
                    doomed.push(b);
                }
            }
        }
        for b in doomed {
            tracing::debug!(block = %b.name, "retention removes block");
            fsutil::remove_dir_atomic(&b.dir)?;
        }
        Ok(())
    }

    /// Every series matching `matchers`, in label order, with its samples
    /// in `[mint, maxt]` from the head and the blocks merged.
    fn collect(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<BTreeMap<Arc<Labels>, Vec<Sample>>> {
        let mut out: BTreeMap<Arc<Labels>, Vec<Sample>> = BTreeMap::new();
        let mut multi = false;
        // the head before the blocks: a cut adds its block before the head
        // forgets the samples, so nothing falls between the two reads
        {
            let head = self.head.read();
            for (r, labels) in head.select(matchers) {
                let samples = head
                    .series(r)
                    .map(|m| m.samples(mint, maxt))
                    .unwrap_or_default();
                if !samples.is_empty() {
                    out.insert(labels.clone(), samples);
                }
            }
        }
        let blocks = self.blocks.read().clone();
        for b in blocks.iter().filter(|b| b.overlaps(mint, maxt)) {
            for i in b.select(matchers) {
                let samples = b.samples(i, mint, maxt)?;
                if samples.is_empty() {
                    continue;
                }
                match out.get_mut(b.labels(i)) {
                    Some(v) => {
                        v.extend(samples);
                        multi = true;
                    }
                    None => {
                        out.insert(b.labels(i).clone(), samples);
                    }
                }
            }
        }
        if multi {
            for v in out.values_mut() {
                v.sort_by_key(|s| s.t);
                v.dedup_by_key(|s| s.t);
            }
        }
        Ok(out)
    }

    /// The label sets of the series matching `matchers` with a sample in
    /// `[mint, maxt]`.
    fn matching_labels(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<BTreeSet<Arc<Labels>>> {
        let mut out = BTreeSet::new();
        {
            let head = self.head.read();
            for (r, labels) in head.select(matchers) {
                if head.has_sample_in(r, mint, maxt) {
                    out.insert(labels.clone());
                }
            }
        }
        let blocks = self.blocks.read().clone();
        for b in blocks.iter().filter(|b| b.overlaps(mint, maxt)) {
            for i in b.select(matchers) {
                if !out.contains(b.labels(i)) && b.has_sample_in(i, mint, maxt)? {
                    out.insert(b.labels(i).clone());
                }
            }
        }
        Ok(out)
    }
}

impl Storage for Tsdb {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendReport> {
        let inner = &self.inner;
        let mut wal = inner.wal.lock();
        let plan = inner.head.read().plan(batch);
        let mut buf = Vec::with_capacity(plan.accepted.len() * 12 + 64);
        if !plan.new_series.is_empty() {
            wal::encode_series(
                &mut buf,
                plan.new_series.iter().map(|(r, l)| (*r, l.as_ref())),
            );
        }
        wal::encode_samples(&mut buf, &plan.accepted);
        wal.write(&buf)?;
        let report = plan.report;
        inner.head.write().apply(plan);
        drop(wal);
        Ok(report)
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        Ok(self
            .inner
            .collect(matchers, mint, maxt)?
            .into_iter()
            .map(|(labels, samples)| Series {
                labels: Arc::unwrap_or_clone(labels),
                samples,
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>> {
        Ok(crate::storage::label_names_of(
            self.inner.matching_labels(matchers, mint, maxt)?,
        ))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        Ok(crate::storage::label_values_of(
            name,
            self.inner.matching_labels(matchers, mint, maxt)?,
        ))
    }

    fn stats(&self, limit: usize) -> Result<TsdbStats> {
        let head = self.inner.head.read();
        let mut stats = cardinality(head.labels(), limit);
        stats.head_stats.num_label_pairs = head.num_pairs();
        stats.head_stats.chunk_count = head.chunk_count();
        let (lo, hi) = head.time_range().unwrap_or((0, 0));
        stats.head_stats.min_time = lo;
        stats.head_stats.max_time = hi;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests;
