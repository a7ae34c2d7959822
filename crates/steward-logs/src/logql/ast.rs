//! The syntax tree of a LogQL query, with the regular expressions and
//! templates it carries compiled, and its canonical text (`Display`):
//! parsing what an expression prints gives the same expression.

use std::fmt;

use regex::Regex;
use steward_metrics::{MatchOp, Matcher};
use steward_template::Templates;

use super::units::{format_duration, format_value};

/// A parsed query: a log query or a metric query.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `{selector} | pipeline`: returns log lines.
    Log(LogExpr),
    /// An expression that returns samples.
    Metric(MetricExpr),
}

/// A stream selector and the pipeline its lines go through.
#[derive(Debug, Clone)]
pub struct LogExpr {
    /// The stream selector's matchers.
    pub selector: Vec<Matcher>,
    /// The pipeline stages, in order.
    pub stages: Vec<Stage>,
}

/// One stage of a log pipeline.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `|= "x"`, `!= "x"`, `|~ "re"`, `!~ "re"`, with `or` alternatives.
    LineFilter(LineFilter),
    /// `| json` (all fields) or `| json a="b.c", d` (selected paths).
    Json(Vec<(String, JsonPath)>),
    /// `| logfmt` (all keys) or `| logfmt a="key", b`.
    Logfmt(Vec<(String, String)>),
    /// `| pattern "<ip> - <_> <method>"`.
    Pattern(Pattern),
    /// `| regexp "(?P<name>...)"`.
    Regexp(Regexp),
    /// `| unpack`: a JSON object of string fields; `_entry` becomes the line.
    Unpack,
    /// `| level="error"`, `| latency > 10s and status >= 500`.
    LabelFilter(LabelFilter),
    /// `| line_format "{{.level}} {{.msg}}"`.
    LineFormat(Template),
    /// `| label_format a=b, c="{{.x}}"`.
    LabelFormat(Vec<LabelFormat>),
    /// `| drop a, b="v"`.
    Drop(Vec<LabelRef>),
    /// `| keep a, b="v"`.
    Keep(Vec<LabelRef>),
    /// `| decolorize`: removes ANSI colour sequences from the line.
    Decolorize,
}

/// How a line filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`: contains.
    Contains,
    /// `!=`: does not contain.
    NotContains,
    /// `|~`: matches the regular expression somewhere.
    Match,
    /// `!~`: does not match.
    NotMatch,
}

impl LineFilterOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Match => "|~",
            LineFilterOp::NotMatch => "!~",
        }
    }
}

/// A line filter: the line passes when it contains (or matches) one of
/// `values`, or, for the negated operators, none of them.
#[derive(Debug, Clone)]
pub struct LineFilter {
    /// The operator.
    pub op: LineFilterOp,
    /// The strings or patterns (`or` alternatives).
    pub values: Vec<String>,
    /// The compiled patterns of `|~`/`!~`.
    pub regexes: Vec<Regex>,
}

/// A JSON path of `| json label="path"`: `a.b`, `a[0]`, `a["key"]`.
#[derive(Debug, Clone)]
pub struct JsonPath {
    /// The path as written.
    pub text: String,
    /// Its steps.
    pub steps: Vec<JsonStep>,
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq)]
pub enum JsonStep {
    /// An object field.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A compiled `pattern` expression.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The expression as written.
    pub text: String,
    /// Literals and captures in order (`None` names `<_>`).
    pub parts: Vec<PatternPart>,
}

/// A piece of a [`Pattern`].
#[derive(Debug, Clone, PartialEq)]
pub enum PatternPart {
    /// Text that must appear.
    Literal(String),
    /// `<name>` (`None` for `<_>`).
    Capture(Option<String>),
}

/// A compiled `regexp` parser.
#[derive(Debug, Clone)]
pub struct Regexp {
    /// The pattern as written.
    pub text: String,
    /// The compiled expression (at least one named group).
    pub regex: Regex,
}

/// A template of `line_format` or `label_format`.
#[derive(Debug, Clone)]
pub struct Template {
    /// The template as written.
    pub text: String,
    /// The parsed template, under the name `t`.
    pub compiled: Templates,
}

/// One assignment of `label_format`.
#[derive(Debug, Clone)]
pub enum LabelFormat {
    /// `dst=src`: renames `src` to `dst`.
    Rename {
        /// The new name.
        dst: String,
        /// The label renamed.
        src: String,
    },
    /// `dst="{{...}}"`: sets `dst` to the template's output.
    Template {
        /// The label set.
        dst: String,
        /// The template.
        template: Template,
    },
}

/// A label named by `drop`/`keep`: a name, or a matcher on its value.
#[derive(Debug, Clone)]
pub enum LabelRef {
    /// Any value.
    Name(String),
    /// Only when the value matches.
    Matcher(Matcher),
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` (or `=` with a number).
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }

    /// Applies the comparison.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// How a label's value is read as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// A plain float.
    Float,
    /// A duration such as `250ms`, in seconds.
    Duration,
    /// A size such as `5MB`, in bytes.
    Bytes,
}

/// A label filter expression.
#[derive(Debug, Clone)]
pub enum LabelFilter {
    /// Both hold (`and`, `,` or a space).
    And(Box<LabelFilter>, Box<LabelFilter>),
    /// Either holds.
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// `name="v"`, `!=`, `=~`, `!~` on the value as a string.
    Matcher(Matcher),
    /// `name > 10`, `name >= 10s`, `name < 5MB`.
    Numeric {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The value compared with (seconds for durations, bytes for sizes).
        value: f64,
        /// How the label's value is read.
        conversion: Conversion,
        /// The value as written.
        text: String,
    },
}

/// A metric expression.
#[derive(Debug, Clone)]
pub enum MetricExpr {
    /// `count_over_time({...}[5m])` and the other range aggregations.
    Range(Box<RangeAgg>),
    /// `sum by (a) (...)` and the other vector aggregations.
    Vector(Box<VectorAgg>),
    /// `a + b`, `a > bool 1`, `a and on(x) b`.
    Binary(Box<Binary>),
    /// A number literal.
    Number(f64),
    /// `vector(0)`.
    VectorOf(f64),
    /// `label_replace(v, "dst", "replacement", "src", "regex")`.
    LabelReplace(Box<LabelReplace>),
}

/// A range aggregation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    /// `count_over_time`
    CountOverTime,
    /// `rate`
    Rate,
    /// `bytes_over_time`
    BytesOverTime,
    /// `bytes_rate`
    BytesRate,
    /// `absent_over_time`
    AbsentOverTime,
    /// `sum_over_time` (unwrap)
    SumOverTime,
    /// `avg_over_time` (unwrap)
    AvgOverTime,
    /// `min_over_time` (unwrap)
    MinOverTime,
    /// `max_over_time` (unwrap)
    MaxOverTime,
    /// `first_over_time` (unwrap)
    FirstOverTime,
    /// `last_over_time` (unwrap)
    LastOverTime,
    /// `stddev_over_time` (unwrap)
    StddevOverTime,
    /// `stdvar_over_time` (unwrap)
    StdvarOverTime,
    /// `quantile_over_time(q, ...)` (unwrap)
    QuantileOverTime,
}

/// Every range operator and its name.
pub(crate) const RANGE_OPS: &[(&str, RangeOp)] = &[
    ("count_over_time", RangeOp::CountOverTime),
    ("rate", RangeOp::Rate),
    ("bytes_over_time", RangeOp::BytesOverTime),
    ("bytes_rate", RangeOp::BytesRate),
    ("absent_over_time", RangeOp::AbsentOverTime),
    ("sum_over_time", RangeOp::SumOverTime),
    ("avg_over_time", RangeOp::AvgOverTime),
    ("min_over_time", RangeOp::MinOverTime),
    ("max_over_time", RangeOp::MaxOverTime),
    ("first_over_time", RangeOp::FirstOverTime),
    ("last_over_time", RangeOp::LastOverTime),
    ("stddev_over_time", RangeOp::StddevOverTime),
    ("stdvar_over_time", RangeOp::StdvarOverTime),
    ("quantile_over_time", RangeOp::QuantileOverTime),
];

impl RangeOp {
    /// The function's name.
    pub fn name(self) -> &'static str {
        RANGE_OPS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(n, _)| n)
    }

    /// Whether the operator needs `| unwrap` (or, for `rate`, accepts it).
    pub fn needs_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }
}

/// A range aggregation.
#[derive(Debug, Clone)]
pub struct RangeAgg {
    /// The operator.
    pub op: RangeOp,
    /// `quantile_over_time`'s quantile.
    pub param: Option<f64>,
    /// The log expression whose lines are aggregated.
    pub log: LogExpr,
    /// `| unwrap label`, if any.
    pub unwrap: Option<Unwrap>,
    /// The range, in ns.
    pub range: i64,
    /// The offset, in ns (0 without `offset`).
    pub offset: i64,
    /// `by (...)`/`without (...)` after the call.
    pub grouping: Option<Grouping>,
}

/// `| unwrap [duration|bytes](label)` and label filters after it.
#[derive(Debug, Clone)]
pub struct Unwrap {
    /// The label whose value is the sample.
    pub label: String,
    /// How it is read.
    pub conversion: Conversion,
    /// Label filters after the unwrap (`| __error__=""`).
    pub filters: Vec<LabelFilter>,
}

/// `by (a, b)` or `without (a)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// `without` rather than `by`.
    pub without: bool,
    /// The label names.
    pub labels: Vec<String>,
}

/// A vector aggregation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `count`
    Count,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk(k, ...)`
    Topk,
    /// `bottomk(k, ...)`
    Bottomk,
    /// `sort`
    Sort,
    /// `sort_desc`
    SortDesc,
}

/// Every vector operator and its name.
pub(crate) const VECTOR_OPS: &[(&str, VectorOp)] = &[
    ("sum", VectorOp::Sum),
    ("avg", VectorOp::Avg),
    ("min", VectorOp::Min),
    ("max", VectorOp::Max),
    ("count", VectorOp::Count),
    ("stddev", VectorOp::Stddev),
    ("stdvar", VectorOp::Stdvar),
    ("topk", VectorOp::Topk),
    ("bottomk", VectorOp::Bottomk),
    ("sort", VectorOp::Sort),
    ("sort_desc", VectorOp::SortDesc),
];

impl VectorOp {
    /// The operator's name.
    pub fn name(self) -> &'static str {
        VECTOR_OPS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(n, _)| n)
    }
}

/// A vector aggregation.
#[derive(Debug, Clone)]
pub struct VectorAgg {
    /// The operator.
    pub op: VectorOp,
    /// `topk`/`bottomk`'s k.
    pub param: Option<f64>,
    /// `by`/`without`.
    pub grouping: Option<Grouping>,
    /// What is aggregated.
    pub inner: MetricExpr,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// A comparison.
    Cmp(CmpOp),
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Cmp(c) => c.as_str(),
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// Binding strength: higher binds tighter.
    pub(crate) fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Cmp(_) => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Pow => 6,
        }
    }

    /// Whether this is `and`, `or` or `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// A binary operation.
#[derive(Debug, Clone)]
pub struct Binary {
    /// The operator.
    pub op: BinOp,
    /// The left operand.
    pub lhs: MetricExpr,
    /// The right operand.
    pub rhs: MetricExpr,
    /// `bool` after a comparison.
    pub return_bool: bool,
    /// `on`/`ignoring` and `group_left`/`group_right`.
    pub matching: Option<VectorMatching>,
}

/// How the series of two vectors are paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorMatching {
    /// `on` rather than `ignoring`.
    pub on: bool,
    /// The labels of `on`/`ignoring`.
    pub labels: Vec<String>,
    /// `group_left` or `group_right` and the labels they copy.
    pub group: Option<(GroupSide, Vec<String>)>,
}

/// The "many" side of a many-to-one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSide {
    /// `group_left`: the left side has many.
    Left,
    /// `group_right`: the right side has many.
    Right,
}

/// `label_replace(...)`.
#[derive(Debug, Clone)]
pub struct LabelReplace {
    /// The vector whose labels are rewritten.
    pub inner: MetricExpr,
    /// The label set.
    pub dst: String,
    /// The replacement, with `$1`/`${name}` references.
    pub replacement: String,
    /// The label matched.
    pub src: String,
    /// The pattern as written.
    pub pattern: String,
    /// The anchored, compiled pattern.
    pub regex: Regex,
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn match_op(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Regex => "=~",
        MatchOp::NotRegex => "!~",
    }
}

fn matcher(m: &Matcher) -> String {
    format!("{}{}{}", m.name, match_op(m.op), quote(&m.value))
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(l) => l.fmt(f),
            Expr::Metric(m) => m.fmt(f),
        }
    }
}

impl fmt::Display for LogExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sel: Vec<String> = self.selector.iter().map(matcher).collect();
        write!(f, "{{{}}}", sel.join(", "))?;
        for stage in &self.stages {
            write!(f, " {stage}")?;
        }
        Ok(())
    }
}

fn refs(r: &[LabelRef]) -> String {
    r.iter()
        .map(|r| match r {
            LabelRef::Name(n) => n.clone(),
            LabelRef::Matcher(m) => matcher(m),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(lf) => {
                let vals: Vec<String> = lf.values.iter().map(|v| quote(v)).collect();
                write!(f, "{} {}", lf.op.as_str(), vals.join(" or "))
            }
            Stage::Json(params) if params.is_empty() => f.write_str("| json"),
            Stage::Json(params) => {
                let p: Vec<String> = params
                    .iter()
                    .map(|(l, p)| format!("{l}={}", quote(&p.text)))
                    .collect();
                write!(f, "| json {}", p.join(", "))
            }
            Stage::Logfmt(params) if params.is_empty() => f.write_str("| logfmt"),
            Stage::Logfmt(params) => {
                let p: Vec<String> = params
                    .iter()
                    .map(|(l, k)| format!("{l}={}", quote(k)))
                    .collect();
                write!(f, "| logfmt {}", p.join(", "))
            }
            Stage::Pattern(p) => write!(f, "| pattern {}", quote(&p.text)),
            Stage::Regexp(r) => write!(f, "| regexp {}", quote(&r.text)),
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(lf) => write!(f, "| {lf}"),
            Stage::LineFormat(t) => write!(f, "| line_format {}", quote(&t.text)),
            Stage::LabelFormat(items) => {
                let p: Vec<String> = items
                    .iter()
                    .map(|i| match i {
                        LabelFormat::Rename { dst, src } => format!("{dst}={src}"),
                        LabelFormat::Template { dst, template } => {
                            format!("{dst}={}", quote(&template.text))
                        }
                    })
                    .collect();
                write!(f, "| label_format {}", p.join(", "))
            }
            Stage::Drop(r) => write!(f, "| drop {}", refs(r)),
            Stage::Keep(r) => write!(f, "| keep {}", refs(r)),
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

impl fmt::Display for LabelFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilter::And(a, b) => write!(f, "({a} and {b})"),
            LabelFilter::Or(a, b) => write!(f, "({a} or {b})"),
            LabelFilter::Matcher(m) => f.write_str(&matcher(m)),
            LabelFilter::Numeric { name, op, text, .. } => {
                write!(f, "{name}{}{text}", op.as_str())
            }
        }
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kw = if self.without { "without" } else { "by" };
        write!(f, "{kw} ({})", self.labels.join(", "))
    }
}

impl fmt::Display for MetricExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::Range(r) => {
                write!(f, "{}(", r.op.name())?;
                if let Some(p) = r.param {
                    write!(f, "{}, ", format_value(p))?;
                }
                write!(f, "{}", r.log)?;
                if let Some(u) = &r.unwrap {
                    match u.conversion {
                        Conversion::Float => write!(f, " | unwrap {}", u.label)?,
                        Conversion::Duration => write!(f, " | unwrap duration({})", u.label)?,
                        Conversion::Bytes => write!(f, " | unwrap bytes({})", u.label)?,
                    }
                    for lf in &u.filters {
                        write!(f, " | {lf}")?;
                    }
                }
                write!(f, " [{}]", format_duration(r.range))?;
                if r.offset != 0 {
                    write!(f, " offset {}", format_duration(r.offset))?;
                }
                f.write_str(")")?;
                if let Some(g) = &r.grouping {
                    write!(f, " {g}")?;
                }
                Ok(())
            }
            MetricExpr::Vector(v) => {
                write!(f, "{}", v.op.name())?;
                if let Some(g) = &v.grouping {
                    write!(f, " {g} ")?;
                }
                f.write_str("(")?;
                if let Some(p) = v.param {
                    write!(f, "{}, ", format_value(p))?;
                }
                write!(f, "{})", v.inner)
            }
            MetricExpr::Binary(b) => {
                let side = |e: &MetricExpr| match e {
                    MetricExpr::Binary(_) => format!("({e})"),
                    _ => e.to_string(),
                };
                write!(f, "{} {}", side(&b.lhs), b.op.as_str())?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    let kw = if m.on { "on" } else { "ignoring" };
                    write!(f, " {kw} ({})", m.labels.join(", "))?;
                    if let Some((side, labels)) = &m.group {
                        let kw = match side {
                            GroupSide::Left => "group_left",
                            GroupSide::Right => "group_right",
                        };
                        write!(f, " {kw} ({})", labels.join(", "))?;
                    }
                }
                write!(f, " {}", side(&b.rhs))
            }
            MetricExpr::Number(n) => f.write_str(&format_value(*n)),
            MetricExpr::VectorOf(n) => write!(f, "vector({})", format_value(*n)),
            MetricExpr::LabelReplace(l) => write!(
                f,
                "label_replace({}, {}, {}, {}, {})",
                l.inner,
                quote(&l.dst),
                quote(&l.replacement),
                quote(&l.src),
                quote(&l.pattern)
            ),
        }
    }
}
