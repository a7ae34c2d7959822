//! The store's own metrics: operation latency and journal appends.

use prometheus::{HistogramOpts, HistogramVec, IntCounter, Registry};

/// Metrics recorded by the store; cheap to clone (shared counters).
#[derive(Clone)]
pub(crate) struct StoreMetrics {
    pub(crate) operation_seconds: HistogramVec,
    pub(crate) journal_appends: IntCounter,
}

impl StoreMetrics {
    pub(crate) fn new() -> Self {
        let operation_seconds = HistogramVec::new(
            HistogramOpts::new(
                "steward_store_operation_duration_seconds",
                "Latency of state database operations, by operation.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["operation"],
        )
        .expect("valid histogram definition");
        let journal_appends = IntCounter::new(
            "steward_journal_appends_total",
            "Events appended to the journal.",
        )
        .expect("valid counter definition");
        StoreMetrics {
            operation_seconds,
            journal_appends,
        }
    }

    pub(crate) fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.operation_seconds.clone()))?;
        registry.register(Box::new(self.journal_appends.clone()))
    }
}
