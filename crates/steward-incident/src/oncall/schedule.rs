//! On-call schedules: rotation layers in a named time zone, restrictions
//! and overrides, and who is on call at an instant or over a period.
//!
//! The model is PagerDuty's. A layer rotates its users in order, a turn
//! each, from its `start` (the first handoff, a wall-clock time in the
//! schedule's zone). Turns of whole days (`daily`, `weekly`, `3d`, `24h`)
//! hand off at the same wall-clock time every time, so a turn across a
//! daylight-saving change lasts 23 or 25 hours; other turns (`12h`,
//! `90m`) are that much elapsed time. Restrictions limit when a layer is
//! on (`09:00` for `8h` every day, `mon 09:00` for `5d` every week), in
//! wall-clock time too. Later layers take precedence over earlier ones
//! where they are on; overrides (a user for an interval of instants) take
//! precedence over every layer, the last one given first.
//!
//! Wall-clock times become instants the way a person reads them: a time
//! that occurs twice (the hour repeated when clocks go back) is its first
//! occurrence, and a time that does not occur (the hour skipped when
//! clocks go forward) is the moment the clocks jump, which is when such a
//! time is reached. Each handoff is therefore one instant, and a rotation
//! never goes back to the previous user within the repeated hour.

use std::time::Duration;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Longest period [`Schedule::shifts`] computes.
const MAX_RANGE: TimeDelta = TimeDelta::days(400);

/// A schedule as configured (`[[oncall.schedules]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Its name.
    pub name: String,
    /// The IANA time zone its wall-clock times are in (`Europe/Paris`).
    pub time_zone: String,
    /// Its rotation layers, later ones taking precedence.
    #[serde(default)]
    pub layers: Vec<LayerSpec>,
    /// Users on call instead of the layers' for intervals of instants,
    /// later ones taking precedence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideSpec>,
}

/// A rotation layer as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Its name.
    pub name: String,
    /// The users, in rotation order.
    pub users: Vec<String>,
    /// The length of a turn: `daily`, `weekly` or a duration (`3d`,
    /// `12h`); whole days hand off at the same wall-clock time.
    pub rotation: String,
    /// The first handoff: the first user's turn starts then (wall-clock,
    /// in the schedule's zone: `2026-03-23T09:00`).
    #[serde(deserialize_with = "local_datetime")]
    #[schemars(with = "String")]
    pub start: NaiveDateTime,
    /// When the layer ends (wall-clock), if it does.
    #[serde(
        default,
        deserialize_with = "optional_local_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub end: Option<NaiveDateTime>,
    /// When the layer is on; always when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<RestrictionSpec>,
}

/// When a layer is on, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum RestrictionSpec {
    /// Every day from `start` for `duration` (wall-clock).
    Daily {
        /// When it starts each day (`09:00`).
        #[serde(deserialize_with = "local_time")]
        #[schemars(with = "String")]
        start: NaiveTime,
        /// How long (`8h`; may run past midnight, at most a day).
        duration: String,
    },
    /// Every week from `start_day` at `start` for `duration`.
    Weekly {
        /// The day it starts (`mon`).
        #[schemars(with = "String")]
        start_day: Weekday,
        /// When on that day (`09:00`).
        #[serde(deserialize_with = "local_time")]
        #[schemars(with = "String")]
        start: NaiveTime,
        /// How long (`4d8h`; at most a week).
        duration: String,
    },
}

/// A user on call instead of the layers', for `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideSpec {
    /// The user.
    pub user: String,
    /// From (an instant with its offset: `2026-03-28T18:00:00+01:00`).
    #[schemars(with = "String")]
    pub start: DateTime<Utc>,
    /// Until.
    #[schemars(with = "String")]
    pub end: DateTime<Utc>,
}

/// Why someone is on call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Their turn in this layer.
    Layer(String),
    /// An override.
    Override,
}

/// Who is on call at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    /// The user.
    pub user: String,
    /// Why.
    pub source: Source,
}

/// One user's uninterrupted time on call in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// The user.
    pub user: String,
    /// Why.
    pub source: Source,
    /// From.
    pub start: DateTime<Utc>,
    /// Until.
    pub end: DateTime<Utc>,
}

/// The length of a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// Whole days: the handoff keeps its wall-clock time.
    Days(i64),
    /// Elapsed time.
    Elapsed(TimeDelta),
}

#[derive(Debug, Clone)]
enum Restriction {
    Daily {
        start: NaiveTime,
        length: TimeDelta,
    },
    Weekly {
        day: Weekday,
        start: NaiveTime,
        length: TimeDelta,
    },
}

#[derive(Debug, Clone)]
struct Layer {
    name: String,
    users: Vec<String>,
    turn: Turn,
    start: NaiveDateTime,
    /// `start` as an instant (elapsed turns count from it).
    start_at: DateTime<Utc>,
    end_at: Option<DateTime<Utc>>,
    restrictions: Vec<Restriction>,
}

/// A schedule checked and ready to answer who is on call.
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    tz: Tz,
    layers: Vec<Layer>,
    overrides: Vec<OverrideSpec>,
}

impl Schedule {
    /// Checks `spec`: a known time zone, layers with users and a turn,
    /// restrictions no longer than their period, overrides that end after
    /// they start.
    pub fn new(spec: &ScheduleSpec) -> Result<Schedule> {
        let invalid = |field: String, reason: String| Error::InvalidSchedule {
            schedule: spec.name.clone(),
            field,
            reason,
        };
        let tz: Tz = spec.time_zone.parse().map_err(|_| {
            invalid(
                "time_zone".into(),
                format!(
                    "unknown time zone {:?} (an IANA name such as Europe/Paris)",
                    spec.time_zone
                ),
            )
        })?;
        let mut layers = Vec::with_capacity(spec.layers.len());
        for (i, layer) in spec.layers.iter().enumerate() {
            let field = |name: &str| format!("layers[{i}].{name}");
            if layer.users.is_empty() {
                return Err(invalid(
                    field("users"),
                    "a layer needs at least one user".into(),
                ));
            }
            let turn =
                parse_turn(&layer.rotation).map_err(|reason| invalid(field("rotation"), reason))?;
            if let Some(end) = layer.end
                && end <= layer.start
            {
                return Err(invalid(
                    field("end"),
                    format!("{end} is not after the start {}", layer.start),
                ));
            }
            let mut restrictions = Vec::with_capacity(layer.restrictions.len());
            for (j, restriction) in layer.restrictions.iter().enumerate() {
                let field = field(&format!("restrictions[{j}].duration"));
                restrictions.push(match restriction {
                    RestrictionSpec::Daily { start, duration } => Restriction::Daily {
                        start: *start,
                        length: restriction_length(duration, TimeDelta::days(1))
                            .map_err(|reason| invalid(field, reason))?,
                    },
                    RestrictionSpec::Weekly {
                        start_day,
                        start,
                        duration,
                    } => Restriction::Weekly {
                        day: *start_day,
                        start: *start,
                        length: restriction_length(duration, TimeDelta::weeks(1))
                            .map_err(|reason| invalid(field, reason))?,
                    },
                });
            }
            layers.push(Layer {
                name: layer.name.clone(),
                users: layer.users.clone(),
                turn,
                start: layer.start,
                start_at: instant(tz, layer.start),
                end_at: layer.end.map(|end| instant(tz, end)),
                restrictions,
            });
        }
        for (i, o) in spec.overrides.iter().enumerate() {
            if o.end <= o.start {
                return Err(invalid(
                    format!("overrides[{i}].end"),
                    format!("{} is not after the start {}", o.end, o.start),
                ));
            }
        }
        Ok(Schedule {
            name: spec.name.clone(),
            tz,
            layers,
            overrides: spec.overrides.clone(),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Who is on call at `at`; `None` when nobody is (no layer on, no
    /// override).
    pub fn who(&self, at: DateTime<Utc>) -> Option<OnCall> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.start <= at && at < o.end)
        {
            return Some(OnCall {
                user: o.user.clone(),
                source: Source::Override,
            });
        }
        self.layers.iter().rev().find_map(|layer| {
            layer.user_at(self.tz, at).map(|user| OnCall {
                user: user.to_owned(),
                source: Source::Layer(layer.name.clone()),
            })
        })
    }

    /// The shifts within `[from, to)`, in time order, the first and last
    /// cut at the period's ends; times when nobody is on call have none.
    /// Periods longer than 400 days are refused.
    pub fn shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Shift>> {
        if to <= from {
            return Err(Error::InvalidRange(format!("{to} is not after {from}")));
        }
        if to - from > MAX_RANGE {
            return Err(Error::InvalidRange(format!(
                "{from} to {to} is longer than {} days",
                MAX_RANGE.num_days()
            )));
        }
        let mut edges = vec![from];
        for o in &self.overrides {
            edges.extend([o.start, o.end]);
        }
        for layer in &self.layers {
            layer.edges(self.tz, from, to, &mut edges);
        }
        edges.retain(|t| from <= *t && *t < to);
        edges.sort();
        edges.dedup();
        let mut shifts: Vec<Shift> = Vec::new();
        for (i, &start) in edges.iter().enumerate() {
            let end = edges.get(i + 1).copied().unwrap_or(to);
            let Some(on) = self.who(start) else {
                continue;
            };
            match shifts.last_mut() {
                Some(last)
                    if last.end == start && last.user == on.user && last.source == on.source =>
                {
                    last.end = end;
                }
                _ => shifts.push(Shift {
                    user: on.user,
                    source: on.source,
                    start,
                    end,
                }),
            }
        }
        Ok(shifts)
    }

    /// The shift of whoever is on call at `at` (cut 200 days either side),
    /// or `None` when nobody is.
    pub fn shift_at(&self, at: DateTime<Utc>) -> Result<Option<Shift>> {
        let before = self.shifts(at - MAX_RANGE / 2, at + TimeDelta::seconds(1))?;
        let Some(started) = before.last().filter(|s| s.end > at).map(|s| s.start) else {
            return Ok(None);
        };
        let after = self.shifts(at, at + MAX_RANGE / 2)?;
        Ok(after.into_iter().next().map(|s| Shift {
            start: started,
            ..s
        }))
    }
}

impl Layer {
    /// The user whose turn it is at `at`, if the layer is on then.
    fn user_at(&self, tz: Tz, at: DateTime<Utc>) -> Option<&str> {
        if at < self.start_at || self.end_at.is_some_and(|end| at >= end) {
            return None;
        }
        if !self.restrictions.is_empty() && !self.restricted_on(tz, at) {
            return None;
        }
        let turn = self.turn_at(tz, at);
        let n = self.users.len() as i64;
        self.users
            .get(turn.rem_euclid(n) as usize)
            .map(String::as_str)
    }

    /// The instant of handoff `k` (0: the first user's turn starts).
    fn handoff(&self, tz: Tz, k: i64) -> DateTime<Utc> {
        let shifted = match self.turn {
            Turn::Days(days) => TimeDelta::try_days(days.saturating_mul(k))
                .and_then(|d| self.start.checked_add_signed(d))
                .map(|local| instant(tz, local)),
            Turn::Elapsed(length) => {
                TimeDelta::try_milliseconds(length.num_milliseconds().saturating_mul(k))
                    .and_then(|d| self.start_at.checked_add_signed(d))
            }
        };
        shifted.unwrap_or(if k > 0 {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
    }

    /// The number of handoffs at or before `at` minus one: the turn then.
    fn turn_at(&self, tz: Tz, at: DateTime<Utc>) -> i64 {
        // An estimate from wall-clock (or elapsed) time, then corrected
        // against the handoffs' instants, which the repeated and skipped
        // hours move by up to their length.
        let mut k = match self.turn {
            Turn::Days(days) => {
                let local = at.with_timezone(&tz).naive_local();
                (local - self.start).num_seconds().div_euclid(days * 86_400)
            }
            Turn::Elapsed(length) => (at - self.start_at)
                .num_milliseconds()
                .div_euclid(length.num_milliseconds().max(1)),
        };
        while self.handoff(tz, k + 1) <= at {
            k += 1;
        }
        while k > 0 && self.handoff(tz, k) > at {
            k -= 1;
        }
        k
    }

    /// The restriction windows (instants) that may hold instants between
    /// the local dates `from` and `to`.
    fn windows(
        &self,
        tz: Tz,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut out = Vec::new();
        for restriction in &self.restrictions {
            // a window starts at most a week before the day it covers
            let mut day = from - TimeDelta::days(8);
            while day <= to {
                let window = match restriction {
                    Restriction::Daily { start, length } => Some((day.and_time(*start), *length)),
                    Restriction::Weekly {
                        day: weekday,
                        start,
                        length,
                    } => (day.weekday() == *weekday).then(|| (day.and_time(*start), *length)),
                };
                if let Some((start, length)) = window {
                    out.push((instant(tz, start), instant(tz, start + length)));
                }
                day = day.succ_opt().unwrap_or(day);
                if day == NaiveDate::MAX {
                    break;
                }
            }
        }
        out
    }

    /// Whether one of the restrictions' windows holds `at`.
    fn restricted_on(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        let day = at.with_timezone(&tz).date_naive();
        self.windows(tz, day, day)
            .iter()
            .any(|(start, end)| *start <= at && at < *end)
    }

    /// Every instant in `[from, to)` where this layer's user may change.
    fn edges(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        out.push(self.start_at);
        out.extend(self.end_at);
        let first = self.turn_at(tz, from.max(self.start_at));
        let mut k = first;
        loop {
            let t = self.handoff(tz, k);
            if t >= to {
                break;
            }
            out.push(t);
            k += 1;
        }
        if !self.restrictions.is_empty() {
            let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
            for (start, end) in self.windows(tz, local(from), local(to)) {
                out.extend([start, end]);
            }
        }
    }
}

/// The earliest instant whose wall-clock time in `tz` is `local` or later:
/// the first of a repeated time, the end of the jump over a skipped one.
fn instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            // Skipped: transitions are on whole minutes, so the first
            // minute after `local` that exists is where the clocks landed.
            let mut minute = local
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(local);
            for _ in 0..(48 * 60) {
                minute += TimeDelta::minutes(1);
                if let Some(t) = tz.from_local_datetime(&minute).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            // no zone skips two days: read it as UTC rather than fail
            Utc.from_utc_datetime(&local)
        }
    }
}

/// A wall-clock time, `HH:MM` or `HH:MM:SS`.
fn local_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    let text = String::deserialize(d)?;
    NaiveTime::parse_from_str(&text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M:%S"))
        .map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is not a time of day such as 09:00"))
        })
}

/// A wall-clock date and time, `YYYY-MM-DDTHH:MM[:SS]` (or with a space).
fn local_datetime<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    let text = String::deserialize(d)?;
    parse_local_datetime(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "{text:?} is not a date and time without offset such as 2026-03-23T09:00"
        ))
    })
}

fn optional_local_datetime<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<NaiveDateTime>, D::Error> {
    local_datetime(d).map(Some)
}

/// `YYYY-MM-DDTHH:MM[:SS]`, `T` or a space between date and time.
pub(crate) fn parse_local_datetime(text: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

fn parse_turn(text: &str) -> Result<Turn, String> {
    let duration = match text {
        "daily" => return Ok(Turn::Days(1)),
        "weekly" => return Ok(Turn::Days(7)),
        _ => steward_core::parse_duration(text).map_err(|err| {
            format!("{err}; expected daily, weekly or a duration such as 3d or 12h")
        })?,
    };
    if duration < Duration::from_secs(60) {
        return Err(format!("a turn of {text} is shorter than a minute"));
    }
    let day = Duration::from_secs(86_400);
    if duration.as_millis() % day.as_millis() == 0 {
        return Ok(Turn::Days((duration.as_secs() / 86_400) as i64));
    }
    TimeDelta::from_std(duration)
        .map(Turn::Elapsed)
        .map_err(|_| format!("a turn of {text} is too long"))
}

fn restriction_length(text: &str, period: TimeDelta) -> Result<TimeDelta, String> {
    let length = steward_core::parse_duration(text)
        .ok()
        .and_then(|d| TimeDelta::from_std(d).ok())
        .ok_or_else(|| format!("{text:?} is not a duration such as 8h or 4d12h"))?;
    if length <= TimeDelta::zero() || length > period {
        return Err(format!(
            "{text} must be more than zero and at most {}",
            if period == TimeDelta::days(1) {
                "a day"
            } else {
                "a week"
            }
        ));
    }
    Ok(length)
}

#[cfg(test)]
mod tests;
