//! Running a log pipeline over one entry: line filters, parsers (in
//! [`parsers`]), label filters, formatting stages. Labels are the
//! stream's, then the entry's structured metadata, then what parsers
//! extract (`name_extracted` when a stream label has the name, as Loki).
//! A failing parser or conversion sets `__error__` (and
//! `__error_details__`) instead of dropping the line.

mod parsers;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;

use steward_metrics::{Labels, Matcher};
use steward_template::{FuncMap, Function, Value};

use super::ast::{
    Conversion, LabelFilter, LabelFormat, LabelRef, LineFilter, LineFilterOp, Stage, Template,
};
use super::units::{parse_bytes, parse_duration_secs};

/// The label a failing stage sets.
pub(crate) const ERROR_LABEL: &str = "__error__";
/// Details of the error.
pub(crate) const ERROR_DETAILS_LABEL: &str = "__error_details__";

/// The labels of one entry as the pipeline changes them.
#[derive(Debug, Clone)]
pub(crate) struct LabelSet<'a> {
    stream: &'a Labels,
    map: BTreeMap<String, String>,
}

impl<'a> LabelSet<'a> {
    /// The stream's labels and the entry's metadata.
    pub(crate) fn new(stream: &'a Labels, metadata: &[(String, String)]) -> Self {
        let mut set = LabelSet {
            stream,
            map: stream
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
        };
        for (k, v) in metadata {
            set.set_extracted(k, v.clone());
        }
        set
    }

    /// The value of `name`, empty when missing.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.map.get(name).map_or("", String::as_str)
    }

    /// Whether `name` has a non-empty value.
    pub(crate) fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// Sets `name` (an empty value removes it).
    pub(crate) fn set(&mut self, name: &str, value: String) {
        if value.is_empty() {
            self.map.remove(name);
        } else {
            self.map.insert(name.to_owned(), value);
        }
    }

    /// Sets a label a parser extracted: `name_extracted` if the stream
    /// has a label `name`.
    pub(crate) fn set_extracted(&mut self, name: &str, value: String) {
        if self.stream.get(name).is_some() {
            self.set(&format!("{name}_extracted"), value);
        } else {
            self.set(name, value);
        }
    }

    /// Removes `name`.
    pub(crate) fn del(&mut self, name: &str) {
        self.map.remove(name);
    }

    /// Records an error (the first one wins, as later stages see it).
    pub(crate) fn set_error(&mut self, error: &str, details: String) {
        if !self.has(ERROR_LABEL) {
            self.set(ERROR_LABEL, error.to_owned());
            self.set(ERROR_DETAILS_LABEL, details);
        }
    }

    /// The final label set.
    pub(crate) fn to_labels(&self) -> Labels {
        Labels::from_pairs(self.map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn template_data(&self) -> Value {
        Value::string_map(self.map.iter().map(|(k, v)| (k.clone(), v.clone())))
    }
}

/// Whether `stages` are line filters only: an entry's labels are then its
/// stream's and its structured metadata, whatever its line, so a metric
/// query can key its series once per stream instead of once per line.
pub(crate) fn only_line_filters(stages: &[Stage]) -> bool {
    stages.iter().all(|s| matches!(s, Stage::LineFilter(_)))
}

/// Whether `line` passes every line filter of `stages` (what [`run`]
/// answers for [`only_line_filters`] stages, without their labels).
pub(crate) fn line_filters_pass(stages: &[Stage], line: &str) -> bool {
    stages.iter().all(|s| match s {
        Stage::LineFilter(f) => line_filter(f, line),
        _ => true,
    })
}

/// Runs `stages` over an entry; `None` when a filter drops it, else the
/// (possibly rewritten) line.
pub(crate) fn run<'l>(
    stages: &[Stage],
    ts: i64,
    line: &'l str,
    labels: &mut LabelSet<'_>,
) -> Option<Cow<'l, str>> {
    let mut line = Cow::Borrowed(line);
    for stage in stages {
        match stage {
            Stage::LineFilter(f) => {
                if !line_filter(f, &line) {
                    return None;
                }
            }
            Stage::Json(params) => parsers::json(&line, params, labels),
            Stage::Logfmt(params) => parsers::logfmt(&line, params, labels),
            Stage::Pattern(p) => parsers::pattern(&line, &p.parts, labels),
            Stage::Regexp(r) => parsers::regexp(&line, &r.regex, labels),
            Stage::Unpack => {
                if let Some(entry) = parsers::unpack(&line, labels) {
                    line = Cow::Owned(entry);
                }
            }
            Stage::LabelFilter(f) => {
                if !label_filter(f, labels) {
                    return None;
                }
            }
            Stage::LineFormat(t) => match render(t, ts, &line, labels) {
                Ok(out) => line = Cow::Owned(out),
                Err(e) => labels.set_error("TemplateFormatErr", e),
            },
            Stage::LabelFormat(items) => label_format(items, ts, &line, labels),
            Stage::Drop(refs) => {
                let gone: Vec<String> = labels
                    .map
                    .iter()
                    .filter(|(k, v)| refs.iter().any(|r| ref_matches(r, k, v)))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in gone {
                    labels.del(&k);
                }
            }
            Stage::Keep(refs) => labels
                .map
                .retain(|k, v| refs.iter().any(|r| ref_matches(r, k, v))),
            Stage::Decolorize => {
                if line.contains('\x1b') {
                    line = Cow::Owned(decolorize(&line));
                }
            }
        }
    }
    Some(line)
}

fn ref_matches(r: &LabelRef, name: &str, value: &str) -> bool {
    match r {
        LabelRef::Name(n) => n == name,
        LabelRef::Matcher(m) => m.name == name && m.matches(value),
    }
}

/// Whether `line` passes a line filter.
pub(crate) fn line_filter(f: &LineFilter, line: &str) -> bool {
    match f.op {
        LineFilterOp::Contains => f.values.iter().any(|v| line.contains(v.as_str())),
        LineFilterOp::NotContains => !f.values.iter().any(|v| line.contains(v.as_str())),
        LineFilterOp::Match => f.regexes.iter().any(|r| r.is_match(line)),
        LineFilterOp::NotMatch => !f.regexes.iter().any(|r| r.is_match(line)),
    }
}

/// A label's value read as a number; `Err` with the reason when it is not one.
pub(crate) fn convert(value: &str, conversion: Conversion) -> Result<f64, String> {
    match conversion {
        Conversion::Float => value
            .trim()
            .parse::<f64>()
            .map_err(|e| format!("strconv.ParseFloat: parsing {value:?}: {e}")),
        Conversion::Duration => {
            parse_duration_secs(value).ok_or_else(|| format!("invalid duration {value:?}"))
        }
        Conversion::Bytes => parse_bytes(value).ok_or_else(|| format!("invalid bytes {value:?}")),
    }
}

/// Whether the labels pass a label filter (setting `__error__` when a
/// numeric filter meets a value that is not a number: the entry then
/// passes, so that `| __error__=""` can drop it).
pub(crate) fn label_filter(f: &LabelFilter, labels: &mut LabelSet<'_>) -> bool {
    match f {
        LabelFilter::And(a, b) => label_filter(a, labels) && label_filter(b, labels),
        LabelFilter::Or(a, b) => label_filter(a, labels) || label_filter(b, labels),
        LabelFilter::Matcher(m) => matcher(m, labels),
        LabelFilter::Numeric {
            name,
            op,
            value,
            conversion,
            ..
        } => {
            if labels.has(ERROR_LABEL) {
                return true;
            }
            if !labels.has(name) {
                return false;
            }
            match convert(labels.get(name), *conversion) {
                Ok(v) => op.holds(v, *value),
                Err(e) => {
                    labels.set_error("LabelFilterErr", e);
                    true
                }
            }
        }
    }
}

fn matcher(m: &Matcher, labels: &LabelSet<'_>) -> bool {
    m.matches(labels.get(&m.name))
}

thread_local! {
    /// The entry a template is rendering, for `__line__` and `__timestamp__`.
    static CURRENT: RefCell<(String, i64)> = const { RefCell::new((String::new(), 0)) };
}

fn render(t: &Template, ts: i64, line: &str, labels: &LabelSet<'_>) -> Result<String, String> {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        c.0.clear();
        c.0.push_str(line);
        c.1 = ts;
    });
    t.compiled
        .execute("t", &labels.template_data())
        .map_err(|e| e.to_string())
}

fn label_format(items: &[LabelFormat], ts: i64, line: &str, labels: &mut LabelSet<'_>) {
    let before = labels.clone();
    for item in items {
        match item {
            LabelFormat::Rename { dst, src } => {
                let v = before.get(src).to_owned();
                labels.del(src);
                labels.set(dst, v);
            }
            LabelFormat::Template { dst, template } => match render(template, ts, line, &before) {
                Ok(v) => labels.set(dst, v),
                Err(e) => labels.set_error("TemplateFormatErr", e),
            },
        }
    }
}

fn str_arg(args: &[Value], i: usize) -> String {
    match args.get(i) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => format!("{v}"),
        None => String::new(),
    }
}

fn string_fn(f: impl Fn(&[Value]) -> String + Send + Sync + 'static) -> Function {
    Function::new(move |args| Ok(Value::String(f(args))))
}

fn bool_fn(f: impl Fn(&[Value]) -> bool + Send + Sync + 'static) -> Function {
    Function::new(move |args| Ok(Value::Bool(f(args))))
}

/// The functions Loki adds to `line_format` and `label_format` templates
/// (a subset: case, trimming, replacing, tests, `__line__`, `__timestamp__`).
pub(crate) fn template_funcs() -> FuncMap {
    let mut m = FuncMap::new();
    for name in ["ToLower", "lower"] {
        m.insert(name.into(), string_fn(|a| str_arg(a, 0).to_lowercase()));
    }
    for name in ["ToUpper", "upper"] {
        m.insert(name.into(), string_fn(|a| str_arg(a, 0).to_uppercase()));
    }
    for name in ["TrimSpace", "trim"] {
        m.insert(name.into(), string_fn(|a| str_arg(a, 0).trim().to_owned()));
    }
    m.insert(
        "Replace".into(),
        string_fn(|a| str_arg(a, 0).replace(&str_arg(a, 1), &str_arg(a, 2))),
    );
    // sprig's argument order: replace old new string
    m.insert(
        "replace".into(),
        string_fn(|a| str_arg(a, 2).replace(&str_arg(a, 0), &str_arg(a, 1))),
    );
    m.insert(
        "TrimPrefix".into(),
        string_fn(|a| {
            let s = str_arg(a, 0);
            s.strip_prefix(str_arg(a, 1).as_str())
                .unwrap_or(&s)
                .to_owned()
        }),
    );
    m.insert(
        "TrimSuffix".into(),
        string_fn(|a| {
            let s = str_arg(a, 0);
            s.strip_suffix(str_arg(a, 1).as_str())
                .unwrap_or(&s)
                .to_owned()
        }),
    );
    // sprig: contains substr string, hasPrefix prefix string
    m.insert(
        "contains".into(),
        bool_fn(|a| str_arg(a, 1).contains(&str_arg(a, 0))),
    );
    m.insert(
        "hasPrefix".into(),
        bool_fn(|a| str_arg(a, 1).starts_with(&str_arg(a, 0))),
    );
    m.insert(
        "hasSuffix".into(),
        bool_fn(|a| str_arg(a, 1).ends_with(&str_arg(a, 0))),
    );
    m.insert(
        "__line__".into(),
        string_fn(|_| CURRENT.with(|c| c.borrow().0.clone())),
    );
    m.insert(
        "__timestamp__".into(),
        Function::new(|_| Ok(Value::Int(CURRENT.with(|c| c.borrow().1)))),
    );
    m
}

/// The line without ANSI escape sequences (`ESC [ ... letter`).
pub(crate) fn decolorize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
