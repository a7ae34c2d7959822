//! Byte-level helpers shared by the two parsers: name classes, Go's float
//! syntax, escapes, and errors that point at a line and column.

use std::borrow::Cow;

use super::{Parser, Span};
use crate::Error;

/// `[a-zA-Z_:]`
pub(super) fn is_metric_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

/// `[a-zA-Z0-9_:]`
pub(super) fn is_metric_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// `[a-zA-Z_]`
pub(super) fn is_label_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// `[a-zA-Z0-9_]`
pub(super) fn is_label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether `s` is a valid metric name.
pub(crate) fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_metric_start(b[0]) && b[1..].iter().all(|c| is_metric_char(*c))
}

/// Whether `s` is a valid label name.
pub(crate) fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_label_start(b[0]) && b[1..].iter().all(|c| is_label_char(*c))
}

/// The text of a range the parser already checked to be UTF-8 (names are
/// ASCII, values validated); empty if that invariant were ever broken,
/// rather than a panic.
pub(super) fn str_of(b: &[u8], (s, e): (usize, usize)) -> &str {
    b.get(s..e)
        .and_then(|r| std::str::from_utf8(r).ok())
        .unwrap_or_default()
}

/// Prometheus' NaN for exposed NaNs (`value.NormalNaN`), so no target can
/// expose the staleness marker.
pub(super) const NORMAL_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0001);

/// Go's `strconv.ParseFloat` as Prometheus calls it: decimal floats,
/// `NaN`, `Inf`, `+Inf`, `-Infinity` (any case); no hex floats and no
/// underscores; out of range is an error, not an infinity.
pub(super) fn parse_go_float(s: &[u8]) -> Option<f64> {
    let (sign, rest) = match s.first() {
        Some(b'+') => (1.0, &s[1..]),
        Some(b'-') => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(sign * f64::INFINITY);
    }
    // Go takes no sign before NaN.
    if s.eq_ignore_ascii_case(b"nan") {
        return Some(NORMAL_NAN);
    }
    if !rest
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

/// Resolves `\\`, `\n` and (when `quote`) `\"`; any other backslash stays
/// as written, as Prometheus' replacers leave it.
pub(super) fn unescape(s: &str, quote: bool) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut peek = chars.clone();
        match peek.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars = peek;
    }
    Cow::Owned(out)
}

/// A short description of what is at `pos`, for "got ..." messages.
pub(super) fn describe(b: &[u8], pos: usize) -> String {
    match b.get(pos) {
        None => "end of input".to_owned(),
        Some(b'\n') => "end of line".to_owned(),
        Some(b'\r') => "a carriage return (lines must end with \\n alone)".to_owned(),
        Some(0) => "a NUL byte".to_owned(),
        Some(c) if c.is_ascii_graphic() || *c == b' ' => format!("'{}'", *c as char),
        Some(b'\t') => "a tab".to_owned(),
        Some(c) if c.is_ascii() => format!("byte 0x{c:02x}"),
        Some(_) => {
            let rest = &b[pos..b.len().min(pos + 4)];
            match String::from_utf8_lossy(rest).chars().next() {
                Some(char::REPLACEMENT_CHARACTER) | None => "invalid utf-8".to_owned(),
                Some(ch) => format!("{ch:?}"),
            }
        }
    }
}

/// An error at byte `pos` of `b`, with a 1-based line and column (the
/// column counted in characters).
pub(super) fn error_at(b: &[u8], pos: usize, message: impl Into<String>) -> Error {
    let pos = pos.min(b.len());
    let before = &b[..pos];
    let line_start = before
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|c| **c == b'\n').count();
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    Error::Exposition {
        line,
        column,
        message: message.into(),
    }
}

impl<'a> Parser<'a> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub(super) fn at(&self, s: &[u8]) -> bool {
        self.b.get(self.i..self.i + s.len()) == Some(s)
    }

    pub(super) fn err(&self, message: impl Into<String>) -> Error {
        error_at(self.b, self.i, message)
    }

    /// `"{expected}, got {what is here}"` at the current position.
    pub(super) fn unexpected(&self, expected: &str) -> Error {
        self.err(format!("{expected}, got {}", describe(self.b, self.i)))
    }

    pub(super) fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Consumes a run of bytes for which `f` holds; its range.
    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> (usize, usize) {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        (start, self.i)
    }

    /// A metric name at the current position, if one starts here.
    pub(super) fn metric_name(&mut self) -> Option<(usize, usize)> {
        if !self.peek().is_some_and(is_metric_start) {
            return None;
        }
        Some(self.take_while(is_metric_char))
    }

    pub(super) fn label_name(&mut self) -> Option<(usize, usize)> {
        if !self.peek().is_some_and(is_label_start) {
            return None;
        }
        Some(self.take_while(is_label_char))
    }

    /// A quoted label value starting at the opening quote; its inner
    /// range and whether it holds escapes. The text format lets a raw
    /// newline through, OpenMetrics does not.
    pub(super) fn quoted(&mut self, allow_newline: bool) -> crate::Result<((usize, usize), bool)> {
        let open = self.i;
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(error_at(self.b, open, "unterminated label value")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.b.get(self.i + 1) {
                        None => return Err(error_at(self.b, open, "unterminated label value")),
                        Some(b'\n') => {
                            return Err(self.err("backslash at end of line in label value"));
                        }
                        Some(_) => self.i += 2,
                    }
                }
                Some(b'\n') if !allow_newline => {
                    return Err(self.err("unescaped newline in label value"));
                }
                Some(_) => self.i += 1,
            }
        }
        let end = self.i;
        self.i += 1;
        if let Err(e) = std::str::from_utf8(&self.b[start..end]) {
            return Err(error_at(
                self.b,
                start + e.valid_up_to(),
                "label value is not valid utf-8",
            ));
        }
        Ok(((start, end), escaped))
    }

    /// Refuses a label set that names a label twice (`__name__` counts,
    /// as the metric name sets it).
    pub(super) fn check_duplicates(&self, spans: &[Span], with_name: bool) -> crate::Result<()> {
        let name_of = |s: &Span| &self.b[s.name.0..s.name.1];
        let dup = |s: &Span| {
            error_at(
                self.b,
                s.name.0,
                format!("duplicate label name {:?}", str_of(self.b, s.name)),
            )
        };
        if with_name && let Some(s) = spans.iter().find(|s| name_of(s) == b"__name__") {
            return Err(dup(s));
        }
        if spans.len() <= 16 {
            for (i, a) in spans.iter().enumerate() {
                if spans[..i].iter().any(|b| name_of(b) == name_of(a)) {
                    return Err(dup(a));
                }
            }
            return Ok(());
        }
        let mut sorted: Vec<&Span> = spans.iter().collect();
        sorted.sort_by(|a, b| name_of(a).cmp(name_of(b)).then(a.name.0.cmp(&b.name.0)));
        match sorted.windows(2).find(|w| name_of(w[0]) == name_of(w[1])) {
            Some(w) => Err(dup(w[1])),
            None => Ok(()),
        }
    }
}
