//! Range aggregations: one selection covering every step's window, each
//! sample folded into the accumulators of the steps whose window
//! `(t - offset - range, t - offset]` holds it. Memory is one accumulator
//! per series and step with samples (plus the values of
//! `quantile_over_time`), not the lines.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use steward_metrics::{Labels, MatchOp};

use super::{Engine, contains_hints};
use crate::logql::ast::{Grouping, RangeAgg, RangeOp};
use crate::logql::pipeline::{self, ERROR_DETAILS_LABEL, ERROR_LABEL, LabelSet, convert};
use crate::logql::vector::{Grid, StepSeries};
use crate::{Error, LogSource, Result, Selection};

/// What is kept per series and step.
#[derive(Debug, Clone)]
enum Acc {
    Sum(f64),
    Min(f64),
    Max(f64),
    First(i64, f64),
    Last(i64, f64),
    Avg { n: f64, sum: f64 },
    Var { n: f64, mean: f64, m2: f64 },
    Values(Vec<f64>),
}

impl Acc {
    fn new(op: RangeOp, ts: i64, v: f64) -> Acc {
        match op {
            RangeOp::MinOverTime => Acc::Min(v),
            RangeOp::MaxOverTime => Acc::Max(v),
            RangeOp::FirstOverTime => Acc::First(ts, v),
            RangeOp::LastOverTime => Acc::Last(ts, v),
            RangeOp::AvgOverTime => Acc::Avg { n: 1.0, sum: v },
            RangeOp::StddevOverTime | RangeOp::StdvarOverTime => Acc::Var {
                n: 1.0,
                mean: v,
                m2: 0.0,
            },
            RangeOp::QuantileOverTime => Acc::Values(vec![v]),
            _ => Acc::Sum(v),
        }
    }

    fn add(&mut self, ts: i64, v: f64) {
        match self {
            Acc::Sum(s) => *s += v,
            Acc::Min(m) => {
                if v < *m || m.is_nan() {
                    *m = v;
                }
            }
            Acc::Max(m) => {
                if v > *m || m.is_nan() {
                    *m = v;
                }
            }
            Acc::First(t, x) => {
                if ts < *t {
                    (*t, *x) = (ts, v);
                }
            }
            Acc::Last(t, x) => {
                if ts >= *t {
                    (*t, *x) = (ts, v);
                }
            }
            Acc::Avg { n, sum } => {
                *n += 1.0;
                *sum += v;
            }
            Acc::Var { n, mean, m2 } => {
                *n += 1.0;
                let delta = v - *mean;
                *mean += delta / *n;
                *m2 += delta * (v - *mean);
            }
            Acc::Values(vs) => vs.push(v),
        }
    }

    fn finish(self, op: RangeOp, param: Option<f64>, range_secs: f64) -> f64 {
        match self {
            Acc::Sum(s) => match op {
                RangeOp::Rate | RangeOp::BytesRate => s / range_secs,
                _ => s,
            },
            Acc::Min(v) | Acc::Max(v) | Acc::First(_, v) | Acc::Last(_, v) => v,
            Acc::Avg { n, sum } => sum / n,
            Acc::Var { n, m2, .. } => {
                if op == RangeOp::StddevOverTime {
                    (m2 / n).sqrt()
                } else {
                    m2 / n
                }
            }
            Acc::Values(mut vs) => quantile(param.unwrap_or(0.5), &mut vs),
        }
    }
}

/// Prometheus' `quantile`: linear interpolation between closest ranks.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - lower;
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

pub(crate) fn apply_grouping(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => labels.clone(),
        Some(g) if g.without => labels.drop_names(&g.labels),
        Some(g) => labels.keep(&g.labels),
    }
}

/// The series of a range aggregation and their accumulators per step.
#[derive(Default)]
struct Accumulators {
    index: HashMap<Labels, usize>,
    series: Vec<(Labels, BTreeMap<usize, Acc>)>,
}

impl Accumulators {
    /// The slot of the series `key`, added if new (within the engine's
    /// series limit).
    fn slot(&mut self, engine: &Engine, key: Labels) -> Result<usize> {
        if let Some(i) = self.index.get(&key) {
            return Ok(*i);
        }
        engine.check_series(self.series.len() + 1)?;
        self.index.insert(key.clone(), self.series.len());
        self.series.push((key, BTreeMap::new()));
        Ok(self.series.len() - 1)
    }

    /// Folds the sample `(ts, value)` of series `slot` into the steps
    /// `t` with `t - offset - range < ts <= t - offset`.
    fn add(&mut self, slot: usize, agg: &RangeAgg, grid: &Grid, ts: i64, value: f64) {
        let accs = &mut self.series[slot].1;
        let from = ts.saturating_add(agg.offset);
        let until = from.saturating_add(agg.range);
        let mut i = if from <= grid.start {
            0
        } else {
            let (d, step) = (from as i128 - grid.start as i128, grid.step as i128);
            usize::try_from((d + step - 1) / step).unwrap_or(usize::MAX)
        };
        while i < grid.len && grid.time(i) < until {
            match accs.get_mut(&i) {
                Some(acc) => acc.add(ts, value),
                None => {
                    accs.insert(i, Acc::new(agg.op, ts, value));
                }
            }
            i += 1;
        }
    }
}

/// Evaluates a range aggregation at every step of `grid`.
pub(crate) fn eval_range(
    engine: &Engine,
    source: &dyn LogSource,
    agg: &RangeAgg,
    grid: &Grid,
) -> Result<Vec<StepSeries>> {
    let last = grid.time(grid.len.saturating_sub(1));
    let contains = contains_hints(&agg.log.stages);
    let selection = Selection {
        matchers: &agg.log.selector,
        start: grid
            .start
            .saturating_sub(agg.range)
            .saturating_sub(agg.offset)
            .saturating_add(1),
        end: last.saturating_sub(agg.offset).saturating_add(1),
        contains: &contains,
        early: None,
    };
    let mut series = Accumulators::default();
    let mut failure: Option<Error> = None;
    // Line filters only and no unwrap: a line without metadata counts in
    // its stream's series (grouped), found once per batch instead of by
    // building and hashing its labels line by line.
    let by_stream = agg.unwrap.is_none() && pipeline::only_line_filters(&agg.log.stages);
    source.select(&selection, &mut |stream, entries| {
        let mut stream_slot: Option<usize> = None;
        for e in entries {
            if by_stream && e.metadata.is_empty() {
                if !pipeline::line_filters_pass(&agg.log.stages, &e.line) {
                    continue;
                }
                let slot = match stream_slot {
                    Some(slot) => slot,
                    None => match series.slot(engine, apply_grouping(stream, agg.grouping.as_ref())) {
                        Ok(slot) => *stream_slot.insert(slot),
                        Err(e) => {
                            failure = Some(e);
                            return ControlFlow::Break(());
                        }
                    },
                };
                let value = match agg.op {
                    RangeOp::BytesOverTime | RangeOp::BytesRate => e.line.len() as f64,
                    _ => 1.0,
                };
                series.add(slot, agg, grid, e.ts, value);
                continue;
            }
            let mut labels = LabelSet::new(stream, &e.metadata);
            let Some(line) = pipeline::run(&agg.log.stages, e.ts, &e.line, &mut labels) else {
                continue;
            };
            let value = match (&agg.unwrap, agg.op) {
                (Some(u), _) => {
                    let raw = labels.get(&u.label);
                    if raw.is_empty() {
                        // a line without the label gives no sample
                        continue;
                    }
                    let v = match convert(raw, u.conversion) {
                        Ok(v) => v,
                        Err(reason) => {
                            labels.set_error("SampleExtractionErr", reason);
                            0.0
                        }
                    };
                    labels.del(&u.label);
                    if !u
                        .filters
                        .iter()
                        .all(|f| pipeline::label_filter(f, &mut labels))
                    {
                        continue;
                    }
                    v
                }
                (None, RangeOp::BytesOverTime | RangeOp::BytesRate) => line.len() as f64,
                (None, _) => 1.0,
            };
            if labels.has(ERROR_LABEL) {
                failure = Some(Error::InvalidQuery(format!(
                    "pipeline error: {:?} ({}) for series {}: use a label filter to intercept this error, or | __error__=\"\" to drop the lines",
                    labels.get(ERROR_LABEL),
                    labels.get(ERROR_DETAILS_LABEL),
                    stream
                )));
                return ControlFlow::Break(());
            }
            let key = apply_grouping(&labels.to_labels(), agg.grouping.as_ref());
            match series.slot(engine, key) {
                Ok(slot) => series.add(slot, agg, grid, e.ts, value),
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let range_secs = agg.range as f64 / 1e9;
    let mut out: Vec<StepSeries> = series
        .series
        .into_iter()
        .map(|(labels, accs)| StepSeries {
            labels,
            points: accs
                .into_iter()
                .map(|(i, acc)| (i, acc.finish(agg.op, agg.param, range_secs)))
                .collect(),
        })
        .collect();
    if agg.op == RangeOp::AbsentOverTime {
        let labels = Labels::from_pairs(
            agg.log
                .selector
                .iter()
                .filter(|m| m.op == MatchOp::Equal)
                .map(|m| (m.name.as_str(), m.value.as_str())),
        );
        let points = (0..grid.len)
            .filter(|i| !out.iter().any(|s| s.points.contains_key(i)))
            .map(|i| (i, 1.0))
            .collect();
        out = vec![StepSeries { labels, points }];
    }
    Ok(out)
}
