//! Tests of scrape processing: label attachment, staleness, limits,
//! report series.

use steward_config::{MetricsConfig, RelabelAction, RelabelConfig};

use super::*;
use crate::{exposition, is_stale_nan};

fn job() -> JobConfig {
    JobConfig::new("api", &MetricsConfig::default())
}

fn target() -> Labels {
    Labels::from_pairs([("job", "api"), ("instance", "h:1")])
}

fn parse(text: &str) -> Parsed {
    exposition::parse(text.as_bytes(), "text/plain; version=0.0.4").unwrap()
}

#[test]
fn clashing_labels_are_exported_unless_honored() {
    let scraped = Labels::from_pairs([("__name__", "m"), ("job", "inner"), ("x", "1")]);
    let got = attach(&scraped, &target(), false);
    assert_eq!(got.get("job"), Some("api"));
    assert_eq!(got.get("exported_job"), Some("inner"));
    assert_eq!(got.get("instance"), Some("h:1"));
    let honored = attach(&scraped, &target(), true);
    assert_eq!(honored.get("job"), Some("inner"));
    assert_eq!(honored.get("exported_job"), None);
}

#[test]
fn series_that_leave_the_exposition_get_one_stale_marker() {
    let mut cache = ScrapeCache::default();
    let (first, stats) = samples(&job(), &target(), parse("a 1\nb 2\n"), 1000, &mut cache).unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(stats.series_added, 2);
    let (second, stats) = samples(&job(), &target(), parse("a 3\n"), 2000, &mut cache).unwrap();
    assert_eq!(stats.series_added, 0);
    let stale: Vec<_> = second.iter().filter(|(_, s)| is_stale_nan(s.v)).collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].0.metric_name(), Some("b"));
    assert_eq!(stale[0].1.t, 2000);
    let (third, _) = samples(&job(), &target(), parse("a 4\n"), 3000, &mut cache).unwrap();
    assert!(
        third.iter().all(|(_, s)| !is_stale_nan(s.v)),
        "b is marked once"
    );
    assert_eq!(all_stale(&mut cache, 4000).len(), 1);
}

#[test]
fn explicit_timestamps_are_kept_and_not_tracked_for_staleness() {
    let mut cache = ScrapeCache::default();
    let (got, _) = samples(&job(), &target(), parse("a 1 500\n"), 1000, &mut cache).unwrap();
    assert_eq!(got[0].1.t, 500);
    let (got, _) = samples(&job(), &target(), parse(""), 2000, &mut cache).unwrap();
    assert!(got.is_empty(), "no marker for a timestamped series");
    let mut j = job();
    j.honor_timestamps = false;
    let (got, _) = samples(&j, &target(), parse("a 1 500\n"), 1000, &mut cache).unwrap();
    assert_eq!(got[0].1.t, 1000);
}

#[test]
fn limits_fail_the_scrape_after_relabelling() {
    let mut j = job();
    j.sample_limit = 1;
    let mut cache = ScrapeCache::default();
    let err = samples(&j, &target(), parse("a 1\nb 2\n"), 1, &mut cache).unwrap_err();
    assert_eq!(err, ScrapeFailure::SampleLimit { got: 2, limit: 1 });
    j.metric_relabel = crate::scrape::target::compile(&[RelabelConfig {
        source_labels: vec!["__name__".into()],
        regex: "b".into(),
        action: RelabelAction::Drop,
        ..RelabelConfig::default()
    }])
    .unwrap();
    let (got, stats) = samples(&j, &target(), parse("a 1\nb 2\n"), 1, &mut cache).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((stats.scraped, stats.post_relabel), (2, 1));
    let mut j = job();
    j.label_limit = 3;
    let err = samples(
        &j,
        &target(),
        parse("a{x=\"1\",y=\"2\"} 1\n"),
        1,
        &mut cache,
    )
    .unwrap_err();
    assert!(
        matches!(err, ScrapeFailure::LabelLimit { got: 5, .. }),
        "{err}"
    );
}

#[test]
fn report_series_carry_target_labels_and_go_stale_once() {
    let mut cache = ScrapeCache::default();
    let stats = ScrapeStats {
        scraped: 3,
        post_relabel: 2,
        series_added: 1,
    };
    let got = report(&target(), true, 0.25, stats, 1000, &mut cache);
    let by_name = |n: &str| {
        got.iter()
            .find(|(l, _)| l.metric_name() == Some(n))
            .unwrap()
            .1
            .v
    };
    assert_eq!(by_name("up"), 1.0);
    assert_eq!(by_name("scrape_duration_seconds"), 0.25);
    assert_eq!(by_name("scrape_samples_post_metric_relabeling"), 2.0);
    assert_eq!(got[0].0.get("instance"), Some("h:1"));
    assert_eq!(report_stale(&target(), 2000, &mut cache).len(), 5);
    assert!(report_stale(&target(), 3000, &mut cache).is_empty());
}
