//! The remote storage's own metrics, rendered in the text format so steward
//! scrapes them with its own (job `steward`) and the server can add them
//! to `/metrics`.
//!
//! Named as Prometheus' `prometheus_remote_storage_*` with a `steward_`
//! prefix instead (so a dashboard cannot mistake steward for a Prometheus),
//! labelled `remote_name` and `url` as Prometheus labels them:
//!
//! - `steward_remote_storage_samples_total`: samples the remote end took;
//! - `steward_remote_storage_failed_samples_total`: samples dropped after
//!   an unrecoverable answer (4xx other than a retried 429);
//! - `steward_remote_storage_retried_samples_total`: samples sent again
//!   after a recoverable failure (5xx, 429, network);
//! - `steward_remote_storage_samples_dropped_total{reason}`: samples never
//!   sent: `relabel` (write relabelling), `out_of_order` (older than one
//!   already queued for the series), `queue_size` (the queue outgrew
//!   `max_disk_size`), `enqueue_error` (the queue could not be written);
//! - `steward_remote_storage_samples_pending`: queued, not yet sent;
//! - `steward_remote_storage_shards`, `_shards_min`, `_shards_max`: the
//!   shards of the last round and the bounds;
//! - `steward_remote_storage_bytes_total`: compressed bytes sent;
//! - `steward_remote_storage_queue_highest_sent_timestamp_seconds`.
//!
//! The receiving side counts in [`ReceiveStats`]:
//! `steward_remote_write_received_samples_total` and
//! `steward_remote_write_rejected_samples_total{reason}` (`out_of_order`,
//! `duplicate`, `out_of_bounds`: Prometheus' append errors).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::queue::Queue;

/// The counters of one remote write destination.
#[derive(Debug, Default)]
pub struct RemoteStats {
    /// Samples sent and accepted.
    pub samples: AtomicU64,
    /// Samples dropped after an unrecoverable error.
    pub failed: AtomicU64,
    /// Samples retried.
    pub retried: AtomicU64,
    /// Samples dropped by write relabelling.
    pub dropped_relabel: AtomicU64,
    /// Samples not queued: older than the series' last queued sample.
    pub dropped_out_of_order: AtomicU64,
    /// Samples not queued: the queue could not be written.
    pub dropped_enqueue: AtomicU64,
    /// Compressed bytes sent.
    pub bytes: AtomicU64,
    /// Shards of the last round.
    pub shards: AtomicU64,
    /// The highest timestamp (ms) of a sample sent.
    pub highest_sent_ms: AtomicI64,
}

/// The values of one family for one destination, with their `reason`.
type Values<'a> = &'a dyn Fn(&RemoteMetrics) -> Vec<(Option<&'static str>, f64)>;

/// One destination's metrics source: its names and counters and its queue.
#[derive(Debug, Clone)]
pub struct RemoteMetrics {
    /// `remote_name`.
    pub name: String,
    /// `url`.
    pub url: String,
    /// The counters.
    pub stats: Arc<RemoteStats>,
    /// The queue (pending and dropped samples).
    pub queue: Arc<Queue>,
    /// `min_shards`.
    pub min_shards: u64,
    /// `max_shards`.
    pub max_shards: u64,
}

/// The receiving side's counters.
#[derive(Debug, Default)]
pub struct ReceiveStats {
    /// Samples stored from remote write requests.
    pub received: AtomicU64,
    /// Samples refused as out of order.
    pub out_of_order: AtomicU64,
    /// Samples refused as duplicates with another value.
    pub duplicate: AtomicU64,
    /// Samples refused as too old.
    pub out_of_bounds: AtomicU64,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text exposition of the destinations' metrics.
pub fn render(remotes: &[RemoteMetrics]) -> String {
    let mut out = String::new();
    if remotes.is_empty() {
        return out;
    }
    let family = |out: &mut String, name: &str, kind: &str, help: &str, value: Values<'_>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for r in remotes {
            for (reason, v) in value(r) {
                let extra = reason.map_or(String::new(), |x| format!(",reason=\"{x}\""));
                let _ = writeln!(
                    out,
                    "{name}{{remote_name=\"{}\",url=\"{}\"{extra}}} {v}",
                    escape(&r.name),
                    escape(&r.url)
                );
            }
        }
    };
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    family(
        &mut out,
        "steward_remote_storage_samples_total",
        "counter",
        "Samples sent to the remote storage and accepted.",
        &|r| vec![(None, load(&r.stats.samples))],
    );
    family(
        &mut out,
        "steward_remote_storage_failed_samples_total",
        "counter",
        "Samples dropped after an unrecoverable error from the remote storage.",
        &|r| vec![(None, load(&r.stats.failed))],
    );
    family(
        &mut out,
        "steward_remote_storage_retried_samples_total",
        "counter",
        "Samples sent again after a recoverable error.",
        &|r| vec![(None, load(&r.stats.retried))],
    );
    family(
        &mut out,
        "steward_remote_storage_samples_dropped_total",
        "counter",
        "Samples never sent to the remote storage, by reason.",
        &|r| {
            vec![
                (Some("relabel"), load(&r.stats.dropped_relabel)),
                (Some("out_of_order"), load(&r.stats.dropped_out_of_order)),
                (Some("queue_size"), r.queue.dropped() as f64),
                (Some("enqueue_error"), load(&r.stats.dropped_enqueue)),
            ]
        },
    );
    family(
        &mut out,
        "steward_remote_storage_samples_pending",
        "gauge",
        "Samples queued on disk and not yet sent.",
        &|r| vec![(None, r.queue.pending() as f64)],
    );
    family(
        &mut out,
        "steward_remote_storage_shards",
        "gauge",
        "Shards the last round of sending used.",
        &|r| vec![(None, load(&r.stats.shards))],
    );
    family(
        &mut out,
        "steward_remote_storage_shards_min",
        "gauge",
        "The fewest shards a round uses.",
        &|r| vec![(None, r.min_shards as f64)],
    );
    family(
        &mut out,
        "steward_remote_storage_shards_max",
        "gauge",
        "The most shards a round uses.",
        &|r| vec![(None, r.max_shards as f64)],
    );
    family(
        &mut out,
        "steward_remote_storage_bytes_total",
        "counter",
        "Compressed bytes of the requests sent.",
        &|r| vec![(None, load(&r.stats.bytes))],
    );
    family(
        &mut out,
        "steward_remote_storage_queue_highest_sent_timestamp_seconds",
        "gauge",
        "The highest timestamp of a sample the remote storage accepted.",
        &|r| {
            vec![(
                None,
                r.stats.highest_sent_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            )]
        },
    );
    out
}

/// The text exposition of the receiving side's counters.
pub fn render_receive(stats: &ReceiveStats) -> String {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP steward_remote_write_received_samples_total Samples stored from remote write requests.\n# TYPE steward_remote_write_received_samples_total counter\nsteward_remote_write_received_samples_total {}",
        load(&stats.received)
    );
    let _ = writeln!(
        out,
        "# HELP steward_remote_write_rejected_samples_total Samples of remote write requests the store refused, by reason.\n# TYPE steward_remote_write_rejected_samples_total counter"
    );
    for (reason, v) in [
        ("out_of_order", load(&stats.out_of_order)),
        ("duplicate", load(&stats.duplicate)),
        ("out_of_bounds", load(&stats.out_of_bounds)),
    ] {
        let _ = writeln!(
            out,
            "steward_remote_write_rejected_samples_total{{reason=\"{reason}\"}} {v}"
        );
    }
    out
}
