//! Parsing PromQL in Prometheus 2.42's dialect.
//!
//! `promql-parser` follows Prometheus 3: it renamed `holt_winters` to
//! `double_exponential_smoothing` and knows functions, aggregations and
//! modifiers 2.42 does not have. The old name is registered as an extra
//! function of the same signature (the parser's own mechanism for
//! additional functions, so only a call of that name is affected), and a
//! walk over the tree refuses what 2.42 would not parse.

use std::sync::Once;

use promql_parser::parser::function::{Function, register_extra_functions};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};

use crate::{Error, Result};

/// The functions of Prometheus 2.42 (plus the Prometheus 3 name of
/// `holt_winters`).
const FUNCTIONS_2_42: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "exp",
    "floor",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_replace",
    "label_join",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

const AGGREGATIONS_2_42: &[&str] = &[
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
];

static REGISTER: Once = Once::new();

/// Parses `query` into an expression Prometheus 2.42 would accept.
pub(crate) fn parse(query: &str) -> Result<Expr> {
    REGISTER.call_once(|| {
        // the registry refuses only names that are built in, and
        // holt_winters is not one in a Prometheus 3 parser
        let _ = register_extra_functions(vec![Function::new(
            "holt_winters",
            vec![ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
            0,
            ValueType::Vector,
            false,
        )]);
    });
    let expr = parser::parse(query).map_err(|e| Error::BadQuery(format!("parse error: {e}")))?;
    check(&expr)?;
    Ok(expr)
}

fn unsupported(what: &str) -> Error {
    Error::BadQuery(format!("parse error: {what}"))
}

fn check_selector(vs: &parser::VectorSelector) -> Result<()> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(unsupported("unexpected \"or\" in label matching"));
    }
    Ok(())
}

/// Refuses the syntax Prometheus 2.42 does not know.
fn check(expr: &Expr) -> Result<()> {
    match expr {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS_2_42.contains(&op.as_str()) {
                return Err(unsupported(&format!("unknown aggregation {op:?}")));
            }
            if let Some(p) = &a.param {
                check(p)?;
            }
            check(&a.expr)
        }
        Expr::Unary(u) => check(&u.expr),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err(unsupported("unexpected fill modifier"));
            }
            check(&b.lhs)?;
            check(&b.rhs)
        }
        Expr::Paren(p) => check(&p.expr),
        Expr::Subquery(s) => check(&s.expr),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(vs) => check_selector(vs),
        Expr::MatrixSelector(ms) => check_selector(&ms.vs),
        Expr::Call(c) => {
            if !FUNCTIONS_2_42.contains(&c.func.name) {
                return Err(unsupported(&format!(
                    "unknown function with name {:?}",
                    c.func.name
                )));
            }
            c.args.args.iter().try_for_each(|a| check(a))
        }
        Expr::Extension(_) => Err(unsupported("unsupported expression")),
    }
}
