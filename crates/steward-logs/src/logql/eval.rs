//! The engine: runs parsed queries over a [`LogSource`]. Log queries
//! stream over the source's visitor and keep at most `limit` entries (a
//! heap in the query's direction), telling the source through
//! [`Early`] where the kept entries end so that it can stop reading
//! (the newest 100 lines of a month read the newest chunks, not the
//! month); metric queries are in [`metric`] and
//! [`vector`](super::vector).

pub(crate) mod metric;

use std::borrow::Cow;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicI64, Ordering};

use steward_metrics::Labels;

use super::ast::{Expr, LineFilterOp, LogExpr, MetricExpr, Stage, VectorOp};
use super::pipeline::{self, LabelSet};
use super::result::{QueryResult, Sample, Series, Stream};
use super::vector::{Grid, Val, eval_metric};
use crate::{Early, Entry, Error, LogSource, Result, Selection};

/// The order of a log query's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Oldest first: the `limit` earliest entries.
    Forward,
    /// Newest first: the `limit` latest entries (Loki's default).
    #[default]
    Backward,
}

/// The parameters of a range query (Loki's `query_range`).
#[derive(Debug, Clone, Copy)]
pub struct RangeParams {
    /// Start, inclusive, in ns since the epoch.
    pub start: i64,
    /// End in ns: exclusive for log queries, the last possible step for
    /// metric queries.
    pub end: i64,
    /// Step of metric queries, in ns (ignored by log queries).
    pub step: i64,
    /// The most entries a log query returns.
    pub limit: usize,
    /// The order of a log query's entries.
    pub direction: Direction,
}

/// Runs queries; holds the limits.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The most series a metric query may produce (at any stage).
    pub max_series: usize,
    /// The most steps of a range query.
    pub max_steps: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            max_series: 500,
            max_steps: 11_000,
        }
    }
}

/// The `|=` literals before any parser or formatting stage: every line
/// the query returns contains each of them.
pub(crate) fn contains_hints(stages: &[Stage]) -> Vec<String> {
    let mut out = Vec::new();
    for stage in stages {
        match stage {
            Stage::LineFilter(f) => {
                if f.op == LineFilterOp::Contains && f.values.len() == 1 {
                    out.push(f.values[0].clone());
                }
            }
            _ => break,
        }
    }
    out
}

struct Kept {
    key: (i128, u64),
    labels: Labels,
    entry: Entry,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl Engine {
    /// Runs a log query over `[start, end)`: at most `limit` entries, the
    /// earliest (forward) or latest (backward), grouped into streams by
    /// their labels after the pipeline (streams sorted by labels).
    pub fn query_logs(
        &self,
        source: &dyn LogSource,
        expr: &LogExpr,
        params: &RangeParams,
    ) -> Result<Vec<Stream>> {
        let limit = params.limit;
        if limit == 0 || params.end <= params.start {
            return Ok(Vec::new());
        }
        let forward = params.direction == Direction::Forward;
        let contains = contains_hints(&expr.stages);
        let cutoff = AtomicI64::new(if forward { i64::MAX } else { i64::MIN });
        let selection = Selection {
            matchers: &expr.selector,
            start: params.start,
            end: params.end,
            contains: &contains,
            early: Some(Early {
                direction: params.direction,
                cutoff: &cutoff,
            }),
        };
        // a max-heap whose top is the entry that would go first
        let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(limit.min(4096) + 1);
        let mut seq = 0u64;
        let key = |ts: i64| if forward { ts as i128 } else { -(ts as i128) };
        source.select(&selection, &mut |stream, entries| {
            let mut visit = |e: &Entry| -> ControlFlow<()> {
                if heap.len() >= limit && heap.peek().is_some_and(|w| key(e.ts) >= w.key.0) {
                    // the rest of this batch comes later in the query's order
                    return ControlFlow::Break(());
                }
                let mut labels = LabelSet::new(stream, &e.metadata);
                let Some(line) = pipeline::run(&expr.stages, e.ts, &e.line, &mut labels) else {
                    return ControlFlow::Continue(());
                };
                seq += 1;
                heap.push(Kept {
                    key: (key(e.ts), seq),
                    labels: labels.to_labels(),
                    entry: Entry {
                        ts: e.ts,
                        line: match line {
                            Cow::Borrowed(l) => l.to_owned(),
                            Cow::Owned(l) => l,
                        },
                        metadata: e.metadata.clone(),
                    },
                });
                if heap.len() > limit {
                    heap.pop();
                }
                if heap.len() >= limit
                    && let Some(worst) = heap.peek()
                {
                    // the store stops at what can no longer be kept
                    cutoff.store(worst.entry.ts, Ordering::Relaxed);
                }
                ControlFlow::Continue(())
            };
            if forward {
                for e in entries {
                    if visit(e).is_break() {
                        break;
                    }
                }
            } else {
                for e in entries.iter().rev() {
                    if visit(e).is_break() {
                        break;
                    }
                }
            }
            ControlFlow::Continue(())
        })?;
        let mut streams: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
        for kept in heap.into_sorted_vec() {
            streams.entry(kept.labels).or_default().push(kept.entry);
        }
        Ok(streams
            .into_iter()
            .map(|(labels, entries)| Stream { labels, entries })
            .collect())
    }

    /// Runs a query over a range: streams for a log query, a matrix for
    /// a metric query (steps `start, start + step, ...` up to `end`).
    pub fn query_range(
        &self,
        source: &dyn LogSource,
        expr: &Expr,
        params: &RangeParams,
    ) -> Result<QueryResult> {
        match expr {
            Expr::Log(log) => Ok(QueryResult::Streams(self.query_logs(source, log, params)?)),
            Expr::Metric(m) => {
                if params.step <= 0 {
                    return Err(Error::InvalidQuery(
                        "the step of a range query must be positive".to_owned(),
                    ));
                }
                if params.end < params.start {
                    return Err(Error::InvalidQuery(
                        "the end of a range query is before its start".to_owned(),
                    ));
                }
                let steps = (params.end as i128 - params.start as i128) / params.step as i128 + 1;
                if steps > self.max_steps as i128 {
                    return Err(Error::Limit(format!(
                        "{steps} steps exceed the maximum of {}: use a larger step",
                        self.max_steps
                    )));
                }
                let grid = Grid {
                    start: params.start,
                    step: params.step,
                    len: steps as usize,
                };
                let series = match eval_metric(self, source, m, &grid)? {
                    Val::Scalar(v) => vec![Series {
                        labels: Labels::empty(),
                        points: (0..grid.len).map(|i| (grid.time(i), v)).collect(),
                    }],
                    Val::Vector(vs) => {
                        let mut out: Vec<Series> = vs
                            .into_iter()
                            .filter(|s| !s.points.is_empty())
                            .map(|s| Series {
                                labels: s.labels,
                                points: s.points.iter().map(|(i, v)| (grid.time(*i), *v)).collect(),
                            })
                            .collect();
                        out.sort_by(|a, b| a.labels.cmp(&b.labels));
                        out
                    }
                };
                self.check_series(series.len())?;
                Ok(QueryResult::Matrix(series))
            }
        }
    }

    /// Runs a metric query at time `t` (ns): a vector or a scalar. Log
    /// queries are refused, as Loki refuses them as instant queries.
    pub fn query_instant(
        &self,
        source: &dyn LogSource,
        expr: &Expr,
        t: i64,
    ) -> Result<QueryResult> {
        let Expr::Metric(m) = expr else {
            return Err(Error::InvalidQuery(
                "log queries are not supported as instant queries: use a range query".to_owned(),
            ));
        };
        let grid = Grid {
            start: t,
            step: 1,
            len: 1,
        };
        match eval_metric(self, source, m, &grid)? {
            Val::Scalar(v) => Ok(QueryResult::Scalar(t, v)),
            Val::Vector(vs) => {
                let mut samples: Vec<Sample> = vs
                    .into_iter()
                    .filter_map(|s| {
                        let value = *s.points.get(&0)?;
                        Some(Sample {
                            labels: s.labels,
                            ts: t,
                            value,
                        })
                    })
                    .collect();
                samples.sort_by(|a, b| a.labels.cmp(&b.labels));
                if let MetricExpr::Vector(v) = m {
                    match v.op {
                        VectorOp::Sort => samples.sort_by(|a, b| a.value.total_cmp(&b.value)),
                        VectorOp::SortDesc => samples.sort_by(|a, b| b.value.total_cmp(&a.value)),
                        _ => {}
                    }
                }
                self.check_series(samples.len())?;
                Ok(QueryResult::Vector(samples))
            }
        }
    }

    pub(crate) fn check_series(&self, n: usize) -> Result<()> {
        if n > self.max_series {
            return Err(Error::Limit(format!(
                "the query produces more than {} series: add label filters or aggregate with sum by (...)",
                self.max_series
            )));
        }
        Ok(())
    }
}
