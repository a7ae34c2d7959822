//! What one scrape appends: the exposed samples with the target's labels
//! attached and metric relabelling applied, staleness markers for series
//! that left the exposition, and the report series (`up`,
//! `scrape_duration_seconds`, ...), as Prometheus' scrape loop does.
//!
//! Pure: the HTTP request and the store are the caller's, so every rule
//! here is tested with plain data.

use std::collections::HashSet;

use crate::{
    Labels, STALE_NAN, Sample,
    exposition::Parsed,
    labels::{LabelsBuilder, METRIC_NAME},
    relabel,
};

use super::target::JobConfig;

/// The series a target exposed in its last scrape (without explicit
/// timestamps: series with their own timestamps are not tracked for
/// staleness, as in Prometheus), and whether its report series were
/// written.
#[derive(Debug, Default)]
pub struct ScrapeCache {
    series: HashSet<Labels>,
    reported: bool,
}

/// How a scrape went, for the report series and the target's health.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScrapeStats {
    /// Samples in the exposition.
    pub scraped: usize,
    /// Samples left after metric relabelling.
    pub post_relabel: usize,
    /// Series not in the previous scrape.
    pub series_added: usize,
}

/// Why a scrape produced no samples.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeFailure {
    /// More samples than `sample_limit`.
    #[error("sample_limit exceeded: {got} samples, limit {limit}")]
    SampleLimit {
        /// Samples after relabelling.
        got: usize,
        /// The limit.
        limit: usize,
    },
    /// A series with more labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric}, number of labels: {got}, limit: {limit})")]
    LabelLimit {
        /// The series' metric name.
        metric: String,
        /// Its label count.
        got: usize,
        /// The limit.
        limit: usize,
    },
}

/// The samples of a successful scrape (staleness markers included) and
/// its statistics. `cache` is updated to this scrape's series.
pub fn samples(
    job: &JobConfig,
    target_labels: &Labels,
    parsed: Parsed,
    scrape_ms: i64,
    cache: &mut ScrapeCache,
) -> Result<(Vec<(Labels, Sample)>, ScrapeStats), ScrapeFailure> {
    let scraped = parsed.samples.len();
    let mut out = Vec::with_capacity(scraped + cache.series.len());
    let mut seen = HashSet::with_capacity(cache.series.len());
    for s in parsed.samples {
        let labels = attach(&s.labels, target_labels, job.honor_labels);
        let Some(labels) = relabel::relabel(&labels, &job.metric_relabel) else {
            continue;
        };
        if job.label_limit > 0 && labels.len() > job.label_limit {
            return Err(ScrapeFailure::LabelLimit {
                metric: labels.metric_name().unwrap_or_default().to_owned(),
                got: labels.len(),
                limit: job.label_limit,
            });
        }
        let t = match s.timestamp {
            Some(t) if job.honor_timestamps => t,
            _ => {
                seen.insert(labels.clone());
                scrape_ms
            }
        };
        out.push((labels, Sample::new(t, s.value)));
    }
    let post_relabel = out.len();
    if job.sample_limit > 0 && post_relabel > job.sample_limit {
        return Err(ScrapeFailure::SampleLimit {
            got: post_relabel,
            limit: job.sample_limit,
        });
    }
    let series_added = seen.iter().filter(|l| !cache.series.contains(*l)).count();
    for gone in cache.series.difference(&seen) {
        out.push((gone.clone(), Sample::new(scrape_ms, STALE_NAN)));
    }
    cache.series = seen;
    Ok((
        out,
        ScrapeStats {
            scraped,
            post_relabel,
            series_added,
        },
    ))
}

/// Staleness markers for every series of the last scrape (the scrape
/// failed, or the target went away); the cache is emptied.
pub fn all_stale(cache: &mut ScrapeCache, scrape_ms: i64) -> Vec<(Labels, Sample)> {
    cache
        .series
        .drain()
        .map(|l| (l, Sample::new(scrape_ms, STALE_NAN)))
        .collect()
}

/// The names of the report series, in the order Prometheus writes them.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// The report series of a scrape: `up` is 1 when it succeeded.
pub fn report(
    target_labels: &Labels,
    up: bool,
    duration_seconds: f64,
    stats: ScrapeStats,
    scrape_ms: i64,
    cache: &mut ScrapeCache,
) -> Vec<(Labels, Sample)> {
    cache.reported = true;
    let values = [
        if up { 1.0 } else { 0.0 },
        duration_seconds,
        stats.scraped as f64,
        stats.post_relabel as f64,
        stats.series_added as f64,
    ];
    REPORT_SERIES
        .iter()
        .zip(values)
        .map(|(name, v)| (named(target_labels, name), Sample::new(scrape_ms, v)))
        .collect()
}

/// Staleness markers for the report series once the target is gone.
pub fn report_stale(
    target_labels: &Labels,
    scrape_ms: i64,
    cache: &mut ScrapeCache,
) -> Vec<(Labels, Sample)> {
    if !std::mem::take(&mut cache.reported) {
        return Vec::new();
    }
    REPORT_SERIES
        .iter()
        .map(|name| {
            (
                named(target_labels, name),
                Sample::new(scrape_ms, STALE_NAN),
            )
        })
        .collect()
}

fn named(target_labels: &Labels, name: &str) -> Labels {
    let mut b = target_labels.builder();
    b.set(METRIC_NAME, name);
    b.build()
}

/// A scraped series' labels with the target's attached: with
/// `honor_labels` the scraped values win; otherwise a clashing scraped
/// label is kept as `exported_<name>` (prefixed again while that clashes
/// too) and the target's value is set.
pub fn attach(scraped: &Labels, target: &Labels, honor_labels: bool) -> Labels {
    let mut b: LabelsBuilder = scraped.builder();
    for l in target {
        match scraped.get(&l.name) {
            None => {
                b.set(l.name.as_str(), l.value.as_str());
            }
            Some(_) if honor_labels => {}
            Some(existing) => {
                let mut name = format!("exported_{}", l.name);
                while scraped.get(&name).is_some() {
                    name = format!("exported_{name}");
                }
                b.set(name, existing);
                b.set(l.name.as_str(), l.value.as_str());
            }
        }
    }
    b.build()
}

#[cfg(test)]
mod tests;
