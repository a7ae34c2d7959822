//! The Prometheus text format 0.0.4, with Prometheus 2.42's tolerance:
//! spaces and tabs anywhere between tokens, blank lines, free comments,
//! a trailing comma (or none at all) between labels, a last line without
//! a newline. A carriage return is an error, as it is for Prometheus (it
//! ends up in the value or the type name there).

use super::lex::{is_metric_start, parse_go_float, str_of, unescape};
use super::{Entry, MetricType, Parser, RawSample, Span};
use crate::Result;

impl<'a> Parser<'a> {
    pub(super) fn next_text(&mut self) -> Result<Option<Entry<'a>>> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(None),
                Some(b'\n') => self.i += 1,
                Some(b'#') => {
                    if let Some(e) = self.text_comment()? {
                        return Ok(Some(e));
                    }
                }
                Some(c) if is_metric_start(c) => return self.text_sample().map(Some),
                Some(_) => {
                    return Err(
                        self.unexpected("expected a metric name, a comment or a blank line")
                    );
                }
            }
        }
    }

    /// A `#` line: HELP or TYPE metadata, or a comment (skipped).
    fn text_comment(&mut self) -> Result<Option<Entry<'a>>> {
        self.i += 1;
        let spaced = matches!(self.peek(), Some(b' ' | b'\t'));
        self.skip_blanks();
        let keyword = if !spaced {
            None
        } else if self.at(b"HELP") {
            Some(true)
        } else if self.at(b"TYPE") {
            Some(false)
        } else {
            None
        };
        let is_meta = keyword.is_some() && matches!(self.b.get(self.i + 4), Some(b' ' | b'\t'));
        let Some(is_help) = keyword.filter(|_| is_meta) else {
            self.skip_line();
            return Ok(None);
        };
        let what = if is_help { "HELP" } else { "TYPE" };
        self.i += 4;
        self.skip_blanks();
        let Some(name) = self.metric_name() else {
            return Err(self.unexpected(&format!("expected metric name after {what}")));
        };
        let family = str_of(self.b, name);
        let mut start = self.i;
        match self.peek() {
            None | Some(b'\n') => {}
            Some(b' ' | b'\t') => start += 1,
            Some(_) => {
                return Err(
                    self.unexpected(&format!("expected a space after the metric name in {what}"))
                );
            }
        }
        let b = self.b;
        let end = b[self.i..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |n| self.i + n);
        self.i = (end + 1).min(b.len());
        let raw = &b[start.min(end)..end];
        if is_help {
            let text = std::str::from_utf8(raw).map_err(|e| {
                super::lex::error_at(b, start + e.valid_up_to(), "help text is not valid utf-8")
            })?;
            return Ok(Some(Entry::Help {
                family,
                text: unescape(text, false),
            }));
        }
        let kind = match raw {
            b"counter" => MetricType::Counter,
            b"gauge" => MetricType::Gauge,
            b"histogram" => MetricType::Histogram,
            b"summary" => MetricType::Summary,
            b"untyped" => MetricType::Unknown,
            _ => {
                return Err(super::lex::error_at(
                    self.b,
                    start,
                    format!("invalid metric type {:?}", String::from_utf8_lossy(raw)),
                ));
            }
        };
        Ok(Some(Entry::Type { family, kind }))
    }

    /// Moves past the next newline (or to the end).
    fn skip_line(&mut self) {
        match self.b[self.i.min(self.b.len())..]
            .iter()
            .position(|c| *c == b'\n')
        {
            Some(n) => self.i += n + 1,
            None => self.i = self.b.len(),
        }
    }

    fn text_sample(&mut self) -> Result<Entry<'a>> {
        let start = self.i;
        self.labels.clear();
        self.exemplar_value = f64::from_bits(super::NO_EXEMPLAR);
        let name = self.take_while(super::lex::is_metric_char);
        self.name = name;
        let mut series_end = self.i;
        self.skip_blanks();
        if self.peek() == Some(b'{') {
            self.i += 1;
            self.text_labels()?;
            series_end = self.i;
            let spans = std::mem::take(&mut self.labels);
            let checked = self.check_duplicates(&spans, true);
            self.labels = spans;
            checked?;
        }
        self.skip_blanks();
        let value_start = self.i;
        let (vs, ve) = self.take_while(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'{'));
        if vs == ve {
            return Err(self.unexpected("expected a value after the metric"));
        }
        let Some(value) = parse_go_float(&self.b[vs..ve]) else {
            return Err(super::lex::error_at(
                self.b,
                value_start,
                format!(
                    "invalid value {:?}",
                    String::from_utf8_lossy(&self.b[vs..ve])
                ),
            ));
        };
        let value = if value.is_nan() {
            super::lex::NORMAL_NAN
        } else {
            value
        };
        self.skip_blanks();
        let mut timestamp = None;
        match self.peek() {
            None => {}
            Some(b'\n') => self.i += 1,
            Some(c) if c.is_ascii_digit() => {
                let ts_start = self.i;
                let (ts, te) = self.take_while(|c| c.is_ascii_digit());
                if !matches!(self.peek(), None | Some(b' ' | b'\t' | b'\n')) {
                    return Err(self.unexpected("expected end of line after the timestamp"));
                }
                let t: i64 = str_of(self.b, (ts, te)).parse().map_err(|_| {
                    super::lex::error_at(self.b, ts_start, "timestamp out of range")
                })?;
                timestamp = Some(t);
                self.skip_blanks();
                match self.peek() {
                    None => {}
                    Some(b'\n') => self.i += 1,
                    Some(_) => {
                        return Err(self.unexpected("expected end of line after the timestamp"));
                    }
                }
            }
            Some(_) => return Err(self.unexpected("expected a timestamp or end of line")),
        }
        let b = self.b;
        Ok(Entry::Sample(RawSample {
            series: &b[start..series_end],
            name: str_of(self.b, name),
            value,
            timestamp,
            has_exemplar: false,
        }))
    }

    /// Labels after `{`, up to and including `}`.
    fn text_labels(&mut self) -> Result<()> {
        loop {
            self.skip_blanks();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(());
            }
            let Some(name) = self.label_name() else {
                return Err(self.unexpected("expected a label name or '}'"));
            };
            self.skip_blanks();
            if self.peek() != Some(b'=') {
                return Err(self.unexpected(&format!(
                    "expected '=' after label name {:?}",
                    str_of(self.b, name)
                )));
            }
            self.i += 1;
            self.skip_blanks();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected(&format!(
                    "expected a quoted value for label {:?}",
                    str_of(self.b, name)
                )));
            }
            let (value, escaped) = self.quoted(true)?;
            self.labels.push(Span {
                name,
                value,
                escaped,
            });
            self.skip_blanks();
            if self.peek() == Some(b',') {
                self.i += 1;
            }
        }
    }
}
