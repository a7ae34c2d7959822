//! Alert templates expanded as Prometheus 2.42 expands them: the
//! preamble's variables, `query` at the evaluation time, missing labels,
//! and errors in Prometheus' words.

use std::sync::Arc;

use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample};

use super::*;

fn expander() -> TemplateExpander {
    let storage = Arc::new(MemoryStorage::new());
    let up = |job: &str, t: i64, v: f64| {
        (
            Labels::from_pairs([("__name__", "up"), ("job", job)]),
            Sample::new(t, v),
        )
    };
    storage
        .append(&[up("api", 0, 1.0), up("db", 0, 0.0), up("api", 600_000, 0.0)])
        .unwrap();
    TemplateExpander::new(storage, Engine::default(), "http://prom.example:9090")
}

fn expand(text: &str, time_ms: i64) -> Result<String, String> {
    let labels = Labels::from_pairs([("__name__", "up"), ("instance", "a:9100"), ("job", "api")]);
    let external = Labels::from_pairs([("cluster", "eu")]);
    expander().expand("HostDown", text, &labels, 1234567.0, &external, time_ms)
}

#[test]
fn expansions() {
    // (template, evaluation time ms, expected)
    let cases: &[(&str, i64, &str)] = &[
        ("plain text", 0, "plain text"),
        (
            "{{ $labels.instance }} of {{ .Labels.job }}",
            0,
            "a:9100 of api",
        ),
        ("{{ $value }}", 0, "1.234567e+06"),
        ("{{ humanize $value }}", 0, "1.235M"),
        ("{{ $value | printf \"%.1f\" }}", 0, "1234567.0"),
        (
            "{{ $externalLabels.cluster }} {{ $externalURL }}",
            0,
            "eu http://prom.example:9090",
        ),
        // missingkey=zero: a missing label is empty, not <no value>
        ("[{{ $labels.nosuch }}]", 0, "[]"),
        ("{{ len (query \"up\") }}", 0, "2"),
        (
            "{{ range query \"up == 0\" }}{{ .Labels.job }}{{ end }}",
            0,
            "db",
        ),
        // the query runs at the evaluation time (db's sample is then
        // beyond the lookback)
        (
            "{{ range query \"up == 0\" }}{{ .Labels.job }} {{ end }}",
            600_000,
            "api ",
        ),
        ("{{ query \"1 + 1\" | first | value }}", 0, "2"),
        (
            "{{ with query \"up{job='api'}\" }}{{ . | first | label \"job\" }}{{ end }}",
            0,
            "api",
        ),
        ("{{ \"up\" | tableLink }}", 0, "/graph?g0.expr=up&g0.tab=1"),
    ];
    for (text, t, want) in cases {
        assert_eq!(expand(text, *t).as_deref(), Ok(*want), "{text}");
    }
}

#[test]
fn errors_are_worded_as_prometheus_words_them() {
    assert_eq!(
        expand("{{ $labels.job", 0),
        Err("error parsing template __alert_HostDown: template: __alert_HostDown:1: unclosed action".into())
    );
    let e = expand("{{ query \"up +\" }}", 0).unwrap_err();
    assert!(
        e.starts_with("error executing template __alert_HostDown: template: __alert_HostDown:1:"),
        "{e}"
    );
    // the engine's error as it is, as Prometheus shows it
    assert!(
        e.contains("at <query \"up +\">: error calling query: parse error"),
        "{e}"
    );
    let e = expand("{{ humanize \"x\" }}", 0).unwrap_err();
    assert!(e.contains("error calling humanize: "), "{e}");
}

#[test]
fn alerting_rules_show_expansion_errors_in_place() {
    use crate::rule::{AlertingRule, EvalEnv};
    let x = expander();
    let engine = Engine::default();
    let env = EvalEnv {
        storage: x.storage.as_ref(),
        engine: &engine,
        querier: None,
        expander: &x,
        external_labels: &Labels::empty(),
    };
    let mut rule = AlertingRule::new(
        "Down".into(),
        "up == 0".into(),
        0,
        0,
        Labels::from_pairs([("who", "{{ $labels.job }}")]),
        vec![
            ("bad".into(), "{{ humanize \"x\" }}".into()),
            ("good".into(), "{{ $labels.job }} down".into()),
        ],
    );
    rule.restored = true;
    rule.eval(&env, 0, 0).expect("evaluation succeeds");
    let alert = rule.active.values().next().unwrap();
    assert_eq!(alert.labels.get("who"), Some("db"));
    assert_eq!(alert.annotations.get("good"), Some("db down"));
    let bad = alert.annotations.get("bad").unwrap();
    assert!(
        bad.starts_with("<error expanding template: error executing template __alert_Down: "),
        "{bad}"
    );
}

#[test]
fn syntax_is_checked_as_promtool_checks_it() {
    assert_eq!(
        check_syntax("{{ humanize $value }} {{ query \"up\" }}", "A"),
        Ok(())
    );
    assert_eq!(
        check_syntax("{{ nosuch }}", "A"),
        Err(r#"template: __alert_A:1: function "nosuch" not defined"#.into())
    );
    assert_eq!(
        check_syntax("line1\n{{ if }}", "A"),
        Err("template: __alert_A:2: missing value for if".into())
    );
    assert_eq!(
        SyntaxChecker.check_syntax("{{ x", "A").unwrap_err(),
        "template: __alert_A:1: unclosed action"
    );
}
