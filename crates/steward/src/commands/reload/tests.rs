//! Unit tests of `steward reload`'s rendering of the server's answer (the
//! endpoint itself is tested with the server).

use super::*;

fn response(json: serde_json::Value) -> ReloadOutcome {
    serde_json::from_value(json).unwrap()
}

#[test]
fn the_answer_is_summed_up_in_one_line() {
    let answer = response(serde_json::json!({
        "rule_files": ["rules/a.yml", "rules/b.yml"],
        "groups": 3,
        "rules": 12,
    }));
    assert_eq!(
        summary(&answer),
        "reloaded 3 rule groups (12 rules) from 2 files"
    );
}

#[test]
fn one_of_a_kind_is_singular_and_none_is_plural() {
    let one = response(serde_json::json!({"rule_files": ["a.yml"], "groups": 1, "rules": 1}));
    assert_eq!(summary(&one), "reloaded 1 rule group (1 rule) from 1 file");
    let none = response(serde_json::json!({"rule_files": [], "groups": 0, "rules": 0}));
    assert_eq!(
        summary(&none),
        "reloaded 0 rule groups (0 rules) from 0 files"
    );
}

#[test]
fn json_output_is_the_answer_as_the_server_sent_it() {
    let sent = serde_json::json!({"rule_files": ["a.yml"], "groups": 2, "rules": 5});
    let answer = response(sent.clone());
    assert_eq!(serde_json::to_value(&answer).unwrap(), sent);
}

#[test]
fn the_alertmanagers_configuration_is_summed_up_too() {
    let sent = serde_json::json!({
        "rule_files": [],
        "groups": 0,
        "rules": 0,
        "alertmanager": {"config": "/etc/steward/alertmanager.yml", "receivers": ["ops", "pager"]},
    });
    let answer = response(sent.clone());
    assert_eq!(
        summary(&answer),
        "reloaded 0 rule groups (0 rules) from 0 files; the Alertmanager configuration from /etc/steward/alertmanager.yml (2 receivers)"
    );
    assert_eq!(serde_json::to_value(&answer).unwrap(), sent);
}
