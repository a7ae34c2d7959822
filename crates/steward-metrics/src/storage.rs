//! The storage contract: what the scrape loop appends to and what the
//! PromQL engine and the query API read from.
//!
//! The trait is synchronous: appends and reads touch memory and local files
//! only, and callers on the async runtime run them in `spawn_blocking`
//! when they may be long (a wide query, a commit that syncs the WAL). A
//! remote store can sit behind the same trait later by blocking on its own
//! client.
//!
//! [`MemoryStorage`] keeps everything in memory: the PromQL conformance
//! runner and unit tests use it; steward itself uses the persistent TSDB.

mod memory;

pub use memory::MemoryStorage;

use serde::Serialize;

use crate::{Labels, Matcher, Result, Sample};

/// One series and its samples in a time range, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in time order, staleness markers included.
    pub samples: Vec<Sample>,
}

/// What became of a batch of appended samples. Samples the store refuses
/// one by one (out of order, duplicates with another value) are counted,
/// not errors, as Prometheus counts them per scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AppendReport {
    /// Samples stored (durable once `append` returned).
    pub appended: usize,
    /// Series the batch created.
    pub series_added: usize,
    /// Samples older than the series' newest sample beyond the
    /// out-of-order window.
    pub out_of_order: usize,
    /// Samples at the timestamp of an existing sample but with another value.
    pub duplicate: usize,
    /// Samples too old for the store to take at all (before the oldest
    /// writable time).
    pub out_of_bounds: usize,
}

impl AppendReport {
    /// Adds `other`'s counts to this report.
    pub fn merge(&mut self, other: AppendReport) {
        self.appended += other.appended;
        self.series_added += other.series_added;
        self.out_of_order += other.out_of_order;
        self.duplicate += other.duplicate;
        self.out_of_bounds += other.out_of_bounds;
    }
}

/// A name and a count, for the cardinality lists of [`TsdbStats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameCount {
    /// The metric name, label name or `name=value` pair.
    pub name: String,
    /// Its count.
    pub value: u64,
}

/// The head's statistics, shaped as Prometheus' `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TsdbStats {
    /// Counts of the in-memory head.
    pub head_stats: HeadStats,
    /// The metric names with the most series.
    pub series_count_by_metric_name: Vec<NameCount>,
    /// The label names with the most distinct values.
    pub label_value_count_by_label_name: Vec<NameCount>,
    /// The label names whose values take the most bytes.
    pub memory_in_bytes_by_label_name: Vec<NameCount>,
    /// The `name=value` pairs found in the most series.
    pub series_count_by_label_value_pair: Vec<NameCount>,
}

/// Counts of the in-memory head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct `name=value` pairs in the head.
    pub num_label_pairs: u64,
    /// Chunks in the head.
    pub chunk_count: u64,
    /// The oldest sample's time in the head (ms), 0 when empty.
    pub min_time: i64,
    /// The newest sample's time in the head (ms), 0 when empty.
    pub max_time: i64,
}

/// A time-series store.
pub trait Storage: Send + Sync + 'static {
    /// Appends a batch. When this returns `Ok`, the samples it reports as
    /// appended survive a crash of the process.
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendReport>;

    /// The series matching every matcher with their samples in
    /// `[mint, maxt]` (milliseconds, inclusive), in label order. Series with
    /// no sample in the range are left out.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>>;

    /// The label names of the series matching `matchers` (all series when
    /// empty) with a sample in `[mint, maxt]`, sorted.
    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>>;

    /// The values of label `name` among the series matching `matchers`
    /// with a sample in `[mint, maxt]`, sorted.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>>;

    /// Head statistics with the `limit` largest entries of each list.
    fn stats(&self, limit: usize) -> Result<TsdbStats>;
}

/// The sorted label names of `sets`: what every store's `label_names`
/// answers from the series it matched.
pub fn label_names_of<L: std::borrow::Borrow<Labels>>(
    sets: impl IntoIterator<Item = L>,
) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for labels in sets {
        names.extend(labels.borrow().iter().map(|l| l.name.clone()));
    }
    names.into_iter().collect()
}

/// The sorted values of label `name` among `sets`.
pub fn label_values_of<L: std::borrow::Borrow<Labels>>(
    name: &str,
    sets: impl IntoIterator<Item = L>,
) -> Vec<String> {
    let mut values = std::collections::BTreeSet::new();
    for labels in sets {
        if let Some(v) = labels.borrow().get(name) {
            values.insert(v.to_owned());
        }
    }
    values.into_iter().collect()
}

/// Cardinality lists from an iterator of label sets: shared by the stores
/// so `/api/v1/status/tsdb` means the same whatever store answers it.
pub fn cardinality<'a>(series: impl Iterator<Item = &'a Labels>, limit: usize) -> TsdbStats {
    use std::collections::{BTreeSet, HashMap};
    let mut by_metric: HashMap<&str, u64> = HashMap::new();
    let mut by_pair: HashMap<(&str, &str), u64> = HashMap::new();
    let mut values: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut num_series = 0;
    for labels in series {
        num_series += 1;
        if let Some(name) = labels.metric_name() {
            *by_metric.entry(name).or_default() += 1;
        }
        for l in labels {
            *by_pair.entry((&l.name, &l.value)).or_default() += 1;
            values.entry(&l.name).or_default().insert(&l.value);
        }
    }
    let top = |mut v: Vec<NameCount>| {
        v.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
        v.truncate(limit);
        v
    };
    TsdbStats {
        head_stats: HeadStats {
            num_series,
            num_label_pairs: by_pair.len() as u64,
            ..HeadStats::default()
        },
        series_count_by_metric_name: top(by_metric
            .iter()
            .map(|(n, c)| NameCount {
                name: (*n).to_owned(),
                value: *c,
            })
            .collect()),
        label_value_count_by_label_name: top(values
            .iter()
            .map(|(n, v)| NameCount {
                name: (*n).to_owned(),
                value: v.len() as u64,
            })
            .collect()),
        memory_in_bytes_by_label_name: top(values
            .iter()
            .map(|(n, v)| NameCount {
                name: (*n).to_owned(),
                value: v.iter().map(|s| s.len() as u64).sum(),
            })
            .collect()),
        series_count_by_label_value_pair: top(by_pair
            .iter()
            .map(|((n, v), c)| NameCount {
                name: format!("{n}={v}"),
                value: *c,
            })
            .collect()),
    }
}
