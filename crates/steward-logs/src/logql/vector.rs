//! Metric expressions above range aggregations: vector aggregations,
//! binary operators with vector matching (Prometheus' rules), `vector()`
//! and `label_replace`. Values are series with sparse points per step.

use std::collections::{BTreeMap, HashMap};

use steward_metrics::Labels;

use super::ast::{
    BinOp, Binary, GroupSide, LabelReplace, MetricExpr, VectorAgg, VectorMatching, VectorOp,
};
use super::eval::Engine;
use super::eval::metric::{apply_grouping, eval_range};
use crate::{Error, LogSource, Result};

/// The steps of an evaluation: `start + i * step` for `i < len`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub(crate) start: i64,
    pub(crate) step: i64,
    pub(crate) len: usize,
}

impl Grid {
    /// The time of step `i`.
    pub(crate) fn time(&self, i: usize) -> i64 {
        self.start
            .saturating_add(self.step.saturating_mul(i as i64))
    }
}

/// A series with a value at some steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepSeries {
    pub(crate) labels: Labels,
    pub(crate) points: BTreeMap<usize, f64>,
}

/// The value of a metric expression.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// The same number at every step.
    Scalar(f64),
    /// Series.
    Vector(Vec<StepSeries>),
}

/// Evaluates `expr` at every step of `grid`.
pub(crate) fn eval_metric(
    engine: &Engine,
    source: &dyn LogSource,
    expr: &MetricExpr,
    grid: &Grid,
) -> Result<Val> {
    Ok(match expr {
        MetricExpr::Number(n) => Val::Scalar(*n),
        MetricExpr::VectorOf(n) => Val::Vector(vec![StepSeries {
            labels: Labels::empty(),
            points: (0..grid.len).map(|i| (i, *n)).collect(),
        }]),
        MetricExpr::Range(r) => Val::Vector(eval_range(engine, source, r, grid)?),
        MetricExpr::Vector(v) => {
            let Val::Vector(inner) = eval_metric(engine, source, &v.inner, grid)? else {
                return Err(Error::InvalidQuery(format!(
                    "{} needs a vector, not a scalar",
                    v.op.name()
                )));
            };
            Val::Vector(aggregate(v, inner))
        }
        MetricExpr::LabelReplace(l) => {
            let Val::Vector(inner) = eval_metric(engine, source, &l.inner, grid)? else {
                return Err(Error::InvalidQuery(
                    "label_replace needs a vector, not a scalar".to_owned(),
                ));
            };
            Val::Vector(label_replace(l, inner)?)
        }
        MetricExpr::Binary(b) => {
            let lhs = eval_metric(engine, source, &b.lhs, grid)?;
            let rhs = eval_metric(engine, source, &b.rhs, grid)?;
            let out = binary(b, lhs, rhs)?;
            if let Val::Vector(v) = &out {
                engine.check_series(v.len())?;
            }
            out
        }
    })
}

/// The labels of the group a series falls in: none without `by`/`without`.
fn group_key(labels: &Labels, agg: &VectorAgg) -> Labels {
    match &agg.grouping {
        Some(g) => apply_grouping(labels, Some(g)),
        None => Labels::empty(),
    }
}

/// (count, sum, min, max, mean, sum of squared deviations) of a group at
/// a step, the last two folded as Welford does.
type Fold = (f64, f64, f64, f64, f64, f64);

fn aggregate(agg: &VectorAgg, inner: Vec<StepSeries>) -> Vec<StepSeries> {
    match agg.op {
        VectorOp::Sort | VectorOp::SortDesc => return inner,
        VectorOp::Topk | VectorOp::Bottomk => return top(agg, &inner),
        _ => {}
    }
    let mut groups: BTreeMap<Labels, BTreeMap<usize, Fold>> = BTreeMap::new();
    for s in inner {
        let key = group_key(&s.labels, agg);
        let g = groups.entry(key).or_default();
        for (i, v) in s.points {
            let e = g
                .entry(i)
                .or_insert((0.0, 0.0, f64::NAN, f64::NAN, 0.0, 0.0));
            e.0 += 1.0;
            e.1 += v;
            if v < e.2 || e.2.is_nan() {
                e.2 = v;
            }
            if v > e.3 || e.3.is_nan() {
                e.3 = v;
            }
            let delta = v - e.4;
            e.4 += delta / e.0;
            e.5 += delta * (v - e.4);
        }
    }
    groups
        .into_iter()
        .map(|(labels, points)| StepSeries {
            labels,
            points: points
                .into_iter()
                .map(|(i, (n, sum, min, max, mean, m2))| {
                    let var = m2 / n;
                    let v = match agg.op {
                        VectorOp::Sum => sum,
                        VectorOp::Avg => mean,
                        VectorOp::Min => min,
                        VectorOp::Max => max,
                        VectorOp::Count => n,
                        VectorOp::Stdvar => var,
                        _ => var.sqrt(),
                    };
                    (i, v)
                })
                .collect(),
        })
        .collect()
}

fn top(agg: &VectorAgg, inner: &[StepSeries]) -> Vec<StepSeries> {
    let k = agg.param.unwrap_or(1.0) as usize;
    let mut groups: BTreeMap<Labels, Vec<usize>> = BTreeMap::new();
    for (idx, s) in inner.iter().enumerate() {
        groups
            .entry(group_key(&s.labels, agg))
            .or_default()
            .push(idx);
    }
    let mut out: Vec<StepSeries> = inner
        .iter()
        .map(|s| StepSeries {
            labels: s.labels.clone(),
            points: BTreeMap::new(),
        })
        .collect();
    let steps: std::collections::BTreeSet<usize> = inner
        .iter()
        .flat_map(|s| s.points.keys().copied())
        .collect();
    for members in groups.values() {
        for &i in &steps {
            let mut present: Vec<(usize, f64)> = members
                .iter()
                .filter_map(|&m| inner[m].points.get(&i).map(|v| (m, *v)))
                .collect();
            if agg.op == VectorOp::Topk {
                present.sort_by(|a, b| b.1.total_cmp(&a.1));
            } else {
                present.sort_by(|a, b| a.1.total_cmp(&b.1));
            }
            for (m, v) in present.into_iter().take(k) {
                out[m].points.insert(i, v);
            }
        }
    }
    out.retain(|s| !s.points.is_empty());
    out
}

fn label_replace(l: &LabelReplace, inner: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut merged: BTreeMap<Labels, BTreeMap<usize, f64>> = BTreeMap::new();
    for s in inner {
        let src = s.labels.get(&l.src).unwrap_or("");
        let labels = match l.regex.captures(src) {
            Some(caps) => {
                let mut value = String::new();
                caps.expand(&l.replacement, &mut value);
                let mut b = s.labels.builder();
                b.set(l.dst.clone(), value);
                b.build()
            }
            None => s.labels,
        };
        let into = merged.entry(labels.clone()).or_default();
        for (i, v) in s.points {
            if into.insert(i, v).is_some() {
                return Err(Error::InvalidQuery(format!(
                    "vector cannot contain series with the same labels {labels} after label_replace"
                )));
            }
        }
    }
    Ok(merged
        .into_iter()
        .map(|(labels, points)| StepSeries { labels, points })
        .collect())
}

/// `a op b` on two numbers; `None` when a comparison is false.
fn apply(op: BinOp, a: f64, b: f64, return_bool: bool) -> Option<f64> {
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Cmp(c) => {
            let holds = c.holds(a, b);
            return if return_bool {
                Some(if holds { 1.0 } else { 0.0 })
            } else if holds {
                Some(a)
            } else {
                None
            };
        }
        BinOp::And | BinOp::Or | BinOp::Unless => return None,
    };
    Some(v)
}

fn binary(b: &Binary, lhs: Val, rhs: Val) -> Result<Val> {
    match (lhs, rhs) {
        (Val::Scalar(x), Val::Scalar(y)) => {
            Ok(Val::Scalar(apply(b.op, x, y, true).unwrap_or(f64::NAN)))
        }
        (Val::Vector(v), Val::Scalar(y)) => Ok(Val::Vector(map_points(v, |x| {
            apply(b.op, x, y, b.return_bool)
        }))),
        (Val::Scalar(x), Val::Vector(v)) => Ok(Val::Vector(map_points(v, |y| {
            // a filter keeps the vector's value
            match (b.op, b.return_bool) {
                (BinOp::Cmp(_), false) => apply(b.op, x, y, false).map(|_| y),
                _ => apply(b.op, x, y, b.return_bool),
            }
        }))),
        (Val::Vector(l), Val::Vector(r)) => {
            if b.op.is_set() {
                Ok(Val::Vector(set_op(b, &l, &r)))
            } else {
                vector_op(b, &l, &r).map(Val::Vector)
            }
        }
    }
}

fn map_points(v: Vec<StepSeries>, f: impl Fn(f64) -> Option<f64>) -> Vec<StepSeries> {
    v.into_iter()
        .map(|s| StepSeries {
            labels: s.labels,
            points: s
                .points
                .into_iter()
                .filter_map(|(i, x)| f(x).map(|y| (i, y)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

fn signature(labels: &Labels, m: Option<&VectorMatching>) -> Labels {
    match m {
        Some(m) if m.on => labels.keep(&m.labels),
        Some(m) => labels.drop_names(&m.labels),
        None => labels.clone(),
    }
}

fn all_steps(v: &[StepSeries]) -> std::collections::BTreeSet<usize> {
    v.iter().flat_map(|s| s.points.keys().copied()).collect()
}

fn set_op(b: &Binary, l: &[StepSeries], r: &[StepSeries]) -> Vec<StepSeries> {
    let m = b.matching.as_ref();
    let lsig: Vec<Labels> = l.iter().map(|s| signature(&s.labels, m)).collect();
    let rsig: Vec<Labels> = r.iter().map(|s| signature(&s.labels, m)).collect();
    let present = |side: &[StepSeries], sigs: &[Labels], i: usize, sig: &Labels| {
        side.iter()
            .zip(sigs)
            .any(|(s, g)| g == sig && s.points.contains_key(&i))
    };
    let mut out: Vec<StepSeries> = l
        .iter()
        .zip(&lsig)
        .map(|(s, sig)| StepSeries {
            labels: s.labels.clone(),
            points: s
                .points
                .iter()
                .filter(|(i, _)| match b.op {
                    BinOp::And => present(r, &rsig, **i, sig),
                    BinOp::Unless => !present(r, &rsig, **i, sig),
                    _ => true,
                })
                .map(|(i, v)| (*i, *v))
                .collect(),
        })
        .collect();
    if b.op == BinOp::Or {
        for (s, sig) in r.iter().zip(&rsig) {
            let points: BTreeMap<usize, f64> = s
                .points
                .iter()
                .filter(|(i, _)| !present(l, &lsig, **i, sig))
                .map(|(i, v)| (*i, *v))
                .collect();
            match out.iter_mut().find(|o| o.labels == s.labels) {
                Some(o) => o.points.extend(points),
                None => out.push(StepSeries {
                    labels: s.labels.clone(),
                    points,
                }),
            }
        }
    }
    out.retain(|s| !s.points.is_empty());
    out
}

fn result_labels(many: &Labels, one: &Labels, b: &Binary) -> Labels {
    let Some(m) = &b.matching else {
        return many.clone();
    };
    match &m.group {
        None if m.on => many.keep(&m.labels),
        None => many.drop_names(&m.labels),
        Some((_, include)) => {
            let mut builder = many.builder();
            for name in include {
                match one.get(name) {
                    Some(v) => builder.set(name.clone(), v.to_owned()),
                    None => builder.del(name),
                };
            }
            builder.build()
        }
    }
}

fn vector_op(b: &Binary, l: &[StepSeries], r: &[StepSeries]) -> Result<Vec<StepSeries>> {
    let m = b.matching.as_ref();
    // the "many" side first; values are swapped back for the operator
    let swapped = matches!(
        m.and_then(|m| m.group.as_ref()),
        Some((GroupSide::Right, _))
    );
    let grouped = m.is_some_and(|m| m.group.is_some());
    let (many, one) = if swapped { (r, l) } else { (l, r) };
    let many_sig: Vec<Labels> = many.iter().map(|s| signature(&s.labels, m)).collect();
    let one_sig: Vec<Labels> = one.iter().map(|s| signature(&s.labels, m)).collect();
    let mut out: HashMap<Labels, BTreeMap<usize, f64>> = HashMap::new();
    let mut steps = all_steps(many);
    steps.retain(|i| one.iter().any(|s| s.points.contains_key(i)));
    for i in steps {
        let mut one_at: HashMap<&Labels, (usize, f64)> = HashMap::new();
        for (k, s) in one.iter().enumerate() {
            if let Some(v) = s.points.get(&i)
                && one_at.insert(&one_sig[k], (k, *v)).is_some()
            {
                return Err(Error::InvalidQuery(format!(
                    "found duplicate series for the match group {} on the {} side of the operation: many-to-many matching not allowed, use group_left or group_right",
                    one_sig[k],
                    if swapped { "left" } else { "right" }
                )));
            }
        }
        let mut seen: HashMap<&Labels, ()> = HashMap::new();
        for (k, s) in many.iter().enumerate() {
            let Some(&mv) = s.points.get(&i) else {
                continue;
            };
            let Some(&(ok, ov)) = one_at.get(&many_sig[k]) else {
                continue;
            };
            if !grouped && seen.insert(&many_sig[k], ()).is_some() {
                return Err(Error::InvalidQuery(format!(
                    "found duplicate series for the match group {} on the left side of the operation: many-to-many matching not allowed, use group_left or group_right",
                    many_sig[k]
                )));
            }
            let (lv, rv) = if swapped { (ov, mv) } else { (mv, ov) };
            let Some(v) = apply(b.op, lv, rv, b.return_bool) else {
                continue;
            };
            let labels = result_labels(&s.labels, &one[ok].labels, b);
            if out
                .entry(labels.clone())
                .or_default()
                .insert(i, v)
                .is_some()
            {
                return Err(Error::InvalidQuery(format!(
                    "multiple matches for labels {labels}: many-to-one matching must be explicit (group_left/group_right)"
                )));
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(labels, points)| StepSeries { labels, points })
        .collect())
}
