//! Binary operators: arithmetic, comparisons (with `bool`), `atan2` and
//! the set operators, with Prometheus' vector matching (`on`, `ignoring`,
//! `group_left`, `group_right`).
//!
//! Matching signatures are computed once per series and interned to small
//! integers, so a step's matching is array lookups; the labels of a result
//! are computed once per matched pair of series, not per step.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{Evaluator, Steps, Val, merge_same_labels, same_labelset};
use crate::labels::METRIC_NAME;
use crate::storage::Series;
use crate::{Error, Labels, Result, Sample};

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Whether the operator's result loses the metric name (in 2.42 `atan2`
/// keeps it: it is not one of the arithmetic operators there).
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

/// The value of `l op r` and whether a comparison keeps the element.
fn elem(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

/// Evaluates a binary expression.
pub(crate) fn eval_binary(ev: &mut Evaluator<'_>, b: &BinaryExpr, steps: Steps) -> Result<Val> {
    let op = b.op.to_string();
    let op = op.as_str();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, steps)?;
    let rhs = ev.eval(&b.rhs, steps)?;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.into_iter()
                .zip(r)
                .map(|(l, r)| {
                    let (v, keep) = elem(op, l, r);
                    if is_comparison(op) {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(m), Val::Scalar(s)) => {
            vector_scalar(m, &s, op, false, return_bool, steps).map(Val::Vector)
        }
        (Val::Scalar(s), Val::Vector(m)) => {
            vector_scalar(m, &s, op, true, return_bool, steps).map(Val::Vector)
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let m = Matching::new(b);
            if matches!(op, "and" | "or" | "unless") {
                set_op(ev, op, l, r, &m, steps).map(Val::Vector)
            } else {
                vector_vector(ev, op, l, r, &m, return_bool, steps).map(Val::Vector)
            }
        }
        _ => Err(Error::QueryExecution(format!(
            "invalid operand types for binary operator {op:?}"
        ))),
    }
}

fn vector_scalar(
    mat: Vec<Series>,
    s: &[f64],
    op: &str,
    swap: bool,
    return_bool: bool,
    steps: Steps,
) -> Result<Vec<Series>> {
    let drop = drops_name(op) || return_bool;
    let cmp = is_comparison(op);
    let out = mat
        .into_iter()
        .filter_map(|series| {
            let samples: Vec<Sample> = series
                .samples
                .iter()
                .filter_map(|p| {
                    let sv = s[steps.index(p.t)];
                    let (l, r) = if swap { (sv, p.v) } else { (p.v, sv) };
                    let (mut v, mut keep) = elem(op, l, r);
                    // a comparison keeps the vector's value whichever side it is on
                    if cmp && swap {
                        v = r;
                    }
                    if return_bool {
                        v = if keep { 1.0 } else { 0.0 };
                        keep = true;
                    }
                    keep.then_some(Sample::new(p.t, v))
                })
                .collect();
            (!samples.is_empty()).then(|| Series {
                labels: if drop {
                    series.labels.without_metric_name()
                } else {
                    series.labels
                },
                samples,
            })
        })
        .collect();
    merge_same_labels(out, |_| same_labelset())
}

/// How two vectors are matched.
struct Matching {
    on: bool,
    labels: Vec<String>,
    card: Card,
    include: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Matching {
    fn new(b: &BinaryExpr) -> Self {
        let (on, labels) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let (card, include) = match b.modifier.as_ref().map(|m| &m.card) {
            Some(VectorMatchCardinality::ManyToOne(l)) => (Card::ManyToOne, l.labels.clone()),
            Some(VectorMatchCardinality::OneToMany(l)) => (Card::OneToMany, l.labels.clone()),
            Some(VectorMatchCardinality::ManyToMany) => (Card::ManyToMany, Vec::new()),
            Some(VectorMatchCardinality::OneToOne) | None => (Card::OneToOne, Vec::new()),
        };
        Self {
            on,
            labels,
            card,
            include,
        }
    }

    /// The labels two series must share to match.
    fn signature(&self, l: &Labels) -> Labels {
        if self.on {
            l.keep(&self.labels)
        } else {
            let mut drop: Vec<&str> = self.labels.iter().map(String::as_str).collect();
            drop.push(METRIC_NAME);
            l.drop_names(&drop)
        }
    }
}

/// Interns the signatures of both sides to small integers.
fn signatures(
    m: &Matching,
    lhs: &[Series],
    rhs: &[Series],
) -> (Vec<usize>, Vec<usize>, Vec<Labels>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut names: Vec<Labels> = Vec::new();
    let mut intern = |s: &Series| {
        *index.entry(m.signature(&s.labels)).or_insert_with_key(|k| {
            names.push(k.clone());
            names.len() - 1
        })
    };
    let l = lhs.iter().map(&mut intern).collect();
    let r = rhs.iter().map(&mut intern).collect();
    (l, r, names)
}

/// The samples of each step as `(series, value)`, in series order.
fn by_step(mat: &[Series], steps: Steps) -> Vec<Vec<(usize, f64)>> {
    let mut out = vec![Vec::new(); steps.len()];
    for (i, s) in mat.iter().enumerate() {
        for p in &s.samples {
            out[steps.index(p.t)].push((i, p.v));
        }
    }
    out
}

fn set_op(
    ev: &mut Evaluator<'_>,
    op: &str,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    m: &Matching,
    steps: Steps,
) -> Result<Vec<Series>> {
    let (lsig, rsig, names) = signatures(m, &lhs, &rhs);
    let (lsteps, rsteps) = (by_step(&lhs, steps), by_step(&rhs, steps));
    let nl = lhs.len();
    let mut out: Vec<Series> = lhs
        .into_iter()
        .chain(rhs)
        .map(|s| Series {
            labels: s.labels,
            samples: Vec::new(),
        })
        .collect();
    // stamp[sig] == k + 1: the signature is present on the other side at step k
    let mut stamp = vec![0usize; names.len()];
    for k in 0..steps.len() {
        ev.tick()?;
        let t = steps.ts(k);
        let (ls, rs) = (&lsteps[k], &rsteps[k]);
        let mut push = |i: usize, v: f64| out[i].samples.push(Sample::new(t, v));
        match op {
            "and" => {
                if ls.is_empty() || rs.is_empty() {
                    continue;
                }
                for &(j, _) in rs {
                    stamp[rsig[j]] = k + 1;
                }
                for &(i, v) in ls {
                    if stamp[lsig[i]] == k + 1 {
                        push(i, v);
                    }
                }
            }
            "or" => {
                for &(i, v) in ls {
                    stamp[lsig[i]] = k + 1;
                    push(i, v);
                }
                for &(j, v) in rs {
                    if stamp[rsig[j]] != k + 1 {
                        push(nl + j, v);
                    }
                }
            }
            _ => {
                // unless
                for &(j, _) in rs {
                    stamp[rsig[j]] = k + 1;
                }
                for &(i, v) in ls {
                    if stamp[lsig[i]] != k + 1 {
                        push(i, v);
                    }
                }
            }
        }
    }
    out.retain(|s| !s.samples.is_empty());
    merge_same_labels(out, |_| same_labelset())
}

fn vector_vector(
    ev: &mut Evaluator<'_>,
    op: &str,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    m: &Matching,
    return_bool: bool,
    steps: Steps,
) -> Result<Vec<Series>> {
    if m.card == Card::ManyToMany {
        return Err(Error::QueryExecution(
            "many-to-many only allowed for set operators".into(),
        ));
    }
    // for one-to-many, the "one" side goes right and values are swapped back
    let swapped = m.card == Card::OneToMany;
    let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let (lsig, rsig, names) = signatures(m, &lhs, &rhs);
    let (lsteps, rsteps) = (by_step(&lhs, steps), by_step(&rhs, steps));
    let mut slot_stamp = vec![0usize; names.len()];
    let mut slot: Vec<(usize, f64)> = vec![(0, 0.0); names.len()];
    let mut matched_stamp = vec![0usize; names.len()];
    let mut inserted: HashSet<(usize, usize)> = HashSet::new();
    let mut pair_out: HashMap<(usize, usize), usize> = HashMap::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    let drop = drops_name(op);
    for k in 0..steps.len() {
        ev.tick()?;
        let t = steps.ts(k);
        let (ls, rs) = (&lsteps[k], &rsteps[k]);
        if ls.is_empty() || rs.is_empty() {
            continue;
        }
        for &(j, v) in rs {
            let sig = rsig[j];
            if slot_stamp[sig] == k + 1 {
                let other = &rhs[slot[sig].0].labels;
                return Err(Error::QueryExecution(format!(
                    "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    names[sig],
                    if swapped { "left" } else { "right" },
                    rhs[j].labels,
                    other
                )));
            }
            slot_stamp[sig] = k + 1;
            slot[sig] = (j, v);
        }
        inserted.clear();
        for &(i, v) in ls {
            let sig = lsig[i];
            if slot_stamp[sig] != k + 1 {
                continue;
            }
            let (j, rv) = slot[sig];
            let (vl, vr) = if swapped { (rv, v) } else { (v, rv) };
            let (mut value, keep) = elem(op, vl, vr);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let o = match pair_out.get(&(i, j)) {
                Some(&o) => o,
                None => {
                    let labels =
                        result_labels(&lhs[i].labels, &rhs[j].labels, m, drop || return_bool);
                    let o = *out_index.entry(labels).or_insert_with_key(|l| {
                        out.push(Series {
                            labels: l.clone(),
                            samples: Vec::new(),
                        });
                        out.len() - 1
                    });
                    pair_out.insert((i, j), o);
                    o
                }
            };
            if m.card == Card::OneToOne {
                if matched_stamp[sig] == k + 1 {
                    return Err(Error::QueryExecution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                matched_stamp[sig] = k + 1;
            } else if !inserted.insert((sig, o)) {
                return Err(Error::QueryExecution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
            let samples = &mut out[o].samples;
            if samples.last().is_some_and(|p| p.t == t) {
                return Err(same_labelset());
            }
            samples.push(Sample::new(t, value));
        }
    }
    Ok(out)
}

/// The labels of a matched pair's result: the "many" side's labels, less
/// the name for arithmetic, narrowed to the matching labels for one-to-one
/// matching, plus the `group_x(...)` labels of the "one" side.
fn result_labels(l: &Labels, r: &Labels, m: &Matching, drop_name: bool) -> Labels {
    let mut b = l.builder();
    if drop_name {
        b.del(METRIC_NAME);
    }
    if m.card == Card::OneToOne {
        if m.on {
            b.retain(|lab| m.labels.contains(&lab.name));
        } else {
            for n in &m.labels {
                b.del(n);
            }
        }
    }
    for n in &m.include {
        match r.get(n) {
            Some(v) => b.set(n.as_str(), v),
            None => b.del(n),
        };
    }
    b.build()
}
