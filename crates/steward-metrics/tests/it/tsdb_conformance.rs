//! The persistent TSDB answers as the reference `MemoryStorage` does: the
//! same appends (out-of-order, duplicates, staleness markers included), then
//! the same selections and label listings, from the head, from blocks and
//! after a reopen.

use std::time::Duration;

use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::tsdb::{Maintenance, Tsdb, TsdbOptions};
use steward_metrics::{Labels, MatchOp, Matcher, STALE_NAN, Sample};

/// A small deterministic generator so failures replay.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn batches() -> Vec<Vec<(Labels, Sample)>> {
    let mut rng = Lcg(7);
    let jobs = ["api", "db", "web", "api-2"];
    let mut out = Vec::new();
    for b in 0..200i64 {
        let mut batch = Vec::new();
        for _ in 0..40 {
            let metric = ["up", "http_requests_total", "mem_bytes"][rng.next(3) as usize];
            let job = jobs[rng.next(4) as usize];
            let mut pairs = vec![("__name__", metric.to_owned()), ("job", job.to_owned())];
            if rng.next(3) == 0 {
                pairs.push(("instance", format!("h{}", rng.next(5))));
            }
            let labels = Labels::from_pairs(pairs);
            // mostly forward in time, sometimes back (out of order) or equal
            let t = b * 15_000 - (rng.next(4) as i64) * 15_000 + rng.next(3) as i64;
            let v = match rng.next(10) {
                0 => STALE_NAN,
                1 => f64::INFINITY,
                2 => f64::NAN,
                _ => rng.next(100) as f64,
            };
            batch.push((labels, Sample::new(t, v)));
        }
        out.push(batch);
    }
    out
}

fn queries() -> Vec<(Vec<Matcher>, i64, i64)> {
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let sets = vec![
        vec![],
        vec![Matcher::equal("__name__", "up")],
        vec![m(MatchOp::Regex, "job", "api.*")],
        vec![
            m(MatchOp::NotEqual, "job", "api"),
            Matcher::equal("__name__", "mem_bytes"),
        ],
        vec![m(MatchOp::NotRegex, "instance", "h[12]")],
        vec![Matcher::equal("instance", "")],
        vec![
            m(MatchOp::Regex, "instance", ".+"),
            m(MatchOp::Regex, "job", "api|db"),
        ],
        vec![Matcher::equal("job", "nope")],
    ];
    let ranges = [
        (i64::MIN, i64::MAX),
        (0, 1_000_000),
        (1_000_001, 1_500_000),
        (1_499_999, 1_500_001),
        (3_000_000, 4_000_000),
    ];
    sets.into_iter()
        .flat_map(|s| ranges.iter().map(move |(a, b)| (s.clone(), *a, *b)))
        .collect()
}

fn bits(s: &[steward_metrics::storage::Series]) -> Vec<(String, Vec<(i64, u64)>)> {
    s.iter()
        .map(|x| {
            (
                x.labels.to_string(),
                x.samples.iter().map(|p| (p.t, p.v.to_bits())).collect(),
            )
        })
        .collect()
}

fn compare(mem: &MemoryStorage, db: &Tsdb, when: &str) {
    for (m, a, b) in queries() {
        let want = bits(&mem.select(&m, a, b).unwrap());
        let got = bits(&db.select(&m, a, b).unwrap());
        assert_eq!(got, want, "{when}: select {m:?} [{a}, {b}]");
        assert_eq!(
            db.label_names(&m, a, b).unwrap(),
            mem.label_names(&m, a, b).unwrap(),
            "{when}: names {m:?}"
        );
        for name in ["job", "instance", "__name__"] {
            assert_eq!(
                db.label_values(name, &m, a, b).unwrap(),
                mem.label_values(name, &m, a, b).unwrap(),
                "{when}: values of {name} {m:?} [{a}, {b}]"
            );
        }
    }
}

#[test]
fn tsdb_matches_memory_storage() {
    let dir = tempfile::tempdir().unwrap();
    let opts = TsdbOptions {
        retention_time: None,
        block_duration: Duration::from_secs(600),
        maintenance: Maintenance::Manual,
        ..TsdbOptions::default()
    };
    let mem = MemoryStorage::new();
    let db = Tsdb::open(dir.path(), opts.clone()).unwrap();
    for (i, batch) in batches().iter().enumerate() {
        let want = mem.append(batch).unwrap();
        let got = db.append(batch).unwrap();
        assert_eq!(got, want, "batch {i}");
    }
    compare(&mem, &db, "head");
    db.maintain().unwrap();
    assert!(db.block_count() > 0, "blocks were cut");
    compare(&mem, &db, "blocks and head");
    drop(db);
    let db = Tsdb::open(dir.path(), opts).unwrap();
    compare(&mem, &db, "reopened");
    let stats = db.stats(3).unwrap();
    assert_eq!(stats.series_count_by_metric_name.len(), 3);
    db.flush_head().unwrap();
    compare(&mem, &db, "all in blocks");
    assert_eq!(
        db.stats(3).unwrap().head_stats.num_series,
        0,
        "the head is empty once flushed"
    );
}
