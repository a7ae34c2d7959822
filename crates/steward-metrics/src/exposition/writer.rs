//! A text-format 0.0.4 encoder for steward's own metrics, whose output the
//! scraper parses back unchanged.

use std::fmt::Write;

use super::MetricType;
use super::lex::{is_label_name, is_metric_name};
use crate::{Error, Labels, Result};

/// One sample of a family to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySample {
    /// The sample's labels. `__name__`, when set, names the sample (a
    /// histogram's `_bucket`, `_sum`, `_count`); otherwise the family's
    /// name does.
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// An explicit timestamp in milliseconds (normally none: the scraper
    /// stamps samples itself).
    pub timestamp: Option<i64>,
}

/// A metric family to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name.
    pub name: String,
    /// The help text, if any.
    pub help: Option<String>,
    /// The type; types the text format lacks (info, stateset,
    /// gaugehistogram, unknown) are written as `untyped`.
    pub kind: MetricType,
    /// The samples.
    pub samples: Vec<FamilySample>,
}

/// Appends `families` to `out` in the text format 0.0.4 (serve it with
/// [`TEXT_CONTENT_TYPE`](super::TEXT_CONTENT_TYPE)). Fails, writing
/// nothing, on an invalid metric or label name.
pub fn write_text(out: &mut String, families: &[MetricFamily]) -> Result<()> {
    for f in families {
        check(f)?;
    }
    for f in families {
        if let Some(help) = &f.help {
            out.push_str("# HELP ");
            out.push_str(&f.name);
            out.push(' ');
            for c in help.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('\n');
        }
        let kind = match f.kind {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::GaugeHistogram
            | MetricType::Info
            | MetricType::Stateset
            | MetricType::Unknown => "untyped",
        };
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        for s in &f.samples {
            out.push_str(s.labels.metric_name().unwrap_or(&f.name));
            let mut first = true;
            for l in s
                .labels
                .iter()
                .filter(|l| l.name != crate::labels::METRIC_NAME)
            {
                out.push(if first { '{' } else { ',' });
                first = false;
                out.push_str(&l.name);
                out.push_str("=\"");
                for c in l.value.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            if !first {
                out.push('}');
            }
            out.push(' ');
            write_float(out, s.value);
            if let Some(t) = s.timestamp {
                let _ = write!(out, " {t}");
            }
            out.push('\n');
        }
    }
    Ok(())
}

fn check(f: &MetricFamily) -> Result<()> {
    let fail = |reason: String| Error::Encode {
        family: f.name.clone(),
        reason,
    };
    if !is_metric_name(&f.name) {
        return Err(fail("invalid metric name".to_owned()));
    }
    for s in &f.samples {
        if let Some(n) = s.labels.metric_name()
            && !is_metric_name(n)
        {
            return Err(fail(format!("invalid sample name {n:?}")));
        }
        if let Some(l) = s.labels.iter().find(|l| !is_label_name(&l.name)) {
            return Err(fail(format!("invalid label name {:?}", l.name)));
        }
        if s.timestamp.is_some_and(|t| t < 0) {
            return Err(fail(
                "the text format has no negative timestamps".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Go's spellings of the special values; otherwise Rust's shortest
/// representation that parses back to the same bits.
fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v:?}");
    }
}
