//! Round trips of the chunk encoding, special floats and odd timestamps
//! included.

use proptest::prelude::*;

use super::*;
use crate::STALE_NAN;

fn round_trip(samples: &[Sample]) {
    let mut c = ChunkAppender::new();
    for s in samples {
        c.append(*s);
    }
    let bytes = c.bytes();
    let mut it = ChunkIter::new(&bytes);
    let got: Vec<Sample> = it.by_ref().collect();
    assert!(!it.corrupt());
    assert_eq!(got.len(), samples.len());
    for (g, w) in got.iter().zip(samples) {
        assert_eq!(g.t, w.t);
        assert_eq!(g.v.to_bits(), w.v.to_bits(), "value at {}", w.t);
    }
    let live: Vec<Sample> = c.iter().collect();
    assert_eq!(live.len(), samples.len());
}

#[test]
fn special_values_come_back_bit_exact() {
    let vals = [
        1.0,
        STALE_NAN,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        STALE_NAN,
        42.5,
        f64::from_bits(0x7ff8_0000_0000_0001),
    ];
    let s: Vec<Sample> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| Sample::new(1_700_000_000_000 + i as i64 * 15_000, *v))
        .collect();
    round_trip(&s);
}

#[test]
fn irregular_and_extreme_timestamps() {
    let ts = [
        i64::MIN + 1,
        -5,
        0,
        1,
        2,
        10_000,
        10_001,
        1_000_000_000,
        i64::MAX / 2,
        i64::MAX,
    ];
    let s: Vec<Sample> = ts.iter().map(|t| Sample::new(*t, *t as f64)).collect();
    round_trip(&s);
}

#[test]
fn regular_scrapes_compress_well() {
    let s: Vec<Sample> = (0..120)
        .map(|i| Sample::new(1_700_000_000_000 + i * 15_000, 100.0 + i as f64))
        .collect();
    let mut c = ChunkAppender::new();
    for x in &s {
        c.append(*x);
    }
    let n = c.bytes().len();
    assert!(n < 120 * 3, "{n} bytes for 120 samples");
    round_trip(&s);
}

#[test]
fn truncated_bytes_are_reported_corrupt() {
    let s: Vec<Sample> = (0..50)
        .map(|i| Sample::new(i * 1000, i as f64 * 1.7))
        .collect();
    let mut c = ChunkAppender::new();
    for x in &s {
        c.append(*x);
    }
    let bytes = c.bytes();
    let mut it = ChunkIter::new(&bytes[..bytes.len() / 2]);
    let got = it.by_ref().count();
    assert!(got < 50);
    assert!(it.corrupt());
    let mut one = ChunkIter::new(&[7]);
    assert_eq!(one.next(), None);
    assert!(one.corrupt());
}

proptest! {
    #[test]
    fn any_increasing_series_round_trips(
        start in any::<i64>(),
        steps in proptest::collection::vec(1i64..5_000_000_000, 0..300),
        bits in proptest::collection::vec(any::<u64>(), 300),
    ) {
        let mut t = start / 2;
        let mut s = Vec::new();
        for (i, d) in steps.iter().enumerate() {
            s.push(Sample::new(t, f64::from_bits(bits[i])));
            t = t.saturating_add(*d);
            if t == i64::MAX { break; }
        }
        round_trip(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = ChunkIter::new(&bytes).count();
    }
}
