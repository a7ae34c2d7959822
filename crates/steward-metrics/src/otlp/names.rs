//! Prometheus names for OTLP metrics and attributes, as Prometheus' OTLP
//! receiver builds them with metric suffixes on (its default, the
//! "underscore escaping with suffixes" strategy of Prometheus 3):
//!
//! - a metric name is split into words at every `_` and every character
//!   outside `[a-zA-Z0-9:]`; the unit, mapped to its Prometheus word (`s` ->
//!   `seconds`, `By` -> `bytes`, ...; `{...}` annotations dropped, `a/b`
//!   as `a_per_b`), is appended unless a word already says it; a
//!   monotonic sum ends in `_total` and a gauge of unit `1` in `_ratio`;
//!   the words are joined with `_`, and a leading digit gets a `_` before
//!   it;
//! - a label name has every character outside `[a-zA-Z0-9_]` replaced by
//!   `_`, gets `key_` before a leading digit and `key` before a single
//!   leading `_` (names starting `__` are Prometheus' own and kept).

/// What a metric becomes in Prometheus, for its name's suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A gauge (`_ratio` for unit `1`).
    Gauge,
    /// A monotonic sum: a counter.
    Counter,
    /// Anything else (a non-monotonic sum, a histogram, a summary): no
    /// type suffix.
    Other,
}

/// The unit words of UCUM units Prometheus spells out.
fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The words of the denominator of a `a/b` unit.
fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// `s` split at every `_` and every character Prometheus' legacy names
/// do not allow (so runs of `_` collapse).
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|w| !w.is_empty())
}

/// A unit word cleaned to `[a-zA-Z0-9:_]`.
fn clean(s: &str) -> String {
    words(s).collect::<Vec<_>>().join("_")
}

/// The Prometheus metric name of an OTLP metric.
pub fn metric_name(name: &str, unit: &str, kind: Kind) -> String {
    let mut tokens: Vec<String> = words(name).map(str::to_owned).collect();
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main.trim(), per.trim()),
        None => (unit.trim(), ""),
    };
    if !main.is_empty() && !main.contains(['{', '}']) {
        let word = clean(unit_word(main));
        if !word.is_empty() && !tokens.contains(&word) {
            tokens.push(word);
        }
    }
    if !per.is_empty() && !per.contains(['{', '}']) {
        let word = clean(per_unit_word(per));
        if !word.is_empty() && !tokens.contains(&word) {
            tokens.push("per".to_owned());
            tokens.push(word);
        }
    }
    let mut suffix = |word: &str| {
        tokens.retain(|t| t != word);
        tokens.push(word.to_owned());
    };
    match kind {
        Kind::Counter => suffix("total"),
        Kind::Gauge if unit == "1" => suffix("ratio"),
        _ => {}
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus label name of an attribute key.
pub fn label_name(key: &str) -> String {
    if key.is_empty() {
        return String::new();
    }
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    out
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it (the
/// shortest digits that read back the same, never an exponent), with
/// Prometheus' spellings of the infinities: how `le` and `quantile`
/// values are written.
pub fn format_float(f: f64) -> String {
    if f == f64::INFINITY {
        "+Inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if f.is_nan() {
        "NaN".to_owned()
    } else {
        // Rust's Display is shortest round-trip without an exponent.
        format!("{f}")
    }
}
