//! Parsers for what scrape targets expose: the Prometheus text format 0.0.4
//! and OpenMetrics 1.0 text, as Prometheus 2.42's scraper accepts them, and
//! a small text-format encoder for steward's own metrics.
//!
//! Two levels:
//! - [`Parser`] streams [`Entry`]s borrowed from the body. A sample entry
//!   carries its raw series text (`name{labels}` as exposed), so a scrape
//!   loop can look the series up in a cache keyed by that text and only
//!   build [`Labels`] (with [`Parser::labels`]) for series it has not seen,
//!   as Prometheus' scrape cache does.
//! - [`parse`] collects everything into a [`Parsed`], choosing the parser
//!   from the Content-Type header as Prometheus does.
//!
//! Every error names the line and column of the offending input.

mod lex;
mod openmetrics;
mod text;
mod writer;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::labels::LabelsBuilder;
use crate::{Error, Labels, Result};

pub(crate) use lex::{is_label_name, is_metric_name};
pub use writer::{FamilySample, MetricFamily, write_text};

/// The Accept header Prometheus 2.42 sends with every scrape.
pub const SCRAPE_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The Content-Type of the text format 0.0.4, for serving it.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The parser Prometheus 2.42 picks for a Content-Type header:
    /// `application/openmetrics-text` is OpenMetrics; anything else,
    /// including a missing or malformed header, is the text format.
    /// Protobuf (`application/vnd.google.protobuf`) is refused: steward
    /// never asks for it (see [`SCRAPE_ACCEPT`]) and cannot read it.
    pub fn from_content_type(content_type: &str) -> Result<Format> {
        match media_type(content_type) {
            Some(m) if m.eq_ignore_ascii_case("application/openmetrics-text") => {
                Ok(Format::OpenMetrics)
            }
            Some(m) if m.eq_ignore_ascii_case("application/vnd.google.protobuf") => {
                Err(Error::UnsupportedContentType {
                    content_type: content_type.to_owned(),
                })
            }
            _ => Ok(Format::Text),
        }
    }
}

/// The media type of a Content-Type header, or None when Go's
/// `mime.ParseMediaType` would fail on it (Prometheus then falls back to
/// the text format whatever the media type said).
fn media_type(content_type: &str) -> Option<&str> {
    let mut parts = content_type.split(';');
    let media = parts.next()?.trim();
    let (kind, sub) = media.split_once('/')?;
    if !is_token(kind) || !is_token(sub) {
        return None;
    }
    let rest: Vec<&str> = parts.collect();
    for (n, param) in rest.iter().enumerate() {
        let param = param.trim();
        // Go tolerates one trailing semicolon and nothing else empty.
        if param.is_empty() && n + 1 == rest.len() {
            break;
        }
        let (k, v) = param.split_once('=')?;
        let v = v.trim();
        let quoted = v.len() >= 2 && v.starts_with('"') && v.ends_with('"');
        if !is_token(k.trim()) || !(quoted || is_token(v)) {
            return None;
        }
    }
    Some(media)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                )
        })
}

/// A metric family's type as declared by `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics only)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics only)
    Info,
    /// `stateset` (OpenMetrics only)
    Stateset,
    /// `untyped` in the text format, `unknown` in OpenMetrics.
    Unknown,
}

impl MetricType {
    /// The name Prometheus' metadata API uses (`unknown` for untyped).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// One exemplar attached to an OpenMetrics sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (a trace id, typically).
    pub labels: Labels,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, when exposed.
    pub timestamp: Option<i64>,
}

/// One sample as [`Parser`] streams it, borrowed from the body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample<'a> {
    /// The series as exposed (`name{labels}`, whitespace included): a
    /// cache key that stays the same scrape after scrape.
    pub series: &'a [u8],
    /// The metric name.
    pub name: &'a str,
    /// The value; an exposed NaN is Prometheus' normal NaN, never the
    /// staleness marker.
    pub value: f64,
    /// The timestamp in milliseconds, when exposed.
    pub timestamp: Option<i64>,
    /// Whether an exemplar follows ([`Parser::exemplar`]).
    pub has_exemplar: bool,
}

/// One entry of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP family text`, escapes resolved.
    Help {
        /// The family name.
        family: &'a str,
        /// The help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE family type`.
    Type {
        /// The family name.
        family: &'a str,
        /// The declared type.
        kind: MetricType,
    },
    /// `# UNIT family unit` (OpenMetrics only).
    Unit {
        /// The family name.
        family: &'a str,
        /// The unit.
        unit: &'a str,
    },
    /// A sample.
    Sample(RawSample<'a>),
}

/// A label's name and value as byte ranges of the body.
#[derive(Debug, Clone, Copy)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
    escaped: bool,
}

/// A streaming parser over one body. After an error it yields nothing more.
#[derive(Debug)]
pub struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    format: Format,
    done: bool,
    name: (usize, usize),
    labels: Vec<Span>,
    exemplar_labels: Vec<Span>,
    exemplar_value: f64,
    exemplar_ts: Option<i64>,
    /// OpenMetrics: sample names seen so far, to refuse a TYPE that comes
    /// after its family's samples.
    seen: HashSet<&'a str>,
    last_name: &'a str,
    builder: LabelsBuilder,
}

impl<'a> Parser<'a> {
    /// A parser for `body` in `format`.
    pub fn new(body: &'a [u8], format: Format) -> Self {
        Self {
            b: body,
            i: 0,
            format,
            done: false,
            name: (0, 0),
            labels: Vec::new(),
            exemplar_labels: Vec::new(),
            exemplar_value: 0.0,
            exemplar_ts: None,
            seen: HashSet::new(),
            last_name: "",
            builder: LabelsBuilder::default(),
        }
    }

    /// The next entry, `None` at the end (for OpenMetrics: after `# EOF`).
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>> {
        if self.done {
            return Ok(None);
        }
        let r = match self.format {
            Format::Text => self.next_text(),
            Format::OpenMetrics => self.next_om(),
        };
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    /// The labels of the last sample returned, `__name__` included.
    pub fn labels(&mut self) -> Labels {
        let b = &mut self.builder;
        b.retain(|_| false);
        b.set(crate::labels::METRIC_NAME, lex::str_of(self.b, self.name));
        fill(b, self.b, &self.labels);
        b.build()
    }

    /// The exemplar of the last sample returned, if it had one.
    pub fn exemplar(&mut self) -> Option<Exemplar> {
        if self.format != Format::OpenMetrics || !self.has_exemplar() {
            return None;
        }
        let b = &mut self.builder;
        b.retain(|_| false);
        fill(b, self.b, &self.exemplar_labels);
        Some(Exemplar {
            labels: b.build(),
            value: self.exemplar_value,
            timestamp: self.exemplar_ts,
        })
    }

    fn has_exemplar(&self) -> bool {
        // set by the OpenMetrics sample parser, cleared per sample
        self.exemplar_value.to_bits() != NO_EXEMPLAR
    }
}

/// A NaN payload no parsed value can have (parsed NaNs are normalised), so
/// "no exemplar" needs no extra field.
const NO_EXEMPLAR: u64 = 0x7ff8_dead_beef_0001;

fn fill(b: &mut LabelsBuilder, body: &[u8], spans: &[Span]) {
    for s in spans {
        let name = lex::str_of(body, s.name);
        let value = lex::str_of(body, s.value);
        if s.escaped {
            b.set(name, lex::unescape(value, true).into_owned());
        } else {
            b.set(name, value);
        }
    }
}

/// One parsed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// The exposed timestamp in milliseconds, if any.
    pub timestamp: Option<i64>,
    /// The exemplar, if any (OpenMetrics only).
    pub exemplar: Option<Exemplar>,
}

/// What `# HELP`, `# TYPE` and `# UNIT` said about one family.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// The family name as written in the metadata lines.
    pub family: String,
    /// The declared type.
    pub kind: Option<MetricType>,
    /// The help text.
    pub help: Option<String>,
    /// The unit (OpenMetrics only).
    pub unit: Option<String>,
}

/// A whole exposition, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The format it was parsed as.
    pub format: Format,
    /// Samples in exposition order.
    pub samples: Vec<ParsedSample>,
    /// Families' metadata in order of first mention.
    pub metadata: Vec<Metadata>,
}

/// Suffixes a sample name may add to its family's name.
const FAMILY_SUFFIXES: [&str; 8] = [
    "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
];

impl Parsed {
    /// The metadata of the family a sample named `name` belongs to: the
    /// family of that exact name, else the one its suffix (`_total`,
    /// `_bucket`, `_count`...) was added to.
    pub fn metadata_for(&self, name: &str) -> Option<&Metadata> {
        let find = |f: &str| self.metadata.iter().find(|m| m.family == f);
        find(name).or_else(|| {
            FAMILY_SUFFIXES
                .iter()
                .find_map(|s| name.strip_suffix(s).and_then(find))
        })
    }
}

/// Parses a scraped body, choosing the format from its Content-Type as
/// Prometheus 2.42 does (see [`Format::from_content_type`]).
pub fn parse(body: &[u8], content_type: &str) -> Result<Parsed> {
    parse_format(body, Format::from_content_type(content_type)?)
}

/// Parses a body in a known format.
pub fn parse_format(body: &[u8], format: Format) -> Result<Parsed> {
    let mut p = Parser::new(body, format);
    let mut samples = Vec::new();
    let mut metadata: Vec<Metadata> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    fn meta<'k>(
        family: &'k str,
        index: &mut HashMap<&'k str, usize>,
        metadata: &mut Vec<Metadata>,
    ) -> usize {
        *index.entry(family).or_insert_with(|| {
            metadata.push(Metadata {
                family: family.to_owned(),
                ..Metadata::default()
            });
            metadata.len() - 1
        })
    }
    while let Some(entry) = p.next_entry()? {
        match entry {
            Entry::Help { family, text } => {
                let i = meta(family, &mut index, &mut metadata);
                metadata[i].help = Some(text.into_owned());
            }
            Entry::Type { family, kind } => {
                let i = meta(family, &mut index, &mut metadata);
                metadata[i].kind = Some(kind);
            }
            Entry::Unit { family, unit } => {
                let i = meta(family, &mut index, &mut metadata);
                metadata[i].unit = Some(unit.to_owned());
            }
            Entry::Sample(s) => {
                let labels = p.labels();
                let exemplar = if s.has_exemplar { p.exemplar() } else { None };
                samples.push(ParsedSample {
                    labels,
                    value: s.value,
                    timestamp: s.timestamp,
                    exemplar,
                });
            }
        }
    }
    Ok(Parsed {
        format,
        samples,
        metadata,
    })
}

#[cfg(test)]
mod tests;
