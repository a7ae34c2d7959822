//! Tests of the routing tree: inheritance, matching with `continue`, keys
//! and ids, and amtool's drawings.

use std::time::Duration;

use super::*;

const CONFIG: &str = r#"
route:
  receiver: default
  group_by: [alertname, cluster]
  routes:
    - matchers: ['service=~"foo|bar"', 'severity!="info"']
      receiver: team-foo
      continue: true
      routes:
        - match: {env: prod}
          receiver: foo-prod
          group_by: ['...']
          group_wait: 10s
    - match_re: {service: ".*"}
      receiver: catchall
      repeat_interval: 1h
    - receiver: never
receivers: [{name: default}, {name: team-foo}, {name: foo-prod}, {name: catchall}, {name: never}]
"#;

fn tree(text: &str) -> Route {
    Route::from_config(&Config::load(text).unwrap())
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn matching_is_depth_first_with_continue() {
    let root = tree(CONFIG);
    assert_eq!(
        root.receivers(&labels(&[("service", "foo"), ("env", "prod")])),
        ["foo-prod", "catchall"]
    );
    // A route whose children do not match is itself the result.
    assert_eq!(
        root.receivers(&labels(&[("service", "bar")])),
        ["team-foo", "catchall"]
    );
    // The negative matcher excludes; the anchored `.*` matches a missing label.
    assert_eq!(
        root.receivers(&labels(&[("service", "foo"), ("severity", "info")])),
        ["catchall"]
    );
    assert_eq!(root.receivers(&LabelSet::new()), ["catchall"]);
    // Nothing below the root matches: the root.
    let simple = tree(
        "route:\n  receiver: default\n  routes: [{match: {a: b}, receiver: x}]\nreceivers: [{name: default}, {name: x}]",
    );
    assert_eq!(simple.receivers(&labels(&[("a", "c")])), ["default"]);
}

#[test]
fn children_inherit_their_parents_options() {
    let root = tree(CONFIG);
    let opts = root.opts();
    assert_eq!(opts.receiver, "default");
    assert_eq!(opts.group_wait, Duration::from_secs(30));
    assert_eq!(opts.group_interval, Duration::from_secs(300));
    assert_eq!(opts.repeat_interval, Duration::from_secs(4 * 3600));
    let foo = &root.routes()[0];
    assert_eq!(
        foo.opts().group_by.iter().collect::<Vec<_>>(),
        ["alertname", "cluster"]
    );
    let prod = &foo.routes()[0].opts();
    assert!(prod.group_by_all);
    assert_eq!(prod.group_wait, Duration::from_secs(10));
    assert_eq!(prod.group_interval, Duration::from_secs(300));
    let catchall = root.routes()[1].opts();
    assert_eq!(catchall.repeat_interval, Duration::from_secs(3600));
    assert!(!catchall.group_by_all);
    let never = root.routes()[2].opts();
    assert_eq!(never.receiver, "never");

    // `...` then labels below it: the labels again.
    let nested = tree(
        "route:\n  receiver: d\n  group_by: ['...']\n  routes:\n    - group_by: [a]\n      routes: [{receiver: d}]\n    - receiver: d\nreceivers: [{name: d}]",
    );
    assert!(nested.opts().group_by_all);
    let relabelled = nested.routes()[0].routes()[0].opts();
    assert!(!relabelled.group_by_all);
    assert_eq!(relabelled.group_by.iter().collect::<Vec<_>>(), ["a"]);
    assert!(nested.routes()[1].opts().group_by_all);
}

#[test]
fn mute_and_active_intervals_are_each_routes_own() {
    let root = tree(
        r#"
route:
  receiver: d
  routes:
    - mute_time_intervals: [night]
      active_time_intervals: [week]
      routes: [{receiver: d}]
receivers: [{name: d}]
time_intervals:
  - {name: night, time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]}
  - {name: week, time_intervals: [{weekdays: ['monday:friday']}]}
"#,
    );
    let parent = root.routes()[0].opts();
    assert_eq!(parent.mute_time_intervals, ["night"]);
    assert_eq!(parent.active_time_intervals, ["week"]);
    // Alertmanager's NewRoute does not pass them down.
    let child = root.routes()[0].routes()[0].opts();
    assert!(child.mute_time_intervals.is_empty());
    assert!(child.active_time_intervals.is_empty());
}

#[test]
fn keys_and_ids_are_alertmanagers() {
    let root = tree(CONFIG);
    assert_eq!(root.key(), "{}");
    assert_eq!(root.id(), "{}");
    let foo = &root.routes()[0];
    assert_eq!(foo.key(), r#"{}/{service=~"foo|bar",severity!="info"}"#);
    assert_eq!(foo.id(), r#"{}/{service=~"foo|bar",severity!="info"}/0"#);
    assert_eq!(
        foo.routes()[0].id(),
        r#"{}/{service=~"foo|bar",severity!="info"}/{env="prod"}/0"#
    );
    // match_re values are anchored, as Alertmanager prints them.
    assert_eq!(root.routes()[1].id(), r#"{}/{service=~"^(?:.*)$"}/1"#);
    assert_eq!(root.routes()[2].key(), "{}/{}");
    assert_eq!(root.routes()[2].id(), "{}/{}/2");
    assert_eq!(root.walk().len(), 5);
}

#[test]
fn matchers_are_sorted_by_name_value_and_operator() {
    let root = tree(
        "route:\n  receiver: d\n  routes:\n    - matchers: ['b!=\"1\"', 'b=\"1\"', a=~x]\n      match: {c: z}\nreceivers: [{name: d}]",
    );
    assert_eq!(root.routes()[0].key(), r#"{}/{a=~"x",b="1",b!="1",c="z"}"#);
}

#[test]
fn the_tree_is_drawn_as_amtool_draws_it() {
    let root = tree(CONFIG);
    let expected = "\
.
└── default-route  receiver: default
    ├── {service=~\"foo|bar\",severity!=\"info\"}  continue: true  receiver: team-foo
    │\u{a0}\u{a0} └── {env=\"prod\"}  receiver: foo-prod
    ├── {service=~\"^(?:.*)$\"}  receiver: catchall
    └── default-route  receiver: never
";
    assert_eq!(root.tree(), expected);
    let matching = "\
.
└── default-route
    ├── {service=~\"foo|bar\",severity!=\"info\"}
    │\u{a0}\u{a0} └── {env=\"prod\"}  receiver: foo-prod
    └── {service=~\"^(?:.*)$\"}  receiver: catchall
";
    assert_eq!(
        root.matching_tree(&labels(&[("service", "foo"), ("env", "prod")])),
        matching
    );
    assert_eq!(
        tree("route: {receiver: d}\nreceivers: [{name: d}]").matching_tree(&LabelSet::new()),
        ".\n└── default-route  receiver: d\n"
    );
}

#[test]
fn group_labels_follow_group_by() {
    let root = tree(CONFIG);
    let alert = labels(&[("alertname", "Down"), ("service", "foo"), ("env", "prod")]);
    assert_eq!(
        root.opts().group_labels(&alert),
        labels(&[("alertname", "Down")])
    );
    let prod = &root.routes()[0].routes()[0];
    assert_eq!(prod.opts().group_labels(&alert), alert);
}
