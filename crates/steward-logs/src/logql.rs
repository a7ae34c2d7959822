//! LogQL, Grafana Loki's query language: a hand-written parser and an
//! engine that runs queries over a [`LogSource`](crate::LogSource).
//!
//! - [`parse`] turns a query into an [`Expr`] (a log query or a metric
//!   query) with its regular expressions and templates compiled; errors
//!   name the column. `Expr`'s `Display` is the canonical text.
//! - [`Engine`] runs it: [`Engine::query_range`] (streams for a log
//!   query, a matrix for a metric query), [`Engine::query_instant`] (a
//!   vector or a scalar), [`Engine::query_logs`].
//! - [`QueryResult::to_json`] renders Loki's API `data` object.
//!
//! ```
//! use steward_logs::logql::{self, Direction, Engine, RangeParams};
//! use steward_logs::{Entry, MemorySource, PushStream};
//! use steward_metrics::Labels;
//!
//! let source = MemorySource::new();
//! source.push(vec![PushStream {
//!     labels: Labels::from_pairs([("service", "api")]),
//!     entries: vec![Entry::new(1_000, "level=error msg=boom"), Entry::new(2_000, "level=info msg=ok")],
//! }]);
//! let expr = logql::parse(r#"{service="api"} | logfmt | level="error""#).unwrap();
//! let params = RangeParams { start: 0, end: 10_000, step: 1, limit: 100, direction: Direction::Backward };
//! let result = Engine::default().query_range(&source, &expr, &params).unwrap();
//! assert_eq!(result.to_json()["result"][0]["values"][0][1], "level=error msg=boom");
//! ```

mod ast;
mod eval;
mod lexer;
mod parser;
mod pipeline;
mod result;
mod units;
mod vector;

pub use ast::{
    BinOp, Binary, CmpOp, Conversion, Expr, GroupSide, Grouping, JsonPath, JsonStep, LabelFilter,
    LabelFormat, LabelRef, LabelReplace, LineFilter, LineFilterOp, LogExpr, MetricExpr, Pattern,
    PatternPart, RangeAgg, RangeOp, Regexp, Stage, Template, Unwrap, VectorAgg, VectorMatching,
    VectorOp,
};
pub use eval::{Direction, Engine, RangeParams};
pub use result::{QueryResult, Sample, Series, Stream};

use steward_metrics::Matcher;

use crate::Result;

/// `text` as a LogQL string literal (double-quoted, escaped as Go and
/// JSON strings are, which LogQL's lexer reads back unchanged): what
/// builds a selector or a line filter from a value.
pub fn string_literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Parses a LogQL query. Errors are [`Error::InvalidQuery`](crate::Error::InvalidQuery)
/// saying what was expected at which column (1-based, in characters).
pub fn parse(query: &str) -> Result<Expr> {
    parser::parse(query)
}

impl Expr {
    /// Whether this is a metric query (samples) rather than a log query (lines).
    pub fn is_metric(&self) -> bool {
        matches!(self, Expr::Metric(_))
    }

    /// The stream selectors the query reads, in the order written (a
    /// metric query may have several, e.g. both sides of a division).
    pub fn selectors(&self) -> Vec<&[Matcher]> {
        fn walk<'a>(e: &'a MetricExpr, out: &mut Vec<&'a [Matcher]>) {
            match e {
                MetricExpr::Range(r) => out.push(&r.log.selector),
                MetricExpr::Vector(v) => walk(&v.inner, out),
                MetricExpr::Binary(b) => {
                    walk(&b.lhs, out);
                    walk(&b.rhs, out);
                }
                MetricExpr::LabelReplace(l) => walk(&l.inner, out),
                MetricExpr::Number(_) | MetricExpr::VectorOf(_) => {}
            }
        }
        let mut out = Vec::new();
        match self {
            Expr::Log(l) => out.push(l.selector.as_slice()),
            Expr::Metric(m) => walk(m, &mut out),
        }
        out
    }
}

#[cfg(test)]
mod tests;
