//! The evaluator: walks the expression tree once for all the steps of a
//! query, as Prometheus' engine does.
//!
//! An instant-vector node evaluates to a list of series whose points sit
//! at the step times (a series absent at a step has no point there); a
//! scalar node to one value per step. Selectors read their data from the
//! store once for the whole query; subqueries evaluate their inner
//! expression once over all the inner steps any outer step needs.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use promql_parser::parser::{self, AtModifier, Expr, Offset};

use super::{DEFAULT_SUBQUERY_STEP_MS, aggregate, binary, duration_ms, functions};
use crate::labels::METRIC_NAME;
use crate::matcher::{MatchOp, Matcher};
use crate::storage::{Series, Storage};
use crate::{Error, Labels, Result, Sample, is_stale_nan};

/// The evaluation times of a node: `start`, `start + step`, ... `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Steps {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) step: i64,
}

impl Steps {
    /// The number of steps.
    pub(crate) fn len(&self) -> usize {
        usize::try_from((self.end - self.start) / self.step + 1).unwrap_or(0)
    }

    /// The time of step `i`.
    pub(crate) fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// The step at time `t` (a time of one of the steps).
    pub(crate) fn index(&self, t: i64) -> usize {
        usize::try_from((t - self.start) / self.step).unwrap_or(0)
    }
}

/// The value of a node.
#[derive(Debug)]
pub(crate) enum Val {
    /// Series with points at step times.
    Vector(Vec<Series>),
    /// One value per step.
    Scalar(Vec<f64>),
    /// A string literal.
    Str(String),
    /// Raw samples of a range selector or subquery (top level of an
    /// instant query only).
    Range(Vec<Series>),
}

impl Val {
    fn points(&self) -> usize {
        match self {
            Val::Vector(m) | Val::Range(m) => m.iter().map(|s| s.samples.len()).sum(),
            Val::Scalar(v) => v.len(),
            Val::Str(_) => 0,
        }
    }
}

/// The data of a range argument (`x[5m]` or a subquery) and how to cut it
/// into windows per step.
pub(crate) struct RangeInput {
    /// The series with their samples (staleness markers removed).
    pub(crate) series: Vec<Series>,
    /// The range (ms).
    pub(crate) range: i64,
    /// The offset (ms).
    pub(crate) offset: i64,
    /// The `@` time (ms), if any.
    pub(crate) at: Option<i64>,
}

impl RangeInput {
    /// The end of the window of the step at `ts` (inclusive).
    pub(crate) fn window_end(&self, ts: i64) -> i64 {
        self.at.unwrap_or(ts) - self.offset
    }
}

/// The samples of `samples` in `[end - range, end]` (Prometheus 2.42 ranges
/// include both ends).
pub(crate) fn window(samples: &[Sample], end: i64, range: i64) -> &[Sample] {
    let lo = samples.partition_point(|s| s.t < end - range);
    let hi = samples.partition_point(|s| s.t <= end);
    if lo >= hi { &[] } else { &samples[lo..hi] }
}

/// The state of one query's evaluation.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Storage,
    pub(crate) lookback: i64,
    max_samples: usize,
    samples: usize,
    deadline: Option<Instant>,
    ticks: u32,
    query_start: i64,
    query_end: i64,
    warnings: Vec<String>,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        storage: &'a dyn Storage,
        lookback: i64,
        max_samples: usize,
        deadline: Option<Instant>,
        query_start: i64,
        query_end: i64,
    ) -> Self {
        Self {
            storage,
            lookback,
            max_samples,
            samples: 0,
            deadline,
            ticks: 0,
            query_start,
            query_end,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn check_deadline(&self) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                Err(Error::QueryTimeout("expression evaluation".into()))
            }
            _ => Ok(()),
        }
    }

    /// Called in inner loops: checks the deadline now and then.
    pub(crate) fn tick(&mut self) -> Result<()> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(128) {
            self.check_deadline()?;
        }
        Ok(())
    }

    /// Counts `n` more samples held in memory.
    pub(crate) fn acquire(&mut self, n: usize) -> Result<()> {
        self.samples += n;
        if self.samples > self.max_samples {
            return Err(Error::TooManySamples("query execution".into()));
        }
        Ok(())
    }

    /// Forgets `n` samples counted by [`acquire`](Self::acquire).
    pub(crate) fn release(&mut self, n: usize) {
        self.samples = self.samples.saturating_sub(n);
    }

    /// Evaluates `expr` at `steps`.
    pub(crate) fn eval(&mut self, expr: &Expr, steps: Steps) -> Result<Val> {
        self.check_deadline()?;
        let before = self.samples;
        let v = self.eval_node(expr, steps)?;
        // the children's samples are gone now; only the result is held
        self.samples = before;
        self.acquire(v.points())?;
        Ok(v)
    }

    fn eval_node(&mut self, expr: &Expr, steps: Steps) -> Result<Val> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; steps.len()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, steps),
            Expr::Unary(u) => match self.eval(&u.expr, steps)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(mut mat) => {
                    for s in &mut mat {
                        s.labels = s.labels.without_metric_name();
                        for p in &mut s.samples {
                            p.v = -p.v;
                        }
                    }
                    if contains_same_labelset(&mat) {
                        return Err(same_labelset());
                    }
                    Ok(Val::Vector(mat))
                }
                _ => Err(Error::QueryExecution(
                    "unary expression only allowed on expressions of type scalar or instant vector"
                        .into(),
                )),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.vector_selector(vs, steps, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let ri = self.range_input(expr, steps)?;
                let end = ri.window_end(steps.start);
                let mat = ri
                    .series
                    .into_iter()
                    .filter_map(|s| {
                        let w = window(&s.samples, end, ri.range).to_vec();
                        (!w.is_empty()).then_some(Series {
                            labels: s.labels,
                            samples: w,
                        })
                    })
                    .collect();
                Ok(Val::Range(mat))
            }
            Expr::Call(c) => functions::eval_call(self, c, steps),
            Expr::Aggregate(a) => aggregate::eval_aggregate(self, a, steps),
            Expr::Binary(b) => binary::eval_binary(self, b, steps),
            Expr::Extension(_) => Err(Error::BadQuery("unsupported expression".into())),
        }
    }

    /// The time of an `@` modifier (ms).
    pub(crate) fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        Some(match at.as_ref()? {
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
            AtModifier::At(t) => system_time_ms(*t),
        })
    }

    /// Evaluates a vector selector; with `timestamps`, the values are the
    /// samples' times in seconds and the metric name is dropped (what
    /// `timestamp()` of a selector returns).
    pub(crate) fn vector_selector(
        &mut self,
        vs: &parser::VectorSelector,
        steps: Steps,
        timestamps: bool,
    ) -> Result<Vec<Series>> {
        let offset = offset_ms(&vs.offset);
        let at = self.at_ms(&vs.at);
        let matchers = to_matchers(vs)?;
        let n = steps.len();
        let (lo, hi) = match at {
            Some(a) => (a - offset, a - offset),
            None => (steps.start - offset, steps.end - offset),
        };
        let selected = self
            .storage
            .select(&matchers, lo.saturating_sub(self.lookback), hi)?;
        let mut out = Vec::with_capacity(selected.len());
        let value = |p: &Sample| if timestamps { p.t as f64 / 1000.0 } else { p.v };
        for s in selected {
            self.tick()?;
            let mut pts = Vec::new();
            if let Some(a) = at {
                let te = a - offset;
                let j = s.samples.partition_point(|p| p.t <= te);
                if j > 0 {
                    let p = s.samples[j - 1];
                    if p.t >= te - self.lookback && !is_stale_nan(p.v) {
                        pts = (0..n)
                            .map(|k| Sample::new(steps.ts(k), value(&p)))
                            .collect();
                    }
                }
            } else {
                let mut j = 0;
                for k in 0..n {
                    let ts = steps.ts(k);
                    let te = ts - offset;
                    while j < s.samples.len() && s.samples[j].t <= te {
                        j += 1;
                    }
                    if j > 0 {
                        let p = s.samples[j - 1];
                        if p.t >= te - self.lookback && !is_stale_nan(p.v) {
                            pts.push(Sample::new(ts, value(&p)));
                        }
                    }
                }
            }
            if !pts.is_empty() {
                self.acquire(pts.len())?;
                let labels = if timestamps {
                    s.labels.without_metric_name()
                } else {
                    s.labels
                };
                out.push(Series {
                    labels,
                    samples: pts,
                });
            }
        }
        Ok(out)
    }

    /// The data of a range argument: a range selector or a subquery
    /// (possibly in parentheses).
    pub(crate) fn range_input(&mut self, expr: &Expr, steps: Steps) -> Result<RangeInput> {
        match unwrap_parens(expr) {
            Expr::MatrixSelector(ms) => {
                let range = duration_ms(ms.range);
                let offset = offset_ms(&ms.vs.offset);
                let at = self.at_ms(&ms.vs.at);
                let (lo, hi) = match at {
                    Some(a) => (a - offset, a - offset),
                    None => (steps.start - offset, steps.end - offset),
                };
                let matchers = to_matchers(&ms.vs)?;
                let mut series = self.storage.select(&matchers, lo - range, hi)?;
                for s in &mut series {
                    s.samples.retain(|p| !is_stale_nan(p.v));
                }
                series.retain(|s| !s.samples.is_empty());
                Ok(RangeInput {
                    series,
                    range,
                    offset,
                    at,
                })
            }
            Expr::Subquery(sq) => {
                let range = duration_ms(sq.range);
                let offset = offset_ms(&sq.offset);
                let at = self.at_ms(&sq.at);
                let step = match sq.step.map(duration_ms) {
                    Some(s) if s > 0 => s,
                    _ => DEFAULT_SUBQUERY_STEP_MS,
                };
                let (lo, hi) = match at {
                    Some(a) => (a - offset, a - offset),
                    None => (steps.start - offset, steps.end - offset),
                };
                // the first inner step is the first multiple of the step
                // at or after the earliest time any window starts
                let first = (lo - range).div_euclid(step) * step;
                let first = if first < lo - range {
                    first + step
                } else {
                    first
                };
                let series = if first > hi {
                    Vec::new()
                } else {
                    let inner = Steps {
                        start: first,
                        end: hi,
                        step,
                    };
                    match self.eval(&sq.expr, inner)? {
                        Val::Vector(m) => m,
                        Val::Scalar(v) => vec![Series {
                            labels: Labels::empty(),
                            samples: v
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| Sample::new(inner.ts(i), v))
                                .collect(),
                        }],
                        _ => {
                            return Err(Error::QueryExecution(
                                "subquery is only allowed on instant vector".into(),
                            ));
                        }
                    }
                };
                Ok(RangeInput {
                    series,
                    range,
                    offset,
                    at,
                })
            }
            _ => Err(Error::QueryExecution(
                "expected a range vector (a range selector or a subquery)".into(),
            )),
        }
    }

    /// Evaluates an argument that must be a scalar (one value per step).
    pub(crate) fn eval_scalar(&mut self, expr: &Expr, steps: Steps) -> Result<Vec<f64>> {
        match self.eval(expr, steps)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(Error::QueryExecution("expected a scalar argument".into())),
        }
    }

    /// Evaluates an argument that must be an instant vector.
    pub(crate) fn eval_vector(&mut self, expr: &Expr, steps: Steps) -> Result<Vec<Series>> {
        match self.eval(expr, steps)? {
            Val::Vector(m) => Ok(m),
            _ => Err(Error::QueryExecution(
                "expected an instant vector argument".into(),
            )),
        }
    }
}

/// `expr` without enclosing parentheses.
pub(crate) fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// Milliseconds of an offset (negative for `offset -5m`).
pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => -duration_ms(*d),
        None => 0,
    }
}

fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => duration_ms(d),
        Err(e) => -duration_ms(e.duration()),
    }
}

/// The store's matchers for a selector. Regular expressions are the
/// parser's, compiled as Prometheus 2 does (`.` does not match a newline).
pub(crate) fn to_matchers(vs: &parser::VectorSelector) -> Result<Vec<Matcher>> {
    use promql_parser::label::MatchOp as P;
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::equal(METRIC_NAME, name.as_str()));
    }
    for m in &vs.matchers.matchers {
        out.push(match &m.op {
            P::Equal => Matcher::equal(m.name.as_str(), m.value.as_str()),
            P::NotEqual => Matcher::new(MatchOp::NotEqual, m.name.as_str(), m.value.as_str())?,
            P::Re(re) => Matcher::with_regex(
                MatchOp::Regex,
                m.name.as_str(),
                m.value.as_str(),
                re.clone(),
            ),
            P::NotRe(re) => Matcher::with_regex(
                MatchOp::NotRegex,
                m.name.as_str(),
                m.value.as_str(),
                re.clone(),
            ),
        });
    }
    Ok(out)
}

/// Prometheus' error for two series with the same labels in one result.
pub(crate) fn same_labelset() -> Error {
    Error::QueryExecution("vector cannot contain metrics with the same labelset".into())
}

/// Whether two series of `mat` have the same labels.
pub(crate) fn contains_same_labelset(mat: &[Series]) -> bool {
    if mat.len() < 2 {
        return false;
    }
    let mut seen = std::collections::HashSet::with_capacity(mat.len());
    mat.iter().any(|s| !seen.insert(&s.labels))
}

/// Merges series with equal labels (as an operation that changed labels
/// may produce); two points of one label set at the same step are an
/// error, `err` says which.
pub(crate) fn merge_same_labels(
    mat: Vec<Series>,
    err: impl Fn(&Labels) -> Error,
) -> Result<Vec<Series>> {
    if !contains_same_labelset(&mat) {
        return Ok(mat);
    }
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(mat.len());
    let mut out: Vec<Series> = Vec::with_capacity(mat.len());
    for s in mat {
        match index.get(&s.labels) {
            Some(&i) => {
                let merged = &mut out[i];
                merged.samples.extend(s.samples);
                merged.samples.sort_by_key(|p| p.t);
                if merged.samples.windows(2).any(|w| w[0].t == w[1].t) {
                    return Err(err(&merged.labels));
                }
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}
