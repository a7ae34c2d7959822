//! A small writer of the Prometheus text exposition format 0.0.4 for the
//! resource collectors.
//!
//! Samples are gathered per family first and rendered at the end, because
//! the format wants every sample of a family after its one `# HELP` and
//! `# TYPE` line, while the replica collector meets each family once per
//! replica. Kept private to `resources` until the exposition module has a
//! writer both can share.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::Labels;

/// The metric types the collectors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    samples: Vec<(Labels, f64)>,
}

/// Families in first-seen order, each with its samples.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

impl Exposition {
    /// Adds one sample of family `name`; the help and type of the first
    /// call for a name are the ones written.
    pub(crate) fn add(&mut self, name: &str, help: &str, kind: Kind, labels: Labels, value: f64) {
        let i = match self.index.get(name) {
            Some(i) => *i,
            None => {
                self.families.push(Family {
                    name: name.to_owned(),
                    help: help.to_owned(),
                    kind,
                    samples: Vec::new(),
                });
                self.index.insert(name.to_owned(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        self.families[i].samples.push((labels, value));
    }

    /// A sample without labels.
    pub(crate) fn add_plain(&mut self, name: &str, help: &str, kind: Kind, value: f64) {
        self.add(name, help, kind, Labels::empty(), value);
    }

    /// The text format, families in first-seen order. A sample whose label
    /// set repeats an earlier one of its family is dropped, since a
    /// duplicate series makes the whole scrape fail in Prometheus.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            let mut seen = std::collections::HashSet::new();
            for (labels, v) in &f.samples {
                if !seen.insert(labels) {
                    continue;
                }
                out.push_str(&f.name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, l) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&l.name);
                        out.push_str("=\"");
                        out.push_str(&escape_label_value(&l.value));
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                out.push_str(&format_value(*v));
                out.push('\n');
            }
        }
        out
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as the format wants it: `+Inf`, `-Inf`, `NaN`, otherwise the
/// shortest representation that reads back to the same float (with an
/// exponent for very large or small magnitudes, which Go's ParseFloat and
/// every Prometheus parser accept).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v != 0.0 && (v.abs() >= 1e21 || v.abs() < 1e-6) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests;
