//! Writing, reopening and merging blocks.

use super::*;
use crate::{MatchOp, STALE_NAN};

fn series(n: usize, t0: i64) -> Vec<(Arc<Labels>, Vec<Sample>)> {
    let mut v: Vec<(Arc<Labels>, Vec<Sample>)> = (0..n)
        .map(|i| {
            let labels = Labels::from_pairs([("__name__", "m".to_owned()), ("i", i.to_string())]);
            let samples = (0..300)
                .map(|k| {
                    Sample::new(
                        t0 + k * 1000,
                        if k == 7 {
                            STALE_NAN
                        } else {
                            (i * k as usize) as f64
                        },
                    )
                })
                .collect();
            (Arc::new(labels), samples)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn written_block_reopens_with_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let data = series(20, 0);
    let b = write_block(
        dir.path(),
        0,
        300_000,
        1,
        vec![],
        data.clone().into_iter().map(Ok),
    )
    .unwrap()
    .unwrap();
    let again = Block::open(&b.dir).unwrap();
    assert_eq!(again.meta.num_series, 20);
    assert_eq!(again.meta.num_samples, 6000);
    let m = [Matcher::new(MatchOp::Regex, "i", "1|3").unwrap()];
    let hits = again.select(&m);
    assert_eq!(hits.len(), 2);
    for i in hits {
        let want = &data.iter().find(|d| d.0 == *again.labels(i)).unwrap().1;
        let got = again.samples(i, i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), want.len());
        assert_eq!(got[7].v.to_bits(), STALE_NAN.to_bits());
        assert_eq!(again.samples(i, 5000, 5999).unwrap(), vec![want[5]]);
        assert!(again.has_sample_in(i, 299_000, 400_000).unwrap());
        assert!(!again.has_sample_in(i, 299_001, 400_000).unwrap());
    }
    use std::os::unix::fs::PermissionsExt;
    for f in ["chunks", "index", "meta.json"] {
        let mode = fs::metadata(b.dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

#[test]
fn damaged_index_or_chunk_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let b = write_block(
        dir.path(),
        0,
        300_000,
        1,
        vec![],
        series(3, 0).into_iter().map(Ok),
    )
    .unwrap()
    .unwrap();
    let chunks = b.dir.join("chunks");
    let mut bytes = fs::read(&chunks).unwrap();
    bytes[10] ^= 0x55;
    fs::write(&chunks, &bytes).unwrap();
    let err = Block::open(&b.dir)
        .unwrap()
        .samples(0, i64::MIN, i64::MAX)
        .unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    let index = b.dir.join("index");
    let mut bytes = fs::read(&index).unwrap();
    bytes[8] ^= 0x55;
    fs::write(&index, &bytes).unwrap();
    assert!(matches!(Block::open(&b.dir), Err(Error::Corrupt { .. })));
}

#[test]
fn merge_unites_series_across_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_block(
        dir.path(),
        0,
        300_000,
        1,
        vec![],
        series(3, 0).into_iter().map(Ok),
    )
    .unwrap()
    .unwrap();
    let b = write_block(
        dir.path(),
        300_000,
        600_000,
        1,
        vec![],
        series(5, 300_000).into_iter().map(Ok),
    )
    .unwrap()
    .unwrap();
    let names = vec![a.name.clone(), b.name.clone()];
    let m = merge(dir.path(), &[Arc::new(a), Arc::new(b)], 2)
        .unwrap()
        .unwrap();
    assert_eq!(m.meta.parents, names);
    assert_eq!((m.meta.mint, m.meta.maxt), (0, 600_000));
    assert_eq!(m.meta.num_series, 5);
    assert_eq!(m.meta.num_samples, 3 * 600 + 2 * 300);
    let i = m.select(&[Matcher::equal("i", "0")])[0];
    let s = m.samples(i, i64::MIN, i64::MAX).unwrap();
    assert!(s.windows(2).all(|w| w[0].t < w[1].t));
    assert_eq!(s.len(), 600);
}
