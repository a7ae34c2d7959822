//! The LogQL parser: recursive descent over the lexer's tokens, metric
//! expressions by precedence climbing (Prometheus' precedences, `^`
//! right-associative). Pipelines are parsed in [`stages`].

mod stages;

use steward_metrics::{MatchOp, Matcher};

use super::ast::{
    BinOp, Binary, CmpOp, Expr, GroupSide, Grouping, LabelReplace, LogExpr, MetricExpr, RANGE_OPS,
    RangeAgg, RangeOp, VECTOR_OPS, VectorAgg, VectorMatching, VectorOp,
};
use super::lexer::{Tok, Token, lex};
use super::units::parse_duration_ns;
use crate::{Error, Result};

/// Parses a whole query.
pub(crate) fn parse(query: &str) -> Result<Expr> {
    let mut p = Parser {
        toks: lex(query)?,
        pos: 0,
    };
    let expr = if p.peek() == &Tok::Op("{") {
        Expr::Log(p.log_expr(false)?.0)
    } else {
        Expr::Metric(p.expr(0)?)
    };
    if p.peek() != &Tok::Eof {
        return Err(p.expected("end of query or an operator"));
    }
    Ok(expr)
}

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks
            .get(self.pos + n)
            .or_else(|| self.toks.last())
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn col(&self) -> usize {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or(1, |t| t.col)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn err_at(col: usize, msg: impl std::fmt::Display) -> Error {
        Error::InvalidQuery(format!("column {col}: {msg}"))
    }

    fn expected(&self, what: &str) -> Error {
        Self::err_at(
            self.col(),
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Tok::Ident(i) if i == name)
    }

    fn expect_op(&mut self, op: &'static str) -> Result<()> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.expected(&format!("{op:?}")))
        }
    }

    fn ident(&mut self, what: &str) -> Result<String> {
        match self.peek() {
            Tok::Ident(i) => {
                let i = i.clone();
                self.pos += 1;
                Ok(i)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn string(&mut self, what: &str) -> Result<String> {
        match self.peek() {
            Tok::Str(s) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn number(&mut self, what: &str) -> Result<f64> {
        let neg = self.is_op("-");
        if neg {
            self.pos += 1;
        }
        let col = self.col();
        match self.peek() {
            Tok::Num(n) => {
                let v = parse_number(n)
                    .ok_or_else(|| Self::err_at(col, format!("invalid number {n:?}")))?;
                self.pos += 1;
                Ok(if neg { -v } else { v })
            }
            _ => Err(self.expected(what)),
        }
    }

    fn duration(&mut self) -> Result<i64> {
        let col = self.col();
        match self.next() {
            Tok::Num(n) => match parse_duration_ns(&n) {
                Some(ns) if ns > 0.0 && ns.fract() == 0.0 && ns < i64::MAX as f64 => Ok(ns as i64),
                _ => Err(Self::err_at(col, format!("invalid duration {n:?}"))),
            },
            t => Err(Self::err_at(
                col,
                format!("expected a duration, found {}", t.describe()),
            )),
        }
    }

    /// `op` of a matcher: `=`, `!=`, `=~`, `!~`.
    fn match_op(&mut self) -> Option<MatchOp> {
        let op = match self.peek() {
            Tok::Op("=") => MatchOp::Equal,
            Tok::Op("!=") => MatchOp::NotEqual,
            Tok::Op("=~") => MatchOp::Regex,
            Tok::Op("!~") => MatchOp::NotRegex,
            _ => return None,
        };
        self.pos += 1;
        Some(op)
    }

    /// `name op "value"`, the value's column for regex errors.
    fn matcher(&mut self) -> Result<Matcher> {
        let name = self.ident("a label name")?;
        let Some(op) = self.match_op() else {
            return Err(self.expected("one of \"=\", \"!=\", \"=~\", \"!~\""));
        };
        let col = self.col();
        let value = self.string("a quoted string")?;
        Matcher::new(op, name, value).map_err(|e| Self::err_at(col, e))
    }

    /// `{a="b", ...}`.
    fn selector(&mut self) -> Result<Vec<Matcher>> {
        let col = self.col();
        self.expect_op("{")?;
        let mut matchers = Vec::new();
        if !self.is_op("}") {
            loop {
                matchers.push(self.matcher()?);
                if self.is_op(",") {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect_op("}")?;
        if !matchers.iter().any(|m| !m.matches_empty()) {
            return Err(Self::err_at(
                col,
                "queries require at least one regexp or equality matcher that does not have an empty-compatible value: app=~\".*\" does not, app=~\".+\" does",
            ));
        }
        Ok(matchers)
    }

    /// A metric expression whose operators bind at least as tightly as
    /// `min_prec`.
    fn expr(&mut self, min_prec: u8) -> Result<MetricExpr> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_col = self.col();
            self.pos += 1;
            let mut return_bool = false;
            if self.is_ident("bool") {
                if !matches!(op, BinOp::Cmp(_)) {
                    return Err(self.expected("an expression (bool is only for comparisons)"));
                }
                self.pos += 1;
                return_bool = true;
            }
            let matching = self.vector_matching(op)?;
            let next_min = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.expr(next_min)?;
            lhs = build_binary(op_col, op, lhs, rhs, return_bool, matching)?;
        }
        Ok(lhs)
    }

    fn peek_binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Op("+") => BinOp::Add,
            Tok::Op("-") => BinOp::Sub,
            Tok::Op("*") => BinOp::Mul,
            Tok::Op("/") => BinOp::Div,
            Tok::Op("%") => BinOp::Mod,
            Tok::Op("^") => BinOp::Pow,
            Tok::Op("==") => BinOp::Cmp(CmpOp::Eq),
            Tok::Op("!=") => BinOp::Cmp(CmpOp::Ne),
            Tok::Op(">") => BinOp::Cmp(CmpOp::Gt),
            Tok::Op(">=") => BinOp::Cmp(CmpOp::Ge),
            Tok::Op("<") => BinOp::Cmp(CmpOp::Lt),
            Tok::Op("<=") => BinOp::Cmp(CmpOp::Le),
            Tok::Ident(i) if i == "and" => BinOp::And,
            Tok::Ident(i) if i == "or" => BinOp::Or,
            Tok::Ident(i) if i == "unless" => BinOp::Unless,
            _ => return None,
        })
    }

    fn label_list(&mut self) -> Result<Vec<String>> {
        self.expect_op("(")?;
        let mut labels = Vec::new();
        while !self.is_op(")") {
            labels.push(self.ident("a label name")?);
            if self.is_op(",") {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.expect_op(")")?;
        Ok(labels)
    }

    fn vector_matching(&mut self, op: BinOp) -> Result<Option<VectorMatching>> {
        let on = if self.is_ident("on") {
            true
        } else if self.is_ident("ignoring") {
            false
        } else {
            return Ok(None);
        };
        self.pos += 1;
        let labels = self.label_list()?;
        let side = if self.is_ident("group_left") {
            Some(GroupSide::Left)
        } else if self.is_ident("group_right") {
            Some(GroupSide::Right)
        } else {
            None
        };
        let group = match side {
            Some(side) => {
                if op.is_set() {
                    return Err(self.expected("an expression (no grouping for set operators)"));
                }
                self.pos += 1;
                let extra = if self.is_op("(") {
                    self.label_list()?
                } else {
                    Vec::new()
                };
                Some((side, extra))
            }
            None => None,
        };
        Ok(Some(VectorMatching { on, labels, group }))
    }

    fn unary(&mut self) -> Result<MetricExpr> {
        if self.is_op("-") || self.is_op("+") {
            let neg = self.is_op("-");
            let col = self.col();
            self.pos += 1;
            let inner = self.expr(BinOp::Pow.precedence())?;
            return Ok(match inner {
                MetricExpr::Number(n) if neg => MetricExpr::Number(-n),
                e if neg => {
                    build_binary(col, BinOp::Mul, MetricExpr::Number(-1.0), e, false, None)?
                }
                e => e,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<MetricExpr> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Num(_) => Ok(MetricExpr::Number(self.number("a number")?)),
            Tok::Op("(") => {
                self.pos += 1;
                let e = self.expr(0)?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Ident(name) => {
                if let Some((_, op)) = RANGE_OPS.iter().find(|(n, _)| *n == name) {
                    self.pos += 1;
                    return self.range_agg(*op, col);
                }
                if let Some((_, op)) = VECTOR_OPS.iter().find(|(n, _)| *n == name) {
                    self.pos += 1;
                    return self.vector_agg(*op);
                }
                match name.as_str() {
                    "vector" => {
                        self.pos += 1;
                        self.expect_op("(")?;
                        let v = self.number("a number")?;
                        self.expect_op(")")?;
                        Ok(MetricExpr::VectorOf(v))
                    }
                    "label_replace" => {
                        self.pos += 1;
                        self.label_replace()
                    }
                    _ => Err(self.expected("a metric expression")),
                }
            }
            Tok::Op("{") => Err(Self::err_at(
                col,
                "a log query cannot be used here: wrap it in a range aggregation such as count_over_time({...}[5m])",
            )),
            _ => Err(self.expected("a metric expression")),
        }
    }

    fn grouping(&mut self) -> Result<Option<Grouping>> {
        let without = if self.is_ident("by") {
            false
        } else if self.is_ident("without") {
            true
        } else {
            return Ok(None);
        };
        self.pos += 1;
        let labels = self.label_list()?;
        Ok(Some(Grouping { without, labels }))
    }

    fn range_agg(&mut self, op: RangeOp, col: usize) -> Result<MetricExpr> {
        self.expect_op("(")?;
        let param = if op == RangeOp::QuantileOverTime {
            let q = self.number("a quantile")?;
            self.expect_op(",")?;
            Some(q)
        } else {
            None
        };
        let (log, range) = self.log_expr(true)?;
        let Some((range, offset, unwrap)) = range else {
            return Err(self.expected("a range such as [5m]"));
        };
        self.expect_op(")")?;
        let grouping = self.grouping()?;
        match (&unwrap, op.needs_unwrap(), op) {
            (None, true, _) => {
                return Err(Self::err_at(
                    col,
                    format!(
                        "{} requires an unwrap expression such as | unwrap latency",
                        op.name()
                    ),
                ));
            }
            (Some(_), false, RangeOp::Rate) | (None, false, _) | (Some(_), true, _) => {}
            (Some(_), false, _) => {
                return Err(Self::err_at(
                    col,
                    format!("{} does not take an unwrap expression", op.name()),
                ));
            }
        }
        if grouping.is_some() && unwrap.is_none() {
            return Err(Self::err_at(
                col,
                format!(
                    "grouping is only allowed on range aggregations over unwrap, not on {}",
                    op.name()
                ),
            ));
        }
        Ok(MetricExpr::Range(Box::new(RangeAgg {
            op,
            param,
            log,
            unwrap,
            range,
            offset,
            grouping,
        })))
    }

    fn vector_agg(&mut self, op: VectorOp) -> Result<MetricExpr> {
        let mut grouping = self.grouping()?;
        self.expect_op("(")?;
        let param = if matches!(op, VectorOp::Topk | VectorOp::Bottomk) {
            let col = self.col();
            let k = self.number("k, an integer")?;
            if k < 1.0 || k.fract() != 0.0 {
                return Err(Self::err_at(
                    col,
                    format!("{} needs an integer k of at least 1, got {k}", op.name()),
                ));
            }
            self.expect_op(",")?;
            Some(k)
        } else {
            None
        };
        let inner = self.expr(0)?;
        self.expect_op(")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        if grouping.is_some() && matches!(op, VectorOp::Sort | VectorOp::SortDesc) {
            return Err(self.expected("no grouping for sort"));
        }
        Ok(MetricExpr::Vector(Box::new(VectorAgg {
            op,
            param,
            grouping,
            inner,
        })))
    }

    fn label_replace(&mut self) -> Result<MetricExpr> {
        self.expect_op("(")?;
        let inner = self.expr(0)?;
        let mut args = Vec::new();
        let mut pattern_col = 0;
        for _ in 0..4 {
            self.expect_op(",")?;
            pattern_col = self.col();
            args.push(self.string("a quoted string")?);
        }
        self.expect_op(")")?;
        let [dst, replacement, src, pattern] = <[String; 4]>::try_from(args)
            .map_err(|_| Self::err_at(pattern_col, "label_replace takes 5 arguments"))?;
        let regex = regex::Regex::new(&format!("^(?s:{pattern})$"))
            .map_err(|e| Self::err_at(pattern_col, format!("invalid regular expression: {e}")))?;
        Ok(MetricExpr::LabelReplace(Box::new(LabelReplace {
            inner,
            dst,
            replacement,
            src,
            pattern,
            regex,
        })))
    }
}

/// A number: decimal, `0x` hex, `Inf`/`NaN` are not tokens of ours.
fn parse_number(s: &str) -> Option<f64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    s.parse().ok()
}

fn is_scalar(e: &MetricExpr) -> bool {
    match e {
        MetricExpr::Number(_) => true,
        MetricExpr::Binary(b) => is_scalar(&b.lhs) && is_scalar(&b.rhs),
        _ => false,
    }
}

fn build_binary(
    col: usize,
    op: BinOp,
    lhs: MetricExpr,
    rhs: MetricExpr,
    return_bool: bool,
    matching: Option<VectorMatching>,
) -> Result<MetricExpr> {
    let (ls, rs) = (is_scalar(&lhs), is_scalar(&rhs));
    if op.is_set() && (ls || rs) {
        return Err(Parser::err_at(
            col,
            format!("set operator {:?} needs vectors on both sides", op.as_str()),
        ));
    }
    if matches!(op, BinOp::Cmp(_)) && ls && rs && !return_bool {
        return Err(Parser::err_at(
            col,
            "comparisons between scalars must use the bool modifier",
        ));
    }
    if matching.is_some() && (ls || rs) {
        return Err(Parser::err_at(
            col,
            "vector matching (on, ignoring) needs vectors on both sides",
        ));
    }
    Ok(MetricExpr::Binary(Box::new(Binary {
        op,
        lhs,
        rhs,
        return_bool,
        matching,
    })))
}

/// The log expression of a query or range aggregation, with what the
/// range aggregation needs: `(range, offset, unwrap)`.
pub(crate) type RangePart = Option<(i64, i64, Option<super::ast::Unwrap>)>;

impl Parser {
    /// `{selector} pipeline`, and when `in_range`, the `[range] offset`
    /// before or after the pipeline and `| unwrap` at its end.
    fn log_expr(&mut self, in_range: bool) -> Result<(LogExpr, RangePart)> {
        let selector = self.selector()?;
        let mut range = None;
        if in_range && self.is_op("[") {
            range = Some(self.range_and_offset()?);
        }
        let (stages, unwrap) = self.pipeline(in_range && range.is_none())?;
        if range.is_none() && in_range && self.is_op("[") {
            range = Some(self.range_and_offset()?);
        } else if range.is_some() && unwrap.is_some() {
            return Err(self.expected("the range after | unwrap"));
        }
        let log = LogExpr { selector, stages };
        Ok((log, range.map(|(r, o)| (r, o, unwrap))))
    }

    fn range_and_offset(&mut self) -> Result<(i64, i64)> {
        self.expect_op("[")?;
        let range = self.duration()?;
        self.expect_op("]")?;
        let mut offset = 0;
        if self.is_ident("offset") {
            self.pos += 1;
            offset = self.duration()?;
        }
        Ok((range, offset))
    }
}
