//! The store as a whole: persistence across reopen, block cuts, retention,
//! the out-of-order window, file modes and the directory lock.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::{MatchOp, STALE_NAN};

const H: i64 = 3_600_000;

fn opts() -> TsdbOptions {
    TsdbOptions {
        retention_time: None,
        maintenance: Maintenance::Manual,
        ..TsdbOptions::default()
    }
}

fn lab(job: &str, i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "up".to_owned()),
        ("job", job.to_owned()),
        ("i", i.to_string()),
    ])
}

/// `n` series with a sample every `step` ms in `[from, to)`.
fn fill(db: &Tsdb, n: usize, from: i64, to: i64, step: i64) -> usize {
    let mut total = 0;
    let mut t = from;
    while t < to {
        let batch: Vec<(Labels, Sample)> = (0..n)
            .map(|i| (lab("a", i), Sample::new(t, (t / step) as f64)))
            .collect();
        total += db.append(&batch).unwrap().appended;
        t += step;
    }
    total
}

fn count(db: &Tsdb) -> usize {
    db.select(&[Matcher::equal("__name__", "up")], i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.samples.len())
        .sum()
}

#[test]
fn samples_survive_reopen_via_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    let n = fill(&db, 10, 0, 60_000, 1000);
    db.append(&[(lab("a", 0), Sample::new(60_000, STALE_NAN))])
        .unwrap();
    drop(db);
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    assert_eq!(count(&db), n + 1);
    let s = db
        .select(&[Matcher::equal("i", "0")], 60_000, 60_000)
        .unwrap();
    assert_eq!(s[0].samples[0].v.to_bits(), STALE_NAN.to_bits());
    assert_eq!(db.stats(5).unwrap().head_stats.num_series, 10);
}

#[test]
fn head_is_cut_into_blocks_and_reads_span_both() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    let n = fill(&db, 5, 0, 5 * H, 60_000);
    db.maintain().unwrap();
    // a 2h block is cut while the head spans more than 2h + 1h after it
    assert_eq!(db.block_count(), 1);
    assert_eq!(count(&db), n);
    let stats = db.stats(10).unwrap();
    assert_eq!(stats.head_stats.min_time, 2 * H);
    // before the newest block's end: out of bounds
    let r = db.append(&[(lab("a", 0), Sample::new(H, 1.0))]).unwrap();
    assert_eq!(r.out_of_bounds, 1);
    drop(db);
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    assert_eq!(
        count(&db),
        n,
        "blocks plus the checkpointed WAL give every sample once"
    );
    let range = db
        .select(&[Matcher::equal("i", "3")], 2 * H - 60_000, 2 * H)
        .unwrap();
    assert_eq!(
        range[0].samples.len(),
        2,
        "one sample from the block, one from the head"
    );
    assert_eq!(db.label_values("i", &[], 0, 10).unwrap().len(), 5);
    assert!(db.label_names(&[], 5 * H, 6 * H).unwrap().is_empty());
}

#[test]
fn compaction_merges_and_retention_deletes_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.retention_time = Some(Duration::from_secs(100 * 3600));
    let db = Tsdb::open(dir.path(), o.clone()).unwrap();
    let n = fill(&db, 3, 0, 13 * H, 300_000);
    db.maintain().unwrap();
    // blocks of 2h up to 10h; [0,6h) merged into one 6h block
    let blocks = db.inner.blocks.read().clone();
    let ranges: Vec<(i64, i64)> = blocks
        .iter()
        .map(|b| (b.meta.mint / H, b.meta.maxt / H))
        .collect();
    assert_eq!(ranges, [(0, 6), (6, 8), (8, 10)]);
    assert_eq!(count(&db), n);
    drop(db);
    // a shorter retention drops the blocks that end before newest - 4h
    // (the newest sample is at 13h - 5m)
    o.retention_time = Some(Duration::from_secs(4 * 3600));
    let db = Tsdb::open(dir.path(), o).unwrap();
    db.maintain().unwrap();
    let blocks = db.inner.blocks.read().clone();
    let ranges: Vec<(i64, i64)> = blocks
        .iter()
        .map(|b| (b.meta.mint / H, b.meta.maxt / H))
        .collect();
    assert_eq!(ranges, [(8, 10)]);
    let oldest = db.select(&[], i64::MIN, i64::MAX);
    assert!(oldest.is_ok());
    let first = db
        .select(&[Matcher::equal("i", "0")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(first[0].samples[0].t, 8 * H);
}

#[test]
fn size_retention_deletes_oldest_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    fill(&db, 50, 0, 9 * H, 60_000);
    db.flush_head().unwrap();
    let all = db.block_count();
    assert!(all >= 4);
    drop(db);
    let mut o = opts();
    o.retention_size = 1;
    let db = Tsdb::open(dir.path(), o).unwrap();
    db.maintain().unwrap();
    assert_eq!(db.block_count(), 0);
    assert_eq!(
        db.append(&[(lab("a", 1), Sample::new(20 * H, 1.0))])
            .unwrap()
            .appended,
        1
    );
}

#[test]
fn out_of_order_window_accepts_recent_older_samples() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.out_of_order_window = Duration::from_secs(600);
    let db = Tsdb::open(dir.path(), o.clone()).unwrap();
    let a = lab("a", 0);
    db.append(&[(a.clone(), Sample::new(1_000_000, 1.0))])
        .unwrap();
    let r = db
        .append(&[
            (a.clone(), Sample::new(700_000, 2.0)), // within 10 minutes
            (a.clone(), Sample::new(700_000, 2.0)), // idempotent
            (a.clone(), Sample::new(700_000, 3.0)), // duplicate
            (a.clone(), Sample::new(300_000, 4.0)), // beyond the window
            (a, Sample::new(800_000, STALE_NAN)),
        ])
        .unwrap();
    assert_eq!((r.appended, r.duplicate, r.out_of_order), (2, 1, 1));
    let want = [
        (700_000, 2.0f64.to_bits()),
        (800_000, STALE_NAN.to_bits()),
        (1_000_000, 1.0f64.to_bits()),
    ];
    let check = |db: &Tsdb| {
        let s = db.select(&[], 0, i64::MAX).unwrap();
        let got: Vec<(i64, u64)> = s[0].samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
        assert_eq!(got, want);
    };
    check(&db);
    drop(db);
    let db = Tsdb::open(dir.path(), o).unwrap();
    check(&db);
    db.flush_head().unwrap();
    check(&db);
}

#[test]
fn files_are_private_and_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tsdb");
    let db = Tsdb::open(&root, opts()).unwrap();
    fill(&db, 2, 0, 5 * H, 600_000);
    db.maintain().unwrap();
    assert!(matches!(
        Tsdb::open(&root, opts()),
        Err(Error::Locked { .. })
    ));
    let mut stack = vec![root.clone()];
    while let Some(p) = stack.pop() {
        let meta = fs::metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    drop(db);
    assert!(Tsdb::open(&root, opts()).is_ok());
}

#[test]
fn torn_wal_tail_does_not_stop_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    let n = fill(&db, 4, 0, 10_000, 1000);
    drop(db);
    let (segs, _) = wal::list(&dir.path().join("wal")).unwrap();
    let last = dir
        .path()
        .join("wal")
        .join(format!("{:08}", segs[segs.len() - 1]));
    let mut bytes = fs::read(&last).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 1]);
    fs::write(&last, bytes).unwrap();
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    assert_eq!(count(&db), n);
}

#[test]
fn selection_by_negative_and_regex_matchers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), opts()).unwrap();
    let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
    db.append(&[
        (lab("a", 0), Sample::new(1, 1.0)),
        (lab("a", 1), Sample::new(1, 1.0)),
        (b, Sample::new(1, 1.0)),
    ])
    .unwrap();
    let sel = |m: Vec<Matcher>| db.select(&m, 0, 10).unwrap().len();
    assert_eq!(
        sel(vec![Matcher::new(MatchOp::NotEqual, "job", "a").unwrap()]),
        1
    );
    assert_eq!(
        sel(vec![Matcher::new(MatchOp::Regex, "i", ".*").unwrap()]),
        3
    );
    assert_eq!(
        sel(vec![Matcher::new(MatchOp::Regex, "i", ".+").unwrap()]),
        2
    );
    assert_eq!(sel(vec![Matcher::equal("i", "")]), 1);
    assert_eq!(
        sel(vec![Matcher::new(MatchOp::NotRegex, "job", "a|c").unwrap()]),
        1
    );
    assert_eq!(
        db.label_names(&[Matcher::equal("job", "b")], 0, 10)
            .unwrap(),
        ["__name__", "job"]
    );
}
