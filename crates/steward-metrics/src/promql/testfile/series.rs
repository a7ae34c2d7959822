//! Series descriptions of the test format: `name{l="v"} 1+2x3 _ stale 4`.
//!
//! Expanding notation, as Prometheus' test harness reads it:
//! - `a` one value; `_` one missing sample; `stale` a staleness marker;
//! - `axn` the value `a` n+1 times; `_xn` n missing samples;
//! - `a+bxn` / `a-bxn` n+1 values from `a`, adding `b` (or `-b`) each time.

use crate::labels::{LabelsBuilder, METRIC_NAME};
use crate::{Labels, STALE_NAN};

/// One value of a series description (`None`: no sample at that step).
pub type SeqValue = Option<f64>;

/// Parses `name{labels} values...` into the labels and the expanded values.
pub fn parse_series_desc(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let (labels, rest) = parse_metric(line)?;
    let mut values = Vec::new();
    for item in rest.split_whitespace() {
        expand_item(item, &mut values)?;
    }
    Ok((labels, values))
}

/// Parses a metric (`name`, `name{...}` or `{...}`) at the start of `s`,
/// returning the labels and the rest of the line.
pub fn parse_metric(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_len = s
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_alphabetic() || *c == '_' || *c == ':' || (*i > 0 && c.is_ascii_digit())
        })
        .count();
    let mut b = LabelsBuilder::default();
    if name_len > 0 {
        b.set(METRIC_NAME, &s[..name_len]);
    }
    let mut rest = &s[name_len..];
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let n = rest
                .char_indices()
                .take_while(|(i, c)| {
                    c.is_ascii_alphabetic() || *c == '_' || (*i > 0 && c.is_ascii_digit())
                })
                .count();
            if n == 0 {
                return Err(format!("expected a label name at {rest:?}"));
            }
            let name = &rest[..n];
            rest = rest[n..].trim_start();
            rest = rest
                .strip_prefix('=')
                .ok_or_else(|| format!("expected \"=\" after label {name:?}"))?
                .trim_start();
            let (value, r) = parse_quoted(rest)?;
            b.set(name, value);
            rest = r.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err(format!("expected \",\" or \"}}\" at {rest:?}"));
            }
        }
    } else if name_len == 0 {
        return Err(format!("expected a metric at {s:?}"));
    }
    Ok((b.build(), rest))
}

/// A quoted string (`"..."`, `'...'` or a raw `` `...` ``) and the rest.
fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('"' | '\'' | '`'))) => q,
        _ => return Err(format!("expected a quoted label value at {s:?}")),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &s[i + 1..]));
        }
        if c == '\\' && quote != '`' {
            let (_, e) = chars.next().ok_or("unterminated escape")?;
            out.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                other => other,
            });
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated quoted string {s:?}"))
}

/// A number as the test format writes it (decimal, `Inf`/`NaN` in any
/// case; no hexadecimal, which `0x5` would make ambiguous), at the start
/// of `s`: the value and how many bytes it took.
fn number_prefix(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let neg = s.starts_with('-');
    let word = &s[i..];
    for (w, v) in [("inf", f64::INFINITY), ("nan", f64::NAN)] {
        if word.len() >= 3 && word[..3].eq_ignore_ascii_case(w) {
            let v = if neg { -v } else { v };
            return Some((v, i + 3));
        }
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == start || &s[start..i] == "." {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            i = j + digits;
        }
    }
    Some((s[..i].parse().ok()?, i))
}

/// A whole string as one number.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    match number_prefix(s) {
        Some((v, n)) if n == s.len() => Some(v),
        _ => None,
    }
}

fn times(s: &str) -> Result<u64, String> {
    let n = s
        .strip_prefix('x')
        .ok_or_else(|| format!("expected \"x<count>\" at {s:?}"))?;
    n.parse()
        .map_err(|_| format!("invalid repetition count {n:?}"))
}

fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if let Some(rest) = item.strip_prefix('_') {
        if rest.is_empty() {
            out.push(None);
        } else {
            out.extend(std::iter::repeat_n(None, times(rest)? as usize));
        }
        return Ok(());
    }
    let (first, rest) = if let Some(rest) = item.strip_prefix("stale") {
        (STALE_NAN, rest)
    } else {
        let (v, n) = number_prefix(item).ok_or_else(|| format!("invalid value {item:?}"))?;
        (v, &item[n..])
    };
    if rest.is_empty() {
        out.push(Some(first));
        return Ok(());
    }
    let (inc, rest) = if rest.starts_with(['+', '-']) {
        let (d, n) = number_prefix(rest).ok_or_else(|| format!("invalid increment in {item:?}"))?;
        (d, &rest[n..])
    } else {
        (0.0, rest)
    };
    let count = times(rest)?;
    if inc == 0.0 {
        // repeated as is (arithmetic would turn a staleness marker into a
        // plain NaN)
        out.extend(std::iter::repeat_n(Some(first), count as usize + 1));
        return Ok(());
    }
    // Prometheus accumulates (v += inc), so do the same for equal floats
    let mut v = first;
    for _ in 0..=count {
        out.push(Some(v));
        v += inc;
    }
    Ok(())
}
