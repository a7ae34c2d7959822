//! `kill -9` loses no acknowledged sample: a child process (this test
//! binary, running only [`child`]) appends batches as fast as it can and
//! reports each batch after `append` returned; the parent kills it with
//! SIGKILL at spread moments, reopens the store and looks for every
//! reported sample. The child's store cuts blocks and checkpoints its WAL
//! every few batches, so kills land in those too.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use steward_metrics::storage::Storage;
use steward_metrics::tsdb::{Maintenance, Tsdb, TsdbOptions};
use steward_metrics::{Labels, Matcher, Sample};

const DIR_ENV: &str = "STEWARD_TSDB_CRASH_DIR";
const START_ENV: &str = "STEWARD_TSDB_CRASH_START";
const SERIES: usize = 2000;
const STEP: i64 = 1000;

fn opts(maintenance: Maintenance) -> TsdbOptions {
    TsdbOptions {
        retention_time: None,
        block_duration: Duration::from_secs(20),
        maintenance,
        ..TsdbOptions::default()
    }
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "crash_test_metric".to_owned()),
        ("instance", format!("host-{}", i % 50)),
        ("series", i.to_string()),
    ])
}

fn value(t: i64, i: usize) -> f64 {
    (t / STEP) as f64 * 0.25 + i as f64
}

/// The child: appends until killed. A no-op when not started by the parent.
#[test]
fn child() {
    let (Ok(dir), Ok(start)) = (std::env::var(DIR_ENV), std::env::var(START_ENV)) else {
        return;
    };
    let start: i64 = start.parse().unwrap();
    let db = Tsdb::open(
        Path::new(&dir),
        opts(Maintenance::Every(Duration::from_millis(20))),
    )
    .unwrap();
    let names: Vec<Labels> = (0..SERIES).map(labels).collect();
    let mut out = std::io::stdout().lock();
    for k in 0.. {
        let t = start + k * STEP;
        let batch: Vec<(Labels, Sample)> = names
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), Sample::new(t, value(t, i))))
            .collect();
        let r = db.append(&batch).unwrap();
        writeln!(out, "acked {t} {}", r.appended).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let delays = [40u64, 90, 150, 220, 300, 390, 490, 600, 720, 850];
    let mut out = std::io::stderr().lock();
    for (round, delay) in delays.iter().enumerate() {
        let start = (round as i64 + 1) * 10_000_000;
        let mut proc = Command::new(&exe)
            .args([
                "tsdb_crash::child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .env(START_ENV, start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut parts = line.split_whitespace();
                if parts.next() == Some("acked") {
                    let t: i64 = parts.next().unwrap().parse().unwrap();
                    let n: usize = parts.next().unwrap().parse().unwrap();
                    acked.push((t, n));
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(*delay));
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();
        let acked = reader.join().unwrap();
        assert!(
            acked.iter().all(|(_, n)| *n == SERIES),
            "every batch was fully appended"
        );

        let db = Tsdb::open(dir.path(), opts(Maintenance::Manual)).unwrap();
        let end = start + 10_000_000 - 1;
        let got = db
            .select(
                &[Matcher::equal("__name__", "crash_test_metric")],
                start,
                end,
            )
            .unwrap();
        let mut found = 0usize;
        for s in &got {
            let i: usize = s.labels.get("series").unwrap().parse().unwrap();
            for (t, _) in &acked {
                if let Ok(k) = s.samples.binary_search_by_key(t, |x| x.t) {
                    assert_eq!(s.samples[k].v.to_bits(), value(*t, i).to_bits());
                    found += 1;
                }
            }
        }
        let want = acked.len() * SERIES;
        writeln!(
            out,
            "crash round {round}: kill after {delay} ms, batches acknowledged {}, samples acknowledged {want}, found {found}, blocks {}",
            acked.len(),
            db.block_count()
        )
        .unwrap();
        assert_eq!(found, want, "round {round}: acknowledged samples lost");
    }
}
