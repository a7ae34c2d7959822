//! The functions Prometheus (2.42) offers alert and console templates,
//! with its number formatting reproduced exactly, and the alert template
//! preamble that defines `$labels`, `$externalLabels`, `$externalURL` and
//! `$value`.
//!
//! `query` calls a closure the application supplies; its samples appear in
//! templates as maps with `.Labels` and `.Value`, which `first`, `label`,
//! `value`, `strvalue` and `sortByLabel` work on. As in Prometheus, a
//! scalar result should be given as one sample without labels and a
//! string result as one sample whose `__value__` label holds the string.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::funcs::builtin::query_escape;
use crate::funcs::{expect_args, str_arg};
use crate::gofmt::format_g;
use crate::{Error, FuncMap, Function, Object, Result, Templates, Value};

/// One sample of a query result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuerySample {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The sample's value.
    pub value: f64,
}

impl QuerySample {
    /// The sample as templates see it: `.Labels` and `.Value`.
    pub fn to_value(&self) -> Value {
        Value::map([
            ("Labels", Value::string_map(self.labels.clone())),
            ("Value", Value::Float(self.value)),
        ])
    }
}

/// The closure behind `query`: runs a PromQL instant query.
pub type QueryFn = dyn Fn(&str) -> std::result::Result<Vec<QuerySample>, String> + Send + Sync;

/// What Prometheus prepends to every alert annotation and label template.
pub const ALERT_PREAMBLE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The data of an alert template: `.Labels`, `.ExternalLabels`,
/// `.ExternalURL` and `.Value`.
pub fn alert_data(
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    Value::map([
        ("Labels", Value::string_map(labels.clone())),
        ("ExternalLabels", Value::string_map(external_labels.clone())),
        ("ExternalURL", Value::from(external_url)),
        ("Value", Value::Float(value)),
    ])
}

/// Expands an alert annotation or label template as Prometheus does:
/// the preamble is prepended (so `$labels` and friends exist) and the
/// text is executed with `data` (see [`alert_data`]) using `funcs`
/// (usually [`funcs`]). `name` is used in error messages (Prometheus uses
/// `__alert_<alertname>`).
pub fn expand_alert(name: &str, text: &str, data: &Value, funcs: FuncMap) -> Result<String> {
    let mut t = Templates::new();
    t.add_funcs(funcs)
        .parse(name, &format!("{ALERT_PREAMBLE}{text}"))?;
    t.execute(name, data)
}

/// Prometheus' template functions. `external_url` is Prometheus'
/// `--web.external-url`; `query` runs queries for `query`.
pub fn funcs(external_url: &str, query: Arc<QueryFn>) -> FuncMap {
    let mut m = FuncMap::new();
    let mut add = |name: &str, f: Function| {
        m.insert(name.to_owned(), f);
    };
    add(
        "query",
        Function::new(move |a| {
            expect_args(a, 1)?;
            let q = str_arg(a, 0)?;
            let samples =
                query(q).map_err(|e| Error::func(format!("error executing query: {e}")))?;
            Ok(Value::list(samples.iter().map(QuerySample::to_value)))
        }),
    );
    add(
        "first",
        Function::new(|a| {
            expect_args(a, 1)?;
            match &a[0] {
                Value::List(l) => l
                    .first()
                    .cloned()
                    .ok_or_else(|| Error::func("first() called on vector with no elements")),
                v => Err(wrong_type("queryResult", v)),
            }
        }),
    );
    add(
        "label",
        Function::new(|a| {
            expect_args(a, 2)?;
            let name = str_arg(a, 0)?;
            Ok(sample_label(&a[1], name)?.into())
        }),
    );
    add(
        "value",
        Function::new(|a| {
            expect_args(a, 1)?;
            match &a[0] {
                Value::Nil => Ok(Value::Float(0.0)),
                Value::Map(m) => Ok(m.get("Value").cloned().unwrap_or(Value::Float(0.0))),
                v => Err(wrong_type("*template.sample", v)),
            }
        }),
    );
    add(
        "strvalue",
        Function::new(|a| {
            expect_args(a, 1)?;
            Ok(sample_label(&a[0], "__value__")?.into())
        }),
    );
    add(
        "args",
        Function::new(|a| {
            Ok(Value::map(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v.clone())),
            ))
        }),
    );
    add(
        "reReplaceAll",
        Function::new(|a| {
            expect_args(a, 3)?;
            let re = regex::Regex::new(str_arg(a, 0)?).map_err(|e| {
                Error::func(format!(
                    "regexp: Compile({:?}): {e}",
                    str_arg(a, 0).unwrap_or("")
                ))
            })?;
            Ok(re
                .replace_all(str_arg(a, 2)?, str_arg(a, 1)?)
                .into_owned()
                .into())
        }),
    );
    add("safeHtml", Function::new(|a| string_fn(a, str::to_owned)));
    add("match", Function::new(match_fn));
    add("title", Function::new(|a| string_fn(a, title)));
    add(
        "toUpper",
        Function::new(|a| string_fn(a, str::to_uppercase)),
    );
    add(
        "toLower",
        Function::new(|a| string_fn(a, str::to_lowercase)),
    );
    add(
        "graphLink",
        Function::new(|a| {
            string_fn(a, |e| {
                format!("/graph?g0.expr={}&g0.tab=0", query_escape(e))
            })
        }),
    );
    add(
        "tableLink",
        Function::new(|a| {
            string_fn(a, |e| {
                format!("/graph?g0.expr={}&g0.tab=1", query_escape(e))
            })
        }),
    );
    add(
        "sortByLabel",
        Function::new(|a| {
            expect_args(a, 2)?;
            let label = str_arg(a, 0)?;
            let Value::List(l) = &a[1] else {
                return Err(wrong_type("queryResult", &a[1]));
            };
            let mut keyed = l
                .iter()
                .map(|s| Ok((sample_label(s, label)?, s.clone())))
                .collect::<Result<Vec<_>>>()?;
            keyed.sort_by(|x, y| x.0.cmp(&y.0));
            Ok(Value::list(keyed.into_iter().map(|(_, s)| s)))
        }),
    );
    add("humanize", Function::new(|a| float_fn(a, humanize)));
    add("humanize1024", Function::new(|a| float_fn(a, humanize1024)));
    add(
        "humanizeDuration",
        Function::new(|a| float_fn(a, humanize_duration)),
    );
    add(
        "humanizePercentage",
        Function::new(|a| float_fn(a, humanize_percentage)),
    );
    add(
        "humanizeTimestamp",
        Function::new(|a| {
            expect_args(a, 1)?;
            humanize_timestamp(to_float(&a[0])?).map(Value::from)
        }),
    );
    add(
        "toTime",
        Function::new(|a| {
            expect_args(a, 1)?;
            let v = to_float(&a[0])?;
            let ms = float_to_millis(v)?.ok_or_else(|| Error::func("value is NaN or Inf"))?;
            Ok(Value::Object(Arc::new(Time(ms))))
        }),
    );
    let url = external_url.to_owned();
    let path = url_path(external_url);
    add(
        "externalURL",
        Function::new(move |a| {
            expect_args(a, 0)?;
            Ok(url.clone().into())
        }),
    );
    add(
        "pathPrefix",
        Function::new(move |a| {
            expect_args(a, 0)?;
            Ok(path.clone().into())
        }),
    );
    add(
        "parseDuration",
        Function::new(|a| {
            expect_args(a, 1)?;
            parse_duration(str_arg(a, 0)?).map(Value::Float)
        }),
    );
    add("stripPort", Function::new(|a| string_fn(a, strip_port)));
    add("stripDomain", Function::new(|a| string_fn(a, strip_domain)));
    m
}

fn wrong_type(want: &str, got: &Value) -> Error {
    Error::func(format!(
        "wrong type for value; expected {want}; got {}",
        got.type_name()
    ))
}

fn string_fn(a: &[Value], f: impl Fn(&str) -> String) -> Result<Value> {
    expect_args(a, 1)?;
    Ok(Value::String(f(str_arg(a, 0)?)))
}

fn float_fn(a: &[Value], f: impl Fn(f64) -> String) -> Result<Value> {
    expect_args(a, 1)?;
    Ok(Value::String(f(to_float(&a[0])?)))
}

fn match_fn(a: &[Value]) -> Result<Value> {
    expect_args(a, 2)?;
    let re = regex::Regex::new(str_arg(a, 0)?)
        .map_err(|e| Error::func(format!("error parsing regexp: {e}")))?;
    Ok(Value::Bool(re.is_match(str_arg(a, 1)?)))
}

/// A label of a sample (a map with `.Labels`); "" for nil, as Prometheus.
fn sample_label(s: &Value, name: &str) -> Result<String> {
    match s {
        Value::Nil => Ok(String::new()),
        Value::Map(m) => Ok(match m.get("Labels") {
            Some(Value::Map(l)) => l.get(name).and_then(Value::as_str).unwrap_or("").to_owned(),
            _ => String::new(),
        }),
        v => Err(wrong_type("*template.sample", v)),
    }
}

/// Prometheus' `convertToFloat`: numbers, and strings parsed as Go's
/// `strconv.ParseFloat` does.
pub fn to_float(v: &Value) -> Result<f64> {
    match v.resolved() {
        Value::Float(f) => Ok(f),
        Value::Int(i) => Ok(i as f64),
        Value::String(s) => parse_go_float(&s).ok_or_else(|| {
            Error::func(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                crate::quote(&s)
            ))
        }),
        v => Err(Error::func(format!(
            "can't convert {} to float",
            v.type_name()
        ))),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    // Rust also accepts forms Go does not ("inf" is fine in both).
    if t.is_empty() || t.starts_with('.') && t.len() == 1 {
        return None;
    }
    if t.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        || ["inf", "infinity", "nan"].contains(&t.to_ascii_lowercase().as_str())
    {
        if t.eq_ignore_ascii_case("nan") && t.len() != s.len() {
            return None;
        }
        return s.parse().ok();
    }
    None
}

fn g4(v: f64) -> String {
    format_g(v, Some(4), false)
}

const SMALL: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];

/// Scales a value below 1 with the m/u/n... prefixes.
fn small(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in SMALL {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// Prometheus' `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    let (v, prefix) = small(v);
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanize1024`: binary prefixes, 4 significant digits.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanizeDuration`: seconds as `1d 2h 3m 4s`, or with
/// 4 significant digits and m/u/n prefixes below a minute.
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (seconds, minutes, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let (v, prefix) = small(v);
    format!("{}{prefix}s", g4(v))
}

/// Prometheus' `humanizePercentage`: a ratio as a percentage.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Seconds since the epoch to milliseconds, as Prometheus' `floatToTime`
/// (None for NaN and infinities).
fn float_to_millis(v: f64) -> Result<Option<i64>> {
    if v.is_nan() || v.is_infinite() {
        return Ok(None);
    }
    let ns = v * 1e9;
    if ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(Error::func(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            Value::Float(v)
        )));
    }
    Ok(Some(ns as i64 / 1_000_000))
}

/// Prometheus' `humanizeTimestamp`: Go's `time.Time` string in UTC.
pub fn humanize_timestamp(v: f64) -> Result<String> {
    Ok(match float_to_millis(v)? {
        None => g4(v),
        Some(ms) => go_time_string(ms),
    })
}

/// Go's `Time.String()` of a UTC instant: `2006-01-02 15:04:05.999 +0000 UTC`.
fn go_time_string(ms: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return ms.to_string();
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let frac = ms.rem_euclid(1000);
    if frac != 0 {
        let f = format!(".{frac:03}");
        s.push_str(f.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

/// `toTime`'s result: Go's `*time.Time`, printing as Go does, with the
/// methods templates commonly call.
#[derive(Debug)]
struct Time(i64);

impl Object for Time {
    fn type_name(&self) -> &str {
        "*time.Time"
    }

    fn value(&self) -> Value {
        Value::String(go_time_string(self.0))
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        let r = match name {
            "Unix" => Value::Int(self.0.div_euclid(1000)),
            "UnixMilli" => Value::Int(self.0),
            "UnixNano" => Value::Int(self.0.saturating_mul(1_000_000)),
            "UTC" => Value::Object(Arc::new(Time(self.0))),
            "String" => self.value(),
            _ => return None,
        };
        Some(expect_args(args, 0).map(|()| r))
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

/// The path of a URL ("" when it has none), as Go's `url.URL.Path`.
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/')
        .map_or(String::new(), |i| rest[i..].to_owned())
}

/// Prometheus' duration syntax (`1h30m`, `5m`, `2d`, `100ms`...) to seconds.
pub fn parse_duration(s: &str) -> Result<f64> {
    let bad = || Error::func(format!("not a valid duration string: {}", crate::quote(s)));
    if s == "0" {
        return Ok(0.0);
    }
    if s.is_empty() {
        return Err(Error::func("empty duration string"));
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        let num: u64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let i = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(bad)?;
        if i < next_unit {
            return Err(bad());
        }
        next_unit = i + 1;
        total = num
            .checked_mul(UNITS[i].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total as f64 / 1000.0)
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((&rest[..end], port));
    }
    let i = hp.rfind(':')?;
    if hp[..i].contains(':') {
        return None;
    }
    Some((&hp[..i], &hp[i + 1..]))
}

/// Prometheus' `stripPort`.
pub fn strip_port(hp: &str) -> String {
    split_host_port(hp).map_or(hp, |(h, _)| h).to_owned()
}

/// Prometheus' `stripDomain`: the first label of a host name, keeping
/// the port; IP addresses are kept whole.
pub fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_owned();
    }
    let host = host.split('.').next().unwrap_or("");
    if port.is_empty() {
        host.to_owned()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests;
