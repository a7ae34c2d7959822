//! The query language of a group's expressions. Rule files are
//! PromQL over the metrics store unless the group carries another
//! [`RuleQuerier`]: the server passes one running LogQL over its log
//! store for `[rules] log_files` (Loki's ruler takes the same file
//! format, and `count_over_time({a="b"}[1m])` is valid in both
//! languages, so the language comes from which files a group is read
//! from, never from its text). Whatever the language, rules evaluate,
//! record and alert the same way: recorded samples and `ALERTS` go to
//! the metrics store, alerts to the manager's sink.

use steward_metrics::Labels;

/// Runs and checks rule expressions in one query language.
pub trait RuleQuerier: Send + Sync + std::fmt::Debug {
    /// The language's name (`logql`): a group read in another language
    /// is a different group at a reload.
    fn language(&self) -> &'static str;

    /// Runs `expr` at `ts_ms`: an instant vector, or a scalar as one
    /// sample without labels.
    fn instant(&self, expr: &str, ts_ms: i64) -> Result<Vec<(Labels, f64)>, String>;

    /// Why `expr` cannot be a rule's expression, in the words put after
    /// `group "g", rule 1, "name": ` (a rule file's validation).
    fn check(&self, expr: &str) -> Result<(), String>;
}

/// The language of groups without a querier of their own.
pub const PROMQL: &str = "promql";

/// Why `expr` cannot be a PromQL rule's expression (promtool's words).
pub fn check_promql(expr: &str) -> Result<(), String> {
    steward_metrics::promql::format_query(expr)
        .map(|_| ())
        .map_err(|e| format!("could not parse expression: {e}"))
}

#[cfg(test)]
mod tests;
