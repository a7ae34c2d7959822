//! WAL records, replay, and repair of torn and corrupt tails.

use std::fs::OpenOptions;
use std::io::Write;

use super::*;
use crate::STALE_NAN;

fn lab(v: &str) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("i", v)])
}

fn write_some(dir: &Path, n: u64) -> u64 {
    let mut w = WalWriter::create(dir, 0, WalSync::EveryBatch).unwrap();
    let mut buf = Vec::new();
    encode_series(&mut buf, [(1, &lab("a")), (2, &lab("b"))].into_iter());
    w.write(&buf).unwrap();
    for i in 0..n {
        buf.clear();
        encode_samples(
            &mut buf,
            &[
                (1, Sample::new(i as i64 * 10, i as f64)),
                (2, Sample::new(i as i64 * 10, STALE_NAN)),
            ],
        );
        w.write(&buf).unwrap();
    }
    w.seg
}

fn replay_all(dir: &Path) -> (Vec<Record>, u64) {
    let mut recs = Vec::new();
    let last = replay(dir, |r| recs.push(r)).unwrap();
    (recs, last)
}

#[test]
fn records_round_trip_bit_exact() {
    let mut buf = Vec::new();
    let samples = vec![
        (7, Sample::new(-5, STALE_NAN)),
        (300, Sample::new(i64::MAX, f64::NEG_INFINITY)),
    ];
    encode_samples(&mut buf, &samples);
    let Some(Record::Samples(got)) = decode(&buf[8..]) else {
        panic!("not samples")
    };
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1.v.to_bits(), STALE_NAN.to_bits());
    assert_eq!(got[1].1.t, i64::MAX);
    assert_eq!(got[1].0, 300);
}

#[test]
fn replay_returns_everything_written() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write_some(dir.path(), 5);
    let (recs, last) = replay_all(dir.path());
    assert_eq!(last, seg);
    assert_eq!(recs.len(), 6);
    assert_eq!(recs[0], Record::Series(vec![(1, lab("a")), (2, lab("b"))]));
}

#[test]
fn torn_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write_some(dir.path(), 5);
    let path = dir.path().join(segment_name(seg));
    let good = fs::metadata(&path).unwrap().len();
    // half a record, as a crash mid-write leaves it
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9]).unwrap();
    drop(f);
    let (recs, _) = replay_all(dir.path());
    assert_eq!(recs.len(), 6);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        good,
        "the torn bytes are cut"
    );
}

#[test]
fn corrupt_crc_truncates_there_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write_some(dir.path(), 5);
    // a later segment that must go: it follows the damage
    let mut w2 = WalWriter::create(dir.path(), seg, WalSync::Never).unwrap();
    let mut buf = Vec::new();
    encode_samples(&mut buf, &[(1, Sample::new(1000, 1.0))]);
    w2.write(&buf).unwrap();
    let path = dir.path().join(segment_name(seg));
    let mut bytes = fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - 3] ^= 0xff; // inside the last record's payload
    fs::write(&path, &bytes).unwrap();
    let (recs, _) = replay_all(dir.path());
    assert_eq!(
        recs.len(),
        5,
        "the series record and four sample records survive"
    );
    assert!(!dir.path().join(segment_name(seg + 1)).exists());
    assert!(fs::metadata(&path).unwrap().len() < len as u64);
}

#[test]
fn garbage_length_is_damage_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write_some(dir.path(), 1);
    let path = dir.path().join(segment_name(seg));
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0xff; 16]).unwrap();
    drop(f);
    let (recs, _) = replay_all(dir.path());
    assert_eq!(recs.len(), 2);
}

#[test]
fn checkpoint_keeps_what_is_asked_and_replaces_segments() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write_some(dir.path(), 10);
    let mut w = WalWriter::create(dir.path(), seg, WalSync::Never).unwrap();
    let mut buf = Vec::new();
    encode_samples(&mut buf, &[(1, Sample::new(500, 5.0))]);
    w.write(&buf).unwrap();
    checkpoint(dir.path(), seg, |rec| match rec {
        Record::Series(s) => Some(Record::Series(
            s.into_iter().filter(|(r, _)| *r == 1).collect(),
        )),
        Record::Samples(s) => {
            let kept: Vec<_> = s
                .into_iter()
                .filter(|(r, x)| *r == 1 && x.t >= 50)
                .collect();
            (!kept.is_empty()).then_some(Record::Samples(kept))
        }
    })
    .unwrap();
    assert!(!dir.path().join(segment_name(seg)).exists());
    let (recs, last) = replay_all(dir.path());
    assert_eq!(last, seg + 1);
    let samples: Vec<i64> = recs
        .iter()
        .filter_map(|r| match r {
            Record::Samples(s) => Some(s.iter().map(|x| x.1.t).collect::<Vec<_>>()),
            Record::Series(_) => None,
        })
        .flatten()
        .collect();
    assert_eq!(samples, [50, 60, 70, 80, 90, 500]);
    assert_eq!(recs[0], Record::Series(vec![(1, lab("a"))]));
}
