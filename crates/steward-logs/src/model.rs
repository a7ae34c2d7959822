//! The data every part of the LogManager shares: entries and streams.
//!
//! A stream is a label set (`{service="gateway", stream="stderr"}`), as in
//! Loki: few labels of low cardinality that say where lines come from.
//! What varies per line (trace ids, a request id, the level a JSON line
//! carried) is an entry's structured metadata, which LogQL sees as labels
//! but the index does not.

use serde::{Deserialize, Serialize};
use steward_metrics::Labels;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When the line was written, in nanoseconds since the Unix epoch.
    pub ts: i64,
    /// The line, without its trailing newline.
    pub line: String,
    /// Structured metadata: name-value pairs attached to this line only
    /// (Loki 3's structured metadata), in the order they were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<(String, String)>,
}

impl Entry {
    /// An entry without metadata.
    pub fn new(ts: i64, line: impl Into<String>) -> Self {
        Entry {
            ts,
            line: line.into(),
            metadata: Vec::new(),
        }
    }

    /// The value of a metadata field.
    pub fn metadata(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Bytes the entry accounts for in limits and `bytes_over_time`: the
    /// line's, as Loki counts them.
    pub fn size(&self) -> usize {
        self.line.len()
    }
}

/// A label set and entries for it, as one stream of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushStream {
    /// The stream's labels (never empty once validated).
    pub labels: Labels,
    /// Its entries, in the order they were given (not necessarily by time).
    pub entries: Vec<Entry>,
}
