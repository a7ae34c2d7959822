//! The head: what was pushed since the last flush, in memory, per stream.
//!
//! Each stream keeps an open run of entries sorted by time and seals it
//! into an immutable block every [`BLOCK_ENTRIES`] entries, so a query
//! takes the blocks it needs (reference counts) under the lock and reads
//! them after releasing it; only the open run is copied. An entry older
//! than the open run's last one is inserted in order (pushers mostly send
//! in order; Loki accepts out of order too), so blocks of one stream may
//! overlap in time: the read path merges those.

use std::{collections::HashMap, sync::Arc};

use steward_metrics::{Labels, Matcher, matcher::matches_all};

use crate::{Entry, PushStream};

/// Entries of a stream's open run before it is sealed.
const BLOCK_ENTRIES: usize = 1024;

/// Bytes an entry is counted as in memory besides its strings.
const ENTRY_OVERHEAD: usize = 56;

/// A sealed, time-sorted run of one stream's entries.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) entries: Vec<Entry>,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
}

impl Block {
    fn new(entries: Vec<Entry>) -> Option<Arc<Block>> {
        let min_ts = entries.first()?.ts;
        let max_ts = entries.last()?.ts;
        Some(Arc::new(Block {
            entries,
            min_ts,
            max_ts,
        }))
    }
}

#[derive(Debug, Default)]
struct HeadStream {
    sealed: Vec<Arc<Block>>,
    open: Vec<Entry>,
}

/// The entries pushed since the last flush.
#[derive(Debug, Default)]
pub(crate) struct Head {
    streams: HashMap<Labels, HeadStream>,
    bytes: usize,
    lines: usize,
}

/// Memory an entry is counted as.
pub(crate) fn entry_bytes(entry: &Entry) -> usize {
    ENTRY_OVERHEAD
        + entry.line.len()
        + entry
            .metadata
            .iter()
            .map(|(n, v)| n.len() + v.len() + 48)
            .sum::<usize>()
}

impl Head {
    /// Adds a push's entries.
    pub(crate) fn insert(&mut self, streams: Vec<PushStream>) {
        for stream in streams {
            let head = self.streams.entry(stream.labels).or_default();
            for entry in stream.entries {
                self.bytes += entry_bytes(&entry);
                self.lines += 1;
                match head.open.last() {
                    Some(last) if last.ts > entry.ts => {
                        let at = head.open.partition_point(|e| e.ts <= entry.ts);
                        head.open.insert(at, entry);
                    }
                    _ => head.open.push(entry),
                }
                if head.open.len() >= BLOCK_ENTRIES {
                    let run = std::mem::take(&mut head.open);
                    head.sealed.extend(Block::new(run));
                }
            }
        }
    }

    /// Seals every open run: a head about to be flushed reads only blocks.
    pub(crate) fn seal(&mut self) {
        for head in self.streams.values_mut() {
            let run = std::mem::take(&mut head.open);
            head.sealed.extend(Block::new(run));
        }
    }

    /// Memory the head's entries take, approximately.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of lines in the head.
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }

    /// Whether nothing was pushed.
    pub(crate) fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Every stream with its blocks (of a sealed head).
    pub(crate) fn blocks(&self) -> impl Iterator<Item = (&Labels, &[Arc<Block>])> {
        self.streams.iter().map(|(l, s)| (l, s.sealed.as_slice()))
    }

    /// The blocks of the streams `matchers` select that may hold entries
    /// within `[start, end)`, with a copy of each open run's entries in
    /// that range as one more block.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        out: &mut Vec<(Labels, Arc<Block>)>,
    ) {
        for (labels, stream) in &self.streams {
            if !matches_all(matchers, labels) {
                continue;
            }
            for block in &stream.sealed {
                if block.max_ts >= start && block.min_ts < end {
                    out.push((labels.clone(), block.clone()));
                }
            }
            let from = stream.open.partition_point(|e| e.ts < start);
            let to = stream.open.partition_point(|e| e.ts < end);
            if from < to
                && let Some(block) = Block::new(stream.open[from..to].to_vec())
            {
                out.push((labels.clone(), block));
            }
        }
    }
}
