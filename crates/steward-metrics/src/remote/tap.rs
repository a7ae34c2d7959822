//! The tap on the append path: a [`Storage`] that appends to the store it
//! wraps and then queues the batch for each remote write destination, so
//! whatever reaches the store (scrapes, rule results later, samples
//! received by remote write) is also sent on.
//!
//! The store's report counts refused samples without naming them, so the
//! tap keeps, per destination, each series' last queued timestamp and
//! queues only newer samples: a sample the store refused as out of order
//! or duplicate is older than or at that time, and a Prometheus receiver
//! (which refuses out-of-order samples by default) would answer the whole
//! request 400 for it. Write relabelling is applied here, once per series,
//! and remembered with the timestamp; series not appended to for
//! [`FORGET_AFTER_MS`] are forgotten.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use super::proto::{Sample as WireSample, TimeSeries, WriteRequest, labels_to_proto};
use super::queue::Queue;
use super::stats::RemoteStats;
use crate::relabel::{RelabelConfig, relabel};
use crate::storage::{AppendReport, Series, Storage, TsdbStats};
use crate::{Labels, Matcher, Result, Sample};

/// A series whose newest sample is this much older than the newest sample
/// queued at all is forgotten (its relabelled labels and last timestamp).
pub const FORGET_AFTER_MS: i64 = 2 * 3600 * 1000;

struct SeriesState {
    last_t: i64,
    /// The labels sent, `None` when write relabelling drops the series.
    sent_as: Option<Arc<[super::proto::Label]>>,
}

#[derive(Default)]
struct Cache {
    series: HashMap<Labels, SeriesState>,
    newest: i64,
    prune_at: usize,
}

/// One destination as the tap sees it.
pub struct TapOutput {
    queue: Arc<Queue>,
    relabel: Vec<RelabelConfig>,
    stats: Arc<RemoteStats>,
    cache: Mutex<Cache>,
}

impl TapOutput {
    /// An output queueing into `queue` after `relabel`.
    pub fn new(queue: Arc<Queue>, relabel: Vec<RelabelConfig>, stats: Arc<RemoteStats>) -> Self {
        TapOutput {
            queue,
            relabel,
            stats,
            cache: Mutex::new(Cache {
                prune_at: 1024,
                ..Cache::default()
            }),
        }
    }

    /// Queues the samples of `batch` that are newer than their series'
    /// last queued one, relabelled.
    pub fn offer(&self, batch: &[(Labels, Sample)]) {
        let mut request = WriteRequest::default();
        let mut samples = 0;
        {
            let mut cache = self.cache.lock();
            let cache = &mut *cache;
            for (labels, sample) in batch {
                let state = cache.series.entry(labels.clone()).or_insert_with(|| {
                    let sent_as = relabel(labels, &self.relabel)
                        .filter(|l| !l.is_empty())
                        .map(|l| Arc::from(labels_to_proto(&l)));
                    SeriesState {
                        last_t: i64::MIN,
                        sent_as,
                    }
                });
                let Some(sent_as) = &state.sent_as else {
                    self.stats.dropped_relabel.fetch_add(1, Ordering::Relaxed);
                    state.last_t = state.last_t.max(sample.t);
                    continue;
                };
                if sample.t <= state.last_t {
                    self.stats
                        .dropped_out_of_order
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                state.last_t = sample.t;
                cache.newest = cache.newest.max(sample.t);
                let point = WireSample {
                    value: sample.v,
                    timestamp: sample.t,
                };
                // consecutive samples of one series share an entry
                match request.timeseries.last_mut() {
                    Some(ts) if ts.labels.as_slice() == &sent_as[..] => ts.samples.push(point),
                    _ => request.timeseries.push(TimeSeries {
                        labels: sent_as.to_vec(),
                        samples: vec![point],
                        exemplars: Vec::new(),
                    }),
                }
                samples += 1;
            }
            if cache.series.len() > cache.prune_at {
                let horizon = cache.newest.saturating_sub(FORGET_AFTER_MS);
                cache.series.retain(|_, s| s.last_t >= horizon);
                cache.prune_at = (cache.series.len() * 2).max(1024);
            }
        }
        if samples == 0 {
            return;
        }
        if let Err(e) = self.queue.append(&request, samples) {
            self.stats
                .dropped_enqueue
                .fetch_add(samples as u64, Ordering::Relaxed);
            tracing::error!(error = %e, samples, "cannot queue samples for remote write");
        }
    }
}

/// A store whose appends are also queued for remote write.
pub struct TapStorage {
    inner: Arc<dyn Storage>,
    outputs: Vec<Arc<TapOutput>>,
}

impl TapStorage {
    /// Wraps `inner`, queueing into each of `outputs`.
    pub fn new(inner: Arc<dyn Storage>, outputs: Vec<Arc<TapOutput>>) -> Self {
        TapStorage { inner, outputs }
    }
}

impl Storage for TapStorage {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendReport> {
        let report = self.inner.append(batch)?;
        // queued after the store took them: what the store refused whole
        // (an error above) is not sent
        for output in &self.outputs {
            output.offer(batch);
        }
        Ok(report)
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        self.inner.select(matchers, mint, maxt)
    }

    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>> {
        self.inner.label_names(matchers, mint, maxt)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        self.inner.label_values(name, matchers, mint, maxt)
    }

    fn stats(&self, limit: usize) -> Result<TsdbStats> {
        self.inner.stats(limit)
    }
}
