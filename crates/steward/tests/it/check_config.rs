//! `steward check-config`: every problem at once, exit 2; valid files exit 0.

use std::process::Command;

use crate::support::{BIN, stderr, stdout};

fn case(name: &str) -> String {
    format!(
        "{}/../steward-config/tests/cases/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn three_mistakes_are_reported_together_with_line_and_column() {
    let output = Command::new(BIN)
        .args(["check-config", &case("three_mistakes.toml")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    for (at, message) in [
        ("three_mistakes.toml:12:1", "unknown key `replcas`"),
        (
            "three_mistakes.toml:22:15",
            "depends on unknown service `agent-wroker`",
        ),
        (
            "three_mistakes.toml:23:8",
            "port 8081 of service `gateway` is already used",
        ),
    ] {
        assert!(
            text.contains(at) && text.contains(message),
            "missing {at} {message} in:\n{text}"
        );
    }
    assert!(text.contains("help: did you mean `replicas`?"), "{text}");
    assert!(text.contains("has 3 errors"), "{text}");
}

#[test]
fn a_valid_file_exits_0() {
    let example = format!(
        "{}/../../examples/agent-system/steward.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = Command::new(BIN)
        .args(["check-config", &example])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("ok: "), "{}", stdout(&output));
}

#[test]
fn json_output_lists_diagnostics_for_ci() {
    let output = Command::new(BIN)
        .args([
            "check-config",
            "--output",
            "json",
            &case("three_mistakes.toml"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 3);
    assert_eq!(diagnostics[0]["location"]["line"], 12);
    assert_eq!(diagnostics[0]["location"]["column"], 1);
}

#[test]
fn a_missing_file_is_a_configuration_error() {
    let output = Command::new(BIN)
        .args(["check-config", "/nonexistent/steward.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read configuration file /nonexistent/steward.toml"));
}

#[test]
fn usage_errors_exit_2() {
    let output = Command::new(BIN)
        .args(["token", "create", "--role", "emperor", "--name", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = Command::new(BIN)
        .args(["no-such-command"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_schema_is_printed_as_json() {
    let output = Command::new(BIN).arg("config-schema").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(schema["$defs"]["ServiceConfig"].is_object());
}
