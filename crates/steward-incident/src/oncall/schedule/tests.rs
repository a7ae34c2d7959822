//! Unit tests of schedules: what the data-driven cases
//! (`tests/cases/schedules/`) do not cover, checks of the configuration,
//! and the agreement of `shifts` with `who` at every instant of a month
//! with both daylight-saving changes of a zone.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

fn layer(name: &str, users: &[&str], rotation: &str, start: &str) -> LayerSpec {
    LayerSpec {
        name: name.to_owned(),
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        rotation: rotation.to_owned(),
        start: parse_local_datetime(start).expect("a local time"),
        end: None,
        restrictions: Vec::new(),
    }
}

fn spec(time_zone: &str, layers: Vec<LayerSpec>) -> ScheduleSpec {
    ScheduleSpec {
        name: "s".to_owned(),
        time_zone: time_zone.to_owned(),
        layers,
        overrides: Vec::new(),
    }
}

#[test]
fn rotations_that_are_not_durations_are_refused_with_the_field() {
    for (rotation, expected) in [
        ("fortnightly", "layers[0].rotation: "),
        (
            "30s",
            "layers[0].rotation: a turn of 30s is shorter than a minute",
        ),
    ] {
        let err = Schedule::new(&spec(
            "UTC",
            vec![layer("a", &["ana"], rotation, "2026-01-01T00:00")],
        ))
        .expect_err(rotation)
        .to_string();
        assert!(
            err.starts_with(&format!("schedule \"s\": {expected}")),
            "{err}"
        );
    }
    let mut ends_before = layer("a", &["ana"], "daily", "2026-01-02T00:00");
    ends_before.end = parse_local_datetime("2026-01-01T00:00");
    let err = Schedule::new(&spec("UTC", vec![ends_before]))
        .expect_err("end")
        .to_string();
    assert!(
        err.contains("layers[0].end: 2026-01-01 00:00:00 is not after the start"),
        "{err}"
    );
    let mut reversed = spec("UTC", Vec::new());
    reversed.overrides.push(OverrideSpec {
        user: "zoe".into(),
        start: at("2026-01-02T00:00:00Z"),
        end: at("2026-01-01T00:00:00Z"),
    });
    let err = Schedule::new(&reversed).expect_err("override").to_string();
    assert!(err.contains("overrides[0].end: "), "{err}");
}

#[test]
fn a_layer_ends_and_the_one_under_it_shows_again() {
    let mut top = layer("cover", &["zoe"], "weekly", "2026-05-04T09:00");
    top.end = parse_local_datetime("2026-05-06T09:00");
    let schedule = Schedule::new(&spec(
        "Europe/London",
        vec![
            layer("base", &["ana", "bo"], "weekly", "2026-05-04T09:00"),
            top,
        ],
    ))
    .expect("schedule");
    // London in May is UTC+1
    assert_eq!(
        schedule.who(at("2026-05-05T12:00:00Z")).map(|o| o.user),
        Some("zoe".into())
    );
    assert_eq!(
        schedule.who(at("2026-05-06T07:59:59Z")).map(|o| o.user),
        Some("zoe".into())
    );
    assert_eq!(
        schedule.who(at("2026-05-06T08:00:00Z")).map(|o| o.user),
        Some("ana".into())
    );
    let shift = schedule
        .shift_at(at("2026-05-07T00:00:00Z"))
        .expect("shift")
        .expect("someone");
    assert_eq!(
        (shift.user.as_str(), shift.start, shift.end),
        (
            "ana",
            at("2026-05-06T08:00:00Z"),
            at("2026-05-11T08:00:00Z")
        )
    );
}

#[test]
fn periods_must_be_forward_and_bounded() {
    let schedule = Schedule::new(&spec(
        "UTC",
        vec![layer("a", &["ana"], "daily", "2026-01-01T00:00")],
    ))
    .expect("schedule");
    let t = at("2026-02-01T00:00:00Z");
    assert!(matches!(schedule.shifts(t, t), Err(Error::InvalidRange(_))));
    assert!(matches!(
        schedule.shifts(t, t + TimeDelta::days(401)),
        Err(Error::InvalidRange(_))
    ));
    assert_eq!(
        schedule
            .shifts(t, t + TimeDelta::days(400))
            .expect("400 days")
            .len(),
        1
    );
}

/// Every 7 minutes of a month holding both of Sydney's changes (clocks
/// back on 2026-04-05, forward on 2026-10-04: a month each side is two
/// runs), `who` agrees with the shift `shifts` puts there, for a schedule
/// with every kind of layer, restriction and an override.
#[test]
fn shifts_agree_with_who_at_every_instant() {
    let mut business = layer(
        "business",
        &["cy", "dee", "eve"],
        "weekly",
        "2026-03-02T09:30",
    );
    business.restrictions = vec![RestrictionSpec::Weekly {
        start_day: Weekday::Mon,
        start: NaiveTime::from_hms_opt(9, 30, 0).expect("time"),
        duration: "4d7h30m".into(),
    }];
    let mut evenings = layer("evenings", &["fay"], "3d", "2026-03-01T02:30");
    evenings.restrictions = vec![RestrictionSpec::Daily {
        start: NaiveTime::from_hms_opt(2, 30, 0).expect("time"),
        duration: "90m".into(),
    }];
    let mut s = spec(
        "Australia/Sydney",
        vec![
            layer("base", &["ana", "bo"], "daily", "2026-03-01T02:30"),
            layer("halves", &["gus", "hal"], "11h", "2026-03-01T00:00"),
            business,
            evenings,
        ],
    );
    s.layers[1].end = parse_local_datetime("2026-03-20T00:00");
    s.overrides.push(OverrideSpec {
        user: "zoe".into(),
        start: at("2026-04-04T15:00:00Z"),
        end: at("2026-04-04T17:30:00Z"),
    });
    let schedule = Schedule::new(&s).expect("schedule");
    for (from, to) in [
        (at("2026-03-10T00:00:00Z"), at("2026-04-20T00:00:00Z")),
        (at("2026-09-20T00:00:00Z"), at("2026-10-20T00:00:00Z")),
    ] {
        let shifts = schedule.shifts(from, to).expect("shifts");
        for pair in shifts.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{pair:?}");
            assert!(
                pair[0].end < pair[1].start
                    || pair[0].user != pair[1].user
                    || pair[0].source != pair[1].source,
                "not merged: {pair:?}"
            );
        }
        let mut t = from;
        let mut i = 0;
        while t < to {
            while i < shifts.len() && shifts[i].end <= t {
                i += 1;
            }
            let expected = shifts
                .get(i)
                .filter(|s| s.start <= t)
                .map(|s| (s.user.clone(), s.source.clone()));
            let got = schedule.who(t).map(|o| (o.user, o.source));
            assert_eq!(got, expected, "at {t}");
            t += TimeDelta::minutes(7);
        }
    }
}
