//! A reload's answer from its parts' outcomes: every part that runs must
//! have succeeded; the rules' fields stay at the top level, empty when
//! the server evaluates no rules.

use super::*;

fn rules() -> RulesLoaded {
    RulesLoaded {
        rule_files: vec!["rules/a.yml".into()],
        log_rule_files: Vec::new(),
        groups: 2,
        rules: 5,
    }
}

fn alertmanager() -> AlertmanagerReloaded {
    AlertmanagerReloaded {
        config: "alertmanager.yml".into(),
        receivers: vec!["ops".into()],
    }
}

#[test]
fn every_running_part_must_succeed() {
    let both = ReloadReport {
        rules: Some(Ok(rules())),
        alerts: Some(Ok(alertmanager())),
    }
    .outcome()
    .unwrap();
    assert_eq!(both.groups, 2);
    assert_eq!(both.alertmanager, Some(alertmanager()));

    let alerts_only = ReloadReport {
        rules: None,
        alerts: Some(Ok(alertmanager())),
    }
    .outcome()
    .unwrap();
    assert_eq!(alerts_only.rule_files, Vec::<String>::new());
    assert_eq!(alerts_only.groups, 0);

    let rules_only = ReloadReport {
        rules: Some(Ok(rules())),
        alerts: None,
    }
    .outcome()
    .unwrap();
    assert_eq!(
        serde_json::to_value(&rules_only).unwrap(),
        serde_json::json!({"rule_files": ["rules/a.yml"], "groups": 2, "rules": 5}),
        "the rules reload's answer as it was"
    );

    for report in [
        ReloadReport {
            rules: Some(Err(ReloadError::Invalid("bad".into()))),
            alerts: Some(Ok(alertmanager())),
        },
        ReloadReport {
            rules: Some(Ok(rules())),
            alerts: Some(Err(ReloadError::Invalid("bad".into()))),
        },
        ReloadReport {
            rules: None,
            alerts: Some(Err(ReloadError::Config("bad".into()))),
        },
    ] {
        assert!(report.outcome().is_err());
    }
}

#[test]
fn a_configuration_given_as_text_is_reused() {
    let loaded = steward_config::load_str(
        "inline.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\n",
        std::path::Path::new("."),
        &Environment::default(),
    )
    .unwrap();
    let again = reread(&loaded).unwrap();
    assert_eq!(again.config.server.listen, loaded.config.server.listen);
    assert_eq!(again.source, loaded.source);
}

#[test]
fn an_invalid_configuration_file_is_reported_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let loaded = steward_config::load(&file, &Environment::default()).unwrap();
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:0\"\nlistne = 1\n").unwrap();
    let problems = reread(&loaded).unwrap_err();
    assert!(problems.contains("steward.toml"), "{problems}");
    assert!(problems.contains("listne"), "{problems}");
}
