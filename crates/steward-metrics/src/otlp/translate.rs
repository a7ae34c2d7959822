//! OTLP metrics to Prometheus samples, as Prometheus' OTLP receiver
//! translates them (`otlptranslator`, `prometheusremotewrite`):
//!
//! - labels: the point's attributes (names sanitised, values of names that
//!   collide after sanitising joined with `;` in key order), the scope as
//!   `otel_scope_name`/`otel_scope_version`, then `job` from
//!   `service.namespace/service.name` and `instance` from
//!   `service.instance.id`; the other resource attributes make one
//!   `target_info` series (value 1, at the resource's newest point) with
//!   `job` and `instance`;
//! - gauges as gauges; monotonic sums as counters (`_total`),
//!   non-monotonic sums as gauges; histograms as `_bucket{le}`
//!   (cumulative, `+Inf` = count), `_sum` (when the point has one) and
//!   `_count`; exponential histograms the same after conversion (see
//!   [`super::exponential`]); summaries as `{quantile}` series, `_sum`
//!   and `_count`;
//! - a point flagged "no recorded value" writes staleness markers;
//!   timestamps are `time_unix_nano` in milliseconds.
//!
//! Delta temporality: Prometheus 2.42 stores cumulative series only (its
//! receiver drops delta points). Steward keeps, in memory, the running
//! total of every delta series (sums and both kinds of histogram) and
//! writes the total, so `rate()` and `increase()` work as on a counter.
//! The totals start at zero when steward starts, which PromQL sees as a
//! counter reset; a delta point not newer than the series' last one is
//! rejected (it would be counted twice); series idle for
//! [`DELTA_IDLE_MS`] are forgotten, and at most [`MAX_DELTA_SERIES`] are
//! kept (points of further new series are rejected).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use parking_lot::Mutex;

use super::exponential::{Exponential, MAX_OTLP_SCALE, MIN_SCALE};
use super::names::{Kind, format_float, label_name, metric_name};
use super::proto::{
    AnyValue, ExportMetricsServiceRequest, FLAG_NO_RECORDED_VALUE, KeyValue, Metric,
    ResourceMetrics, TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA, any_value, metric,
    number_data_point,
};
use crate::labels::{LabelsBuilder, METRIC_NAME};
use crate::{Labels, STALE_NAN, Sample};

/// How long a delta series' running total is kept without a new point.
pub const DELTA_IDLE_MS: i64 = 60 * 60 * 1000;

/// The most delta series whose totals are kept.
pub const MAX_DELTA_SERIES: usize = 100_000;

/// The most distinct error messages a response lists.
const MAX_MESSAGES: usize = 5;

/// What a request became.
#[derive(Debug, Default, PartialEq)]
pub struct Translation {
    /// The samples to append.
    pub samples: Vec<(Labels, Sample)>,
    /// Data points that could not be translated.
    pub rejected: u64,
    /// Why (the first few distinct reasons).
    pub messages: Vec<String>,
}

impl Translation {
    fn reject(&mut self, points: usize, message: String) {
        self.rejected += points as u64;
        if self.messages.len() < MAX_MESSAGES && !self.messages.contains(&message) {
            self.messages.push(message);
        }
    }
}

/// The running state of one delta series.
#[derive(Debug)]
struct Running {
    last_ns: u64,
    seen_ms: i64,
    total: Total,
}

#[derive(Debug)]
enum Total {
    Sum(f64),
    Histogram {
        bounds: Vec<f64>,
        buckets: Vec<u64>,
        count: u64,
        sum: Option<f64>,
    },
    Exponential(Exponential),
}

/// The running totals of delta series, shared by the receiver's requests.
#[derive(Debug, Default)]
pub struct DeltaTotals {
    series: Mutex<HashMap<Labels, Running>>,
    last_sweep_ms: Mutex<i64>,
}

impl DeltaTotals {
    /// The number of series tracked.
    pub fn len(&self) -> usize {
        self.series.lock().len()
    }

    /// Whether no series is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sweep(&self, now_ms: i64) {
        let mut last = self.last_sweep_ms.lock();
        if now_ms - *last < 60_000 {
            return;
        }
        *last = now_ms;
        self.series
            .lock()
            .retain(|_, r| now_ms - r.seen_ms < DELTA_IDLE_MS);
    }

    /// Adds a delta point to the series' total and returns the new total,
    /// or why it cannot.
    fn add(&self, key: &Labels, time_ns: u64, now_ms: i64, delta: Total) -> Result<Total, String> {
        let mut series = self.series.lock();
        let len = series.len();
        let running = match series.get_mut(key) {
            Some(r) => r,
            None if len >= MAX_DELTA_SERIES => {
                return Err(format!(
                    "too many delta series (more than {MAX_DELTA_SERIES}) to keep totals for"
                ));
            }
            None => {
                let total = delta.zero();
                series.entry(key.clone()).or_insert(Running {
                    last_ns: 0,
                    seen_ms: now_ms,
                    total,
                })
            }
        };
        if time_ns <= running.last_ns {
            return Err(format!(
                "delta point of {key} not newer than the previous one"
            ));
        }
        running.total.add(delta);
        running.last_ns = time_ns;
        running.seen_ms = now_ms;
        Ok(running.total.snapshot())
    }
}

impl Total {
    fn zero(&self) -> Total {
        match self {
            Total::Sum(_) => Total::Sum(0.0),
            Total::Histogram { bounds, .. } => Total::Histogram {
                bounds: bounds.clone(),
                buckets: vec![0; bounds.len() + 1],
                count: 0,
                sum: Some(0.0),
            },
            Total::Exponential(e) => Total::Exponential(Exponential {
                positive: BTreeMap::new(),
                negative: BTreeMap::new(),
                zero_count: 0,
                count: 0,
                sum: Some(0.0),
                ..e.clone()
            }),
        }
    }

    fn add(&mut self, delta: Total) {
        match (self, delta) {
            (Total::Sum(a), Total::Sum(b)) => *a += b,
            (
                Total::Histogram {
                    bounds,
                    buckets,
                    count,
                    sum,
                },
                Total::Histogram {
                    bounds: b_bounds,
                    buckets: b_buckets,
                    count: b_count,
                    sum: b_sum,
                },
            ) => {
                if *bounds != b_bounds || buckets.len() != b_buckets.len() {
                    // New bucket layout: the total starts over (a reset).
                    *bounds = b_bounds;
                    *buckets = b_buckets;
                    *count = b_count;
                    *sum = b_sum;
                    return;
                }
                for (a, b) in buckets.iter_mut().zip(b_buckets) {
                    *a += b;
                }
                *count += b_count;
                *sum = sum.zip(b_sum).map(|(a, b)| a + b);
            }
            (Total::Exponential(a), Total::Exponential(b)) => a.merge(b),
            (this, other) => *this = other,
        }
    }

    fn snapshot(&self) -> Total {
        match self {
            Total::Sum(v) => Total::Sum(*v),
            Total::Histogram {
                bounds,
                buckets,
                count,
                sum,
            } => Total::Histogram {
                bounds: bounds.clone(),
                buckets: buckets.clone(),
                count: *count,
                sum: *sum,
            },
            Total::Exponential(e) => Total::Exponential(e.clone()),
        }
    }
}

/// An attribute value as a label value (pdata's `AsString`).
pub fn value_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(other) => {
            let json = value_json(other);
            json.to_string()
        }
    }
}

fn value_json(v: &any_value::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        any_value::Value::StringValue(s) => J::String(s.clone()),
        any_value::Value::BoolValue(b) => J::Bool(*b),
        any_value::Value::IntValue(i) => J::from(*i),
        any_value::Value::DoubleValue(d) => {
            serde_json::Number::from_f64(*d).map_or_else(|| J::String(format_float(*d)), J::Number)
        }
        any_value::Value::BytesValue(b) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        any_value::Value::ArrayValue(a) => J::Array(
            a.values
                .iter()
                .map(|v| v.value.as_ref().map_or(J::Null, value_json))
                .collect(),
        ),
        any_value::Value::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                    (kv.key.clone(), v.map_or(J::Null, value_json))
                })
                .collect(),
        ),
    }
}

/// Sets sanitised attributes on `b`; keys that sanitise to the same name
/// have their values joined with `;`, in key order.
fn set_attributes<'a>(b: &mut LabelsBuilder, attrs: impl IntoIterator<Item = &'a KeyValue>) {
    let mut sorted: Vec<&KeyValue> = attrs.into_iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for kv in sorted {
        let name = label_name(&kv.key);
        if name.is_empty() {
            continue;
        }
        let value = value_string(kv.value.as_ref());
        merged
            .entry(name)
            .and_modify(|v| {
                v.push(';');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    for (n, v) in merged {
        b.set(n, v);
    }
}

fn ms(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

/// Translates a request. `now_ms` dates the delta totals' bookkeeping.
pub fn translate(
    request: &ExportMetricsServiceRequest,
    delta: &DeltaTotals,
    now_ms: i64,
) -> Translation {
    delta.sweep(now_ms);
    let mut out = Translation::default();
    for rm in &request.resource_metrics {
        resource(rm, delta, now_ms, &mut out);
    }
    out
}

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

fn resource(rm: &ResourceMetrics, delta: &DeltaTotals, now_ms: i64, out: &mut Translation) {
    let attrs: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
    let find = |key: &str| {
        attrs
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| value_string(kv.value.as_ref()))
    };
    let job = find(SERVICE_NAME).map(|name| match find(SERVICE_NAMESPACE) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name,
    });
    let instance = find(SERVICE_INSTANCE_ID);
    let identity = |b: &mut LabelsBuilder| {
        if let Some(job) = &job {
            b.set("job", job.clone());
        }
        if let Some(instance) = &instance {
            b.set("instance", instance.clone());
        }
    };
    let start = out.samples.len();
    for sm in &rm.scope_metrics {
        let scope = sm.scope.as_ref();
        for m in &sm.metrics {
            let mut ctx = MetricCtx {
                metric: m,
                delta,
                now_ms,
                out: &mut *out,
                base: &|b: &mut LabelsBuilder| {
                    if let Some(s) = scope {
                        b.set("otel_scope_name", s.name.clone());
                        b.set("otel_scope_version", s.version.clone());
                    }
                    identity(b);
                },
            };
            ctx.translate();
        }
    }
    // target_info: the resource attributes that did not become job and
    // instance, at the newest time of the resource's samples.
    let others: Vec<&KeyValue> = attrs
        .iter()
        .filter(|kv| {
            ![SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID].contains(&kv.key.as_str())
        })
        .collect();
    let newest = out.samples[start..].iter().map(|(_, s)| s.t).max();
    if let (false, Some(t)) = (others.is_empty(), newest) {
        let mut b = LabelsBuilder::default();
        set_attributes(&mut b, others);
        identity(&mut b);
        b.set(METRIC_NAME, "target_info");
        out.samples.push((b.build(), Sample::new(t, 1.0)));
    }
}

/// The translation of one metric.
struct MetricCtx<'a> {
    metric: &'a Metric,
    delta: &'a DeltaTotals,
    now_ms: i64,
    out: &'a mut Translation,
    base: &'a dyn Fn(&mut LabelsBuilder),
}

/// What every data point kind has.
struct Point<'a> {
    attributes: &'a [KeyValue],
    time_unix_nano: u64,
    flags: u32,
}

impl MetricCtx<'_> {
    fn translate(&mut self) {
        let m = self.metric;
        let Some(data) = &m.data else {
            self.out
                .reject(0, format!("metric {:?} has no data", m.name));
            return;
        };
        let points = match data {
            metric::Data::Gauge(g) => g.data_points.len(),
            metric::Data::Sum(s) => s.data_points.len(),
            metric::Data::Histogram(h) => h.data_points.len(),
            metric::Data::ExponentialHistogram(h) => h.data_points.len(),
            metric::Data::Summary(s) => s.data_points.len(),
        };
        if words_empty(&m.name) {
            self.out
                .reject(points, format!("invalid metric name {:?}", m.name));
            return;
        }
        let temporality = match data {
            metric::Data::Sum(s) => s.aggregation_temporality,
            metric::Data::Histogram(h) => h.aggregation_temporality,
            metric::Data::ExponentialHistogram(h) => h.aggregation_temporality,
            _ => TEMPORALITY_CUMULATIVE,
        };
        if temporality != TEMPORALITY_CUMULATIVE && temporality != TEMPORALITY_DELTA {
            self.out.reject(
                points,
                format!(
                    "metric {:?} has an invalid aggregation temporality {temporality}",
                    m.name
                ),
            );
            return;
        }
        let is_delta = temporality == TEMPORALITY_DELTA;
        match data {
            metric::Data::Gauge(g) => {
                let name = metric_name(&m.name, &m.unit, Kind::Gauge);
                for p in &g.data_points {
                    self.number(&name, p, false);
                }
            }
            metric::Data::Sum(s) => {
                let kind = if s.is_monotonic {
                    Kind::Counter
                } else {
                    Kind::Other
                };
                let name = metric_name(&m.name, &m.unit, kind);
                for p in &s.data_points {
                    self.number(&name, p, is_delta);
                }
            }
            metric::Data::Histogram(h) => {
                let name = metric_name(&m.name, &m.unit, Kind::Other);
                for p in &h.data_points {
                    let point = Point {
                        attributes: &p.attributes,
                        time_unix_nano: p.time_unix_nano,
                        flags: p.flags,
                    };
                    let n = p.bucket_counts.len().min(p.explicit_bounds.len() + 1);
                    let total = Total::Histogram {
                        bounds: p.explicit_bounds[..n.min(p.explicit_bounds.len())].to_vec(),
                        buckets: p.bucket_counts[..n].to_vec(),
                        count: p.count,
                        sum: p.sum,
                    };
                    self.distribution(&name, &point, total, is_delta);
                }
            }
            metric::Data::ExponentialHistogram(h) => {
                let name = metric_name(&m.name, &m.unit, Kind::Other);
                for p in &h.data_points {
                    if !(MIN_SCALE..=MAX_OTLP_SCALE).contains(&p.scale) {
                        let msg = format!(
                            "data point of metric {:?} has scale {} outside [{MIN_SCALE}, {MAX_OTLP_SCALE}]",
                            m.name, p.scale
                        );
                        self.out.reject(1, msg);
                        continue;
                    }
                    let point = Point {
                        attributes: &p.attributes,
                        time_unix_nano: p.time_unix_nano,
                        flags: p.flags,
                    };
                    let total = Total::Exponential(Exponential::from_point(p));
                    self.distribution(&name, &point, total, is_delta);
                }
            }
            metric::Data::Summary(s) => {
                let name = metric_name(&m.name, &m.unit, Kind::Other);
                for p in &s.data_points {
                    let point = Point {
                        attributes: &p.attributes,
                        time_unix_nano: p.time_unix_nano,
                        flags: p.flags,
                    };
                    let Some((labels, t, stale)) = self.labels(&name, &point) else {
                        continue;
                    };
                    let v = |v: f64| if stale { STALE_NAN } else { v };
                    for q in &p.quantile_values {
                        let mut b = labels.builder();
                        b.set("quantile", format_float(q.quantile));
                        self.push(b.build(), t, v(q.value));
                    }
                    self.push_suffixed(&labels, "_sum", t, v(p.sum));
                    self.push_suffixed(&labels, "_count", t, v(p.count as f64));
                }
            }
        }
    }

    /// The labels of a point (with the metric name), its time in ms and
    /// whether it is a staleness marker; `None` (rejected) without a time.
    fn labels(&mut self, name: &str, p: &Point<'_>) -> Option<(Labels, i64, bool)> {
        if p.time_unix_nano == 0 {
            self.out.reject(
                1,
                format!(
                    "data point of metric {:?} has no time_unix_nano",
                    self.metric.name
                ),
            );
            return None;
        }
        let mut b = LabelsBuilder::default();
        set_attributes(&mut b, p.attributes);
        (self.base)(&mut b);
        b.set(METRIC_NAME, name);
        Some((
            b.build(),
            ms(p.time_unix_nano),
            p.flags & FLAG_NO_RECORDED_VALUE != 0,
        ))
    }

    fn push(&mut self, labels: Labels, t: i64, v: f64) {
        self.out.samples.push((labels, Sample::new(t, v)));
    }

    fn push_suffixed(&mut self, labels: &Labels, suffix: &str, t: i64, v: f64) {
        let mut b = labels.builder();
        let name = format!("{}{suffix}", labels.metric_name().unwrap_or_default());
        b.set(METRIC_NAME, name);
        self.push(b.build(), t, v);
    }

    fn number(&mut self, name: &str, p: &super::proto::NumberDataPoint, is_delta: bool) {
        let point = Point {
            attributes: &p.attributes,
            time_unix_nano: p.time_unix_nano,
            flags: p.flags,
        };
        let Some((labels, t, stale)) = self.labels(name, &point) else {
            return;
        };
        if stale {
            self.push(labels, t, STALE_NAN);
            return;
        }
        let value = match p.value {
            Some(number_data_point::Value::AsDouble(d)) => d,
            Some(number_data_point::Value::AsInt(i)) => i as f64,
            None => {
                let msg = format!("data point of metric {:?} has no value", self.metric.name);
                self.out.reject(1, msg);
                return;
            }
        };
        let value = if is_delta {
            match self
                .delta
                .add(&labels, p.time_unix_nano, self.now_ms, Total::Sum(value))
            {
                Ok(Total::Sum(v)) => v,
                Ok(_) => value,
                Err(msg) => {
                    self.out.reject(1, msg);
                    return;
                }
            }
        } else {
            value
        };
        self.push(labels, t, value);
    }

    /// A histogram point (explicit or exponential): `_bucket`, `_sum`,
    /// `_count`.
    fn distribution(&mut self, name: &str, p: &Point<'_>, total: Total, is_delta: bool) {
        let Some((labels, t, stale)) = self.labels(name, p) else {
            return;
        };
        let total = if is_delta && !stale {
            match self
                .delta
                .add(&labels, p.time_unix_nano, self.now_ms, total)
            {
                Ok(total) => total,
                Err(msg) => {
                    self.out.reject(1, msg);
                    return;
                }
            }
        } else {
            total
        };
        let (buckets, count, sum) = match &total {
            Total::Histogram {
                bounds,
                buckets,
                count,
                sum,
            } => {
                let mut cumulative = 0u64;
                let mut out: Vec<(f64, f64)> = Vec::new();
                for (bound, c) in bounds.iter().zip(buckets) {
                    cumulative += c;
                    out.push((*bound, cumulative as f64));
                }
                out.push((f64::INFINITY, *count as f64));
                (out, *count, *sum)
            }
            Total::Exponential(e) => (e.classic_buckets(), e.count, e.sum),
            Total::Sum(_) => return,
        };
        let v = |v: f64| if stale { STALE_NAN } else { v };
        let mut bucket_labels = labels.builder();
        bucket_labels.set(METRIC_NAME, format!("{name}_bucket"));
        for (le, c) in buckets {
            let mut b = bucket_labels.clone();
            b.set("le", format_float(le));
            self.push(b.build(), t, v(c));
        }
        if let Some(sum) = sum {
            self.push_suffixed(&labels, "_sum", t, v(sum));
        }
        self.push_suffixed(&labels, "_count", t, v(count as f64));
    }
}

/// Whether a metric name has no character its Prometheus name keeps.
fn words_empty(name: &str) -> bool {
    !name.chars().any(|c| c.is_ascii_alphanumeric() || c == ':')
}
