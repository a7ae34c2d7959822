//! OpenMetrics 1.0 text, as strict as Prometheus 2.42 reads it: single
//! spaces between tokens, no blank lines, no free comments, commas between
//! labels and none trailing, timestamps in seconds (with decimals),
//! exemplars after ` # `, and `# EOF` last with nothing after it.
//!
//! Counter samples are kept as exposed (`foo_total`, `foo_created`):
//! Prometheus 2.42 does not fold `_created` into a start time either.

use super::lex::{
    NORMAL_NAN, describe, error_at, is_metric_start, parse_go_float, str_of, unescape,
};
use super::{Entry, FAMILY_SUFFIXES, MetricType, NO_EXEMPLAR, Parser, RawSample, Span};
use crate::Result;

impl<'a> Parser<'a> {
    pub(super) fn next_om(&mut self) -> Result<Option<Entry<'a>>> {
        match self.peek() {
            None => Err(self.err("data does not end with # EOF")),
            Some(b'#') => self.om_comment(),
            Some(c) if is_metric_start(c) => self.om_sample().map(Some),
            Some(_) => Err(self.unexpected("expected a metric name or '# '")),
        }
    }

    fn om_comment(&mut self) -> Result<Option<Entry<'a>>> {
        if !self.at(b"# ") {
            let at = self.i + 1;
            return Err(error_at(
                self.b,
                at,
                format!("expected a space after '#', got {}", describe(self.b, at)),
            ));
        }
        self.i += 2;
        if self.at(b"EOF") && matches!(self.b.get(self.i + 3), None | Some(b'\n')) {
            self.i = (self.i + 4).min(self.b.len());
            if self.i != self.b.len() {
                return Err(self.err("unexpected data after # EOF"));
            }
            return Ok(None);
        }
        let what = if self.at(b"HELP ") {
            "HELP"
        } else if self.at(b"TYPE ") {
            "TYPE"
        } else if self.at(b"UNIT ") {
            "UNIT"
        } else {
            return Err(self.err("expected HELP, TYPE, UNIT or EOF after '# '"));
        };
        self.i += 5;
        let Some(name) = self.metric_name() else {
            return Err(self.unexpected(&format!("expected metric name after {what}")));
        };
        if self.peek() != Some(b' ') {
            return Err(self.unexpected(&format!(
                "expected a space and text after the metric name in {what}"
            )));
        }
        self.i += 1;
        let b = self.b;
        let start = self.i;
        let Some(n) = b[start..].iter().position(|c| *c == b'\n') else {
            self.i = b.len();
            return Err(self.err("data does not end with # EOF"));
        };
        let end = start + n;
        self.i = end + 1;
        let family = str_of(b, name);
        let raw = &b[start..end];
        match what {
            "HELP" => {
                let text = std::str::from_utf8(raw).map_err(|e| {
                    error_at(b, start + e.valid_up_to(), "help text is not valid utf-8")
                })?;
                Ok(Some(Entry::Help {
                    family,
                    text: unescape(text, true),
                }))
            }
            "TYPE" => {
                let kind = match raw {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"gaugehistogram" => MetricType::GaugeHistogram,
                    b"summary" => MetricType::Summary,
                    b"info" => MetricType::Info,
                    b"stateset" => MetricType::Stateset,
                    b"unknown" => MetricType::Unknown,
                    _ => {
                        return Err(error_at(
                            b,
                            start,
                            format!("invalid metric type {:?}", String::from_utf8_lossy(raw)),
                        ));
                    }
                };
                if self.family_seen(family) {
                    return Err(error_at(
                        b,
                        name.0,
                        format!("TYPE for metric family {family:?} after its samples"),
                    ));
                }
                Ok(Some(Entry::Type { family, kind }))
            }
            _ => {
                let unit = std::str::from_utf8(raw)
                    .map_err(|_| error_at(b, start, "unit is not valid utf-8"))?;
                let suffixed = family
                    .strip_suffix(unit)
                    .is_some_and(|head| head.ends_with('_') && head.len() > 1);
                if !unit.is_empty() && !suffixed {
                    return Err(error_at(
                        b,
                        start,
                        format!("unit {unit:?} is not a suffix of metric {family:?}"),
                    ));
                }
                Ok(Some(Entry::Unit { family, unit }))
            }
        }
    }

    /// Whether samples of `family` (its name or its name plus a suffix)
    /// came before.
    fn family_seen(&self, family: &str) -> bool {
        self.seen.contains(family)
            || FAMILY_SUFFIXES
                .iter()
                .any(|s| self.seen.contains(format!("{family}{s}").as_str()))
    }

    fn om_sample(&mut self) -> Result<Entry<'a>> {
        let b = self.b;
        let start = self.i;
        self.labels.clear();
        self.exemplar_value = f64::from_bits(NO_EXEMPLAR);
        self.exemplar_ts = None;
        let name = self.take_while(super::lex::is_metric_char);
        self.name = name;
        let name_str = str_of(b, name);
        if name_str != self.last_name {
            self.seen.insert(name_str);
            self.last_name = name_str;
        }
        if self.peek() == Some(b'{') {
            self.i += 1;
            let mut spans = std::mem::take(&mut self.labels);
            let parsed = self
                .om_labels(&mut spans)
                .and_then(|()| self.check_duplicates(&spans, true));
            self.labels = spans;
            parsed?;
        }
        let series_end = self.i;
        let value = self.om_value("expected a space and a value after the metric")?;
        let mut timestamp = None;
        match self.peek() {
            Some(b'\n') => self.i += 1,
            Some(b' ') if self.at(b" # {") => self.om_exemplar()?,
            Some(b' ') => {
                timestamp = Some(self.om_timestamp()?);
                match self.peek() {
                    Some(b'\n') => self.i += 1,
                    Some(b' ') if self.at(b" # {") => self.om_exemplar()?,
                    None => return Err(self.err("data does not end with # EOF")),
                    Some(_) => {
                        return Err(self.unexpected(
                            "expected end of line or an exemplar after the timestamp",
                        ));
                    }
                }
            }
            None => return Err(self.err("data does not end with # EOF")),
            Some(_) => {
                return Err(self.unexpected("expected a space or end of line after the value"));
            }
        }
        Ok(Entry::Sample(RawSample {
            series: &b[start..series_end],
            name: name_str,
            value,
            timestamp,
            has_exemplar: self.exemplar_value.to_bits() != NO_EXEMPLAR,
        }))
    }

    /// ` value`: a space and a float.
    fn om_value(&mut self, expected: &str) -> Result<f64> {
        if self.peek() != Some(b' ') {
            return Err(self.unexpected(expected));
        }
        self.i += 1;
        let (s, e) = self.take_while(|c| !matches!(c, b' ' | b'\n' | b'\r'));
        if s == e {
            return Err(self.unexpected(expected));
        }
        let v = parse_go_float(&self.b[s..e]).ok_or_else(|| {
            error_at(
                self.b,
                s,
                format!("invalid value {:?}", String::from_utf8_lossy(&self.b[s..e])),
            )
        })?;
        Ok(if v.is_nan() { NORMAL_NAN } else { v })
    }

    /// ` seconds` as milliseconds (truncated, as Prometheus does).
    fn om_timestamp(&mut self) -> Result<i64> {
        self.i += 1;
        let (s, e) = self.take_while(|c| !matches!(c, b' ' | b'\n' | b'\r'));
        if s == e {
            return Err(self.unexpected("expected a timestamp"));
        }
        match parse_go_float(&self.b[s..e]) {
            Some(t) if t.is_finite() => Ok((t * 1000.0) as i64),
            _ => Err(error_at(
                self.b,
                s,
                format!(
                    "invalid timestamp {:?}",
                    String::from_utf8_lossy(&self.b[s..e])
                ),
            )),
        }
    }

    /// ` # {labels} value [timestamp]` up to and including the newline.
    fn om_exemplar(&mut self) -> Result<()> {
        self.i += 4;
        let mut spans = std::mem::take(&mut self.exemplar_labels);
        spans.clear();
        let parsed = self
            .om_labels(&mut spans)
            .and_then(|()| self.check_duplicates(&spans, false));
        self.exemplar_labels = spans;
        parsed?;
        let value = self.om_value("expected a space and a value after the exemplar labels")?;
        self.exemplar_ts = None;
        if self.peek() == Some(b' ') {
            self.exemplar_ts = Some(self.om_timestamp()?);
        }
        match self.peek() {
            Some(b'\n') => self.i += 1,
            None => return Err(self.err("data does not end with # EOF")),
            Some(_) => return Err(self.unexpected("expected end of line after the exemplar")),
        }
        self.exemplar_value = value;
        Ok(())
    }

    /// Labels after `{`, up to and including `}`: `a="1",b="2"`.
    fn om_labels(&mut self, spans: &mut Vec<Span>) -> Result<()> {
        let mut first = true;
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b',') if !first => {
                    self.i += 1;
                    if !self.peek().is_some_and(super::lex::is_label_start) {
                        return Err(self.unexpected("expected a label name after ','"));
                    }
                }
                Some(c) if first && super::lex::is_label_start(c) => {}
                _ if first => return Err(self.unexpected("expected a label name or '}'")),
                _ => return Err(self.unexpected("expected ',' or '}'")),
            }
            first = false;
            let Some(name) = self.label_name() else {
                return Err(self.unexpected("expected a label name"));
            };
            if self.peek() != Some(b'=') {
                return Err(self.unexpected(&format!(
                    "expected '=' after label name {:?}",
                    str_of(self.b, name)
                )));
            }
            self.i += 1;
            if self.peek() != Some(b'"') {
                return Err(self.unexpected(&format!(
                    "expected a quoted value for label {:?}",
                    str_of(self.b, name)
                )));
            }
            let (value, escaped) = self.quoted(false)?;
            spans.push(Span {
                name,
                value,
                escaped,
            });
        }
    }
}
