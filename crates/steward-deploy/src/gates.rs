//! Metric gates: checks of a new version against its metrics, run by
//! `verify_health` after the verify window and the smoke checks. The
//! monitoring crate provides PromQL gates through this trait; a failing
//! gate rolls the deployment back like a failing health check.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::ServiceSpec;

/// One gate over a service's metrics.
#[async_trait]
pub trait MetricGate: Send + Sync + 'static {
    /// A short name for messages, e.g. `error-rate < 1%`.
    fn name(&self) -> String;

    /// Checks `spec`'s service as it ran since `since` (the start of its
    /// update); `Err` says what the metrics showed.
    async fn check(&self, spec: &ServiceSpec, since: DateTime<Utc>) -> Result<(), String>;
}
