//! Durations and byte sizes as LogQL writes them: `[5m]`, `1h30m`,
//! `250ms` (Go's `time.ParseDuration` plus `d`, `w`, `y`) and `5MB`,
//! `1.5KiB` (go-humanize's `ParseBytes`), and numbers printed as
//! Prometheus prints them.

const NS_PER_SEC: f64 = 1e9;

/// Nanoseconds of a duration such as `1h30m`, `250ms` or `1.5s` (a
/// sign is accepted); `None` when it is not one.
pub(crate) fn parse_duration_ns(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "w" => 7.0 * 86400e9,
            "y" => 365.0 * 86400e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * unit;
    }
    Some(if neg { -total } else { total })
}

/// Seconds of a duration, for `duration(label)` and duration filters.
pub(crate) fn parse_duration_secs(s: &str) -> Option<f64> {
    parse_duration_ns(s.trim()).map(|ns| ns / NS_PER_SEC)
}

/// Bytes of a size such as `5MB`, `1.5 KiB`, `42` or `10b`.
pub(crate) fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let n: f64 = s[..num_len].parse().ok()?;
    let unit = s[num_len..].trim().to_ascii_lowercase();
    let k: f64 = 1000.0;
    let ki: f64 = 1024.0;
    let mult = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => k,
        "ki" | "kib" => ki,
        "m" | "mb" => k.powi(2),
        "mi" | "mib" => ki.powi(2),
        "g" | "gb" => k.powi(3),
        "gi" | "gib" => ki.powi(3),
        "t" | "tb" => k.powi(4),
        "ti" | "tib" => ki.powi(4),
        "p" | "pb" => k.powi(5),
        "pi" | "pib" => ki.powi(5),
        "e" | "eb" => k.powi(6),
        "ei" | "eib" => ki.powi(6),
        _ => return None,
    };
    Some(n * mult)
}

/// A range or offset written back as LogQL: `5m`, `1h30m`, `250ms`.
pub(crate) fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ns.unsigned_abs();
    if ns < 0 {
        out.push('-');
    }
    for (unit, len) in [
        ("d", 86_400_000_000_000u64),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    out
}

/// A sample value as Prometheus' API prints it (Go's `'f', -1`).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}
