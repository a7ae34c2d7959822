//! Alertmanager 0.25's time intervals (`timeinterval` package): the
//! `times`, `weekdays`, `days_of_month`, `months`, `years` and `location`
//! of a `time_intervals` entry, read with Alertmanager's checks and error
//! messages, and [`TimeInterval::contains`] deciding as its `ContainsTime`
//! does, quirks included (see [`days_in_month`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::config::yaml::GoString;
use crate::{Error, Result};

/// One entry of a named time interval: every part given must contain the
/// instant; a part left out contains every instant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    /// Ranges of the day, `HH:MM` to `HH:MM` (end excluded).
    #[serde(default)]
    pub times: Option<Vec<TimeRange>>,
    /// Ranges of weekdays (`monday:friday`, `saturday`).
    #[serde(default)]
    pub weekdays: Option<Vec<WeekdayRange>>,
    /// Ranges of days of the month, negative ones counted from its end.
    #[serde(default)]
    pub days_of_month: Option<Vec<DayOfMonthRange>>,
    /// Ranges of months, by name or number.
    #[serde(default)]
    pub months: Option<Vec<MonthRange>>,
    /// Ranges of years.
    #[serde(default)]
    pub years: Option<Vec<YearRange>>,
    /// The time zone in which the other parts are read (UTC when unset).
    #[serde(default)]
    pub location: Option<Location>,
}

/// Minutes of the day from `start_minute` (included) to `end_minute`
/// (excluded), 0 to 1440.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First minute of the day in the range.
    pub start_minute: u32,
    /// First minute of the day after the range.
    pub end_minute: u32,
}

/// Both ends of a range, included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    /// First value in the range.
    pub begin: i64,
    /// Last value in the range.
    pub end: i64,
}

/// Weekdays, 0 (Sunday) to 6 (Saturday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekdayRange(pub InclusiveRange);

/// Days of the month, 1 to 31 or -1 (the last day) to -31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOfMonthRange(pub InclusiveRange);

/// Months, 1 (January) to 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange(pub InclusiveRange);

/// Years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearRange(pub InclusiveRange);

/// A time zone, as Go's `time.LoadLocation` names them: `UTC` (or empty),
/// `Local`, or an IANA name such as `Europe/Paris`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The machine's local time zone.
    Local,
    /// A zone of the IANA database (UTC included).
    Zone(chrono_tz::Tz),
}

impl FromStr for Location {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "" | "UTC" => Ok(Location::Zone(chrono_tz::UTC)),
            "Local" => Ok(Location::Local),
            other => chrono_tz::Tz::from_str(other)
                .map(Location::Zone)
                .map_err(|_| format!("unknown time zone {other}")),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local => f.write_str("Local"),
            Location::Zone(tz) => f.write_str(tz.name()),
        }
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Go's `strconv.Atoi`, with its error messages: an optional sign and
/// decimal digits.
fn atoi(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {text:?}: invalid syntax"));
    }
    text.parse()
        .map_err(|_| format!("strconv.Atoi: parsing {text:?}: value out of range"))
}

/// Splits `a:b` or `a` into a range after lowercasing, reading each member
/// with `member`.
fn parse_range(
    text: &str,
    member: impl Fn(&str) -> Result<i64, String>,
) -> Result<InclusiveRange, String> {
    let text = text.to_lowercase();
    if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {text}, invalid format"));
        }
        Ok(InclusiveRange {
            begin: member(parts[0])?,
            end: member(parts[1])?,
        })
    } else {
        let value = member(&text)?;
        Ok(InclusiveRange {
            begin: value,
            end: value,
        })
    }
}

impl FromStr for WeekdayRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let range = parse_range(text, |day| {
            WEEKDAYS
                .iter()
                .position(|name| *name == day)
                .map(|i| i as i64)
                .ok_or_else(|| format!("{day} is not a valid weekday"))
        })?;
        if range.begin > range.end {
            // Alertmanager's wording, reversed as it is.
            return Err("start day cannot be before end day".to_owned());
        }
        if !(0..=6).contains(&range.begin) || !(0..=6).contains(&range.end) {
            return Err(format!(
                "{text} is not a valid day of the week: out of range"
            ));
        }
        Ok(WeekdayRange(range))
    }
}

impl FromStr for DayOfMonthRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let range = parse_range(text, atoi)?;
        let valid = |day: i64| day != 0 && (-31..=31).contains(&day);
        for day in [range.begin, range.end] {
            if !valid(day) {
                return Err(format!(
                    "{day} is not a valid day of the month: out of range"
                ));
            }
        }
        if range.begin < 0 && range.end > 0 {
            return Err("end day must be negative if start day is negative".to_owned());
        }
        // Negative days are checked against the shortest month (28 days),
        // which catches the ranges that are empty in every month.
        let check = |day: i64| if day < 0 { 28 + day } else { day };
        if check(range.begin) > check(range.end) {
            return Err(format!(
                "end day {} is always before start day {}",
                range.end, range.begin
            ));
        }
        Ok(DayOfMonthRange(range))
    }
}

impl FromStr for MonthRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let range = parse_range(text, |month| {
            match MONTHS.iter().position(|m| *m == month) {
                Some(i) => Ok(i as i64 + 1),
                None => atoi(month).map_err(|_| format!("{month} is not a valid month")),
            }
        })?;
        if range.begin > range.end {
            let name = |n: i64| {
                usize::try_from(n - 1)
                    .ok()
                    .and_then(|i| MONTHS.get(i))
                    .copied()
                    .unwrap_or("")
            };
            return Err(format!(
                "end month {} is before start month {}",
                name(range.end),
                name(range.begin)
            ));
        }
        Ok(MonthRange(range))
    }
}

impl FromStr for YearRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let range = parse_range(text, atoi)?;
        if range.begin > range.end {
            return Err(format!(
                "end year {} is before start year {}",
                range.end, range.begin
            ));
        }
        Ok(YearRange(range))
    }
}

/// `HH:MM` (00:00 to 23:59, or 24:00) as minutes of the day.
fn parse_time(text: &str) -> Result<u32, String> {
    let invalid = || format!("couldn't parse timestamp {text}, invalid format");
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return Err(invalid());
    }
    let (hours, minutes) = (&text[..2], &text[3..]);
    if !hours
        .bytes()
        .chain(minutes.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let (hours, minutes): (u32, u32) = (
        hours.parse().map_err(|_| invalid())?,
        minutes.parse().map_err(|_| invalid())?,
    );
    if (hours < 24 && minutes < 60) || (hours == 24 && minutes == 0) {
        Ok(hours * 60 + minutes)
    } else {
        Err(invalid())
    }
}

impl TimeRange {
    /// A range from `start_time` to `end_time` (`HH:MM`), checked as
    /// Alertmanager checks it.
    pub fn parse(start_time: &str, end_time: &str) -> Result<Self, String> {
        if start_time.is_empty() || end_time.is_empty() {
            return Err("both start and end times must be provided".to_owned());
        }
        let start_minute = parse_time(start_time)?;
        let end_minute = parse_time(end_time)?;
        if start_minute >= end_minute {
            return Err("start time cannot be equal or greater than end time".to_owned());
        }
        Ok(TimeRange {
            start_minute,
            end_minute,
        })
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            start_time: GoString,
            #[serde(default)]
            end_time: GoString,
        }
        let raw = Raw::deserialize(deserializer)?;
        TimeRange::parse(&raw.start_time.0, &raw.end_time.0).map_err(de::Error::custom)
    }
}

/// Deserializes a range type from its string form (numbers are taken as
/// their text, as Go's yaml.v2 does).
macro_rules! deserialize_from_str {
    ($($ty:ty),*) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = GoString::deserialize(deserializer)?;
                text.0.parse().map_err(de::Error::custom)
            }
        }
    )*};
}

deserialize_from_str!(
    WeekdayRange,
    DayOfMonthRange,
    MonthRange,
    YearRange,
    Location
);

/// The calendar fields of an instant in a time zone.
struct Fields {
    minute_of_day: i64,
    weekday: i64,
    day: i64,
    month: i64,
    year: i64,
    days_in_month: i64,
}

/// The number of days in the month of (`year`, `month`) in `tz`, computed
/// as Alertmanager does: the hours from the month's first midnight to the
/// next month's, divided by 24 and truncated. In a month where the clocks
/// go forward (March in Europe) that gives one day less (30 for March), so
/// `-1` is then the 30th there too; steward keeps the quirk so that both
/// mute the same instants.
pub fn days_in_month<Tz: TimeZone>(tz: &Tz, year: i32, month: u32) -> i64 {
    let first = |year: i32, month: u32| {
        let date = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        // A midnight that does not exist (the clocks jump over it) is
        // taken an hour later, as Go's time.Date normalizes it.
        tz.from_local_datetime(&midnight)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(midnight + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    };
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    match (first(year, month), first(next_year, next_month)) {
        (Some(start), Some(end)) => (end - start).num_hours() / 24,
        _ => 30,
    }
}

fn fields<Tz: TimeZone>(t: DateTime<Utc>, tz: &Tz) -> Fields {
    let local = t.with_timezone(tz);
    Fields {
        minute_of_day: i64::from(local.hour() * 60 + local.minute()),
        weekday: i64::from(local.weekday().num_days_from_sunday()),
        day: i64::from(local.day()),
        month: i64::from(local.month()),
        year: i64::from(local.year()),
        days_in_month: days_in_month(tz, local.year(), local.month()),
    }
}

/// Whether `list` is unset, or one of its items holds.
fn any_of<T>(list: &Option<Vec<T>>, holds: impl Fn(&T) -> bool) -> bool {
    list.as_ref().is_none_or(|items| items.iter().any(holds))
}

impl TimeInterval {
    /// Whether the instant lies in the interval, read in its location (UTC
    /// when it has none, since Alertmanager passes the time in UTC).
    /// A part given as an empty list contains nothing, as in Alertmanager.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let f = match self.location {
            None => fields(t, &Utc),
            Some(Location::Local) => fields(t, &chrono::Local),
            Some(Location::Zone(tz)) => fields(t, &tz),
        };
        any_of(&self.times, |r| {
            f.minute_of_day >= i64::from(r.start_minute)
                && f.minute_of_day < i64::from(r.end_minute)
        }) && any_of(&self.days_of_month, |r| {
            let n = f.days_in_month;
            let resolve = |day: i64| if day < 0 { n + day + 1 } else { day };
            let (begin, end) = (resolve(r.0.begin), resolve(r.0.end));
            // A range starting after the month's end is skipped; the rest
            // is clamped to the month.
            begin <= n && {
                let clamp = |day: i64| day.clamp(-n, n);
                f.day >= clamp(begin) && f.day <= clamp(end)
            }
        }) && any_of(&self.months, |r| f.month >= r.0.begin && f.month <= r.0.end)
            && any_of(&self.weekdays, |r| {
                f.weekday >= r.0.begin && f.weekday <= r.0.end
            })
            && any_of(&self.years, |r| f.year >= r.0.begin && f.year <= r.0.end)
    }
}

/// The named time intervals of a configuration (`time_intervals` and the
/// older `mute_time_intervals`), as the routes' mute and active intervals
/// refer to them.
#[derive(Debug, Clone, Default)]
pub struct TimeIntervals(pub BTreeMap<String, Vec<TimeInterval>>);

impl TimeIntervals {
    /// Whether `now` lies in any interval of any of the named ones; an
    /// unknown name is an error (Alertmanager's message).
    pub fn contains_any(&self, names: &[String], now: DateTime<Utc>) -> Result<bool> {
        for name in names {
            let intervals = self.0.get(name).ok_or_else(|| {
                Error::UnknownTimeInterval(format!("time interval {name} doesn't exist in config"))
            })?;
            if intervals.iter().any(|interval| interval.contains(now)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a route with these mute and active intervals sends nothing
    /// at `now`: inside one of its mute intervals, or outside all of its
    /// active ones (when it has any), as Alertmanager's time mute and time
    /// active stages decide.
    pub fn mutes(&self, mute: &[String], active: &[String], now: DateTime<Utc>) -> Result<bool> {
        if self.contains_any(mute, now)? {
            return Ok(true);
        }
        Ok(!active.is_empty() && !self.contains_any(active, now)?)
    }
}

#[cfg(test)]
mod tests;
