//! An in-memory [`Storage`]: series in a sorted map, samples in vectors.
//!
//! For tests and the PromQL conformance runner, where data is loaded once
//! and read many times; it keeps nothing across restarts.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use super::{AppendReport, Series, Storage, TsdbStats, cardinality};
use crate::{Labels, Matcher, Result, Sample, matcher::matches_all, sample::is_stale_nan};

/// Series kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    series: RwLock<BTreeMap<Labels, Vec<Sample>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every series (the test format's `clear`).
    pub fn clear(&self) {
        self.series.write().clear();
    }
}

impl Storage for MemoryStorage {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendReport> {
        let mut report = AppendReport::default();
        let mut series = self.series.write();
        for (labels, sample) in batch {
            let samples = match series.get_mut(labels) {
                Some(s) => s,
                None => {
                    report.series_added += 1;
                    series.entry(labels.clone()).or_default()
                }
            };
            match samples.last() {
                Some(last) if sample.t < last.t => report.out_of_order += 1,
                Some(last) if sample.t == last.t => {
                    // same value (or both stale) is an idempotent re-append
                    let same = last.v.to_bits() == sample.v.to_bits()
                        || (is_stale_nan(last.v) && is_stale_nan(sample.v));
                    if !same {
                        report.duplicate += 1;
                    }
                }
                _ => {
                    samples.push(*sample);
                    report.appended += 1;
                }
            }
        }
        Ok(report)
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        let series = self.series.read();
        Ok(series
            .iter()
            .filter(|(labels, _)| matches_all(matchers, labels))
            .filter_map(|(labels, samples)| {
                let from = samples.partition_point(|s| s.t < mint);
                let to = samples.partition_point(|s| s.t <= maxt);
                (from < to).then(|| Series {
                    labels: labels.clone(),
                    samples: samples[from..to].to_vec(),
                })
            })
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>> {
        Ok(super::label_names_of(
            self.select(matchers, mint, maxt)?
                .into_iter()
                .map(|s| s.labels),
        ))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        Ok(super::label_values_of(
            name,
            self.select(matchers, mint, maxt)?
                .into_iter()
                .map(|s| s.labels),
        ))
    }

    fn stats(&self, limit: usize) -> Result<TsdbStats> {
        let series = self.series.read();
        let mut stats = cardinality(series.keys(), limit);
        stats.head_stats.chunk_count = series.len() as u64;
        let times = series
            .values()
            .filter_map(|s| Some((s.first()?.t, s.last()?.t)));
        stats.head_stats.min_time = times.clone().map(|t| t.0).min().unwrap_or(0);
        stats.head_stats.max_time = times.map(|t| t.1).max().unwrap_or(0);
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatchOp;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn appends_counts_and_selects_by_range() {
        let s = MemoryStorage::new();
        let a = l(&[("__name__", "up"), ("job", "a")]);
        let b = l(&[("__name__", "up"), ("job", "b")]);
        let r = s
            .append(&[
                (a.clone(), Sample::new(10, 1.0)),
                (b, Sample::new(10, 0.0)),
                (a.clone(), Sample::new(20, 1.0)),
                (a.clone(), Sample::new(15, 1.0)),
                (a.clone(), Sample::new(20, 2.0)),
                (a, Sample::new(20, 1.0)),
            ])
            .unwrap();
        assert_eq!(
            r,
            AppendReport {
                appended: 3,
                series_added: 2,
                out_of_order: 1,
                duplicate: 1,
                out_of_bounds: 0
            }
        );
        let m = [Matcher::new(MatchOp::Regex, "job", "a|b").unwrap()];
        let got = s.select(&m, 11, 100).unwrap();
        assert_eq!(got.len(), 1, "b has no sample after 10");
        assert_eq!(got[0].samples, vec![Sample::new(20, 1.0)]);
        assert_eq!(s.label_values("job", &[], 0, 100).unwrap(), ["a", "b"]);
        assert_eq!(s.label_names(&[], 0, 100).unwrap(), ["__name__", "job"]);
        let st = s.stats(10).unwrap();
        assert_eq!(st.head_stats.num_series, 2);
        assert_eq!(st.series_count_by_metric_name[0].value, 2);
        assert_eq!((st.head_stats.min_time, st.head_stats.max_time), (10, 20));
    }
}
