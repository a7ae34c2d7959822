//! Tests of target label computation.

use steward_config::{RelabelAction, RelabelConfig};

use super::*;

fn job() -> JobConfig {
    let mut job = JobConfig::new("node", &MetricsConfig::default());
    job.params.insert("module".into(), vec!["http_2xx".into()]);
    job
}

fn target(resolved: Resolved) -> Target {
    match resolved {
        Resolved::Target(t) => t,
        other => panic!("expected a target, got {other:?}"),
    }
}

#[test]
fn instance_defaults_to_address_and_private_labels_go() {
    let discovered = Labels::from_pairs([(ADDRESS, "h:9100"), ("env", "prod")]);
    let t = target(resolve(&job(), &discovered));
    assert_eq!(
        t.labels,
        Labels::from_pairs([("instance", "h:9100"), ("job", "node"), ("env", "prod")])
    );
    assert_eq!(t.url, "http://h:9100/metrics?module=http_2xx");
    assert_eq!(t.discovered.get("__scrape_interval__"), Some("15s"));
}

#[test]
fn relabelling_rewrites_address_params_and_can_drop() {
    let mut j = job();
    j.relabel = compile(&[
        RelabelConfig {
            source_labels: vec![ADDRESS.into()],
            target_label: Some("__param_target".into()),
            ..RelabelConfig::default()
        },
        RelabelConfig {
            target_label: Some(ADDRESS.into()),
            replacement: "exporter:9115".into(),
            ..RelabelConfig::default()
        },
        RelabelConfig {
            source_labels: vec!["env".into()],
            regex: "dev".into(),
            action: RelabelAction::Drop,
            ..RelabelConfig::default()
        },
    ])
    .unwrap();
    let t = target(resolve(
        &j,
        &Labels::from_pairs([(ADDRESS, "site:80"), ("env", "prod")]),
    ));
    assert_eq!(t.labels.get("instance"), Some("exporter:9115"));
    assert_eq!(
        t.url,
        "http://exporter:9115/metrics?module=http_2xx&target=site%3A80"
    );
    let dropped = resolve(&j, &Labels::from_pairs([(ADDRESS, "x:1"), ("env", "dev")]));
    assert!(matches!(dropped, Resolved::Dropped(_)), "{dropped:?}");
}

#[test]
fn an_address_removed_by_relabelling_is_invalid() {
    let mut j = job();
    j.relabel = compile(&[RelabelConfig {
        regex: ADDRESS.into(),
        action: RelabelAction::Labeldrop,
        ..RelabelConfig::default()
    }])
    .unwrap();
    let r = resolve(&j, &Labels::from_pairs([(ADDRESS, "h:1")]));
    assert!(matches!(r, Resolved::Invalid { .. }), "{r:?}");
}

#[test]
fn durations_print_like_prometheus() {
    assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
    assert_eq!(format_duration(Duration::from_secs(15)), "15s");
}
