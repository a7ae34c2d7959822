//! Exponential histograms as classic histograms.
//!
//! An OTLP exponential histogram at scale `s` has buckets of index `i`
//! covering `(base^i, base^(i+1)]` with `base = 2^(2^-s)`, negative values
//! mirrored, and a zero bucket for `[-zero_threshold, zero_threshold]`.
//! Prometheus 2.42 has no native histograms, so they are written as
//! classic `_bucket{le}` series. The boundaries come from the scale:
//!
//! - the scale is first lowered to at most [`MAX_SCALE`] (buckets of
//!   `2^(1/8)`, about 9% wide), so that every histogram of a series shares
//!   one grid of boundaries whatever scale its SDK reached, and then until
//!   both signs together have at most [`MAX_BUCKETS`] buckets, to bound the
//!   series one histogram makes. Lowering the scale by one merges pairs of
//!   buckets exactly (index `i` becomes `i >> 1`), so no count moves
//!   across a boundary;
//! - the classic buckets are, in order, each negative bucket (upper bound
//!   `-base^i`), the zero bucket (upper bound `zero_threshold`), each
//!   positive bucket (upper bound `base^(i+1)`) and `+Inf` (the count),
//!   cumulative, for the index range the histogram's buckets span.
//!
//! A series' set of `le` values grows as observations widen the range,
//! and changes if the scale drops: `histogram_quantile` over a window
//! that straddles such a change sees the union of both grids, as with a
//! reconfigured classic histogram.
//!
//! The same sparse form accumulates delta exponential histograms (see
//! the receiver's delta handling), merging at the lower of two scales.

use std::collections::BTreeMap;

use super::proto::{Buckets, ExponentialHistogramDataPoint};

/// The finest scale written (`2^(1/8)` per bucket).
pub const MAX_SCALE: i32 = 3;

/// The most finite buckets (both signs) written for one histogram.
pub const MAX_BUCKETS: usize = 64;

/// The lowest scale of the OTLP data model.
pub const MIN_SCALE: i32 = -10;

/// The highest scale of the OTLP data model.
pub const MAX_OTLP_SCALE: i32 = 20;

/// An exponential histogram's counts, sparse.
#[derive(Debug, Clone, PartialEq)]
pub struct Exponential {
    /// Its scale.
    pub scale: i32,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// The zero bucket's half-width.
    pub zero_threshold: f64,
    /// Positive buckets by index.
    pub positive: BTreeMap<i32, u64>,
    /// Negative buckets by index (of the absolute value).
    pub negative: BTreeMap<i32, u64>,
    /// All observations.
    pub count: u64,
    /// Their sum, if known.
    pub sum: Option<f64>,
}

fn sparse(buckets: Option<&Buckets>) -> BTreeMap<i32, u64> {
    let mut out = BTreeMap::new();
    if let Some(b) = buckets {
        for (i, c) in b.bucket_counts.iter().enumerate() {
            let Ok(i) = i32::try_from(i) else { break };
            out.insert(b.offset.saturating_add(i), *c);
        }
    }
    out
}

fn downscale_map(map: &BTreeMap<i32, u64>, by: u32) -> BTreeMap<i32, u64> {
    let mut out = BTreeMap::new();
    for (i, c) in map {
        // An arithmetic shift is the floor division the index needs.
        *out.entry(i >> by).or_insert(0) += c;
    }
    out
}

fn span(map: &BTreeMap<i32, u64>) -> usize {
    match (map.keys().next(), map.keys().next_back()) {
        (Some(lo), Some(hi)) => usize::try_from(i64::from(*hi) - i64::from(*lo) + 1).unwrap_or(0),
        _ => 0,
    }
}

impl Exponential {
    /// The counts of a data point.
    pub fn from_point(p: &ExponentialHistogramDataPoint) -> Self {
        Self {
            scale: p.scale,
            zero_count: p.zero_count,
            zero_threshold: p.zero_threshold,
            positive: sparse(p.positive.as_ref()),
            negative: sparse(p.negative.as_ref()),
            count: p.count,
            sum: p.sum,
        }
    }

    /// Lowers the scale by `by` (not below [`MIN_SCALE`]), merging
    /// buckets. Scales are within the OTLP range (the receiver rejects
    /// points outside it), so the shift stays below 31.
    pub fn downscale(&mut self, by: u32) {
        let by = by.min(u32::try_from(self.scale - MIN_SCALE).unwrap_or(0));
        if by == 0 {
            return;
        }
        self.positive = downscale_map(&self.positive, by);
        self.negative = downscale_map(&self.negative, by);
        self.scale -= i32::try_from(by).unwrap_or(0);
    }

    /// Adds `other` (a later delta) to these counts, at the lower scale.
    pub fn merge(&mut self, mut other: Exponential) {
        if other.scale < self.scale {
            self.downscale(u32::try_from(self.scale - other.scale).unwrap_or(0));
        } else if other.scale > self.scale {
            other.downscale(u32::try_from(other.scale - self.scale).unwrap_or(0));
        }
        for (i, c) in other.positive {
            *self.positive.entry(i).or_insert(0) += c;
        }
        for (i, c) in other.negative {
            *self.negative.entry(i).or_insert(0) += c;
        }
        self.zero_count += other.zero_count;
        self.zero_threshold = self.zero_threshold.max(other.zero_threshold);
        self.count += other.count;
        self.sum = match (self.sum, other.sum) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }

    /// The classic cumulative buckets (upper bound, cumulative count),
    /// `+Inf` last, after lowering the scale as the module describes.
    pub fn classic_buckets(&self) -> Vec<(f64, f64)> {
        let mut h = self.clone();
        if h.scale > MAX_SCALE {
            h.downscale(u32::try_from(h.scale - MAX_SCALE).unwrap_or(0));
        }
        while span(&h.positive) + span(&h.negative) > MAX_BUCKETS && h.scale > MIN_SCALE {
            h.downscale(1);
        }
        let bound = |i: i32| (f64::from(i) * (-f64::from(h.scale)).exp2()).exp2();
        let mut out = Vec::new();
        let mut total = 0u64;
        if let (Some(lo), Some(hi)) = (h.negative.keys().next(), h.negative.keys().next_back()) {
            for i in (*lo..=*hi).rev() {
                total += h.negative.get(&i).copied().unwrap_or(0);
                // Buckets past f64's range fold into their neighbours.
                if bound(i).is_finite() {
                    out.push((-bound(i), total as f64));
                }
            }
        }
        total += h.zero_count;
        out.push((h.zero_threshold, total as f64));
        if let (Some(lo), Some(hi)) = (h.positive.keys().next(), h.positive.keys().next_back()) {
            for i in *lo..=*hi {
                total += h.positive.get(&i).copied().unwrap_or(0);
                if bound(i + 1).is_finite() {
                    out.push((bound(i + 1), total as f64));
                }
            }
        }
        out.push((f64::INFINITY, h.count as f64));
        out
    }
}
