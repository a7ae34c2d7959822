//! Unit tests for the `env` module.

use super::*;
use crate::{Config, node::parse};

fn env(pairs: &[(&str, &str)]) -> Environment {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

fn schema() -> Schema {
    Schema::new(crate::json_schema())
}

#[test]
fn expands_references_and_escapes() {
    let vars = env(&[("DB_PASSWORD", "s3cret"), ("HOST", "db")]);
    assert_eq!(
        expand("postgres://u:${DB_PASSWORD}@${HOST}/x", &vars).unwrap(),
        "postgres://u:s3cret@db/x"
    );
    assert_eq!(
        expand("cost $5 and $${HOME}", &vars).unwrap(),
        "cost $5 and ${HOME}"
    );
    assert_eq!(
        expand("${MISSING}", &vars).unwrap_err(),
        "environment variable `MISSING` is not set"
    );
    assert!(
        expand("${UNCLOSED", &vars)
            .unwrap_err()
            .contains("unterminated")
    );
    assert!(
        expand("${BAD-NAME}", &vars)
            .unwrap_err()
            .contains("not a valid")
    );
}

#[test]
fn interpolation_errors_point_at_the_string() {
    let source = "[[databases]]\nname = \"x\"\nurl = \"${NOPE}\"\n";
    let mut tree = parse("f", source).unwrap();
    let mut sink = Sink::new("f", source);
    interpolate(&mut tree, &env(&[]), &mut sink);
    assert_eq!(sink.diagnostics.len(), 1);
    let text = sink.diagnostics[0].location.to_string();
    assert_eq!(text, "f:3:7");
}

#[test]
fn overrides_set_nested_keys_and_select_services_by_name() {
    let source = "[server]\nlisten = \"127.0.0.1:1\"\n\n[[services]]\nname = \"agent-worker\"\nreplicas = 1\n";
    let vars = env(&[
        ("STEWARD_SERVER__LISTEN", "0.0.0.0:9000"),
        ("STEWARD_SERVICES__AGENT_WORKER__REPLICAS", "4"),
        ("STEWARD_SERVICES__AGENT_WORKER__ENV__LOG_LEVEL", "debug"),
        ("STEWARD_TOKEN", "not an override"),
    ]);
    let schema = schema();
    let mut tree = parse("f", source).unwrap();
    let mut sink = Sink::new("f", source);
    apply_overrides(&mut tree, &vars, &schema, &mut sink);
    schema.check(&mut tree, schema.root(), &mut Vec::new(), &mut sink);
    assert!(sink.diagnostics.is_empty(), "{:?}", sink.diagnostics);
    let config: Config = serde_json::from_value(tree.to_json()).unwrap();
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.services[0].replicas, 4);
    assert_eq!(config.services[0].env["LOG_LEVEL"].expose(), "debug");
}

#[test]
fn bad_overrides_are_reported_against_the_variable() {
    let source = "[[services]]\nname = \"gateway\"\n";
    let vars = env(&[
        ("STEWARD_SERVR__LISTEN", "x"),
        ("STEWARD_SERVICES__NOPE__REPLICAS", "2"),
        ("STEWARD_SERVICES__GATEWAY__REPLICAS", "many"),
    ]);
    let schema = schema();
    let mut tree = parse("f", source).unwrap();
    let mut sink = Sink::new("f", source);
    apply_overrides(&mut tree, &vars, &schema, &mut sink);
    schema.check(&mut tree, schema.root(), &mut Vec::new(), &mut sink);
    let found: Vec<(String, String, Option<String>)> = sink
        .diagnostics
        .iter()
        .map(|d| (d.location.to_string(), d.message.clone(), d.hint.clone()))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().any(|(at, message, hint)| at
        == "environment variable STEWARD_SERVR__LISTEN"
        && message.contains("unknown key `servr`")
        && hint.as_deref() == Some("did you mean `server`?")));
    assert!(found.iter().any(|(at, message, _)| at
        == "environment variable STEWARD_SERVICES__NOPE__REPLICAS"
        && message.contains("no entry has that name")));
    assert!(found.iter().any(|(at, message, _)| at
        == "environment variable STEWARD_SERVICES__GATEWAY__REPLICAS"
        && message.contains("must be an integer, found a string")));
}
