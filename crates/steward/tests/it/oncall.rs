//! `steward oncall who` through the real binary: the configuration's
//! schedules computed locally, as a table in each schedule's time zone and
//! as JSON, with usage errors for an unknown schedule or a bad time.

use serde_json::Value;

use crate::support::{cli_in, stderr, stdout};

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:1"

[[oncall.schedules]]
name = "platform"
time_zone = "Europe/Paris"

[[oncall.schedules.layers]]
name = "primary"
users = ["ana", "bo", "cy"]
rotation = "daily"
start = "2026-03-26T09:00"

[[oncall.schedules.overrides]]
user = "zoe"
start = "2026-03-29T12:00:00+02:00"
end = "2026-03-29T14:00:00+02:00"

[[oncall.schedules]]
name = "nights"
time_zone = "America/New_York"

[[oncall.schedules.layers]]
name = "late"
users = ["dee"]
rotation = "weekly"
start = "2026-03-02T00:00"
restrictions = [{ kind = "daily", start = "22:00", duration = "8h" }]
"#;

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(&config, CONFIG).unwrap();
    (dir, config)
}

#[test]
fn who_is_on_call_across_the_spring_change_as_json_and_as_a_table() {
    let (dir, config) = setup();
    // 08:30 in Paris on the day clocks went forward: cy's turn, which
    // began at 09:00 CET the day before, ends at 09:00 CEST (23 hours)
    let out = cli_in(
        dir.path(),
        &config,
        &[
            "oncall",
            "who",
            "--at",
            "2026-03-29T08:30:00+02:00",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(answer["at"], "2026-03-29T06:30:00Z");
    let platform = &answer["schedules"][0];
    assert_eq!(platform["schedule"], "platform");
    assert_eq!(platform["user"], "cy");
    assert_eq!(platform["layer"], "primary");
    assert_eq!(platform["since"], "2026-03-28T08:00:00Z");
    assert_eq!(platform["until"], "2026-03-29T07:00:00Z");
    // 02:30 in New York is within dee's nightly window (22:00-06:00 EDT)
    let nights = &answer["schedules"][1];
    assert_eq!(nights["user"], "dee");
    assert_eq!(nights["until"], "2026-03-29T10:00:00Z");

    // the override, shown in the schedule's zone
    let out = cli_in(
        dir.path(),
        &config,
        &[
            "oncall",
            "who",
            "--at",
            "2026-03-29T12:30:00+02:00",
            "--schedule",
            "platform",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let row = text.lines().nth(1).expect("a row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..3], ["platform", "zoe", "override"], "{text}");
    assert!(
        row.contains("2026-03-29 12:00 CEST") && row.contains("2026-03-29 14:00 CEST"),
        "{text}"
    );

    // midday in New York: nobody on the nights schedule
    let out = cli_in(
        dir.path(),
        &config,
        &[
            "oncall",
            "who",
            "--at",
            "2026-03-29T12:00:00-04:00",
            "--schedule",
            "nights",
            "--output",
            "json",
        ],
    );
    let answer: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(answer["schedules"][0]["user"], Value::Null);
}

#[test]
fn an_unknown_schedule_or_time_is_a_usage_error() {
    let (dir, config) = setup();
    let out = cli_in(
        dir.path(),
        &config,
        &["oncall", "who", "--schedule", "payments"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(r#"no schedule named "payments""#)
            && stderr(&out).contains("platform, nights"),
        "{}",
        stderr(&out)
    );
    let out = cli_in(dir.path(), &config, &["oncall", "who", "--at", "tomorrow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--at tomorrow: expected a time with its offset"),
        "{}",
        stderr(&out)
    );
}
