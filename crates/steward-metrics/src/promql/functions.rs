//! PromQL functions of instant vectors and scalars; the functions of
//! range vectors are in [`range`].

mod date;
mod range;

use std::collections::HashMap;

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::aggregate::go_max;
use super::aggregate::go_min;
use super::eval::{Evaluator, Steps, Val, merge_same_labels, same_labelset, unwrap_parens};
use crate::labels::LabelsBuilder;
use crate::labels::METRIC_NAME;
use crate::storage::Series;
use crate::{Error, Labels, Result, Sample};

/// Evaluates a function call.
pub(crate) fn eval_call(ev: &mut Evaluator<'_>, call: &Call, steps: Steps) -> Result<Val> {
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let name = call.func.name;
    if let Some(v) = range::eval_range_call(ev, name, &args, steps)? {
        return Ok(v);
    }
    let arg = |i: usize| {
        args.get(i)
            .copied()
            .ok_or_else(|| Error::BadQuery(format!("missing argument {i} of {name}()")))
    };
    let n = steps.len();
    Ok(match name {
        "time" => Val::Scalar((0..n).map(|k| steps.ts(k) as f64 / 1000.0).collect()),
        "pi" => Val::Scalar(vec![std::f64::consts::PI; n]),
        "vector" => {
            let v = ev.eval_scalar(arg(0)?, steps)?;
            Val::Vector(vec![Series {
                labels: Labels::empty(),
                samples: v
                    .into_iter()
                    .enumerate()
                    .map(|(k, v)| Sample::new(steps.ts(k), v))
                    .collect(),
            }])
        }
        "scalar" => {
            let mat = ev.eval_vector(arg(0)?, steps)?;
            let mut count = vec![0u32; n];
            let mut value = vec![f64::NAN; n];
            for s in &mat {
                for p in &s.samples {
                    let k = steps.index(p.t);
                    count[k] += 1;
                    value[k] = p.v;
                }
            }
            Val::Scalar(
                count
                    .into_iter()
                    .zip(value)
                    .map(|(c, v)| if c == 1 { v } else { f64::NAN })
                    .collect(),
            )
        }
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month"
        | "hour" | "minute" => {
            let mat = match args.first() {
                Some(a) => ev.eval_vector(a, steps)?,
                None => vec![Series {
                    labels: Labels::empty(),
                    samples: (0..n)
                        .map(|k| Sample::new(steps.ts(k), steps.ts(k) as f64 / 1000.0))
                        .collect(),
                }],
            };
            Val::Vector(map_vector(mat, true, |v, _| {
                Some(date::date_part(name, v))
            })?)
        }
        "absent" => {
            let mat = ev.eval_vector(arg(0)?, steps)?;
            let mut present = vec![false; n];
            for s in &mat {
                for p in &s.samples {
                    present[steps.index(p.t)] = true;
                }
            }
            let samples: Vec<Sample> = (0..n)
                .filter(|k| !present[*k])
                .map(|k| Sample::new(steps.ts(k), 1.0))
                .collect();
            if samples.is_empty() {
                Val::Vector(Vec::new())
            } else {
                Val::Vector(vec![Series {
                    labels: absent_labels(arg(0)?),
                    samples,
                }])
            }
        }
        "sort" | "sort_desc" => {
            let mut mat = ev.eval_vector(arg(0)?, steps)?;
            // the order only means something for an instant query
            if n == 1 {
                let desc = name == "sort_desc";
                mat.sort_by(|a, b| {
                    let (x, y) = (a.samples[0].v, b.samples[0].v);
                    match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if desc => y.total_cmp(&x),
                        _ => x.total_cmp(&y),
                    }
                });
            }
            Val::Vector(mat)
        }
        "label_replace" => {
            let mat = ev.eval_vector(arg(0)?, steps)?;
            let dst = string_arg(arg(1)?)?;
            let repl = string_arg(arg(2)?)?;
            let src = string_arg(arg(3)?)?;
            let pattern = string_arg(arg(4)?)?;
            let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
                Error::QueryExecution(format!(
                    "invalid regular expression in label_replace(): {pattern}"
                ))
            })?;
            if !valid_label_name(&dst) {
                return Err(Error::QueryExecution(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            let mat = mat
                .into_iter()
                .map(|mut s| {
                    let value = s.labels.get(&src).unwrap_or("");
                    if let Some(caps) = re.captures(value) {
                        let mut res = String::new();
                        caps.expand(&repl, &mut res);
                        let mut b = s.labels.builder();
                        b.del(&dst);
                        if !res.is_empty() {
                            b.set(dst.as_str(), res);
                        }
                        s.labels = b.build();
                    }
                    s
                })
                .collect();
            Val::Vector(merge_same_labels(mat, |l| {
                Error::QueryExecution(format!(
                    "duplicated label set in output of label_replace(): {l}"
                ))
            })?)
        }
        "label_join" => {
            let mat = ev.eval_vector(arg(0)?, steps)?;
            let dst = string_arg(arg(1)?)?;
            let sep = string_arg(arg(2)?)?;
            let srcs = args[3.min(args.len())..]
                .iter()
                .map(|a| string_arg(a))
                .collect::<Result<Vec<_>>>()?;
            if let Some(bad) = srcs.iter().find(|s| !valid_label_name(s)) {
                return Err(Error::QueryExecution(format!(
                    "invalid source label name in label_join(): {bad}"
                )));
            }
            if !valid_label_name(&dst) {
                return Err(Error::QueryExecution(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            let mat = mat
                .into_iter()
                .map(|mut s| {
                    let joined = srcs
                        .iter()
                        .map(|l| s.labels.get(l).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(&sep);
                    let mut b = s.labels.builder();
                    b.set(dst.as_str(), joined);
                    s.labels = b.build();
                    s
                })
                .collect();
            Val::Vector(merge_same_labels(mat, |l| {
                Error::QueryExecution(format!(
                    "duplicated label set in output of label_join(): {l}"
                ))
            })?)
        }
        "timestamp" => {
            // of a selector, the samples' own times, not the step times
            if let Expr::VectorSelector(vs) = unwrap_parens(arg(0)?) {
                let mat = ev.vector_selector(vs, steps, true)?;
                Val::Vector(merge_same_labels(mat, |_| same_labelset())?)
            } else {
                let mat = ev.eval_vector(arg(0)?, steps)?;
                Val::Vector(map_vector(mat, true, |_, t| Some(t as f64 / 1000.0))?)
            }
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(0)?, steps)?;
            let mat = ev.eval_vector(arg(1)?, steps)?;
            Val::Vector(histogram_quantile(&q, &mat, steps)?)
        }
        "histogram_count" | "histogram_sum" | "histogram_fraction" => {
            // these read native histograms, which this store does not keep
            for a in &args {
                ev.eval(a, steps)?;
            }
            Val::Vector(Vec::new())
        }
        "clamp" | "clamp_min" | "clamp_max" | "round" => {
            let mat = ev.eval_vector(arg(0)?, steps)?;
            let a = match args.get(1) {
                Some(e) => ev.eval_scalar(e, steps)?,
                None => vec![1.0; n],
            };
            let b = match args.get(2) {
                Some(e) => ev.eval_scalar(e, steps)?,
                None => Vec::new(),
            };
            let f: Box<dyn Fn(f64, usize) -> Option<f64>> = match name {
                "clamp" => Box::new(|v, k| {
                    let (min, max) = (a[k], b[k]);
                    // NaN bounds give NaN, not nothing
                    (max.partial_cmp(&min) != Some(std::cmp::Ordering::Less))
                        .then(|| go_max(min, go_min(max, v)))
                }),
                "clamp_min" => Box::new(|v, k| Some(go_max(a[k], v))),
                "clamp_max" => Box::new(|v, k| Some(go_min(a[k], v))),
                _ => Box::new(|v, k| {
                    let inv = 1.0 / a[k];
                    Some((v * inv + 0.5).floor() / inv)
                }),
            };
            // a step of clamp() where max < min has no output at all
            Val::Vector(map_vector_at(mat, steps, true, f)?)
        }
        _ => match simple_fn(name) {
            Some(f) => {
                let mat = ev.eval_vector(arg(0)?, steps)?;
                Val::Vector(map_vector(mat, true, |v, _| Some(f(v)))?)
            }
            None => {
                return Err(Error::BadQuery(format!(
                    "unknown function with name {name:?}"
                )));
            }
        },
    })
}

/// The functions that map each value on its own.
fn simple_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Maps every point with `f(value, time)`, dropping the metric name if
/// asked; a label set produced twice at one step is an error.
pub(crate) fn map_vector(
    mat: Vec<Series>,
    drop_name: bool,
    mut f: impl FnMut(f64, i64) -> Option<f64>,
) -> Result<Vec<Series>> {
    let out = mat
        .into_iter()
        .filter_map(|s| {
            let samples: Vec<Sample> = s
                .samples
                .iter()
                .filter_map(|p| f(p.v, p.t).map(|v| Sample::new(p.t, v)))
                .collect();
            (!samples.is_empty()).then(|| Series {
                labels: if drop_name {
                    s.labels.without_metric_name()
                } else {
                    s.labels
                },
                samples,
            })
        })
        .collect();
    merge_same_labels(out, |_| same_labelset())
}

/// [`map_vector`] with the step index instead of the time.
fn map_vector_at(
    mat: Vec<Series>,
    steps: Steps,
    drop_name: bool,
    mut f: impl FnMut(f64, usize) -> Option<f64>,
) -> Result<Vec<Series>> {
    map_vector(mat, drop_name, |v, t| f(v, steps.index(t)))
}

/// A string literal argument.
fn string_arg(expr: &Expr) -> Result<String> {
    match unwrap_parens(expr) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(Error::QueryExecution(
            "expected a string literal argument".into(),
        )),
    }
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The labels `absent()` gives its result: those of the selector's
/// equality matchers, except names matched more than once or otherwise.
pub(crate) fn absent_labels(expr: &Expr) -> Labels {
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::default();
    let mut drop = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, promql_parser::label::MatchOp::Equal) && b.get(&m.name).is_none() {
            b.set(m.name.as_str(), m.value.as_str());
        } else {
            drop.push(m.name.as_str());
        }
    }
    for d in drop {
        b.del(d);
    }
    b.build()
}

/// `histogram_quantile(q, buckets)` over classic buckets (`le` labels).
fn histogram_quantile(q: &[f64], mat: &[Series], steps: Steps) -> Result<Vec<Series>> {
    // group the bucket series once: by their labels without `le`
    let mut groups: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    let mut members: Vec<Vec<(f64, &Series)>> = Vec::new();
    for s in mat {
        let Some(le) = s.labels.get("le").and_then(parse_go_float) else {
            continue;
        };
        let key = s.labels.drop_names(&["le"]);
        let g = *groups.entry(key).or_insert_with(|| {
            out.push(Series {
                labels: s.labels.drop_names(&["le", METRIC_NAME]),
                samples: Vec::new(),
            });
            members.push(Vec::new());
            out.len() - 1
        });
        members[g].push((le, s));
    }
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (g, series) in members.iter().enumerate() {
        // each member's points walk forward with the steps
        let mut cursors = vec![0usize; series.len()];
        for (k, &qk) in q.iter().enumerate().take(steps.len()) {
            let t = steps.ts(k);
            buckets.clear();
            for (i, (le, s)) in series.iter().enumerate() {
                if let Some(p) = s.samples.get(cursors[i])
                    && p.t == t
                {
                    buckets.push((*le, p.v));
                    cursors[i] += 1;
                }
            }
            if !buckets.is_empty() {
                let v = bucket_quantile(qk, &mut buckets);
                out[g].samples.push(Sample::new(t, v));
            }
        }
    }
    out.retain(|s| !s.samples.is_empty());
    merge_same_labels(out, |_| same_labelset())
}

/// A float as Go's `strconv.ParseFloat` reads a label value.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    s.parse().ok()
}

/// The quantile of classic buckets `(upper bound, cumulative count)`.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // coalesce buckets of the same bound
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(le, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += c,
            _ => merged.push((le, c)),
        }
    }
    // counts must not decrease (they may, from scrapes at different times)
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let last = merged.len() - 1;
    let b = merged[..last].partition_point(|b| b.1 < rank);
    if b == last {
        return merged[last - 1].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let mut start = 0.0;
    let end = merged[b].0;
    let mut count = merged[b].1;
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}
