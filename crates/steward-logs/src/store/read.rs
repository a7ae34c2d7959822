//! The store's read path: which blocks and chunks a selection needs, and
//! reading them on worker threads, handed over in time order per stream.
//!
//! Pieces of one stream (head blocks, chunks of several segments) are
//! ordered by their first timestamp; pieces whose times overlap (late
//! lines) form one unit whose entries are merged, so a query always gets
//! a stream's entries in time order. Units are decompressed and filtered
//! by `read_threads` workers at most [`WINDOW`] units ahead of the one the
//! query is given, so memory stays bounded however much is read.
//!
//! A limited log query ([`Selection::early`]) takes the units in its
//! order across streams instead, and the reading stops at the first unit
//! its cutoff rules out.

use std::{
    collections::{BTreeMap, BTreeSet},
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc,
    },
};

use memchr::memmem::Finder;
use parking_lot::{Condvar, Mutex};
use steward_metrics::{Labels, Matcher, matcher::matches_all};

use crate::{
    Entry, Result, Selection,
    logql::Direction,
    store::{
        Inner,
        codec::Reader,
        head::Block,
        segment::{ChunkMeta, Segment},
    },
};

/// Units decoded ahead of the one the query is given, at most.
const WINDOW: usize = 16;

enum Piece {
    Block(Arc<Block>),
    Chunk(Arc<Segment>, usize, usize),
}

impl Piece {
    fn span(&self) -> (i64, i64) {
        match self {
            Piece::Block(b) => (b.min_ts, b.max_ts),
            Piece::Chunk(s, i, j) => {
                let c = &s.streams[*i].chunks[*j];
                (c.min_ts, c.max_ts)
            }
        }
    }
}

struct Unit {
    stream: usize,
    pieces: Vec<Piece>,
}

impl Unit {
    /// The earliest and latest time its pieces may hold.
    fn span(&self) -> (i64, i64) {
        self.pieces
            .iter()
            .map(Piece::span)
            .fold((i64::MAX, i64::MIN), |(min, max), (a, b)| {
                (min.min(a), max.max(b))
            })
    }
}

/// What a selection reads: the streams' labels and the units in the order
/// they are handed over.
fn plan(inner: &Inner, matchers: &[Matcher], start: i64, end: i64) -> (Vec<Labels>, Vec<Unit>) {
    let mut blocks = Vec::new();
    let segments: Vec<Arc<Segment>> = {
        let state = inner.state.read();
        state.head.select(matchers, start, end, &mut blocks);
        for (_, frozen) in &state.frozen {
            frozen.select(matchers, start, end, &mut blocks);
        }
        state
            .segments
            .iter()
            .filter(|s| s.max_ts >= start && s.min_ts < end)
            .cloned()
            .collect()
    };
    let mut streams: BTreeMap<Labels, Vec<Piece>> = BTreeMap::new();
    for (labels, block) in blocks {
        streams.entry(labels).or_default().push(Piece::Block(block));
    }
    for segment in &segments {
        for (i, stream) in segment.streams.iter().enumerate() {
            if !matches_all(matchers, &stream.labels) {
                continue;
            }
            for (j, chunk) in stream.chunks.iter().enumerate() {
                if chunk.max_ts >= start && chunk.min_ts < end {
                    streams
                        .entry(stream.labels.clone())
                        .or_default()
                        .push(Piece::Chunk(segment.clone(), i, j));
                }
            }
        }
    }
    let mut labels = Vec::with_capacity(streams.len());
    let mut units: Vec<Unit> = Vec::new();
    for (stream, (l, mut pieces)) in streams.into_iter().enumerate() {
        labels.push(l);
        pieces.sort_by_key(|p| p.span());
        let mut group_end = i64::MIN;
        for piece in pieces {
            let (min, max) = piece.span();
            match units.last_mut() {
                Some(unit) if unit.stream == stream && min <= group_end => {
                    unit.pieces.push(piece);
                    group_end = group_end.max(max);
                }
                _ => {
                    units.push(Unit {
                        stream,
                        pieces: vec![piece],
                    });
                    group_end = max;
                }
            }
        }
    }
    (labels, units)
}

/// Reads a unit: its entries within the range whose lines hold every
/// literal, in time order.
fn read_unit(unit: &Unit, selection: &Selection<'_>, finders: &[Finder<'_>]) -> Result<Vec<Entry>> {
    let keep = |line: &[u8]| finders.iter().all(|f| f.find(line).is_some());
    let mut out = Vec::new();
    for piece in &unit.pieces {
        match piece {
            Piece::Block(block) => {
                let from = block.entries.partition_point(|e| e.ts < selection.start);
                let to = block.entries.partition_point(|e| e.ts < selection.end);
                out.extend(
                    block.entries[from..to]
                        .iter()
                        .filter(|e| keep(e.line.as_bytes()))
                        .cloned(),
                );
            }
            Piece::Chunk(segment, i, j) => {
                let chunk: &ChunkMeta = &segment.streams[*i].chunks[*j];
                if !selection.contains.is_empty()
                    && !segment.may_contain(chunk, selection.contains)?
                {
                    continue;
                }
                let payload = segment.read_chunk(chunk)?;
                let entries = Reader::new(&payload)
                    .entries_where(chunk.min_ts, selection.start, selection.end, &keep)
                    .map_err(|_| crate::Error::Corrupt {
                        path: segment.path.clone(),
                        reason: "a chunk does not decode".to_owned(),
                    })?;
                out.extend(entries);
            }
        }
    }
    if unit.pieces.len() > 1 {
        out.sort_by_key(|e| e.ts);
    }
    Ok(out)
}

/// [`LogSource::select`](crate::LogSource::select) of the store.
pub(crate) fn select(
    inner: &Inner,
    selection: &Selection<'_>,
    visit: &mut dyn FnMut(&Labels, &[Entry]) -> ControlFlow<()>,
) -> Result<()> {
    let (labels, mut units) = plan(inner, selection.matchers, selection.start, selection.end);
    // A limited log query reads in its own order across streams, so that
    // it can stop as soon as the next unit holds nothing it would keep:
    // newest first by each unit's latest time (backward), oldest first by
    // its earliest (forward). In that order, a unit the cutoff rules out
    // is followed only by units it rules out too.
    if let Some(early) = &selection.early {
        match early.direction {
            Direction::Backward => units.sort_by_key(|u| std::cmp::Reverse(u.span().1)),
            Direction::Forward => units.sort_by_key(|u| u.span().0),
        }
    }
    let ruled_out = |unit: &Unit| {
        selection.early.as_ref().is_some_and(|early| {
            let (min, max) = unit.span();
            early.rules_out(min, max)
        })
    };
    let finders: Vec<Finder<'_>> = selection
        .contains
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| Finder::new(l.as_bytes()))
        .collect();
    let threads = inner.options.read_threads.clamp(1, 16).min(units.len());
    if threads <= 1 {
        for unit in &units {
            if ruled_out(unit) {
                break;
            }
            let entries = read_unit(unit, selection, &finders)?;
            if !entries.is_empty() && visit(&labels[unit.stream], &entries).is_break() {
                break;
            }
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // A limited query reads only one unit per worker ahead: what is read
    // ahead of the cutoff is wasted once the query has its entries.
    let window = if selection.early.is_some() {
        threads
    } else {
        WINDOW
    };
    // the first unit not yet handed over; workers stay within `window` of it
    let given = (Mutex::new(0usize), Condvar::new());
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<Entry>>)>(window);
        for _ in 0..threads {
            let tx = tx.clone();
            let (units, next, stop, given, finders, ruled_out, window) =
                (&units, &next, &stop, &given, &finders, &ruled_out, window);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= units.len() {
                        return;
                    }
                    {
                        let mut first = given.0.lock();
                        while i >= *first + window && !stop.load(Ordering::Relaxed) {
                            given.1.wait(&mut first);
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // A unit ruled out is not read, but still answered
                    // (empty): units before it may be in other workers'
                    // hands, and the query decides when to stop as it
                    // takes them in order.
                    let read = if ruled_out(&units[i]) {
                        Ok(Vec::new())
                    } else {
                        read_unit(&units[i], selection, finders)
                    };
                    if tx.send((i, read)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let finish = |outcome: Result<()>| {
            // Under the lock: a worker between its look at `stop` and its
            // wait would otherwise miss the wake-up and wait for ever.
            {
                let _first = given.0.lock();
                stop.store(true, Ordering::Relaxed);
            }
            given.1.notify_all();
            outcome
        };
        let mut pending = BTreeMap::new();
        let mut want = 0usize;
        for (i, read) in rx.iter() {
            pending.insert(i, read);
            while let Some(read) = pending.remove(&want) {
                let unit = &units[want];
                if ruled_out(unit) {
                    return finish(Ok(()));
                }
                want += 1;
                *given.0.lock() = want;
                given.1.notify_all();
                let entries = match read {
                    Ok(entries) => entries,
                    Err(err) => return finish(Err(err)),
                };
                if !entries.is_empty() && visit(&labels[unit.stream], &entries).is_break() {
                    return finish(Ok(()));
                }
            }
        }
        finish(Ok(()))
    })
}

/// [`LogSource::series`](crate::LogSource::series) of the store.
pub(crate) fn series(inner: &Inner, matchers: &[Matcher], start: i64, end: i64) -> Vec<Labels> {
    let (labels, units) = plan(inner, matchers, start, end);
    let with_data: BTreeSet<usize> = units.iter().map(|u| u.stream).collect();
    with_data.into_iter().map(|i| labels[i].clone()).collect()
}
