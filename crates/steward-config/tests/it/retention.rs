//! The `[retention]` section: its defaults, and values given in the file.

use std::{path::Path, time::Duration};

use steward_config::{Environment, RetentionConfig, load_str};

const DAY: u64 = 24 * 3600;

#[test]
fn retention_defaults_apply_without_a_section() {
    let loaded = load_str("inline", "", Path::new("."), &Environment::default()).unwrap();
    let retention = &loaded.config.retention;
    assert_eq!(retention, &RetentionConfig::default());
    assert_eq!(
        retention.journal_max_age.get(),
        Duration::from_secs(90 * DAY)
    );
    assert_eq!(retention.journal_max_events, 1_000_000);
    assert_eq!(retention.logs_max_size.bytes(), 50 << 20);
    assert_eq!(retention.logs_keep, 3);
    assert_eq!(retention.logs_max_age.get(), Duration::from_secs(14 * DAY));
    assert_eq!(
        retention.backups_max_age.get(),
        Duration::from_secs(30 * DAY)
    );
    assert_eq!(retention.backups_keep, 10);
    assert_eq!(retention.interval.get(), Duration::from_secs(600));
}

#[test]
fn retention_values_are_read_and_others_keep_their_defaults() {
    let text = "[retention]\njournal_max_age = \"0\"\nlogs_max_size = \"1MiB\"\nlogs_keep = 0\nbackups_keep = 2\n";
    let loaded = load_str("inline", text, Path::new("."), &Environment::default()).unwrap();
    let retention = &loaded.config.retention;
    assert_eq!(retention.journal_max_age.get(), Duration::ZERO);
    assert_eq!(retention.logs_max_size.bytes(), 1 << 20);
    assert_eq!(retention.logs_keep, 0);
    assert_eq!(retention.backups_keep, 2);
    assert_eq!(retention.journal_max_events, 1_000_000);
    assert_eq!(retention.interval.get(), Duration::from_secs(600));
}

#[test]
fn retention_values_can_come_from_the_environment() {
    let env: Environment = [(
        "STEWARD_RETENTION__JOURNAL_MAX_AGE".to_owned(),
        "30d".to_owned(),
    )]
    .into_iter()
    .collect();
    let loaded = load_str("inline", "", Path::new("."), &env).unwrap();
    assert_eq!(
        loaded.config.retention.journal_max_age.get(),
        Duration::from_secs(30 * DAY)
    );
}
