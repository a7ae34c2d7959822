//! Rules as the engine runs them: recording rules (here) and alerting
//! rules ([`alerting`]), with what both share: the query, the health of the
//! last evaluation.

pub mod alerting;

use std::time::Duration;

use steward_metrics::promql::{Engine, Value};
use steward_metrics::storage::Storage;
use steward_metrics::{Labels, Sample};

use crate::rulefmt::RuleNode;
pub use alerting::{Alert, AlertState, AlertingRule};

/// The health of a rule after its last evaluation (Prometheus' words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    #[default]
    Unknown,
    /// The last evaluation succeeded.
    Good,
    /// The last evaluation failed.
    Bad,
}

impl Health {
    /// `unknown`, `ok` or `err`, as Prometheus' API says.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Good => "ok",
            Health::Bad => "err",
        }
    }
}

/// What every rule keeps about its last evaluation.
#[derive(Debug, Clone, Default)]
pub struct EvalStatus {
    /// The health after the last evaluation.
    pub health: Health,
    /// The last evaluation's error.
    pub last_error: Option<String>,
    /// When it was last evaluated (the evaluation timestamp, ms).
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation took.
    pub evaluation_duration: Duration,
}

/// What a rule's evaluation may read: the store, the engine, and what
/// alert templates see.
#[derive(Clone, Copy)]
pub struct EvalEnv<'a> {
    /// The store queried (and later written).
    pub storage: &'a dyn Storage,
    /// The PromQL engine.
    pub engine: &'a Engine,
    /// Runs the expressions instead of the PromQL engine (a group's
    /// [`RuleQuerier`](crate::RuleQuerier), e.g. LogQL); results are
    /// still written to `storage`.
    pub querier: Option<&'a dyn crate::RuleQuerier>,
    /// Expands alert labels and annotations.
    pub expander: &'a dyn crate::AnnotationExpander,
    /// The external labels templates see as `$externalLabels`.
    pub external_labels: &'a Labels,
}

/// Runs `expr` at `ts_ms`: an instant vector, or a scalar as one sample
/// without labels; anything else is an error, as in Prometheus. The
/// env's querier runs it when there is one, else the PromQL engine.
pub(crate) fn query(
    env: &EvalEnv<'_>,
    expr: &str,
    ts_ms: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    if let Some(querier) = env.querier {
        return querier.instant(expr, ts_ms);
    }
    let res = env
        .engine
        .instant_query(env.storage, expr, ts_ms)
        .map_err(|e| e.to_string())?;
    match res.value {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v)]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

/// A recording rule: writes its expression's result under a new name.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// The series name written.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// Labels set on every result.
    pub labels: Labels,
    /// The last evaluation.
    pub status: EvalStatus,
}

impl RecordingRule {
    /// The samples to write at `ts_ms`.
    pub fn eval(
        &self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, Sample)>, String> {
        let vector = query(env, &self.expr, ts_ms)?;
        let mut out = Vec::with_capacity(vector.len());
        let mut seen = std::collections::HashSet::new();
        for (labels, v) in vector {
            let mut b = labels.builder();
            b.set("__name__", self.name.as_str());
            for l in &self.labels {
                b.set(l.name.as_str(), l.value.as_str());
            }
            let labels = b.build();
            if !seen.insert(labels.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push((labels, Sample::new(ts_ms, v)));
        }
        if limit > 0 && out.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }
}

/// A rule of either kind.
#[derive(Debug, Clone)]
pub enum Rule {
    /// A recording rule.
    Recording(RecordingRule),
    /// An alerting rule.
    Alerting(AlertingRule),
}

impl Rule {
    /// The rule built from its (validated) description.
    pub fn from_node(node: &RuleNode) -> Self {
        let labels = Labels::from_pairs(node.labels.clone());
        match &node.alert {
            Some(alert) if !alert.is_empty() => Rule::Alerting(AlertingRule::new(
                alert.clone(),
                node.expr.clone(),
                node.for_.map_or(0, |d| d.0),
                node.keep_firing_for.map_or(0, |d| d.0),
                labels,
                node.annotations.clone().into_iter().collect(),
            )),
            _ => Rule::Recording(RecordingRule {
                name: node.record.clone().unwrap_or_default(),
                expr: node.expr.clone(),
                labels,
                status: EvalStatus::default(),
            }),
        }
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.name,
            Rule::Alerting(a) => &a.name,
        }
    }

    /// The rule's expression.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.expr,
            Rule::Alerting(a) => &a.expr,
        }
    }

    /// The rule's labels (as written, before expansion).
    pub fn labels(&self) -> &Labels {
        match self {
            Rule::Recording(r) => &r.labels,
            Rule::Alerting(a) => &a.labels,
        }
    }

    /// The last evaluation.
    pub fn status(&self) -> &EvalStatus {
        match self {
            Rule::Recording(r) => &r.status,
            Rule::Alerting(a) => &a.status,
        }
    }

    pub(crate) fn status_mut(&mut self) -> &mut EvalStatus {
        match self {
            Rule::Recording(r) => &mut r.status,
            Rule::Alerting(a) => &mut a.status,
        }
    }

    /// The name and labels: how a reload matches a rule to its old self.
    pub(crate) fn identity(&self) -> String {
        format!("{}{}", self.name(), self.labels())
    }
}
