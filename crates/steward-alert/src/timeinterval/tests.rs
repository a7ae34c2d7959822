//! Tests of time intervals: Alertmanager's parsing checks and messages,
//! and which instants an interval contains.

use chrono::{TimeZone, Utc};

use super::*;

fn interval(yaml: &str) -> TimeInterval {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn ranges_parse_as_alertmanager_parses_them() {
    assert_eq!(
        "Monday:FRIDAY".parse::<WeekdayRange>().unwrap().0,
        InclusiveRange { begin: 1, end: 5 }
    );
    assert_eq!(
        "sunday".parse::<WeekdayRange>().unwrap().0,
        InclusiveRange { begin: 0, end: 0 }
    );
    assert_eq!(
        "saturday:sunday".parse::<WeekdayRange>().unwrap_err(),
        "start day cannot be before end day"
    );
    assert_eq!(
        "funday".parse::<WeekdayRange>().unwrap_err(),
        "funday is not a valid weekday"
    );
    assert_eq!(
        "a:b:c".parse::<WeekdayRange>().unwrap_err(),
        "couldn't parse range a:b:c, invalid format"
    );
    assert_eq!(
        "-7:-1".parse::<DayOfMonthRange>().unwrap().0,
        InclusiveRange { begin: -7, end: -1 }
    );
    assert_eq!(
        "0".parse::<DayOfMonthRange>().unwrap_err(),
        "0 is not a valid day of the month: out of range"
    );
    assert_eq!(
        "32".parse::<DayOfMonthRange>().unwrap_err(),
        "32 is not a valid day of the month: out of range"
    );
    assert_eq!(
        "-3:5".parse::<DayOfMonthRange>().unwrap_err(),
        "end day must be negative if start day is negative"
    );
    assert_eq!(
        "10:-25".parse::<DayOfMonthRange>().unwrap_err(),
        "end day -25 is always before start day 10"
    );
    assert_eq!(
        "x".parse::<DayOfMonthRange>().unwrap_err(),
        r#"strconv.Atoi: parsing "x": invalid syntax"#
    );
    assert_eq!(
        "January:3".parse::<MonthRange>().unwrap().0,
        InclusiveRange { begin: 1, end: 3 }
    );
    assert_eq!(
        "december:march".parse::<MonthRange>().unwrap_err(),
        "end month march is before start month december"
    );
    assert_eq!(
        "jan".parse::<MonthRange>().unwrap_err(),
        "jan is not a valid month"
    );
    // Alertmanager 0.25 does not check month numbers against 1-12.
    assert!("13".parse::<MonthRange>().is_ok());
    assert_eq!(
        "2030:2020".parse::<YearRange>().unwrap_err(),
        "end year 2020 is before start year 2030"
    );
}

#[test]
fn times_parse_as_alertmanager_parses_them() {
    assert_eq!(
        TimeRange::parse("09:30", "24:00").unwrap(),
        TimeRange {
            start_minute: 570,
            end_minute: 1440
        }
    );
    assert_eq!(
        TimeRange::parse("", "10:00").unwrap_err(),
        "both start and end times must be provided"
    );
    assert_eq!(
        TimeRange::parse("9:00", "10:00").unwrap_err(),
        "couldn't parse timestamp 9:00, invalid format"
    );
    assert_eq!(
        TimeRange::parse("24:01", "10:00").unwrap_err(),
        "couldn't parse timestamp 24:01, invalid format"
    );
    assert_eq!(
        TimeRange::parse("10:00", "10:00").unwrap_err(),
        "start time cannot be equal or greater than end time"
    );
    let err = serde_yaml_ng::from_str::<TimeInterval>("times: [{start_time: '10:00'}]")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("both start and end times must be provided"),
        "{err}"
    );
}

#[test]
fn yaml_numbers_are_read_as_their_text() {
    let parsed = interval("days_of_month: [1, '-3:-1']\nmonths: [12]\nyears: [2024]");
    assert_eq!(
        parsed.days_of_month.unwrap()[0].0,
        InclusiveRange { begin: 1, end: 1 }
    );
    assert_eq!(
        parsed.months.unwrap()[0].0,
        InclusiveRange { begin: 12, end: 12 }
    );
    assert_eq!(
        parsed.years.unwrap()[0].0,
        InclusiveRange {
            begin: 2024,
            end: 2024
        }
    );
}

#[test]
fn an_interval_contains_the_instants_all_its_parts_contain() {
    let business =
        interval("times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']");
    // 2024-03-04 is a Monday.
    assert!(business.contains(at("2024-03-04T09:00:00Z")));
    assert!(business.contains(at("2024-03-04T16:59:59Z")));
    assert!(!business.contains(at("2024-03-04T17:00:00Z")));
    assert!(!business.contains(at("2024-03-04T08:59:00Z")));
    assert!(!business.contains(at("2024-03-02T10:00:00Z")));
    // No part: every instant.
    assert!(TimeInterval::default().contains(at("1999-12-31T23:59:59Z")));
    // A part given as an empty list: no instant.
    assert!(!interval("weekdays: []").contains(at("2024-03-04T10:00:00Z")));

    let years = interval("years: ['2023:2024']\nmonths: ['may:june', 'december']");
    assert!(years.contains(at("2024-06-30T23:00:00Z")));
    assert!(years.contains(at("2023-12-01T00:00:00Z")));
    assert!(!years.contains(at("2024-07-01T00:00:00Z")));
    assert!(!years.contains(at("2025-05-01T00:00:00Z")));
}

#[test]
fn negative_days_count_from_the_end_of_the_month() {
    let last_week = interval("days_of_month: ['-7:-1']");
    assert!(last_week.contains(at("2024-02-23T00:00:00Z")));
    assert!(!last_week.contains(at("2024-02-22T23:59:00Z")));
    assert!(last_week.contains(at("2023-02-22T00:00:00Z")));
    assert!(last_week.contains(at("2024-01-31T12:00:00Z")));
    // A range beyond a short month is clamped to it, or skipped when it
    // starts after the month's end.
    let late = interval("days_of_month: ['25:31']");
    assert!(late.contains(at("2024-02-29T12:00:00Z")));
    let after = interval("days_of_month: ['30:31']");
    assert!(!after.contains(at("2024-02-29T12:00:00Z")));
    assert!(after.contains(at("2024-03-31T12:00:00Z")));
}

#[test]
fn location_reads_the_instant_in_its_zone() {
    let paris =
        interval("times: [{start_time: '09:00', end_time: '10:00'}]\nlocation: Europe/Paris");
    // 09:30 in Paris is 08:30 UTC in winter, 07:30 in summer.
    assert!(paris.contains(at("2024-01-15T08:30:00Z")));
    assert!(!paris.contains(at("2024-01-15T09:30:00Z")));
    assert!(paris.contains(at("2024-07-15T07:30:00Z")));
    // Without a location the instant is read in UTC.
    let utc = interval("times: [{start_time: '09:00', end_time: '10:00'}]");
    assert!(utc.contains(at("2024-01-15T09:30:00Z")));
    // The weekday is the zone's: Monday 00:30 in Tokyo is Sunday in UTC.
    let monday = interval("weekdays: [monday]\nlocation: Asia/Tokyo");
    assert!(monday.contains(at("2024-03-03T15:30:00Z")));
    assert_eq!(
        "UTC".parse::<Location>().unwrap(),
        Location::Zone(chrono_tz::UTC)
    );
    assert_eq!(
        "".parse::<Location>().unwrap(),
        Location::Zone(chrono_tz::UTC)
    );
    assert_eq!("Local".parse::<Location>().unwrap(), Location::Local);
    assert_eq!(
        "Nowhere/Land".parse::<Location>().unwrap_err(),
        "unknown time zone Nowhere/Land"
    );
}

#[test]
fn months_with_a_clock_change_forward_are_a_day_short_as_in_alertmanager() {
    // Alertmanager divides the hours of the month by 24 and truncates:
    // March in Paris has 743 hours, so 30 "days", and -1 is the 30th.
    assert_eq!(days_in_month(&chrono_tz::Europe::Paris, 2024, 3), 30);
    assert_eq!(days_in_month(&chrono_tz::Europe::Paris, 2024, 10), 31);
    assert_eq!(days_in_month(&Utc, 2024, 2), 29);
    let last = interval("days_of_month: ['-1']\nlocation: Europe/Paris");
    assert!(last.contains(Utc.with_ymd_and_hms(2024, 3, 30, 12, 0, 0).unwrap()));
    assert!(!last.contains(Utc.with_ymd_and_hms(2024, 3, 31, 12, 0, 0).unwrap()));
    assert!(last.contains(Utc.with_ymd_and_hms(2024, 4, 30, 12, 0, 0).unwrap()));
}

#[test]
fn routes_are_muted_inside_mute_and_outside_active_intervals() {
    let mut map = BTreeMap::new();
    map.insert(
        "weekends".to_owned(),
        vec![interval("weekdays: [saturday, sunday]")],
    );
    map.insert(
        "office".to_owned(),
        vec![interval(
            "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']",
        )],
    );
    let intervals = TimeIntervals(map);
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let saturday = at("2024-03-02T10:00:00Z");
    let monday = at("2024-03-04T10:00:00Z");
    let monday_night = at("2024-03-04T22:00:00Z");
    assert!(
        intervals
            .mutes(&names(&["weekends"]), &[], saturday)
            .unwrap()
    );
    assert!(!intervals.mutes(&names(&["weekends"]), &[], monday).unwrap());
    assert!(!intervals.mutes(&[], &names(&["office"]), monday).unwrap());
    assert!(
        intervals
            .mutes(&[], &names(&["office"]), monday_night)
            .unwrap()
    );
    assert!(!intervals.mutes(&[], &[], monday_night).unwrap());
    assert_eq!(
        intervals
            .contains_any(&names(&["holidays"]), monday)
            .unwrap_err()
            .to_string(),
        "time interval holidays doesn't exist in config"
    );
}
