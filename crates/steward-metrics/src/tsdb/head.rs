//! The head: the newest samples in memory, one compressed chunk being
//! built per series plus its closed chunks, an out-of-order buffer, and an
//! inverted index for selection.
//!
//! Appends are planned first against the head as it is (under a read lock,
//! so queries go on while the WAL syncs), then applied; the store's append
//! lock keeps the two steps atomic with respect to other writers.

use std::collections::HashMap;
use std::sync::Arc;

use crate::storage::AppendReport;
use crate::tsdb::chunk::{ChunkAppender, ChunkIter, SAMPLES_PER_CHUNK};
use crate::tsdb::postings::Postings;
use crate::tsdb::wal::Record;
use crate::{Labels, Matcher, Sample, matcher::matches_all};

/// A closed chunk of the head.
#[derive(Debug)]
struct HeadChunk {
    min_t: i64,
    max_t: i64,
    bytes: Box<[u8]>,
}

/// One series in the head.
#[derive(Debug)]
pub(crate) struct MemSeries {
    labels: Arc<Labels>,
    closed: Vec<HeadChunk>,
    open: ChunkAppender,
    /// The newest in-order sample's time, `i64::MIN` when none.
    max_t: i64,
    last_bits: u64,
    /// Samples older than `max_t` accepted within the out-of-order window,
    /// sorted by time.
    ooo: Vec<Sample>,
}

fn overlaps(a0: i64, a1: i64, b0: i64, b1: i64) -> bool {
    a0 <= b1 && b0 <= a1
}

impl MemSeries {
    fn new(labels: Arc<Labels>) -> Self {
        Self {
            labels,
            closed: Vec::new(),
            open: ChunkAppender::new(),
            max_t: i64::MIN,
            last_bits: 0,
            ooo: Vec::new(),
        }
    }

    fn chunks(&self) -> impl Iterator<Item = (i64, i64, ChunkIter<'_>)> {
        let closed = self
            .closed
            .iter()
            .map(|c| (c.min_t, c.max_t, ChunkIter::new(&c.bytes)));
        let open = (!self.open.is_empty())
            .then(|| (self.open.min_t(), self.open.max_t(), self.open.iter()));
        closed.chain(open)
    }

    /// The bits of the sample at `t`, if there is one.
    fn value_at(&self, t: i64) -> Option<u64> {
        if let Ok(i) = self.ooo.binary_search_by_key(&t, |s| s.t) {
            return Some(self.ooo[i].v.to_bits());
        }
        self.chunks()
            .filter(|(lo, hi, _)| (*lo..=*hi).contains(&t))
            .find_map(|(_, _, mut it)| it.find(|s| s.t == t))
            .map(|s| s.v.to_bits())
    }

    fn ingest(&mut self, s: Sample) {
        if s.t > self.max_t {
            if self.open.len() >= SAMPLES_PER_CHUNK {
                let full = std::mem::take(&mut self.open);
                self.closed.push(HeadChunk {
                    min_t: full.min_t(),
                    max_t: full.max_t(),
                    bytes: full.bytes().into_boxed_slice(),
                });
            }
            self.open.append(s);
            self.max_t = s.t;
            self.last_bits = s.v.to_bits();
        } else if let Err(i) = self.ooo.binary_search_by_key(&s.t, |x| x.t) {
            self.ooo.insert(i, s);
        }
    }

    /// The samples in `[mint, maxt]`, sorted, out-of-order ones merged in.
    pub(crate) fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut out: Vec<Sample> = Vec::new();
        for (lo, hi, it) in self.chunks() {
            if overlaps(lo, hi, mint, maxt) {
                out.extend(it.filter(|s| s.t >= mint && s.t <= maxt));
            }
        }
        let from = self.ooo.partition_point(|s| s.t < mint);
        let to = self.ooo.partition_point(|s| s.t <= maxt);
        if from < to {
            out.extend_from_slice(&self.ooo[from..to]);
            out.sort_by_key(|s| s.t);
            out.dedup_by_key(|s| s.t);
        }
        out
    }

    fn has_sample_in(&self, mint: i64, maxt: i64) -> bool {
        if self.ooo.iter().any(|s| s.t >= mint && s.t <= maxt) {
            return true;
        }
        self.chunks().any(|(lo, hi, mut it)| {
            (lo >= mint && hi <= maxt)
                || (overlaps(lo, hi, mint, maxt) && it.any(|s| s.t >= mint && s.t <= maxt))
        })
    }

    fn min_t(&self) -> Option<i64> {
        let chunk = self.chunks().next().map(|c| c.0);
        let ooo = self.ooo.first().map(|s| s.t);
        chunk.into_iter().chain(ooo).min()
    }

    fn newest(&self) -> Option<i64> {
        let ooo = self.ooo.last().map(|s| s.t);
        (self.max_t != i64::MIN)
            .then_some(self.max_t)
            .into_iter()
            .chain(ooo)
            .max()
    }

    /// Drops data wholly before `t`; whether anything at or after `t` is left.
    fn truncate(&mut self, t: i64) -> bool {
        self.closed.retain(|c| c.max_t >= t);
        self.ooo.retain(|s| s.t >= t);
        self.newest().is_some_and(|n| n >= t)
    }

    fn chunk_count(&self) -> u64 {
        self.closed.len() as u64 + u64::from(!self.open.is_empty())
    }
}

/// What an append will do, decided before the WAL write.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) new_series: Vec<(u64, Arc<Labels>)>,
    pub(crate) accepted: Vec<(u64, Sample)>,
    pub(crate) report: AppendReport,
}

/// Samples a plan accepted for one series, so later samples of the same
/// batch are judged against them.
#[derive(Debug, Default)]
struct Pending {
    max_t: i64,
    last_bits: u64,
    added: Vec<(i64, u64)>,
}

enum Verdict {
    Append,
    Ignore,
    OutOfOrder,
    Duplicate,
    OutOfBounds,
}

/// The in-memory head.
#[derive(Debug)]
pub(crate) struct Head {
    series: HashMap<u64, MemSeries>,
    refs: HashMap<Arc<Labels>, u64>,
    postings: Postings,
    next_ref: u64,
    /// Samples before this time are persisted in blocks: appends there are
    /// out of bounds.
    pub(crate) min_valid: i64,
    ooo_window: i64,
}

impl Head {
    pub(crate) fn new(min_valid: i64, ooo_window: i64) -> Self {
        Self {
            series: HashMap::new(),
            refs: HashMap::new(),
            postings: Postings::default(),
            next_ref: 1,
            min_valid,
            ooo_window,
        }
    }

    fn classify(&self, r: Option<u64>, pend: Option<&Pending>, s: Sample) -> Verdict {
        if s.t < self.min_valid {
            return Verdict::OutOfBounds;
        }
        let series = r.and_then(|r| self.series.get(&r));
        let (mut max_t, mut last) = series.map_or((i64::MIN, 0), |m| (m.max_t, m.last_bits));
        if let Some(p) = pend
            && p.max_t > max_t
        {
            (max_t, last) = (p.max_t, p.last_bits);
        }
        let bits = s.v.to_bits();
        if max_t == i64::MIN || s.t > max_t {
            return Verdict::Append;
        }
        if s.t == max_t {
            return if last == bits {
                Verdict::Ignore
            } else {
                Verdict::Duplicate
            };
        }
        if self.ooo_window > 0 && s.t >= max_t.saturating_sub(self.ooo_window) {
            let existing = pend
                .and_then(|p| p.added.iter().find(|a| a.0 == s.t).map(|a| a.1))
                .or_else(|| series.and_then(|m| m.value_at(s.t)));
            return match existing {
                Some(b) if b == bits => Verdict::Ignore,
                Some(_) => Verdict::Duplicate,
                None => Verdict::Append,
            };
        }
        Verdict::OutOfOrder
    }

    /// Decides the fate of every sample of `batch`.
    pub(crate) fn plan(&self, batch: &[(Labels, Sample)]) -> Plan {
        let mut plan = Plan::default();
        let mut new_refs: HashMap<&Labels, u64> = HashMap::new();
        let mut pending: HashMap<u64, Pending> = HashMap::new();
        let mut next = self.next_ref;
        for (labels, s) in batch {
            let known = self
                .refs
                .get(labels)
                .copied()
                .or_else(|| new_refs.get(labels).copied());
            let verdict = self.classify(known, known.and_then(|r| pending.get(&r)), *s);
            match verdict {
                Verdict::Append => {
                    let r = known.unwrap_or_else(|| {
                        let r = next;
                        next += 1;
                        new_refs.insert(labels, r);
                        plan.new_series.push((r, Arc::new(labels.clone())));
                        plan.report.series_added += 1;
                        r
                    });
                    let p = pending.entry(r).or_insert_with(|| Pending {
                        max_t: i64::MIN,
                        ..Pending::default()
                    });
                    p.added.push((s.t, s.v.to_bits()));
                    if s.t > p.max_t {
                        p.max_t = s.t;
                        p.last_bits = s.v.to_bits();
                    }
                    plan.accepted.push((r, *s));
                    plan.report.appended += 1;
                }
                Verdict::Ignore => {}
                Verdict::OutOfOrder => plan.report.out_of_order += 1,
                Verdict::Duplicate => plan.report.duplicate += 1,
                Verdict::OutOfBounds => plan.report.out_of_bounds += 1,
            }
        }
        plan
    }

    fn add_series(&mut self, r: u64, labels: Arc<Labels>) {
        if self.series.contains_key(&r) {
            return;
        }
        self.postings.add(r, &labels);
        self.refs.insert(labels.clone(), r);
        self.series.insert(r, MemSeries::new(labels));
        self.next_ref = self.next_ref.max(r + 1);
    }

    /// Applies a plan made against this head.
    pub(crate) fn apply(&mut self, plan: Plan) {
        for (r, labels) in plan.new_series {
            self.add_series(r, labels);
        }
        for (r, s) in plan.accepted {
            if let Some(m) = self.series.get_mut(&r) {
                m.ingest(s);
            }
        }
    }

    /// Applies a WAL record on open. Samples before `min_valid` are in
    /// blocks already; samples of series the log does not know are dropped.
    pub(crate) fn replay(&mut self, rec: Record) {
        match rec {
            Record::Series(list) => {
                for (r, labels) in list {
                    if !self.refs.contains_key(&labels) {
                        self.add_series(r, Arc::new(labels));
                    }
                }
            }
            Record::Samples(list) => {
                for (r, s) in list {
                    if s.t < self.min_valid {
                        continue;
                    }
                    if let Some(m) = self.series.get_mut(&r)
                        && (s.t > m.max_t || m.value_at(s.t).is_none())
                    {
                        m.ingest(s);
                    }
                }
            }
        }
    }

    /// The ids and labels of the series matching `matchers`.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Vec<(u64, &Arc<Labels>)> {
        let pick = |r: u64| {
            self.series
                .get(&r)
                .filter(|m| matches_all(matchers, &m.labels))
                .map(|m| (r, &m.labels))
        };
        match self.postings.candidates(matchers) {
            Some(ids) => ids.into_iter().filter_map(pick).collect(),
            None => {
                let mut ids: Vec<u64> = self.series.keys().copied().collect();
                ids.sort_unstable();
                ids.into_iter().filter_map(pick).collect()
            }
        }
    }

    pub(crate) fn series(&self, r: u64) -> Option<&MemSeries> {
        self.series.get(&r)
    }

    pub(crate) fn has_sample_in(&self, r: u64, mint: i64, maxt: i64) -> bool {
        self.series
            .get(&r)
            .is_some_and(|m| m.has_sample_in(mint, maxt))
    }

    /// The oldest and newest sample times at or after `min_valid`.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let mut range: Option<(i64, i64)> = None;
        for m in self.series.values() {
            let (Some(lo), Some(hi)) = (m.min_t(), m.newest()) else {
                continue;
            };
            if hi < self.min_valid {
                continue;
            }
            let lo = lo.max(self.min_valid);
            range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        range
    }

    /// The ids and labels of the series with data in `[mint, maxt]`,
    /// sorted by labels.
    pub(crate) fn series_in(&self, mint: i64, maxt: i64) -> Vec<(Arc<Labels>, u64)> {
        let mut out: Vec<(Arc<Labels>, u64)> = self
            .series
            .iter()
            .filter(|(_, m)| m.has_sample_in(mint, maxt))
            .map(|(r, m)| (m.labels.clone(), *r))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Forgets data before `t` (persisted in a block) and series left
    /// empty; raises `min_valid` to `t`.
    pub(crate) fn truncate(&mut self, t: i64) {
        self.min_valid = self.min_valid.max(t);
        let mut gone = Vec::new();
        for (r, m) in &mut self.series {
            if !m.truncate(t) {
                gone.push(*r);
            }
        }
        if gone.is_empty() {
            return;
        }
        for r in &gone {
            if let Some(m) = self.series.remove(r) {
                self.refs.remove(&m.labels);
            }
        }
        gone.sort_unstable();
        self.postings
            .remove_where(|id| gone.binary_search(&id).is_ok());
    }

    /// The ids of every series.
    pub(crate) fn refs(&self) -> impl Iterator<Item = u64> + '_ {
        self.series.keys().copied()
    }

    pub(crate) fn labels(&self) -> impl Iterator<Item = &Labels> {
        self.series.values().map(|m| m.labels.as_ref())
    }

    pub(crate) fn num_pairs(&self) -> u64 {
        self.postings.num_pairs()
    }

    pub(crate) fn chunk_count(&self) -> u64 {
        self.series.values().map(MemSeries::chunk_count).sum()
    }
}
