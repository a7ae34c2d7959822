//! Aggregations (`sum by (job) (...)`, `topk`, `count_values`...).
//!
//! The group of each input series is computed once per query, not per
//! step; each step then folds its samples into per-group accumulators.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::eval::{Evaluator, Steps, Val, unwrap_parens};
use super::functions::valid_label_name;
use super::value::format_value;
use crate::labels::METRIC_NAME;
use crate::storage::Series;
use crate::{Error, Labels, Result, Sample};

/// Go's `math.Max`: +Inf wins over NaN, NaN over everything else.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: -Inf wins over NaN, NaN over everything else.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// The `q` quantile of `values` (interpolating between neighbours), as
/// `quantile` and `quantile_over_time` compute it.
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
    // NaN sorts first, as in Prometheus
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[derive(Clone, Default)]
struct Acc {
    value: f64,
    mean: f64,
    count: f64,
    values: Vec<f64>,
    items: Vec<(usize, f64)>,
}

/// Evaluates an aggregation.
pub(crate) fn eval_aggregate(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    steps: Steps,
) -> Result<Val> {
    let op = a.op.to_string();
    let op = op.as_str();
    let (by, grouping): (bool, Vec<String>) = match &a.modifier {
        None => (true, Vec::new()),
        Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
    };
    let n = steps.len();
    let mut param = Vec::new();
    let mut value_label = String::new();
    match (op, a.param.as_deref()) {
        ("topk" | "bottomk" | "quantile", Some(p)) => param = ev.eval_scalar(p, steps)?,
        ("count_values", Some(p)) => {
            value_label = match unwrap_parens(p) {
                Expr::StringLiteral(s) => s.val.clone(),
                other => match ev.eval(other, steps)? {
                    Val::Str(s) => s,
                    _ => return Err(Error::QueryExecution("expected a string parameter".into())),
                },
            };
            if !valid_label_name(&value_label) {
                return Err(Error::QueryExecution(format!(
                    "invalid label name {value_label:?}"
                )));
            }
        }
        ("topk" | "bottomk" | "quantile" | "count_values", None) => {
            return Err(Error::BadQuery(format!(
                "no parameter for aggregation {op}"
            )));
        }
        _ => {}
    }
    let mat = ev.eval_vector(&a.expr, steps)?;
    let mut drop: Vec<&str> = grouping.iter().map(String::as_str).collect();
    drop.push(METRIC_NAME);
    let group_of = |l: &Labels| {
        if by {
            l.keep(&grouping)
        } else {
            l.drop_names(&drop)
        }
    };

    // the samples of each step, in series order
    let mut by_step: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (i, s) in mat.iter().enumerate() {
        for p in &s.samples {
            by_step[steps.index(p.t)].push((i, p.v));
        }
    }

    if op == "count_values" {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut counts: Vec<f64> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        for (k, entries) in by_step.iter().enumerate() {
            for &(i, v) in entries {
                ev.tick()?;
                let mut b = mat[i].labels.builder();
                b.set(value_label.as_str(), format_value(v));
                let with_value = b.build();
                let labels = if by {
                    let mut keep = grouping.clone();
                    keep.push(value_label.clone());
                    with_value.keep(&keep)
                } else {
                    with_value.drop_names(&drop)
                };
                let o = *index.entry(labels).or_insert_with_key(|l| {
                    out.push(Series {
                        labels: l.clone(),
                        samples: Vec::new(),
                    });
                    counts.push(0.0);
                    out.len() - 1
                });
                if counts[o] == 0.0 {
                    touched.push(o);
                }
                counts[o] += 1.0;
            }
            for o in touched.drain(..) {
                out[o].samples.push(Sample::new(steps.ts(k), counts[o]));
                counts[o] = 0.0;
            }
        }
        return Ok(Val::Vector(out));
    }

    // groups, computed once per series
    let mut group_index: HashMap<Labels, usize> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let series_group: Vec<usize> = mat
        .iter()
        .map(|s| {
            *group_index
                .entry(group_of(&s.labels))
                .or_insert_with_key(|l| {
                    group_labels.push(l.clone());
                    group_labels.len() - 1
                })
        })
        .collect();
    let ng = group_labels.len();
    let mut accs: Vec<Acc> = vec![Acc::default(); ng];
    let mut seen = vec![false; ng];
    let mut order: Vec<usize> = Vec::new();
    let mut out: Vec<Series> = Vec::new();
    // output series: per group, or per input series for topk/bottomk
    let mut out_index: HashMap<usize, usize> = HashMap::new();
    let mut emit = |out: &mut Vec<Series>, key: usize, labels: &Labels, t: i64, v: f64| {
        let o = *out_index.entry(key).or_insert_with(|| {
            out.push(Series {
                labels: labels.clone(),
                samples: Vec::new(),
            });
            out.len() - 1
        });
        out[o].samples.push(Sample::new(t, v));
    };

    for (k, entries) in by_step.iter().enumerate() {
        let t = steps.ts(k);
        let topk_k = if op == "topk" || op == "bottomk" {
            let f = param[k];
            if !(f >= i64::MIN as f64 && f <= i64::MAX as f64) {
                return Err(Error::QueryExecution(format!(
                    "Scalar value {} overflows int64",
                    format_value(f)
                )));
            }
            let k = f as i64;
            if k < 1 {
                continue;
            }
            usize::try_from(k).unwrap_or(usize::MAX)
        } else {
            0
        };
        for &(i, v) in entries {
            ev.tick()?;
            let g = series_group[i];
            let acc = &mut accs[g];
            if !seen[g] {
                seen[g] = true;
                order.push(g);
                acc.value = v;
                acc.mean = v;
                acc.count = 1.0;
                acc.values.clear();
                acc.items.clear();
                match op {
                    "stddev" | "stdvar" => acc.value = 0.0,
                    "group" => acc.value = 1.0,
                    "quantile" => acc.values.push(v),
                    "topk" | "bottomk" => acc.items.push((i, v)),
                    _ => {}
                }
                continue;
            }
            match op {
                "sum" => acc.value += v,
                "avg" => {
                    acc.count += 1.0;
                    if acc.mean.is_infinite() {
                        if v.is_infinite() && (acc.mean > 0.0) == (v > 0.0) {
                            continue;
                        }
                        if !v.is_infinite() && !v.is_nan() {
                            continue;
                        }
                    }
                    acc.mean += v / acc.count - acc.mean / acc.count;
                }
                "max" if acc.value < v || acc.value.is_nan() => acc.value = v,
                "min" if acc.value > v || acc.value.is_nan() => acc.value = v,
                "count" => acc.count += 1.0,
                "stddev" | "stdvar" => {
                    acc.count += 1.0;
                    let delta = v - acc.mean;
                    acc.mean += delta / acc.count;
                    acc.value += delta * (v - acc.mean);
                }
                "quantile" => acc.values.push(v),
                "topk" | "bottomk" => acc.items.push((i, v)),
                _ => {}
            }
        }
        for g in order.drain(..) {
            seen[g] = false;
            let acc = &mut accs[g];
            let v = match op {
                "avg" => acc.mean,
                "count" => acc.count,
                "stdvar" => acc.value / acc.count,
                "stddev" => (acc.value / acc.count).sqrt(),
                "quantile" => quantile(param[k], &mut acc.values),
                "topk" | "bottomk" => {
                    let desc = op == "topk";
                    // the best first; NaN last either way
                    acc.items
                        .sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => b.1.total_cmp(&a.1),
                            _ => a.1.total_cmp(&b.1),
                        });
                    for &(i, v) in acc.items.iter().take(topk_k) {
                        emit(&mut out, i, &mat[i].labels, t, v);
                    }
                    continue;
                }
                _ => acc.value,
            };
            emit(&mut out, g, &group_labels[g], t, v);
        }
    }
    Ok(Val::Vector(out))
}
