//! Rules and alerts through the real binary: `steward up` evaluates the
//! rule files of its configuration, sends a firing alert to a real
//! Alertmanager (0.25, `STEWARD_TEST_ALERTMANAGER`) with its external
//! labels, journals it, and `steward reload` swaps the rules (an invalid
//! file is refused with every problem named, and the old rules run on).

use std::time::Duration;

use serde_json::Value;
use steward_test_support::{
    alertmanager::{self, Alertmanager},
    free_port, wait_until_blocking,
};

use crate::support::{Server, stderr, stdout};

const RULES: &str = "groups:\n  - name: always\n    interval: 500ms\n    rules:\n      - record: job:one\n        expr: vector(1)\n      - alert: AlwaysOn\n        expr: job:one > 0\n        labels: {severity: ticket}\n        annotations: {summary: 'value is {{ $value }}'}\n";

/// The active alerts Alertmanager holds, by name.
fn alerts_named(am: &Alertmanager, name: &str) -> Vec<Value> {
    let Some((200, body)) = am.get("/api/v2/alerts") else {
        return Vec::new();
    };
    let all: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
    all.into_iter()
        .filter(|a| a["labels"]["alertname"] == name)
        .collect()
}

#[test]
fn up_sends_alerts_to_alertmanager_and_reload_swaps_rules() {
    let Some(bin) = alertmanager::binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(&bin, dir.path(), alertmanager::SINK_CONFIG);
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let rules = dir.path().join("rules/always.yml");
    std::fs::write(&rules, RULES).unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n[metrics]\nscrape_interval = \"1s\"\nscrape_timeout = \"1s\"\n\n\
             [rules]\nfiles = [\"rules/*.yml\"]\nexternal_labels = {{ cluster = \"lab\" }}\nresend_delay = \"1s\"\n\n\
             [[rules.alertmanagers]]\ntargets = [\"{}\"]\n",
            free_port(),
            am.address
        ),
    )
    .unwrap();
    let server = Server::spawn(dir, config);

    wait_until_blocking(
        "Alertmanager holds the firing alert",
        Duration::from_secs(30),
        || !alerts_named(&am, "AlwaysOn").is_empty(),
    );
    let alert = &alerts_named(&am, "AlwaysOn")[0];
    assert_eq!(
        alert["labels"],
        serde_json::json!({"alertname": "AlwaysOn", "severity": "ticket", "cluster": "lab"})
    );
    assert_eq!(alert["annotations"]["summary"], "value is 1");
    let events = server.cli(&["events", "list", "--kind", "alert", "--output", "json"]);
    assert!(events.status.success(), "{}", stderr(&events));
    assert!(
        stdout(&events).contains("alert.firing"),
        "{}",
        stdout(&events)
    );
    let history = server.cli(&["alerts", "history", "--output", "json"]);
    assert!(history.status.success(), "{}", stderr(&history));
    let history: Value = serde_json::from_str(&stdout(&history)).unwrap();
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["alert.firing"],
        "the history holds the firing alert"
    );

    // an invalid file: refused, every problem named, the old rules run on
    std::fs::write(
        server.dir.path().join("rules/broken.yml"),
        "groups:\n  - name: broken\n    rules:\n      - record: 'bad name'\n        expr: up\n      - alert: NoExpr\n",
    )
    .unwrap();
    let refused = server.cli(&["reload"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(message.contains("broken.yml"), "{message}");
    assert!(message.contains("bad name"), "{message}");
    assert!(!alerts_named(&am, "AlwaysOn").is_empty());

    // a valid set replaces the rules
    std::fs::remove_file(server.dir.path().join("rules/broken.yml")).unwrap();
    std::fs::write(
        &rules,
        "groups:\n  - name: quiet\n    rules:\n      - record: job:two\n        expr: vector(2)\n",
    )
    .unwrap();
    let reloaded = server.cli(&["reload"]);
    assert!(reloaded.status.success(), "{}", stderr(&reloaded));
    assert_eq!(
        stdout(&reloaded).trim(),
        "reloaded 1 rule group (1 rule) from 1 file"
    );
    let rules_now = server.cli(&["events", "list", "--kind", "rules", "--output", "json"]);
    assert!(stdout(&rules_now).contains("rules.reload_failed"));
    let (status, _, _) = server.terminate();
    assert!(status.success());
}
