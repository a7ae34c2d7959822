//! Durations as Prometheus' YAML files write them (`model.Duration`:
//! `1h30m`, `5m`, `0`) and as Go prints durations, since promtool's
//! messages show both forms.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A duration in whole milliseconds, read and printed as Prometheus'
/// `model.Duration` (`1d2h`, units y w d h m s ms, each at most once, in
/// that order; `0` alone has no unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub i64);

impl PromDuration {
    /// The duration in milliseconds.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses Prometheus' notation; the error is promtool's wording.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("not a valid duration string: {s:?}");
        if s == "0" {
            return Ok(Self(0));
        }
        if s.is_empty() {
            return Err("empty duration string".into());
        }
        const UNITS: [(&str, i64); 7] = [
            ("y", 365 * 86_400_000),
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ];
        let mut rest = s;
        let mut next = 0;
        let mut total: i64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let pos = UNITS[next..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(bad)?;
            total = n
                .checked_mul(UNITS[next + pos].1)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| "duration out of range".to_string())?;
            next += pos + 1;
        }
        Ok(Self(total))
    }
}

/// `model.Duration.String()`: years and weeks only when exact, `0s` for zero.
impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, mult, exact) in [
            ("y", 365 * 86_400_000, true),
            ("w", 7 * 86_400_000, true),
            ("d", 86_400_000, false),
            ("h", 3_600_000, false),
            ("m", 60_000, false),
            ("s", 1_000, false),
            ("ms", 1, false),
        ] {
            if exact && ms % mult != 0 {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

impl Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PromDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 5m or 1h30m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PromDuration, E> {
                PromDuration::parse(v).map_err(E::custom)
            }
            // YAML reads a bare `0` (or `30`) as a number; Go's decoder
            // hands it over as its text, so only `0` is valid
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PromDuration, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PromDuration, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration in milliseconds as Go's `time.Duration.String()` prints it
/// (`1m0s`, `1h30m0s`, `0s`, `500ms`).
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if ms < 1000 {
        out.push_str(&format!("{ms}ms"));
        return out;
    }
    let h = ms / 3_600_000;
    let m = ms % 3_600_000 / 60_000;
    let s = ms % 60_000 / 1000;
    let frac = ms % 1000;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let f = format!("{frac:03}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_prometheus() {
        for (s, ms, back) in [
            ("0", 0, "0s"),
            ("5m", 300_000, "5m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("90m", 5_400_000, "1h30m"),
            ("2w", 14 * 86_400_000, "2w"),
            ("15d", 15 * 86_400_000, "15d"),
            ("14d", 14 * 86_400_000, "2w"),
            ("1s500ms", 1_500, "1s500ms"),
        ] {
            let d = PromDuration::parse(s).unwrap();
            assert_eq!(d.0, ms, "{s}");
            assert_eq!(d.to_string(), back, "{s}");
        }
        for bad in ["", "5", "m", "5m1h", "1.5h", "-1m"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PromDuration::parse("abc").unwrap_err(),
            r#"not a valid duration string: "abc""#
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(3_661_500), "1h1m1.5s");
        assert_eq!(go_duration(250), "250ms");
    }
}
