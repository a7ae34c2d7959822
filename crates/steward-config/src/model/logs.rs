//! The `[logs]` section: the LogManager's collection, storage and limits.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::{ByteSize, HumanDuration, Secret};

use super::metrics::BasicAuth;

/// How steward collects, stores and answers queries on logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Whether the log subsystem runs at all (the store under
    /// `<data_dir>/logstore`, Loki's push and query API under `/loki`,
    /// OpenTelemetry logs at `/v1/logs`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Collect every replica's stdout and stderr, labelled `service`,
    /// `version`, `replica` and `stream`.
    #[serde(default = "default_true")]
    pub collect_replicas: bool,
    /// Lines older than this are deleted (whole segments at a time).
    #[serde(default = "default_retention_time")]
    pub retention_time: HumanDuration,
    /// The store's size limit on disk; the oldest segments go first. `0`
    /// turns the size limit off.
    #[serde(default)]
    pub retention_size: ByteSize,
    /// Memory the lines not yet written as a segment may take; beyond it
    /// pushes are answered 429 with `Retry-After`.
    #[serde(default = "default_max_memory")]
    pub max_memory: ByteSize,
    /// Lines in memory (and in the write-ahead log) are written as a
    /// compressed segment once they take this much.
    #[serde(default = "default_flush_size")]
    pub flush_size: ByteSize,
    /// A pushed line longer than this refuses its push (400).
    #[serde(default = "default_max_line_size")]
    pub max_line_size: ByteSize,
    /// The most streams a query may return or aggregate.
    #[serde(default = "default_query_max_series")]
    pub query_max_series: u64,
    /// How collected lines are joined into entries (stack traces).
    #[serde(default)]
    pub multiline: MultilineConfig,
    /// Loki-compatible endpoints every stored line is also pushed to.
    #[serde(default)]
    pub forward: Vec<LogForward>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            enabled: true,
            collect_replicas: true,
            retention_time: default_retention_time(),
            retention_size: ByteSize(0),
            max_memory: default_max_memory(),
            flush_size: default_flush_size(),
            max_line_size: default_max_line_size(),
            query_max_series: default_query_max_series(),
            multiline: MultilineConfig::default(),
            forward: Vec::new(),
        }
    }
}

/// A Loki-compatible endpoint every line steward stores is pushed to
/// (`[[logs.forward]]`), as Promtail's client does: batched, queued on
/// disk under `<data_dir>/logstore/forward/<name>` (so an outage of the
/// endpoint or a restart of steward loses nothing), retried with backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogForward {
    /// The destination's name: the directory of its queue and the
    /// `destination` of its metrics. Letters, digits, `_` and `-`.
    pub name: String,
    /// The push endpoint (`http` or `https`), e.g.
    /// `http://loki:3100/loki/api/v1/push`.
    pub url: String,
    /// The tenant, sent as `X-Scope-OrgID` (unset: no header).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Headers sent with every request (not `Authorization` and the others
    /// the protocol sets); values may be `${ENV_VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret<String>>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent as `Authorization: Bearer <token>`; write it as
    /// `${ENV_VAR}` to keep it out of the file.
    #[serde(default)]
    pub bearer_token: Option<Secret<String>>,
    /// The most bytes of one push, counted as the queued pushes'
    /// compressed bodies (Promtail's `batchsize` counts the lines' bytes).
    /// A single larger push queued as one is sent alone.
    #[serde(default = "default_batch_size")]
    pub batch_size: ByteSize,
    /// How long a line waits for its push to fill before it is sent anyway
    /// (Promtail's `batchwait`).
    #[serde(default = "default_batch_wait")]
    pub batch_wait: HumanDuration,
    /// The first retry delay after a failure (doubled up to `max_backoff`,
    /// with jitter; a `Retry-After` answer is obeyed instead).
    #[serde(default = "default_min_backoff")]
    pub min_backoff: HumanDuration,
    /// The longest retry delay.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
    /// How long one push may take.
    #[serde(default = "default_forward_timeout")]
    pub timeout: HumanDuration,
    /// The queue's size limit on disk: past it the oldest queued lines are
    /// dropped unsent (with a warning, and counted).
    #[serde(default = "default_max_queue_size")]
    pub max_queue_size: ByteSize,
}

/// How a collected replica's lines are joined: a new entry starts at a
/// line matching `start_pattern`; the lines after it that do not are
/// appended to it (a stack trace is one entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultilineConfig {
    /// A regular expression a line that starts an entry matches. Unset:
    /// the built-in rules, which join Rust panics, Python tracebacks and
    /// Java exceptions (indented and `Caused by:` lines continue an entry).
    #[serde(default)]
    pub start_pattern: Option<String>,
    /// An entry with no new line for this long is complete.
    #[serde(default = "default_max_wait")]
    pub max_wait: HumanDuration,
    /// The most lines joined into one entry.
    #[serde(default = "default_max_lines")]
    pub max_lines: u32,
    /// The most bytes of one entry; a line that would make it larger
    /// starts the next one.
    #[serde(default = "default_max_entry_bytes")]
    pub max_bytes: ByteSize,
}

impl Default for MultilineConfig {
    fn default() -> Self {
        MultilineConfig {
            start_pattern: None,
            max_wait: default_max_wait(),
            max_lines: default_max_lines(),
            max_bytes: default_max_entry_bytes(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_retention_time() -> HumanDuration {
    HumanDuration::from_secs(7 * 24 * 3600)
}

fn default_max_memory() -> ByteSize {
    ByteSize(256 << 20)
}

fn default_flush_size() -> ByteSize {
    ByteSize(64 << 20)
}

fn default_max_line_size() -> ByteSize {
    ByteSize(256 << 10)
}

fn default_query_max_series() -> u64 {
    500
}

fn default_max_wait() -> HumanDuration {
    HumanDuration::from_millis(500)
}

fn default_max_lines() -> u32 {
    500
}

fn default_max_entry_bytes() -> ByteSize {
    // Loki's default limit of a line's size
    ByteSize(256 << 10)
}

fn default_batch_size() -> ByteSize {
    // Promtail's default
    ByteSize(1 << 20)
}

fn default_batch_wait() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_min_backoff() -> HumanDuration {
    HumanDuration::from_millis(500)
}

fn default_max_backoff() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_forward_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_max_queue_size() -> ByteSize {
    ByteSize(1 << 30)
}
