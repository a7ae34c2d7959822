//! Where PromQL gates and canary analyses read metrics: a small trait
//! that the server implements over the metrics collector's engine (so
//! that this crate does not depend on the metrics crate), and that engine
//! tests implement with values of their own.

use std::collections::BTreeMap;

use async_trait::async_trait;

/// One sample of an instant query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    /// Its labels (none for a scalar).
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

impl MetricSample {
    /// A sample without labels.
    pub fn value(value: f64) -> Self {
        MetricSample {
            labels: BTreeMap::new(),
            value,
        }
    }
}

/// Evaluates PromQL.
#[async_trait]
pub trait MetricSource: Send + Sync + 'static {
    /// The result of `expr` evaluated now: a vector's samples, or one
    /// sample for a scalar; `Err` says why it cannot be evaluated.
    async fn query(&self, expr: &str) -> Result<Vec<MetricSample>, String>;
}

/// One value of a result: the mean of its samples that are numbers;
/// `None` when there are none.
pub(crate) fn one_value(samples: &[MetricSample]) -> Option<f64> {
    let values: Vec<f64> = samples
        .iter()
        .map(|sample| sample.value)
        .filter(|value| !value.is_nan())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// A short form of a value for messages.
pub(crate) fn show(value: f64) -> String {
    if value == 0.0 || (value.abs() >= 0.001 && value.abs() < 1e6) {
        format!("{}", (value * 1e4).round() / 1e4)
    } else {
        format!("{value:.3e}")
    }
}
