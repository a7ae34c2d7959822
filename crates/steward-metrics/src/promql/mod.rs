//! The PromQL engine: Prometheus 2.42 query semantics over any [`Storage`].
//!
//! Queries are parsed with `promql-parser` (which follows Prometheus 3; see
//! [`parse`] for how the 2.42 dialect is restored) and evaluated by
//! [`eval`] the way Prometheus' engine does: every node is evaluated once
//! over all the steps of the query, so a selector reads its data once per
//! query whatever the number of steps.
//!
//! - [`Engine::instant_query`] and [`Engine::range_query`] are what the HTTP
//!   API and the CLI call;
//! - [`testfile`] runs Prometheus' `.test` files (the conformance suite).

mod aggregate;
mod binary;
mod eval;

pub(crate) use eval::to_matchers;
mod functions;
mod parse;
pub mod testfile;
mod value;

use std::time::{Duration, Instant};

pub use value::{QueryResult, Value, VectorSample, format_value};

use crate::storage::Storage;
use crate::{Error, Result};
use eval::{Evaluator, Steps, Val};

/// Limits and defaults of an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus'
    /// `--query.lookback-delta`, 5 minutes by default).
    pub lookback_delta: Duration,
    /// How long one query may run (`--query.timeout`, 2 minutes).
    pub timeout: Duration,
    /// How many samples one query may hold in memory at once
    /// (`--query.max-samples`, 50 million).
    pub max_samples: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
        }
    }
}

/// The PromQL engine. Stateless apart from its options: one engine serves
/// any number of concurrent queries.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

/// The step of subqueries written without one (`x[5m:]`): Prometheus uses
/// the global evaluation interval, 1 minute by default.
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

impl Engine {
    /// An engine with these options.
    pub fn new(opts: EngineOptions) -> Self {
        Self { opts }
    }

    /// The options the engine runs with.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `time_ms` (milliseconds since the epoch).
    pub fn instant_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult> {
        let expr = parse::parse(query)?;
        self.instant_expr(storage, &expr, time_ms)
    }

    /// Evaluates `query` at every `step_ms` from `start_ms` to `end_ms`.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult> {
        let expr = parse::parse(query)?;
        self.range_expr(storage, &expr, start_ms, end_ms, step_ms)
    }

    fn evaluator<'a>(&self, storage: &'a dyn Storage, start: i64, end: i64) -> Evaluator<'a> {
        Evaluator::new(
            storage,
            duration_ms(self.opts.lookback_delta),
            self.opts.max_samples,
            Instant::now().checked_add(self.opts.timeout),
            start,
            end,
        )
    }

    pub(crate) fn instant_expr(
        &self,
        storage: &dyn Storage,
        expr: &promql_parser::parser::Expr,
        time_ms: i64,
    ) -> Result<QueryResult> {
        let mut ev = self.evaluator(storage, time_ms, time_ms);
        let steps = Steps {
            start: time_ms,
            end: time_ms,
            step: 1,
        };
        let value = match ev.eval(expr, steps)? {
            Val::Scalar(v) => Value::Scalar {
                t: time_ms,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { t: time_ms, v: s },
            Val::Vector(mat) => Value::Vector(
                mat.into_iter()
                    .filter_map(|s| {
                        let p = s.samples.first().copied()?;
                        Some(VectorSample {
                            labels: s.labels,
                            t: p.t,
                            v: p.v,
                        })
                    })
                    .collect(),
            ),
            Val::Range(mat) => Value::Matrix(mat),
        };
        Ok(QueryResult {
            value,
            warnings: ev.take_warnings(),
        })
    }

    pub(crate) fn range_expr(
        &self,
        storage: &dyn Storage,
        expr: &promql_parser::parser::Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult> {
        if step_ms <= 0 {
            return Err(Error::BadQuery(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(Error::BadQuery(
                "end timestamp must not be before start time".into(),
            ));
        }
        let mut ev = self.evaluator(storage, start_ms, end_ms);
        let steps = Steps {
            start: start_ms,
            end: end_ms,
            step: step_ms,
        };
        let mut mat = match ev.eval(expr, steps)? {
            Val::Scalar(v) => vec![crate::storage::Series {
                labels: crate::Labels::empty(),
                samples: v
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| crate::Sample::new(steps.ts(i), v))
                    .collect(),
            }],
            Val::Vector(mat) => mat,
            Val::Str(_) => {
                return Err(Error::BadQuery(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
            Val::Range(_) => {
                return Err(Error::BadQuery(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
        };
        mat.retain(|s| !s.samples.is_empty());
        mat.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult {
            value: Value::Matrix(mat),
            warnings: ev.take_warnings(),
        })
    }
}

/// Pretty-prints a query (`/api/v1/format_query`).
pub fn format_query(query: &str) -> Result<String> {
    Ok(parse::parse(query)?.prettify())
}

/// Parses a Prometheus duration (`1h30m`, `15s`, `2d`, `100ms`) or a number
/// of seconds (`1.5`), as Prometheus' HTTP API accepts both.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::BadQuery(format!("cannot parse {s:?} to a valid duration"));
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<f64>() {
        if !(0.0..=9.2e15).contains(&secs) {
            return Err(bad());
        }
        return Ok(Duration::from_secs_f64(secs));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    // units must come in this order, each at most once
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let pos = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?;
        let mult = UNITS[next_unit + pos].1;
        next_unit += pos + 1;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(Duration::from_millis(total))
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
