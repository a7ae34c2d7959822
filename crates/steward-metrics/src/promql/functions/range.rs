//! The functions of range vectors (`rate`, `*_over_time`...): each is a
//! computation over the samples of one series in one window.

use promql_parser::parser::Expr;

use super::absent_labels;
use crate::promql::aggregate::quantile;
use crate::promql::eval::{
    Evaluator, RangeInput, Steps, Val, merge_same_labels, same_labelset, unwrap_parens, window,
};
use crate::storage::Series;
use crate::{Error, Result, Sample};

/// Where a window sits: the step time and the window's bounds (ms).
#[derive(Clone, Copy)]
struct Ctx {
    ts: i64,
    start: i64,
    end: i64,
    range: i64,
}

/// Evaluates `name` if it is a function of a range vector.
pub(super) fn eval_range_call(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    steps: Steps,
) -> Result<Option<Val>> {
    let (range_at, scalar_at): (usize, &[usize]) = match name {
        "quantile_over_time" => (1, &[0]),
        "predict_linear" => (0, &[1]),
        "holt_winters" | "double_exponential_smoothing" => (0, &[1, 2]),
        "rate" | "increase" | "delta" | "irate" | "idelta" | "deriv" | "changes" | "resets"
        | "avg_over_time" | "count_over_time" | "sum_over_time" | "min_over_time"
        | "max_over_time" | "last_over_time" | "present_over_time" | "stddev_over_time"
        | "stdvar_over_time" | "absent_over_time" => (0, &[]),
        _ => return Ok(None),
    };
    let missing = || Error::BadQuery(format!("wrong number of arguments to {name}()"));
    let mut scalars = Vec::with_capacity(scalar_at.len());
    for &i in scalar_at {
        scalars.push(ev.eval_scalar(args.get(i).ok_or_else(missing)?, steps)?);
    }
    let range_expr = *args.get(range_at).ok_or_else(missing)?;
    let ri = ev.range_input(range_expr, steps)?;
    if name == "absent_over_time" {
        return absent_over_time(ev, &ri, range_expr, steps).map(|m| Some(Val::Vector(m)));
    }
    let s0 = scalars.first().cloned().unwrap_or_default();
    let s1 = scalars.get(1).cloned().unwrap_or_default();
    let mut err = None;
    let f = |w: &[Sample], c: Ctx, k: usize| -> Option<f64> {
        match name {
            "rate" => extrapolated_rate(w, c, true, true),
            "increase" => extrapolated_rate(w, c, true, false),
            "delta" => extrapolated_rate(w, c, false, false),
            "irate" => instant_value(w, true),
            "idelta" => instant_value(w, false),
            "deriv" => (w.len() >= 2).then(|| linear_regression(w, w[0].t).0),
            "predict_linear" => (w.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(w, c.ts);
                slope * s0[k] + intercept
            }),
            "holt_winters" | "double_exponential_smoothing" => {
                let (sf, tf) = (s0[k], s1[k]);
                if sf <= 0.0 || sf >= 1.0 {
                    err.get_or_insert_with(|| {
                        format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}")
                    });
                    return None;
                }
                if tf <= 0.0 || tf >= 1.0 {
                    err.get_or_insert_with(|| {
                        format!("invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}")
                    });
                    return None;
                }
                holt_winters(w, sf, tf)
            }
            "changes" => Some(
                w.windows(2)
                    .filter(|p| p[0].v != p[1].v && !(p[0].v.is_nan() && p[1].v.is_nan()))
                    .count() as f64,
            ),
            "resets" => Some(w.windows(2).filter(|p| p[1].v < p[0].v).count() as f64),
            "avg_over_time" => Some(avg(w)),
            "count_over_time" => Some(w.len() as f64),
            "sum_over_time" => Some(w.iter().map(|p| p.v).sum()),
            "min_over_time" => Some(
                w.iter()
                    .fold(w[0].v, |m, p| if p.v < m || m.is_nan() { p.v } else { m }),
            ),
            "max_over_time" => Some(
                w.iter()
                    .fold(w[0].v, |m, p| if p.v > m || m.is_nan() { p.v } else { m }),
            ),
            "last_over_time" => Some(w[w.len() - 1].v),
            "present_over_time" => Some(1.0),
            "stddev_over_time" => Some(variance(w).sqrt()),
            "stdvar_over_time" => Some(variance(w)),
            "quantile_over_time" => {
                let mut values: Vec<f64> = w.iter().map(|p| p.v).collect();
                Some(quantile(s0[k], &mut values))
            }
            _ => None,
        }
    };
    let out = over_windows(ev, &ri, steps, name == "last_over_time", f)?;
    if let Some(e) = err {
        return Err(Error::QueryExecution(e));
    }
    Ok(Some(Val::Vector(out)))
}

/// Calls `f` on every non-empty window of every series.
fn over_windows(
    ev: &mut Evaluator<'_>,
    ri: &RangeInput,
    steps: Steps,
    keep_name: bool,
    mut f: impl FnMut(&[Sample], Ctx, usize) -> Option<f64>,
) -> Result<Vec<Series>> {
    let n = steps.len();
    let mut out = Vec::new();
    for s in &ri.series {
        let mut pts = Vec::new();
        for k in 0..n {
            ev.tick()?;
            let ts = steps.ts(k);
            let end = ri.window_end(ts);
            let w = window(&s.samples, end, ri.range);
            if w.is_empty() {
                continue;
            }
            // the window's samples are held while the function runs
            ev.acquire(w.len())?;
            ev.release(w.len());
            let c = Ctx {
                ts,
                start: end - ri.range,
                end,
                range: ri.range,
            };
            if let Some(v) = f(w, c, k) {
                pts.push(Sample::new(ts, v));
            }
        }
        if !pts.is_empty() {
            ev.acquire(pts.len())?;
            out.push(Series {
                labels: if keep_name {
                    s.labels.clone()
                } else {
                    s.labels.without_metric_name()
                },
                samples: pts,
            });
        }
    }
    merge_same_labels(out, |_| same_labelset())
}

/// `absent_over_time`: 1 at the steps where no series has a sample in
/// its window.
fn absent_over_time(
    ev: &mut Evaluator<'_>,
    ri: &RangeInput,
    expr: &Expr,
    steps: Steps,
) -> Result<Vec<Series>> {
    let n = steps.len();
    let mut present = vec![false; n];
    for s in &ri.series {
        for (k, p) in present.iter_mut().enumerate() {
            ev.tick()?;
            if !*p && !window(&s.samples, ri.window_end(steps.ts(k)), ri.range).is_empty() {
                *p = true;
            }
        }
    }
    let samples: Vec<Sample> = (0..n)
        .filter(|k| !present[*k])
        .map(|k| Sample::new(steps.ts(k), 1.0))
        .collect();
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    // the labels come from a range selector only, not from a subquery
    let labels = match unwrap_parens(expr) {
        e @ Expr::MatrixSelector(_) => absent_labels(e),
        _ => crate::Labels::empty(),
    };
    Ok(vec![Series { labels, samples }])
}

/// `rate`, `increase` and `delta`: the change over the window, corrected
/// for counter resets and extrapolated towards the window's bounds.
fn extrapolated_rate(w: &[Sample], c: Ctx, is_counter: bool, is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = 0.0;
        for p in w {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
    }
    let mut to_start = (first.t - c.start) as f64 / 1000.0;
    let to_end = (c.end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_step = sampled / (w.len() - 1) as f64;
    if is_counter && result > 0.0 && first.v >= 0.0 {
        // a counter does not go below zero: extrapolate no further back
        // than where it would have been zero
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_step * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_step / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_step / 2.0
    };
    result *= interval / sampled;
    if is_rate {
        result /= c.range as f64 / 1000.0;
    }
    Some(result)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(w: &[Sample], is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (prev, last) = (w[w.len() - 2], w[w.len() - 1]);
    let mut result = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Kahan-Neumaier summation step.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Least-squares slope and intercept (at `intercept_t`) of the samples.
fn linear_regression(w: &[Sample], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init = w[0].v;
    let mut const_y = true;
    for (i, p) in w.iter().enumerate() {
        if const_y && i > 0 && p.v != init {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Double exponential smoothing of the window.
fn holt_winters(w: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, w[0].v);
    let mut b = w[1].v - w[0].v;
    for (i, p) in w.iter().enumerate().skip(1) {
        let x = sf * p.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// The mean, computed incrementally so that large values do not overflow.
fn avg(w: &[Sample]) -> f64 {
    let (mut mean, mut count) = (0.0f64, 0.0);
    for p in w {
        count += 1.0;
        if mean.is_infinite() {
            if p.v.is_infinite() && (mean > 0.0) == (p.v > 0.0) {
                continue;
            }
            if !p.v.is_infinite() && !p.v.is_nan() {
                continue;
            }
        }
        mean += p.v / count - mean / count;
    }
    mean
}

/// The population variance (Welford with compensated sums).
fn variance(w: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in w {
        count += 1.0;
        let delta = p.v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (p.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}
