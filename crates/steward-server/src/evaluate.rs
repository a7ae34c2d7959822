//! PromQL instant queries over steward's own metrics store for what the
//! server computes besides the query API (the AlertManager's enrichment,
//! an incident's impact): on a blocking thread, as the query API
//! evaluates them, within a budget that is also the engine's deadline, so
//! that a slow query is left out rather than delaying its caller, and an
//! abandoned one does not run on for long.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};

use steward_metrics::{
    MetricsCollector,
    promql::{Engine, EngineOptions, Value},
};

/// Each expression's value at `at_ms`, for those evaluated within
/// `budget` (failing ones are left out and logged at debug level).
pub(crate) async fn instant_values(
    metrics: &MetricsCollector,
    exprs: BTreeSet<String>,
    at_ms: i64,
    budget: Duration,
) -> HashMap<String, Value> {
    if exprs.is_empty() {
        return HashMap::new();
    }
    let engine = Engine::new(EngineOptions {
        timeout: budget,
        ..metrics.engine().options().clone()
    });
    let storage = Arc::clone(metrics.storage());
    let deadline = std::time::Instant::now() + budget;
    let evaluate = tokio::task::spawn_blocking(move || {
        let mut out = HashMap::new();
        for expr in exprs {
            if std::time::Instant::now() >= deadline {
                break;
            }
            match engine.instant_query(storage.as_ref(), &expr, at_ms) {
                Ok(result) => {
                    out.insert(expr, result.value);
                }
                Err(err) => {
                    tracing::debug!(error = %err, %expr, "the expression failed");
                }
            }
        }
        out
    });
    match tokio::time::timeout(budget, evaluate).await {
        Ok(Ok(values)) => values,
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "the evaluation stopped");
            HashMap::new()
        }
        Err(_) => {
            tracing::debug!(?budget, "expressions too slow, values left out");
            HashMap::new()
        }
    }
}

/// One number from a value: a scalar, or the sum of an instant vector's
/// samples (none when the vector is empty).
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Scalar { v, .. } => Some(*v),
        Value::Vector(samples) if !samples.is_empty() => Some(samples.iter().map(|s| s.v).sum()),
        _ => None,
    }
}
