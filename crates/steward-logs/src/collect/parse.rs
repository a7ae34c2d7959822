//! What a line says about itself: its level, trace id and span id, read
//! from a JSON object line, a logfmt line, or a plain-text level word near
//! the start of the line. The line itself is never changed.
//!
//! This runs on every collected line, so it avoids work it can skip: a
//! line that does not look like a JSON object never reaches serde_json,
//! and a JSON object is walked with a visitor that only looks at the keys
//! it knows (no `serde_json::Value` tree is built); a line without `=` is
//! not scanned as logfmt.

use std::{borrow::Cow, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::Entry;

/// The structured-metadata name of the detected level. Loki 3 names it so
/// (Grafana's log volume reads it), and a distinct name keeps it apart
/// from a `level` label that `| json` or `| logfmt` extracts from the
/// line itself.
pub const LEVEL: &str = "detected_level";
/// The structured-metadata name of a line's trace id.
pub const TRACE_ID: &str = "trace_id";
/// The structured-metadata name of a line's span id.
pub const SPAN_ID: &str = "span_id";

/// Ids longer than this are not ids (a stack trace in a field, say):
/// structured metadata is kept per line, so it stays small.
const MAX_ID_LEN: usize = 128;
/// How deep into nested JSON objects keys are looked for: enough for
/// tracing-subscriber's `fields` and ECS's `log.level` or `trace.id`.
const MAX_DEPTH: u8 = 3;
/// Plain-text level words are looked for among this many first words.
const PLAIN_WORDS: usize = 5;

/// A normalised log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `trace`.
    Trace,
    /// `debug` (also `dbg`, `verbose`).
    Debug,
    /// `info` (also `information`, `notice`).
    Info,
    /// `warn` (also `warning`).
    Warn,
    /// `error` (also `err`, `eror`).
    Error,
    /// `fatal` (also `crit`, `critical`, `panic`, `emergency`, `alert`).
    Fatal,
}

impl Level {
    /// The level's name as stored in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// The level a word names, in any case: `WARNING` and `warn` are both
    /// [`Level::Warn`]. A suffix such as Go slog's `ERROR+2` is ignored.
    /// `None` for a word that is not a known level.
    pub fn from_word(word: &str) -> Option<Level> {
        // slog's offset levels ("INFO+2", "DEBUG-4") keep their base name
        let word = word
            .split_once(['+', '-'])
            .map_or(word, |(base, _)| base)
            .trim();
        if word.len() > 13 {
            return None;
        }
        let mut buf = [0u8; 13];
        let lower = &mut buf[..word.len()];
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        Some(match &*lower {
            b"trace" | b"trc" | b"finest" | b"finer" => Level::Trace,
            b"debug" | b"dbg" | b"dbug" | b"verbose" | b"fine" => Level::Debug,
            b"info" | b"inf" | b"information" | b"informational" | b"notice" | b"config" => {
                Level::Info
            }
            b"warn" | b"warning" | b"wrn" => Level::Warn,
            b"error" | b"err" | b"eror" | b"severe" => Level::Error,
            b"fatal" | b"ftl" | b"crit" | b"critical" | b"panic" | b"dpanic" | b"emerg"
            | b"emergency" | b"alert" => Level::Fatal,
            _ => return None,
        })
    }

    /// The level of a numeric level: pino's and bunyan's (10 trace ... 60
    /// fatal) and syslog's severities (0 emergency ... 7 debug).
    pub fn from_number(n: i64) -> Option<Level> {
        Some(match n {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            10 => Level::Trace,
            20 => Level::Debug,
            30 => Level::Info,
            40 => Level::Warn,
            50 => Level::Error,
            60 => Level::Fatal,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape a line was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Neither JSON nor logfmt (the level, if any, came from a word).
    #[default]
    Plain,
    /// A JSON object.
    Json,
    /// `key=value` pairs.
    Logfmt,
}

/// What [`parse`] found in a line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// How the line was read.
    pub format: Format,
    /// Its level, if it names one that maps to a [`Level`].
    pub level: Option<Level>,
    /// Its trace id, as written.
    pub trace_id: Option<String>,
    /// Its span id, as written.
    pub span_id: Option<String>,
}

impl Parsed {
    /// Appends what was found to `metadata` ([`LEVEL`], [`TRACE_ID`],
    /// [`SPAN_ID`]), skipping names `metadata` already has.
    pub fn append_to(self, metadata: &mut Vec<(String, String)>) {
        let mut add = |name: &str, value: String| {
            if !metadata.iter().any(|(n, _)| n == name) {
                metadata.push((name.to_owned(), value));
            }
        };
        if let Some(level) = self.level {
            add(LEVEL, level.as_str().to_owned());
        }
        if let Some(trace_id) = self.trace_id {
            add(TRACE_ID, trace_id);
        }
        if let Some(span_id) = self.span_id {
            add(SPAN_ID, span_id);
        }
    }
}

/// Reads a line's level, trace id and span id. A line that is a JSON
/// object is read as JSON; one with `key=value` pairs as logfmt; when
/// neither gave a level, a level word among the first words of the line
/// (`ERROR`, `[warn]`, `info:`, `WARNING:root:...`) or the first line of a
/// panic, traceback or exception (an error) is taken.
pub fn parse(line: &str) -> Parsed {
    let mut found = Found::default();
    let mut format = Format::Plain;
    let trimmed = line.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') {
        let mut de = serde_json::Deserializer::from_str(trimmed);
        let walk = Walk {
            prefix: "",
            depth: 0,
            out: &mut found,
        };
        // A malformed object keeps whatever was found before the error.
        if walk.deserialize(&mut de).is_ok() {
            format = Format::Json;
        }
    } else if line.contains('=') && logfmt(line, &mut found) {
        format = Format::Logfmt;
    }
    if found.level.is_none() {
        found.level = plain_level(line);
    }
    Parsed {
        format,
        level: found.level,
        trace_id: found.trace_id,
        span_id: found.span_id,
    }
}

/// Parses the entry's line (the first line of a joined multi-line entry)
/// and appends what was found to its metadata.
pub fn annotate(entry: &mut Entry) {
    let first = entry.line.split('\n').next().unwrap_or_default();
    parse(first).append_to(&mut entry.metadata);
}

/// What a key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Level,
    TraceId,
    SpanId,
}

/// The meaning of a key (dotted path for nested objects), in any case.
fn classify(path: &str) -> Option<Key> {
    const LEVEL_KEYS: [&str; 9] = [
        "level",
        "lvl",
        "severity",
        "log.level",
        "levelname",
        "loglevel",
        "severity_text",
        "severitytext",
        "@l",
    ];
    const TRACE_KEYS: [&str; 7] = [
        "trace_id",
        "span.trace_id",
        "traceid",
        "trace.id",
        "oteltraceid",
        "dd.trace_id",
        "@tr",
    ];
    const SPAN_KEYS: [&str; 5] = ["span_id", "spanid", "span.id", "otelspanid", "@sp"];
    let is = |keys: &[&str]| keys.iter().any(|k| k.eq_ignore_ascii_case(path));
    if path.len() > 16 {
        None
    } else if is(&LEVEL_KEYS) {
        Some(Key::Level)
    } else if is(&TRACE_KEYS) {
        Some(Key::TraceId)
    } else if is(&SPAN_KEYS) {
        Some(Key::SpanId)
    } else {
        None
    }
}

/// What the walk over a line collected; the first value of each wins.
#[derive(Debug, Default)]
struct Found {
    level: Option<Level>,
    trace_id: Option<String>,
    span_id: Option<String>,
}

impl Found {
    fn text(&mut self, key: Key, value: &str) {
        match key {
            Key::Level => {
                if self.level.is_none() {
                    self.level = Level::from_word(value);
                }
            }
            Key::TraceId => set_id(&mut self.trace_id, value),
            Key::SpanId => set_id(&mut self.span_id, value),
        }
    }

    fn number(&mut self, key: Key, value: i64) {
        match key {
            Key::Level => {
                if self.level.is_none() {
                    self.level = Level::from_number(value);
                }
            }
            // Datadog writes its ids as numbers
            Key::TraceId | Key::SpanId => self.text(key, &value.to_string()),
        }
    }
}

fn set_id(slot: &mut Option<String>, value: &str) {
    let value = value.trim();
    if slot.is_none() && !value.is_empty() && value.len() <= MAX_ID_LEN {
        *slot = Some(value.to_owned());
    }
}

/// The walk over one JSON object whose keys are under `prefix`.
struct Walk<'a> {
    prefix: &'a str,
    depth: u8,
    out: &'a mut Found,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            // tracing-subscriber puts the event's fields under "fields":
            // they are the line's own keys
            let path: Cow<'_, str> = if self.prefix.is_empty() || self.prefix == "fields" {
                key
            } else {
                Cow::Owned(format!("{}.{key}", self.prefix))
            };
            map.next_value_seed(Value {
                path: &path,
                depth: self.depth,
                out: self.out,
            })?;
        }
        Ok(())
    }
}

/// One value of a key at `path`: a string or number is recorded when the
/// path means something; an object is walked (to [`MAX_DEPTH`]).
struct Value<'a> {
    path: &'a str,
    depth: u8,
    out: &'a mut Found,
}

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if let Some(key) = classify(self.path) {
            self.out.text(key, v);
        }
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        if let Some(key) = classify(self.path) {
            self.out.number(key, v);
        }
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        if let Some(key) = classify(self.path) {
            match i64::try_from(v) {
                Ok(v) => self.out.number(key, v),
                Err(_) => self.out.text(key, &v.to_string()),
            }
        }
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.depth + 1 >= MAX_DEPTH || self.path.len() > 16 {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        Walk {
            prefix: self.path,
            depth: self.depth + 1,
            out: self.out,
        }
        .visit_map(map)
    }
}

/// Reads `key=value` pairs (values bare or double-quoted with backslash
/// escapes); words that are not pairs are skipped, as Loki's `| logfmt`
/// does. Whether the line had at least one pair.
fn logfmt(line: &str, out: &mut Found) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut pairs = false;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let key = &line[key_start..i];
        if i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        i += 1;
        let value: Cow<'_, str> = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let start = i;
            let mut escaped = false;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    escaped = true;
                    i += 1;
                }
                i += 1;
            }
            let raw = &line[start..i.min(bytes.len())];
            i += 1;
            if escaped {
                Cow::Owned(unescape(raw))
            } else {
                Cow::Borrowed(raw)
            }
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            Cow::Borrowed(&line[start..i])
        };
        if key.is_empty() || !key.bytes().all(is_key_byte) {
            continue;
        }
        pairs = true;
        if let Some(key) = classify(key) {
            out.text(key, &value);
        }
    }
    pairs
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@' | b'/')
}

/// A logfmt quoted value's text: `\"` is `"`, `\\` is `\`, `\n` a newline.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The level a plain-text line starts with: an upper-case level word, or
/// a level word in any case that is bracketed or followed by `:`, among
/// the first few words (after a timestamp or a thread name, as
/// tracing-subscriber, logback and Python's logging write them); or an
/// error for the first line of a Rust panic, a Python traceback or a Java
/// exception.
fn plain_level(line: &str) -> Option<Level> {
    if line.starts_with("thread '") && line.contains("' panicked at ")
        || line.starts_with("Traceback (most recent call last):")
        || line.starts_with("Exception in thread \"")
    {
        return Some(Level::Error);
    }
    for word in line.split_ascii_whitespace().take(PLAIN_WORDS) {
        let word = strip_ansi(word);
        if let Some(level) = word_level(&word) {
            return Some(level);
        }
    }
    None
}

/// The level one word names, by the rules of [`plain_level`].
fn word_level(word: &str) -> Option<Level> {
    let open = word.starts_with(['[', '(', '<', '{']);
    let inner = word.trim_start_matches(['[', '(', '<', '{']);
    // Python's "WARNING:root:message" and "error: message"
    let (name, colon) = match inner.split_once(':') {
        Some((name, _)) => (name, true),
        None => (inner, false),
    };
    let close = name.ends_with([']', ')', '>', '}', '|', ',']);
    let name = name.trim_end_matches([']', ')', '>', '}', '|', ',']);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let level = Level::from_word(name)?;
    let upper = name.bytes().all(|b| b.is_ascii_uppercase());
    // a bare lower-case "info" or "error" is too often just a word
    (upper || open || close || colon).then_some(level)
}

/// `word` without ANSI colour sequences (`ESC [ ... letter`), which
/// tracing-subscriber writes around its levels on a terminal.
fn strip_ansi(word: &str) -> Cow<'_, str> {
    if !word.contains('\u{1b}') {
        return Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
