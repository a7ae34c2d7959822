//! Durations in Prometheus syntax (`90s`, `1h30m`, `500ms`, `2d`), the one
//! syntax used across steward's configuration, API and rule files.

use std::{fmt, str::FromStr, time::Duration};

use crate::{Error, Result};

/// Units from largest to smallest, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration: one or more `<integer><unit>` terms with
/// units `y w d h m s ms` from largest to smallest, each at most once.
/// `0` alone is accepted as zero.
pub fn parse_duration(text: &str) -> Result<Duration> {
    parse(text, false)
}

/// Like [`parse_duration`], except that a duration too long for a `u64`
/// of milliseconds is the longest one instead of an error: for "that long
/// ago", where every such duration reaches before any record.
pub fn parse_duration_saturating(text: &str) -> Result<Duration> {
    parse(text, true)
}

fn parse(text: &str, saturate: bool) -> Result<Duration> {
    let err = |reason| Error::InvalidDuration {
        value: text.to_owned(),
        reason,
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(err("empty duration; write e.g. `30s`, `5m` or `1h30m`"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen, to enforce descending order.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("expected a number before each unit, e.g. `30s`"));
        }
        let number: u64 = match rest[..digits].parse() {
            Ok(number) => number,
            Err(_) if saturate => u64::MAX,
            Err(_) => return Err(err("number too large")),
        };
        rest = &rest[digits..];
        let (index, (unit, millis)) = UNITS
            .iter()
            .enumerate()
            // `ms` must be tried before `m`.
            .filter(|(_, (unit, _))| rest.starts_with(unit))
            .max_by_key(|(_, (unit, _))| unit.len())
            .ok_or_else(|| err("unknown or missing unit; use ms, s, m, h, d, w or y"))?;
        if last_unit.is_some_and(|last| index <= last) {
            return Err(err("units must go from largest to smallest, each once"));
        }
        last_unit = Some(index);
        rest = &rest[unit.len()..];
        total = match number
            .checked_mul(*millis)
            .and_then(|ms| total.checked_add(ms))
        {
            Some(total) => total,
            None if saturate => u64::MAX,
            None => return Err(err("duration too large")),
        };
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration the way Prometheus does: largest units first,
/// zero terms left out (`1h30m`, `1s500ms`, `0s`). Sub-millisecond parts are
/// dropped.
pub fn format_duration(duration: Duration) -> String {
    let mut millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let count = millis / size;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
            millis -= count * size;
        }
    }
    out
}

/// A [`Duration`] that reads and writes as a Prometheus duration string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        HumanDuration(Duration::from_secs(secs))
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        HumanDuration(Duration::from_millis(millis))
    }

    /// The wrapped duration.
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(value: Duration) -> Self {
        HumanDuration(value)
    }
}

impl FromStr for HumanDuration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        parse_duration(s).map(HumanDuration)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

crate::text_form::text_form!(
    HumanDuration,
    schema = "Duration",
    pattern = "^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
    description = "A duration in Prometheus syntax, e.g. `500ms`, `30s`, `1h30m`"
);

#[cfg(test)]
mod tests;
