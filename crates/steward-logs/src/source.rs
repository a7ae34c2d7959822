//! What the LogQL engine reads from: [`LogSource`], implemented by the
//! embedded store and by [`MemorySource`] for tests.

use std::{ops::ControlFlow, sync::atomic::AtomicI64};

use parking_lot::RwLock;
use steward_metrics::{Labels, Matcher, matcher::matches_all};

use crate::{Entry, PushStream, Result, logql::Direction};

/// What a query wants from the store.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// The stream selector's matchers (at least one matches a non-empty
    /// value, as LogQL requires).
    pub matchers: &'a [Matcher],
    /// Earliest timestamp wanted, inclusive, in ns since the epoch.
    pub start: i64,
    /// Latest timestamp wanted, exclusive, in ns since the epoch.
    pub end: i64,
    /// Byte strings every wanted line contains (the query's `|=` filters
    /// before any parser): a hint, so that the store may skip whole chunks
    /// whose index says they cannot contain one. The engine still applies
    /// its filters to what it is given.
    pub contains: &'a [String],
    /// Set by a log query that keeps only its first `limit` entries in
    /// time order, so that the store may stop reading once the rest
    /// cannot be kept (a hint: a source may ignore it).
    pub early: Option<Early<'a>>,
}

/// How a limited log query lets a source stop early: with it, a source
/// may hand batches over in the query's order across streams (newest
/// first for [`Direction::Backward`]) rather than stream by stream, and
/// skip the entries that [`cutoff`](Early::cutoff) rules out.
#[derive(Debug, Clone, Copy)]
pub struct Early<'a> {
    /// The order in which the query keeps entries.
    pub direction: Direction,
    /// Where the query is, updated as it fills: backward, an entry at or
    /// before this time can no longer be kept (`i64::MIN` until the query
    /// holds `limit` entries); forward, one at or after it (`i64::MAX`
    /// until then). It only ever moves towards the query's end, so
    /// anything ruled out stays ruled out.
    pub cutoff: &'a AtomicI64,
}

impl Early<'_> {
    /// Whether no entry within `[min_ts, max_ts]` can be kept any more.
    pub fn rules_out(&self, min_ts: i64, max_ts: i64) -> bool {
        let cutoff = self.cutoff.load(std::sync::atomic::Ordering::Relaxed);
        match self.direction {
            Direction::Backward => max_ts <= cutoff,
            Direction::Forward => min_ts >= cutoff,
        }
    }
}

/// A store of streams that queries read through.
pub trait LogSource: Send + Sync {
    /// Calls `visit` with the entries of the streams the selection's
    /// matchers select whose timestamps are within `[start, end)`, in
    /// batches of one stream at a time. Within a stream, batches and the
    /// entries in them come in ascending time order; batches of different
    /// streams may interleave (with [`Selection::early`], batches of one
    /// stream may also come newest first). `visit` returning `Break` stops
    /// the scan.
    fn select(
        &self,
        selection: &Selection<'_>,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> ControlFlow<()>,
    ) -> Result<()>;

    /// The label sets of the streams that have entries within
    /// `[start, end)` and match every matcher (all streams when there are
    /// no matchers).
    fn series(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Labels>>;
}

/// An in-memory [`LogSource`]: what tests of the engine and the API use.
#[derive(Debug, Default)]
pub struct MemorySource {
    streams: RwLock<Vec<(Labels, Vec<Entry>)>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the entries of `streams`, keeping each stream sorted by time
    /// (entries with equal timestamps keep their push order).
    pub fn push(&self, streams: Vec<PushStream>) {
        let mut all = self.streams.write();
        for stream in streams {
            let slot = match all.iter().position(|(l, _)| *l == stream.labels) {
                Some(i) => i,
                None => {
                    all.push((stream.labels, Vec::new()));
                    all.len() - 1
                }
            };
            let entries = &mut all[slot].1;
            entries.extend(stream.entries);
            entries.sort_by_key(|e| e.ts);
        }
    }
}

impl LogSource for MemorySource {
    fn select(
        &self,
        selection: &Selection<'_>,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> ControlFlow<()>,
    ) -> Result<()> {
        let all = self.streams.read();
        for (labels, entries) in all.iter() {
            if !matches_all(selection.matchers, labels) {
                continue;
            }
            let from = entries.partition_point(|e| e.ts < selection.start);
            let to = entries.partition_point(|e| e.ts < selection.end);
            if from < to && visit(labels, &entries[from..to]).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn series(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Labels>> {
        let all = self.streams.read();
        Ok(all
            .iter()
            .filter(|(labels, entries)| {
                matches_all(matchers, labels) && entries.iter().any(|e| e.ts >= start && e.ts < end)
            })
            .map(|(labels, _)| labels.clone())
            .collect())
    }
}
