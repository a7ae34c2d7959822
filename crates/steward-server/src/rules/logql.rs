//! LogQL rules: the [`RuleQuerier`] of `[rules] log_files`, running each
//! expression as an instant LogQL metric query over the log store (as
//! Grafana Loki's ruler does). The rule manager does the rest as for
//! PromQL rules: recorded samples and `ALERTS` go to the metrics store,
//! alerts to the same sink, state changes to the journal.

use steward_logs::{
    LogStore,
    logql::{self, Engine, QueryResult},
};
use steward_metrics::Labels;
use steward_rules::RuleQuerier;

/// Runs rule expressions as LogQL over the log store.
#[derive(Debug, Clone)]
pub struct LogQlQuerier {
    store: LogStore,
    engine: Engine,
}

impl LogQlQuerier {
    /// A querier over `store` with `engine`'s limits.
    pub fn new(store: LogStore, engine: Engine) -> Self {
        LogQlQuerier { store, engine }
    }
}

impl RuleQuerier for LogQlQuerier {
    fn language(&self) -> &'static str {
        "logql"
    }

    fn instant(&self, expr: &str, ts_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
        let parsed = logql::parse(expr).map_err(|err| err.to_string())?;
        let t_ns = ts_ms.saturating_mul(1_000_000);
        match self
            .engine
            .query_instant(&self.store, &parsed, t_ns)
            .map_err(|err| err.to_string())?
        {
            QueryResult::Vector(samples) => Ok(samples
                .into_iter()
                .map(|sample| (sample.labels, sample.value))
                .collect()),
            QueryResult::Scalar(_, value) => Ok(vec![(Labels::empty(), value)]),
            QueryResult::Streams(_) | QueryResult::Matrix(_) => {
                Err("rule result is not a vector or scalar".into())
            }
        }
    }

    fn check(&self, expr: &str) -> Result<(), String> {
        check_logql(expr)
    }
}

/// Why `expr` cannot be a LogQL rule's expression (a metric query), in
/// the words put after the rule's name.
pub fn check_logql(expr: &str) -> Result<(), String> {
    let parsed = logql::parse(expr).map_err(|err| format!("could not parse expression: {err}"))?;
    match parsed.is_metric() {
        true => Ok(()),
        false => Err(format!(
            "{expr} is a log query, not a metric query: a LogQL rule needs a metric query such as count_over_time({{service=\"x\"}} |= \"error\" [5m])"
        )),
    }
}

/// The LogQL of rule files without a store: it checks expressions
/// (`steward rules check --logql`) and evaluates none.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogQlSyntax;

impl RuleQuerier for LogQlSyntax {
    fn language(&self) -> &'static str {
        "logql"
    }

    fn instant(&self, _expr: &str, _ts_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
        Err("a syntax check evaluates no expression".into())
    }

    fn check(&self, expr: &str) -> Result<(), String> {
        check_logql(expr)
    }
}

#[cfg(test)]
mod tests;
