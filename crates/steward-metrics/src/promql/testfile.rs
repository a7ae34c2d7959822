//! Runs PromQL test files in the format of Prometheus' own engine tests
//! (`promql/testdata/*.test`): `load`, `clear`, `eval instant at`,
//! `eval_fail`, `eval_ordered`, `#` comments.
//!
//! As Prometheus 2.42's harness does, every `eval` is checked several ways:
//! as an instant query; as a range query from one minute before to one
//! minute after, at its middle step (unless ordered); and, when the
//! expression has no function that depends on the evaluation time, again
//! with `@ <time>` added to every selector outside subqueries, at other
//! evaluation times, where it must give the same result.

mod series;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use promql_parser::parser::{AtModifier, Expr};
use regex::Regex;

use super::{Engine, EngineOptions, Value, duration_ms, parse, parse_duration};
use crate::storage::{MemoryStorage, Storage};
use crate::{Error, Labels, Result, Sample};
pub(crate) use series::parse_number;
pub use series::{SeqValue, parse_metric, parse_series_desc};

/// The outcome of one test file.
#[derive(Debug, Default)]
pub struct FileReport {
    /// Evaluations that passed.
    pub passed: usize,
    /// Evaluations that failed.
    pub failures: Vec<Failure>,
}

/// One failed evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The test file.
    pub file: String,
    /// The line of the `eval` command.
    pub line: usize,
    /// The expression.
    pub expr: String,
    /// What the file expects.
    pub expected: String,
    /// What the engine returned (and in which mode).
    pub got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}\n  expected: {}\n  got:      {}",
            self.file, self.line, self.expr, self.expected, self.got
        )
    }
}

/// Runs the test file at `path`.
pub fn run_file(path: &Path) -> Result<FileReport> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    run_str(&path.display().to_string(), &text)
}

/// What an `eval` expects.
#[derive(Debug, Default)]
struct Expectation {
    scalar: Option<f64>,
    /// Labels, value and 1-based position.
    samples: HashMap<Labels, (f64, usize)>,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.scalar {
            return f.write_str(&super::value::format_value(v));
        }
        let mut items: Vec<_> = self.samples.iter().collect();
        items.sort_by_key(|(_, (_, pos))| *pos);
        let items: Vec<String> = items
            .iter()
            .map(|(l, (v, _))| format!("{l} {}", super::value::format_value(*v)))
            .collect();
        write!(f, "[{}]", items.join(", "))
    }
}

struct EvalCmd {
    line: usize,
    expr: String,
    time_ms: i64,
    fail: bool,
    ordered: bool,
    expect: Expectation,
}

/// Runs a test file's text; `name` names it in failures and errors.
pub fn run_str(name: &str, text: &str) -> Result<FileReport> {
    let syntax = |line: usize, message: String| Error::TestFile {
        file: name.to_owned(),
        line,
        message,
    };
    let eval_re = Regex::new(r"^eval(?:_(fail|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .map_err(|e| syntax(0, e.to_string()))?;
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let storage = MemoryStorage::new();
    let engine = Engine::new(EngineOptions::default());
    let mut report = FileReport::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = i + 1;
        i += 1;
        if line.is_empty() {
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or("");
        if word == "clear" {
            storage.clear();
        } else if word == "load" {
            let arg = line["load".len()..].trim();
            let interval = parse_duration(arg)
                .map_err(|_| syntax(lineno, format!("invalid load interval {arg:?}")))?;
            let step = duration_ms(interval);
            // a series defined twice in one block keeps its last definition
            let mut defs: Vec<(Labels, Vec<series::SeqValue>)> = Vec::new();
            while i < lines.len() && !lines[i].is_empty() {
                let (labels, values) = parse_series_desc(lines[i]).map_err(|e| syntax(i + 1, e))?;
                match defs.iter_mut().find(|(l, _)| *l == labels) {
                    Some(d) => d.1 = values,
                    None => defs.push((labels, values)),
                }
                i += 1;
            }
            for (labels, values) in defs {
                let batch: Vec<(Labels, Sample)> = values
                    .iter()
                    .enumerate()
                    .filter_map(|(k, v)| {
                        v.map(|v| (labels.clone(), Sample::new(k as i64 * step, v)))
                    })
                    .collect();
                storage.append(&batch)?;
            }
        } else if let Some(c) = eval_re.captures(line) {
            let time_ms = match c.get(2) {
                Some(t) => duration_ms(
                    parse_duration(t.as_str())
                        .map_err(|_| syntax(lineno, format!("invalid time {:?}", t.as_str())))?,
                ),
                None => 0,
            };
            let mut cmd = EvalCmd {
                line: lineno,
                expr: c[3].to_owned(),
                time_ms,
                fail: c.get(1).is_some_and(|m| m.as_str() == "fail"),
                ordered: c.get(1).is_some_and(|m| m.as_str() == "ordered"),
                expect: Expectation::default(),
            };
            let mut pos = 0;
            // an `eval` line right after also ends the expectations
            while i < lines.len() && !lines[i].is_empty() && !eval_re.is_match(lines[i]) {
                let def = lines[i];
                i += 1;
                if let Some(v) = parse_number(def) {
                    cmd.expect.scalar = Some(v);
                    break;
                }
                let (labels, values) = parse_series_desc(def).map_err(|e| syntax(i, e))?;
                if values.len() != 1 {
                    return Err(syntax(
                        i,
                        "expected exactly one value in instant evaluation".into(),
                    ));
                }
                pos += 1;
                cmd.expect
                    .samples
                    .insert(labels, (values[0].unwrap_or(f64::NAN), pos));
            }
            match run_eval(&engine, &storage, &cmd) {
                Ok(()) => report.passed += 1,
                Err(got) => report.failures.push(Failure {
                    file: name.to_owned(),
                    line: cmd.line,
                    expr: cmd.expr.clone(),
                    expected: if cmd.fail {
                        "an error".into()
                    } else {
                        cmd.expect.to_string()
                    },
                    got,
                }),
            }
        } else {
            return Err(syntax(lineno, format!("invalid command {line:?}")));
        }
    }
    Ok(report)
}

/// The functions whose result depends on the evaluation time itself, so
/// pinning selectors with `@` would change the result.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

fn run_eval(engine: &Engine, storage: &dyn Storage, cmd: &EvalCmd) -> Result<(), String> {
    let expr = match parse::parse(&cmd.expr) {
        Ok(e) => e,
        Err(_) if cmd.fail => return Ok(()),
        Err(e) => return Err(format!("parse error: {e}")),
    };
    let mut cases = vec![(expr.clone(), cmd.time_ms, String::new())];
    let mut pinned = expr;
    let mut safe = true;
    pin_at(&mut pinned, cmd.time_ms, false, &mut safe);
    if safe {
        let ts = cmd.time_ms;
        let times = if ts == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * ts, 0, ts / 5, ts, 10 * ts]
        };
        for t in times {
            cases.push((pinned.clone(), t, format!(" (with @ {ts}ms, at {t}ms)")));
        }
    }
    for (expr, t, note) in cases {
        let res = engine.instant_expr(storage, &expr, t);
        if cmd.fail {
            if let Ok(r) = res {
                return Err(format!("no error but {}{note}", describe(&r.value)));
            }
            continue;
        }
        let r = res.map_err(|e| format!("error: {e}{note}"))?;
        compare(&cmd.expect, &r.value, cmd.ordered).map_err(|e| format!("{e}{note}"))?;
        if cmd.ordered {
            continue;
        }
        let range = engine
            .range_expr(storage, &expr, t - 60_000, t + 60_000, 60_000)
            .map_err(|e| format!("error in range mode: {e}{note}"))?;
        let Value::Matrix(mat) = range.value else {
            return Err(format!(
                "range mode returned {}{note}",
                range.value.type_name()
            ));
        };
        let at_t: Vec<super::VectorSample> = mat
            .into_iter()
            .filter_map(|s| {
                let p = s.samples.iter().find(|p| p.t == t)?;
                Some(super::VectorSample {
                    labels: s.labels,
                    t,
                    v: p.v,
                })
            })
            .collect();
        let got = match r.value {
            Value::Scalar { .. } => match at_t.first() {
                Some(s) => Value::Scalar { t, v: s.v },
                None => Value::Vector(Vec::new()),
            },
            _ => Value::Vector(at_t),
        };
        compare(&cmd.expect, &got, false).map_err(|e| format!("{e} in range mode{note}"))?;
    }
    Ok(())
}

/// Adds `@ t` to every selector and subquery without one, outside
/// subqueries; clears `safe` if a function depends on the evaluation time.
fn pin_at(expr: &mut Expr, t: i64, in_subquery: bool, safe: &mut bool) {
    let at = || {
        let d = Duration::from_millis(t.unsigned_abs());
        let st = if t >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(d)
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(d)
        };
        st.map(AtModifier::At)
    };
    match expr {
        Expr::Aggregate(a) => {
            if let Some(p) = a.param.as_deref_mut() {
                pin_at(p, t, in_subquery, safe);
            }
            pin_at(&mut a.expr, t, in_subquery, safe);
        }
        Expr::Unary(u) => pin_at(&mut u.expr, t, in_subquery, safe),
        Expr::Binary(b) => {
            pin_at(&mut b.lhs, t, in_subquery, safe);
            pin_at(&mut b.rhs, t, in_subquery, safe);
        }
        Expr::Paren(p) => pin_at(&mut p.expr, t, in_subquery, safe),
        Expr::Subquery(s) => {
            if !in_subquery && s.at.is_none() {
                s.at = at();
            }
            pin_at(&mut s.expr, t, true, safe);
        }
        Expr::VectorSelector(vs) => {
            if !in_subquery && vs.at.is_none() {
                vs.at = at();
            }
        }
        Expr::MatrixSelector(ms) => {
            if !in_subquery && ms.vs.at.is_none() {
                ms.vs.at = at();
            }
        }
        Expr::Call(c) => {
            if AT_UNSAFE.contains(&c.func.name) {
                *safe = false;
            }
            for a in &mut c.args.args {
                pin_at(a, t, in_subquery, safe);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// A result for a failure message.
fn describe(v: &Value) -> String {
    match v {
        Value::Scalar { v, .. } => format!("scalar {}", super::value::format_value(*v)),
        Value::String { v, .. } => format!("string {v:?}"),
        Value::Vector(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|s| format!("{} {}", s.labels, super::value::format_value(s.v)))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Matrix(m) => format!("a range vector of {} series", m.len()),
    }
}

/// Relative float comparison as Prometheus' harness does it.
pub(crate) fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 0.000_001;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / (a.abs() + b.abs()) < EPSILON
}

fn compare(exp: &Expectation, got: &Value, ordered: bool) -> Result<(), String> {
    match got {
        Value::Scalar { v, .. } => match exp.scalar {
            Some(e) if almost_equal(e, *v) => Ok(()),
            _ => Err(describe(got)),
        },
        Value::Vector(items) => {
            if exp.scalar.is_some() {
                return Err(describe(got));
            }
            let mut seen = std::collections::HashSet::new();
            for (pos, s) in items.iter().enumerate() {
                let Some((v, want_pos)) = exp.samples.get(&s.labels) else {
                    return Err(format!("{} (unexpected {})", describe(got), s.labels));
                };
                if ordered && *want_pos != pos + 1 {
                    return Err(format!(
                        "{} ({} at position {})",
                        describe(got),
                        s.labels,
                        pos + 1
                    ));
                }
                if !almost_equal(*v, s.v) {
                    return Err(describe(got));
                }
                seen.insert(&s.labels);
            }
            if seen.len() < exp.samples.len() {
                return Err(format!("{} (missing series)", describe(got)));
            }
            Ok(())
        }
        _ => Err(describe(got)),
    }
}

#[cfg(test)]
mod tests;
