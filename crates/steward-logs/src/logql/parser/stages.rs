//! Parsing of log pipelines: line filters, parsers, label filters,
//! formatting stages and `| unwrap`.

use regex::Regex;
use steward_metrics::Matcher;
use steward_template::Templates;

use super::Parser;
use crate::Result;
use crate::logql::ast::{
    CmpOp, Conversion, JsonPath, JsonStep, LabelFilter, LabelFormat, LabelRef, LineFilter,
    LineFilterOp, Pattern, PatternPart, Regexp, Stage, Template, Unwrap,
};
use crate::logql::lexer::Tok;
use crate::logql::pipeline::template_funcs;
use crate::logql::units::{parse_bytes, parse_duration_secs};

impl Parser {
    /// Stages until something that is not one; `| unwrap` ends the
    /// pipeline when allowed (only label filters may follow it).
    pub(super) fn pipeline(&mut self, allow_unwrap: bool) -> Result<(Vec<Stage>, Option<Unwrap>)> {
        let mut stages = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("|=") => LineFilterOp::Contains,
                Tok::Op("!=") => LineFilterOp::NotContains,
                Tok::Op("|~") => LineFilterOp::Match,
                Tok::Op("!~") => LineFilterOp::NotMatch,
                Tok::Op("|") => {
                    self.pos += 1;
                    if allow_unwrap && self.is_ident("unwrap") {
                        self.pos += 1;
                        let unwrap = self.unwrap()?;
                        return Ok((stages, Some(unwrap)));
                    }
                    stages.push(self.stage()?);
                    continue;
                }
                _ => return Ok((stages, None)),
            };
            self.pos += 1;
            stages.push(Stage::LineFilter(self.line_filter(op)?));
        }
    }

    fn line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter> {
        let mut values = Vec::new();
        let mut regexes = Vec::new();
        loop {
            let col = self.col();
            let v = self.string("a quoted string")?;
            if matches!(op, LineFilterOp::Match | LineFilterOp::NotMatch) {
                regexes.push(Regex::new(&v).map_err(|e| {
                    Self::err_at(col, format!("invalid regular expression {v:?}: {e}"))
                })?);
            }
            values.push(v);
            if self.is_ident("or") && matches!(self.peek_at(1), Tok::Str(_)) {
                self.pos += 1;
            } else {
                return Ok(LineFilter {
                    op,
                    values,
                    regexes,
                });
            }
        }
    }

    fn stage(&mut self) -> Result<Stage> {
        let col = self.col();
        let name = match self.peek() {
            Tok::Ident(i) => i.clone(),
            Tok::Op("(") => return Ok(Stage::LabelFilter(self.label_filter()?)),
            _ => return Err(self.expected("a parser, a label filter or a formatting stage")),
        };
        // a label filter on a label named like a stage: `| json="x"`
        if matches!(
            self.peek_at(1),
            Tok::Op("=" | "!=" | "=~" | "!~" | "==" | ">" | ">=" | "<" | "<=")
        ) {
            return Ok(Stage::LabelFilter(self.label_filter()?));
        }
        self.pos += 1;
        Ok(match name.as_str() {
            "json" => Stage::Json(self.json_params()?),
            "logfmt" => {
                let mut params = Vec::new();
                while let Tok::Ident(l) = self.peek().clone() {
                    self.pos += 1;
                    let key = if self.is_op("=") {
                        self.pos += 1;
                        self.string("a quoted key")?
                    } else {
                        l.clone()
                    };
                    params.push((l, key));
                    if !self.is_op(",") {
                        break;
                    }
                    self.pos += 1;
                }
                Stage::Logfmt(params)
            }
            "pattern" => {
                let col = self.col();
                let text = self.string("a quoted pattern")?;
                let parts = compile_pattern(&text).map_err(|e| Self::err_at(col, e))?;
                Stage::Pattern(Pattern { text, parts })
            }
            "regexp" => {
                let col = self.col();
                let text = self.string("a quoted regular expression")?;
                let regex = Regex::new(&text).map_err(|e| {
                    Self::err_at(col, format!("invalid regular expression {text:?}: {e}"))
                })?;
                if regex.capture_names().flatten().next().is_none() {
                    return Err(Self::err_at(
                        col,
                        "the regexp parser needs at least one named group (?P<name>...)",
                    ));
                }
                Stage::Regexp(Regexp { text, regex })
            }
            "unpack" => Stage::Unpack,
            "decolorize" => Stage::Decolorize,
            "line_format" => Stage::LineFormat(self.template()?),
            "label_format" => {
                let mut items = Vec::new();
                let mut seen = Vec::new();
                loop {
                    let col = self.col();
                    let dst = self.ident("a label name")?;
                    if seen.contains(&dst) {
                        return Err(Self::err_at(
                            col,
                            format!("label {dst:?} is formatted twice in one label_format"),
                        ));
                    }
                    seen.push(dst.clone());
                    self.expect_op("=")?;
                    items.push(match self.peek() {
                        Tok::Ident(src) => {
                            let src = src.clone();
                            self.pos += 1;
                            LabelFormat::Rename { dst, src }
                        }
                        _ => LabelFormat::Template {
                            dst,
                            template: self.template()?,
                        },
                    });
                    if !self.is_op(",") {
                        break;
                    }
                    self.pos += 1;
                }
                Stage::LabelFormat(items)
            }
            "drop" => Stage::Drop(self.label_refs()?),
            "keep" => Stage::Keep(self.label_refs()?),
            "unwrap" => {
                return Err(Self::err_at(
                    col,
                    "unwrap is only allowed at the end of the pipeline of a range aggregation",
                ));
            }
            _ => {
                self.pos -= 1;
                return Err(self.expected(
                    "a parser (json, logfmt, pattern, regexp, unpack), a label filter, line_format, label_format, drop, keep or decolorize",
                ));
            }
        })
    }

    fn json_params(&mut self) -> Result<Vec<(String, JsonPath)>> {
        let mut params = Vec::new();
        while let Tok::Ident(label) = self.peek().clone() {
            self.pos += 1;
            let (text, col) = if self.is_op("=") {
                self.pos += 1;
                let col = self.col();
                (self.string("a quoted JSON path")?, col)
            } else {
                (label.clone(), self.col())
            };
            let steps = parse_json_path(&text).map_err(|e| Self::err_at(col, e))?;
            params.push((label, JsonPath { text, steps }));
            if !self.is_op(",") {
                break;
            }
            self.pos += 1;
        }
        Ok(params)
    }

    fn template(&mut self) -> Result<Template> {
        let col = self.col();
        let text = self.string("a quoted template")?;
        let mut compiled = Templates::new();
        compiled.add_funcs(template_funcs());
        compiled
            .parse("t", &text)
            .map_err(|e| Self::err_at(col, format!("invalid template: {e}")))?;
        Ok(Template { text, compiled })
    }

    fn label_refs(&mut self) -> Result<Vec<LabelRef>> {
        let mut refs = Vec::new();
        loop {
            if matches!(self.peek_at(1), Tok::Op("=" | "!=" | "=~" | "!~")) {
                refs.push(LabelRef::Matcher(self.matcher()?));
            } else {
                refs.push(LabelRef::Name(self.ident("a label name")?));
            }
            if !self.is_op(",") {
                return Ok(refs);
            }
            self.pos += 1;
        }
    }

    fn unwrap(&mut self) -> Result<Unwrap> {
        let name = self.ident("a label name")?;
        let (label, conversion) = if self.is_op("(") {
            let conversion = match name.as_str() {
                "duration" | "duration_seconds" => Conversion::Duration,
                "bytes" => Conversion::Bytes,
                _ => return Err(self.expected("| unwrap label, duration(label) or bytes(label)")),
            };
            self.pos += 1;
            let label = self.ident("a label name")?;
            self.expect_op(")")?;
            (label, conversion)
        } else {
            (name, Conversion::Float)
        };
        let mut filters = Vec::new();
        while self.is_op("|") {
            self.pos += 1;
            filters.push(self.label_filter()?);
        }
        Ok(Unwrap {
            label,
            conversion,
            filters,
        })
    }

    /// `a="b" and (c > 1 or d != "e"), f=~"g"`.
    pub(super) fn label_filter(&mut self) -> Result<LabelFilter> {
        let mut lhs = self.label_filter_and()?;
        while self.is_ident("or") {
            self.pos += 1;
            let rhs = self.label_filter_and()?;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilter> {
        let mut lhs = self.label_filter_primary()?;
        loop {
            if self.is_ident("and") || self.is_op(",") {
                self.pos += 1;
            } else if !(matches!(self.peek(), Tok::Ident(i) if i != "or" && i != "and")
                && matches!(
                    self.peek_at(1),
                    Tok::Op("=" | "!=" | "=~" | "!~" | "==" | ">" | ">=" | "<" | "<=")
                ))
            {
                return Ok(lhs);
            }
            let rhs = self.label_filter_primary()?;
            lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
        }
    }

    fn label_filter_primary(&mut self) -> Result<LabelFilter> {
        if self.is_op("(") {
            self.pos += 1;
            let f = self.label_filter()?;
            self.expect_op(")")?;
            return Ok(f);
        }
        let name = self.ident("a label name or \"(\"")?;
        let (str_op, cmp) = match self.peek() {
            Tok::Op("=") => (true, CmpOp::Eq),
            Tok::Op("!=") => (true, CmpOp::Ne),
            Tok::Op("=~" | "!~") => (true, CmpOp::Eq),
            Tok::Op("==") => (false, CmpOp::Eq),
            Tok::Op(">") => (false, CmpOp::Gt),
            Tok::Op(">=") => (false, CmpOp::Ge),
            Tok::Op("<") => (false, CmpOp::Lt),
            Tok::Op("<=") => (false, CmpOp::Le),
            _ => {
                return Err(self.expected("a comparison (=, !=, =~, !~, ==, >, >=, <, <=)"));
            }
        };
        if str_op && matches!(self.peek_at(1), Tok::Str(_)) {
            let Some(op) = self.match_op() else {
                return Err(self.expected("a comparison"));
            };
            let col = self.col();
            let value = self.string("a quoted string")?;
            return Matcher::new(op, name, value)
                .map(LabelFilter::Matcher)
                .map_err(|e| Self::err_at(col, e));
        }
        if matches!(self.peek(), Tok::Op("=~" | "!~")) {
            self.pos += 1;
            return Err(self.expected("a quoted regular expression"));
        }
        self.pos += 1;
        let col = self.col();
        let neg = self.is_op("-");
        if neg {
            self.pos += 1;
        }
        let Tok::Num(text) = self.peek().clone() else {
            return Err(self.expected(if str_op {
                "a quoted string or a number"
            } else {
                "a number, a duration or a byte size"
            }));
        };
        self.pos += 1;
        let text = if neg { format!("-{text}") } else { text };
        let (value, conversion) = if let Ok(v) = text.parse::<f64>() {
            (v, Conversion::Float)
        } else if let Some(v) = parse_duration_secs(&text) {
            (v, Conversion::Duration)
        } else if let Some(v) = parse_bytes(&text) {
            (v, Conversion::Bytes)
        } else {
            return Err(Self::err_at(
                col,
                format!("invalid number, duration or byte size {text:?}"),
            ));
        };
        Ok(LabelFilter::Numeric {
            name,
            op: cmp,
            value,
            conversion,
            text,
        })
    }
}

/// Splits a JSON path: `a.b[0]["c d"]`.
fn parse_json_path(text: &str) -> std::result::Result<Vec<JsonStep>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut key = String::new();
    let bad = |why: &str| format!("invalid JSON path {text:?}: {why}");
    while i < chars.len() {
        match chars[i] {
            '.' => {
                if !key.is_empty() {
                    steps.push(JsonStep::Key(std::mem::take(&mut key)));
                }
                i += 1;
            }
            '[' => {
                if !key.is_empty() {
                    steps.push(JsonStep::Key(std::mem::take(&mut key)));
                }
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| bad("unclosed \"[\""))?;
                let inner: String = chars[i + 1..i + close].iter().collect();
                let inner = inner.trim();
                if let Some(q) = inner
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                {
                    steps.push(JsonStep::Key(q.to_owned()));
                } else {
                    let n = inner
                        .parse()
                        .map_err(|_| bad("an index must be a number or a quoted key"))?;
                    steps.push(JsonStep::Index(n));
                }
                i += close + 1;
            }
            c => {
                key.push(c);
                i += 1;
            }
        }
    }
    if !key.is_empty() {
        steps.push(JsonStep::Key(key));
    }
    if steps.is_empty() {
        return Err(bad("empty"));
    }
    Ok(steps)
}

/// Splits a pattern into literals and captures.
fn compile_pattern(text: &str) -> std::result::Result<Vec<PatternPart>, String> {
    let mut parts: Vec<PatternPart> = Vec::new();
    let mut rest = text;
    let mut names: Vec<String> = Vec::new();
    while !rest.is_empty() {
        let capture = rest.strip_prefix('<').and_then(|r| {
            let end = r.find('>')?;
            let name = &r[..end];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            valid.then_some((name, &r[end + 1..]))
        });
        if let Some((name, after)) = capture {
            if matches!(parts.last(), Some(PatternPart::Capture(_))) {
                return Err(format!(
                    "invalid pattern {text:?}: captures must be separated by literals"
                ));
            }
            if name == "_" {
                parts.push(PatternPart::Capture(None));
            } else {
                if names.iter().any(|n| n == name) {
                    return Err(format!(
                        "invalid pattern {text:?}: capture <{name}> appears twice"
                    ));
                }
                names.push(name.to_owned());
                parts.push(PatternPart::Capture(Some(name.to_owned())));
            }
            rest = after;
        } else {
            let c = rest.chars().next().unwrap_or('<');
            let len = c.len_utf8();
            match parts.last_mut() {
                Some(PatternPart::Literal(l)) => l.push_str(&rest[..len]),
                _ => parts.push(PatternPart::Literal(rest[..len].to_owned())),
            }
            rest = &rest[len..];
        }
    }
    if names.is_empty() {
        return Err(format!(
            "invalid pattern {text:?}: at least one named capture such as <name> is required"
        ));
    }
    Ok(parts)
}
