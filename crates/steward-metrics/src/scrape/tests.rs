//! Paused-time tests of the scrape manager: loops keep their interval,
//! series that leave the exposition or whose target goes are marked stale
//! at the right time, and a failing source reports `up` 0 with its error.

use std::sync::Arc;

use parking_lot::Mutex;
use steward_config::MetricsConfig;

use super::*;
use crate::{Matcher, is_stale_nan, storage::MemoryStorage};

struct Source(Mutex<String>);

impl LocalSource for Source {
    fn expose(&self) -> String {
        self.0.lock().clone()
    }
}

const BASE: i64 = 1_700_000_000_000;

fn setup(text: &str) -> (Arc<MemoryStorage>, ScrapeManager, Arc<Source>, JobConfig) {
    let storage = Arc::new(MemoryStorage::new());
    let manager = ScrapeManager::new(
        storage.clone() as Arc<dyn Storage>,
        Fetcher::new(),
        Clock::tokio(BASE),
    );
    let source = Arc::new(Source(Mutex::new(text.to_owned())));
    let mut job = JobConfig::new("demo", &MetricsConfig::default());
    job.interval = Duration::from_secs(10);
    job.timeout = Duration::from_secs(5);
    job.targets = vec![Labels::from_pairs([(target::ADDRESS, "local:0")])];
    job.local = Some(source.clone() as Arc<dyn LocalSource>);
    (storage, manager, source, job)
}

fn series(storage: &MemoryStorage, name: &str) -> Vec<Sample> {
    storage
        .select(&[Matcher::equal("__name__", name)], 0, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples)
        .collect()
}

async fn settle() {
    // let spawned loops and their blocking appends run
    for _ in 0..50 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn scrapes_every_interval_and_marks_departed_series_stale() {
    let (storage, manager, source, job) = setup("a 1\nb 2\n");
    manager.set_jobs("test", vec![job]);
    tokio::time::sleep(Duration::from_secs(25)).await;
    settle().await;
    let a = series(&storage, "a");
    assert!(a.len() >= 2, "{a:?}");
    assert_eq!(a[1].t - a[0].t, 10_000, "one scrape per interval");
    let up = series(&storage, "up");
    assert!(up.iter().all(|s| s.v == 1.0));

    *source.0.lock() = "a 3\n".to_owned();
    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    let b = series(&storage, "b");
    let last = b.last().unwrap();
    assert!(is_stale_nan(last.v), "b went stale: {b:?}");
    assert!(!is_stale_nan(series(&storage, "a").last().unwrap().v));

    let (targets, _) = manager.targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].health, Health::Up);
    assert_eq!(targets[0].labels.get("job"), Some("demo"));
    manager.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_target_has_every_series_marked_stale_at_once() {
    let (storage, manager, _source, job) = setup("a 1\n");
    manager.set_jobs("test", vec![job]);
    tokio::time::sleep(Duration::from_secs(11)).await;
    settle().await;
    assert!(!series(&storage, "a").is_empty());
    manager.set_jobs("test", vec![]);
    settle().await;
    for name in ["a", "up", "scrape_duration_seconds"] {
        let s = series(&storage, name);
        assert!(is_stale_nan(s.last().unwrap().v), "{name} is stale: {s:?}");
    }
    assert!(manager.targets().0.is_empty());
    manager.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_malformed_exposition_is_down_with_line_and_column() {
    let (storage, manager, _source, job) = setup("a{x=1} 1\n");
    manager.set_jobs("test", vec![job]);
    tokio::time::sleep(Duration::from_secs(11)).await;
    settle().await;
    let up = series(&storage, "up");
    assert_eq!(up.last().unwrap().v, 0.0);
    let (targets, _) = manager.targets();
    assert_eq!(targets[0].health, Health::Down);
    assert!(
        targets[0].last_error.contains("line 1"),
        "{}",
        targets[0].last_error
    );
    manager.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_job_keeps_its_loop_and_a_changed_one_restarts() {
    let (storage, manager, _source, job) = setup("a 1\n");
    manager.set_jobs("test", vec![job.clone()]);
    tokio::time::sleep(Duration::from_secs(11)).await;
    settle().await;
    manager.set_jobs("test", vec![job.clone()]);
    settle().await;
    assert!(
        !is_stale_nan(series(&storage, "a").last().unwrap().v),
        "kept: no stale marker"
    );
    let mut changed = job;
    changed.honor_labels = true;
    manager.set_jobs("test", vec![changed]);
    settle().await;
    assert!(
        is_stale_nan(series(&storage, "a").last().unwrap().v),
        "restarted: the old loop marked its series stale"
    );
    manager.shutdown().await;
}
