//! The log subsystem's own metrics in Prometheus' text format, which the
//! server adds to steward's `/metrics` (and so to what steward scrapes of
//! itself):
//!
//! - `steward_logs_ingested_lines_total`, `steward_logs_ingested_bytes_total`:
//!   lines (and their bytes) the store acknowledged;
//! - `steward_logs_refused_pushes_total`: pushes refused while the store
//!   held too much in memory (429);
//! - `steward_logs_head_lines`, `steward_logs_head_bytes`: what is in
//!   memory and the WAL, not yet in segments;
//! - `steward_logs_segments`, `steward_logs_segment_bytes`,
//!   `steward_logs_segment_lines`: the segments on disk;
//! - per `[[logs.forward]]` destination (label `destination`, its
//!   configured name): `steward_logs_forward_sent_lines_total`,
//!   `_sent_bytes_total`, `_failed_lines_total`, `_dropped_lines_total`,
//!   `_retried_lines_total`, `_pending_lines` and `_queue_bytes`.

use std::fmt::Write as _;

use steward_metrics::Labels;

use crate::{api::LokiApi, forward::ForwardStats};

/// A destination's family: name, type, help and its value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ForwardStats) -> u64,
);

/// The text exposition of the store's and the forwarders' metrics.
pub fn render(api: &LokiApi) -> String {
    let mut out = String::new();
    let store = api.store().stats();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    let one = |out: &mut String, name: &str, kind: &str, help: &str, value: u64| {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    };
    one(
        &mut out,
        "steward_logs_ingested_lines_total",
        "counter",
        "Log lines the store acknowledged.",
        store.ingested_lines,
    );
    one(
        &mut out,
        "steward_logs_ingested_bytes_total",
        "counter",
        "Bytes of log lines the store acknowledged.",
        store.ingested_bytes,
    );
    one(
        &mut out,
        "steward_logs_refused_pushes_total",
        "counter",
        "Pushes refused while the store held too much in memory.",
        store.refused_pushes,
    );
    one(
        &mut out,
        "steward_logs_head_lines",
        "gauge",
        "Log lines in memory and the WAL, not yet in segments.",
        store.head_lines as u64,
    );
    one(
        &mut out,
        "steward_logs_head_bytes",
        "gauge",
        "Memory the lines not yet in segments take, approximately.",
        store.head_bytes as u64,
    );
    one(
        &mut out,
        "steward_logs_segments",
        "gauge",
        "Segment files of the log store.",
        store.segments as u64,
    );
    one(
        &mut out,
        "steward_logs_segment_bytes",
        "gauge",
        "Bytes of the log store's segment files.",
        store.segment_bytes,
    );
    one(
        &mut out,
        "steward_logs_segment_lines",
        "gauge",
        "Log lines in segments.",
        store.segment_lines,
    );
    let forwards: Vec<ForwardStats> = api.forwarders().iter().map(|f| f.stats()).collect();
    if forwards.is_empty() {
        return out;
    }
    let families: [Family; 7] = [
        (
            "steward_logs_forward_sent_lines_total",
            "counter",
            "Log lines the destination accepted.",
            |s| s.sent_lines,
        ),
        (
            "steward_logs_forward_sent_bytes_total",
            "counter",
            "Bytes of push bodies the destination accepted.",
            |s| s.sent_bytes,
        ),
        (
            "steward_logs_forward_failed_lines_total",
            "counter",
            "Log lines the destination refused (dropped).",
            |s| s.failed_lines,
        ),
        (
            "steward_logs_forward_dropped_lines_total",
            "counter",
            "Log lines deleted unsent because the queue outgrew its size.",
            |s| s.dropped_lines,
        ),
        (
            "steward_logs_forward_retried_lines_total",
            "counter",
            "Log lines sent again after a failure.",
            |s| s.retried_lines,
        ),
        (
            "steward_logs_forward_pending_lines",
            "gauge",
            "Log lines queued and not yet sent.",
            |s| s.pending_lines,
        ),
        (
            "steward_logs_forward_queue_bytes",
            "gauge",
            "Bytes of the destination's queue on disk.",
            |s| s.queue_bytes,
        ),
    ];
    for (name, kind, help, value) in families {
        family(&mut out, name, kind, help);
        for stats in &forwards {
            let labels =
                Labels::from_pairs([("__name__", name), ("destination", stats.name.as_str())]);
            let _ = writeln!(out, "{labels} {}", value(stats));
        }
    }
    out
}

#[cfg(test)]
mod tests;
