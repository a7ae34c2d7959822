//! On-call schedule cases: each file of `tests/cases/schedules/` is a
//! `[schedule]` (the configuration's shape) with `[[who]]` checks (who
//! is on call at an instant, and from which layer or an override) and
//! `[[shifts]]` checks (every shift of a period). Files with `error` are
//! schedules that must be refused with that message.
//!
//! Expected shifts are written `user source start end`, the source a
//! layer's name or `override`, the times in UTC.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use steward_incident::oncall::{Schedule, ScheduleSpec, Source};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    schedule: ScheduleSpec,
    /// The message of a schedule that must be refused.
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    who: Vec<Who>,
    #[serde(default)]
    shifts: Vec<Shifts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Who {
    at: DateTime<Utc>,
    /// Empty: nobody.
    user: String,
    /// A layer's name or `override`; not checked when absent.
    #[serde(default)]
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shifts {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    expect: Vec<String>,
}

fn source_name(source: &Source) -> &str {
    match source {
        Source::Layer(name) => name,
        Source::Override => "override",
    }
}

fn run_case(name: &str, text: &str) -> usize {
    let case: Case = toml_edit::de::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let built = Schedule::new(&case.schedule);
    if let Some(expected) = &case.error {
        let err = built.expect_err(name).to_string();
        assert_eq!(&err, expected, "{name}");
        return 1;
    }
    let schedule = built.unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut checks = 0;
    for who in &case.who {
        let on = schedule.who(who.at);
        let user = on.as_ref().map_or("", |o| o.user.as_str());
        assert_eq!(user, who.user, "{name}: who at {}", who.at);
        if let (Some(expected), Some(on)) = (&who.source, &on) {
            assert_eq!(
                source_name(&on.source),
                expected,
                "{name}: source at {}",
                who.at
            );
        }
        checks += 1;
    }
    for period in &case.shifts {
        let got: Vec<String> = schedule
            .shifts(period.from, period.to)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {}",
                    s.user,
                    source_name(&s.source),
                    s.start.format("%Y-%m-%dT%H:%M:%SZ"),
                    s.end.format("%Y-%m-%dT%H:%M:%SZ")
                )
            })
            .collect();
        assert_eq!(
            got, period.expect,
            "{name}: shifts from {} to {}",
            period.from, period.to
        );
        // and each shift's user is who is on call within it
        for shift in schedule.shifts(period.from, period.to).unwrap() {
            let on = schedule
                .who(shift.start)
                .expect("someone at a shift's start");
            assert_eq!(on.user, shift.user, "{name}");
            let last = shift.end - chrono::TimeDelta::seconds(1);
            assert_eq!(
                schedule.who(last).map(|o| o.user),
                Some(shift.user.clone()),
                "{name}"
            );
        }
        checks += 1;
    }
    checks
}

#[test]
fn schedule_cases() {
    let files = crate::case_files("schedules");
    let mut checks = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read case");
        checks += run_case(&path.display().to_string(), &text);
    }
    assert!(files.len() >= 6, "only {} case files", files.len());
    assert!(checks >= 40, "only {checks} checks ran");
}
