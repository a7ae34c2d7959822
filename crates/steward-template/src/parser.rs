//! The parser: tokens to the tree of nodes the executor walks, with Go's
//! rules (declared variables only, known functions only, `break` and
//! `continue` inside `range` only, `else if`/`else with` chains).

use std::fmt;

use crate::lexer::{Keyword, Tok, Token, lex, line_col};
use crate::{Error, Result};

/// A node of a template's body.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Control),
    Range(Control),
    With(Control),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

/// A pipeline, with its variable declarations.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) decl: Vec<String>,
    pub(crate) is_assign: bool,
    pub(crate) cmds: Vec<Cmd>,
}

/// A command: a function or method call, or a single operand.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub(crate) pos: usize,
    pub(crate) args: Vec<Arg>,
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.A.B`: fields of dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Variable(String, Vec<String>),
    Dot,
    Nil,
    Bool(bool),
    /// An integer or float constant, with its text.
    Int(i64, String),
    Float(f64, String),
    Str(String),
    /// A function name.
    Ident(String),
    /// `(pipeline).A.B`.
    Chain(Box<Arg>, Vec<String>),
    Pipe(Box<Pipe>),
}

/// A parsed template body and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) parse_name: String,
    pub(crate) source: std::sync::Arc<str>,
    pub(crate) root: Vec<Node>,
}

/// A `define`d (or `block`) template: its name and body.
pub(crate) type Definition = (String, Vec<Node>);

enum Item {
    Node(Node),
    End(usize),
    Else(usize),
}

/// Nesting limit for parentheses and control structures, so that hostile
/// input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    name: &'a str,
    src: &'a str,
    tokens: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    is_func: &'a dyn Fn(&str) -> bool,
    defs: Vec<Definition>,
}

/// Parses `src`; returns the main body and the `define`d (and `block`)
/// templates in order.
pub(crate) fn parse(
    name: &str,
    src: &str,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<(Vec<Node>, Vec<Definition>)> {
    let tokens = lex(name, src)?;
    let mut p = Parser {
        name,
        src,
        tokens,
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
        is_func,
        defs: Vec::new(),
    };
    let mut root = Vec::new();
    loop {
        if matches!(p.peek().tok, Tok::Eof) {
            break;
        }
        if matches!(p.peek().tok, Tok::LeftDelim) {
            let save = p.i;
            p.next();
            if matches!(p.peek_non_space().tok, Tok::Keyword(Keyword::Define)) {
                p.next_non_space();
                let pos = p.peek().pos;
                let (name, body) = p.definition()?;
                p.add_def(pos, name, body)?;
                continue;
            }
            p.i = save;
        }
        match p.text_or_action()? {
            Item::Node(n) => root.push(n),
            Item::End(pos) => return Err(p.err(pos, "unexpected {{end}}")),
            Item::Else(pos) => return Err(p.err(pos, "unexpected {{else}}")),
        }
    }
    Ok((root, p.defs))
}

/// Whether a body has only whitespace text (Go then keeps an existing
/// definition of the same name).
pub(crate) fn is_empty_body(nodes: &[Node]) -> bool {
    nodes
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

impl Parser<'_> {
    fn err(&self, pos: usize, message: impl Into<String>) -> Error {
        let (line, column) = line_col(self.src, pos);
        Error::Parse {
            name: self.name.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.tokens.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn skip_space(&mut self) {
        while matches!(self.peek().tok, Tok::Space) {
            self.i += 1;
        }
    }

    fn peek_non_space(&mut self) -> &Token {
        self.skip_space();
        self.peek()
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn unexpected(&self, t: &Token, context: &str) -> Error {
        let what = match &t.tok {
            Tok::Eof => "EOF".to_owned(),
            Tok::RightDelim => "\"}}\"".to_owned(),
            Tok::LeftDelim => "\"{{\"".to_owned(),
            Tok::Keyword(k) => format!("<{}>", format!("{k:?}").to_lowercase()),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Number(n) => format!("{n:?}"),
            Tok::Ident(n) => format!("<{n}>"),
            Tok::Field(f) => format!("<.{f}>"),
            Tok::Variable(v) => format!("<{v}>"),
            Tok::Pipe => "<|>".into(),
            Tok::LeftParen => "<(>".into(),
            Tok::RightParen => "<)>".into(),
            Tok::Declare => "<:=>".into(),
            Tok::Assign => "<=>".into(),
            Tok::Comma => "<,>".into(),
            other => format!("{other:?}").to_lowercase(),
        };
        self.err(t.pos, format!("unexpected {what} in {context}"))
    }

    fn expect_right(&mut self, context: &str) -> Result<()> {
        let t = self.next_non_space();
        if matches!(t.tok, Tok::RightDelim) {
            Ok(())
        } else {
            Err(self.unexpected(&t, context))
        }
    }

    /// Records a definition; an empty one never replaces a non-empty one,
    /// and two non-empty ones in one text are an error, as in Go.
    fn add_def(&mut self, pos: usize, name: String, body: Vec<Node>) -> Result<()> {
        match self.defs.iter_mut().find(|(n, _)| *n == name) {
            None => self.defs.push((name, body)),
            Some((_, old)) if is_empty_body(old) => *old = body,
            Some(_) if is_empty_body(&body) => {}
            Some(_) => {
                return Err(self.err(
                    pos,
                    format!("template: multiple definition of template {name:?}"),
                ));
            }
        }
        Ok(())
    }

    fn enter(&mut self, pos: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(pos, "template nested too deeply"));
        }
        Ok(())
    }

    /// `{{define "name"}} ... {{end}}`, after the keyword.
    fn definition(&mut self) -> Result<(String, Vec<Node>)> {
        let t = self.next_non_space();
        let Tok::Str(name) = t.tok else {
            return Err(self.unexpected(&t, "define clause"));
        };
        self.expect_right("define clause")?;
        let vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = vars;
        if let Item::Else(pos) = end {
            return Err(self.err(pos, "unexpected {{else}} in define clause"));
        }
        Ok((name, list))
    }

    /// Nodes up to the next `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> Result<(Vec<Node>, Item)> {
        let mut list = Vec::new();
        loop {
            if matches!(self.peek().tok, Tok::Eof) {
                return Err(self.err(self.peek().pos, "unexpected EOF"));
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
    }

    fn text_or_action(&mut self) -> Result<Item> {
        let t = self.next();
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Node::Text(s))),
            Tok::LeftDelim => self.action(),
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> Result<Item> {
        let t = self.peek_non_space().clone();
        let Tok::Keyword(k) = t.tok else {
            let pipe = self.pipeline("command", false)?;
            return Ok(Item::Node(Node::Action(pipe)));
        };
        self.next();
        match k {
            Keyword::End => {
                self.expect_right("end")?;
                Ok(Item::End(t.pos))
            }
            Keyword::Else => {
                // "{{else if" and "{{else with" leave the keyword for the control.
                if !matches!(
                    self.peek_non_space().tok,
                    Tok::Keyword(Keyword::If | Keyword::With)
                ) {
                    self.expect_right("else")?;
                }
                Ok(Item::Else(t.pos))
            }
            Keyword::If => Ok(Item::Node(Node::If(self.control(t.pos, "if")?))),
            Keyword::With => Ok(Item::Node(Node::With(self.control(t.pos, "with")?))),
            Keyword::Range => Ok(Item::Node(Node::Range(self.control(t.pos, "range")?))),
            Keyword::Break | Keyword::Continue => {
                let word = if k == Keyword::Break {
                    "break"
                } else {
                    "continue"
                };
                if self.range_depth == 0 {
                    return Err(self.err(t.pos, format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                self.expect_right(word)?;
                Ok(Item::Node(if k == Keyword::Break {
                    Node::Break
                } else {
                    Node::Continue
                }))
            }
            Keyword::Template | Keyword::Block => {
                let context = if k == Keyword::Block {
                    "block clause"
                } else {
                    "template clause"
                };
                let nt = self.next_non_space();
                let Tok::Str(name) = nt.tok else {
                    return Err(self.unexpected(&nt, context));
                };
                let pipe = if matches!(self.peek_non_space().tok, Tok::RightDelim) {
                    self.next();
                    None
                } else {
                    Some(self.pipeline(context, false)?)
                };
                if k == Keyword::Block {
                    if pipe.is_none() {
                        return Err(self.err(t.pos, "missing value for block clause"));
                    }
                    let vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
                    let (list, end) = self.item_list()?;
                    self.vars = vars;
                    if let Item::Else(pos) = end {
                        return Err(self.err(pos, "unexpected {{else}} in block clause"));
                    }
                    self.add_def(t.pos, name.clone(), list)?;
                }
                Ok(Item::Node(Node::Template {
                    pos: t.pos,
                    name,
                    pipe,
                }))
            }
            Keyword::Define => Err(self.unexpected(&t, "command")),
        }
    }

    /// `if`, `with` or `range` after the keyword, through its `{{end}}`.
    fn control(&mut self, pos: usize, context: &str) -> Result<Control> {
        self.enter(pos)?;
        let nvars = self.vars.len();
        let pipe = self.pipeline(context, false)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match next {
            Item::End(_) => None,
            Item::Else(_) => {
                let chained = match self.peek_non_space().tok {
                    Tok::Keyword(Keyword::If) if context == "if" => Some("if"),
                    Tok::Keyword(Keyword::With) if context == "with" => Some("with"),
                    _ => None,
                };
                if let Some(kw) = chained {
                    // "{{else if x}}" is "{{else}}{{if x}}...{{end}}{{end}}"
                    // with a single {{end}}.
                    let t = self.next();
                    let inner = self.control(t.pos, kw)?;
                    Some(vec![if kw == "if" {
                        Node::If(inner)
                    } else {
                        Node::With(inner)
                    }])
                } else {
                    if matches!(self.peek_non_space().tok, Tok::Keyword(_)) {
                        let t = self.peek().clone();
                        return Err(self.unexpected(&t, context));
                    }
                    let (list, end) = self.item_list()?;
                    if let Item::Else(p) = end {
                        return Err(self.err(p, "expected end; found {{else}}"));
                    }
                    Some(list)
                }
            }
            Item::Node(_) => None,
        };
        self.vars.truncate(nvars);
        self.depth -= 1;
        Ok(Control {
            pipe,
            list,
            else_list,
        })
    }

    /// A pipeline up to `}}` (or `)` when `paren`).
    fn pipeline(&mut self, context: &str, paren: bool) -> Result<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        // Declarations: "$x :=", "$x =", or "$i, $v :=" in range.
        let mut comma = false;
        loop {
            let save = self.i;
            let v = self.peek_non_space().clone();
            let Tok::Variable(name) = v.tok else { break };
            self.next();
            match self.peek_non_space().tok {
                Tok::Declare | Tok::Assign => {
                    pipe.is_assign = matches!(self.next().tok, Tok::Assign);
                    if pipe.is_assign && !self.vars.contains(&name) {
                        return Err(self.err(v.pos, format!("undefined variable {name:?}")));
                    }
                    pipe.decl.push(name.clone());
                    if !pipe.is_assign {
                        self.vars.push(name);
                    }
                    break;
                }
                Tok::Comma => {
                    self.next();
                    comma = true;
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        if matches!(self.peek_non_space().tok, Tok::Variable(_)) {
                            continue;
                        }
                        return Err(self.err(v.pos, "range can only initialize variables"));
                    }
                    return Err(self.err(v.pos, format!("too many declarations in {context}")));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        if comma && pipe.decl.len() < 2 {
            return Err(self.err(pos, "range can only initialize variables"));
        }
        loop {
            let t = self.peek_non_space().clone();
            match t.tok {
                Tok::RightDelim if !paren => break,
                Tok::RightParen if paren => break,
                Tok::Bool(_)
                | Tok::Char(..)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    let cmd = self.command(paren)?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
        self.next();
        if pipe.cmds.is_empty() {
            return Err(self.err(pos, format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool(_) | Arg::Dot | Arg::Nil | Arg::Int(..) | Arg::Float(..) | Arg::Str(_)
            ) {
                return Err(self.err(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(pipe)
    }

    fn command(&mut self, paren: bool) -> Result<Cmd> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Cmd {
            pos,
            args: Vec::new(),
        };
        loop {
            self.skip_space();
            if let Some(a) = self.operand()? {
                cmd.args.push(a);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim if !paren => self.i -= 1,
                Tok::RightParen if paren => self.i -= 1,
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.err(pos, "empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        while let Tok::Field(f) = &self.peek().tok {
            fields.push(f.clone());
            self.next();
        }
        if fields.is_empty() {
            return Ok(Some(term));
        }
        Ok(Some(match term {
            Arg::Field(mut f) => {
                f.extend(fields);
                Arg::Field(f)
            }
            Arg::Variable(v, mut f) => {
                f.extend(fields);
                Arg::Variable(v, f)
            }
            Arg::Bool(_) | Arg::Str(_) | Arg::Int(..) | Arg::Float(..) | Arg::Nil | Arg::Dot => {
                let pos = self.tokens[self.i - 1].pos;
                return Err(self.err(
                    pos,
                    format!("unexpected . after term {:?}", term.to_string()),
                ));
            }
            other => Arg::Chain(Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.tok {
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return Err(self.err(t.pos, format!("function {name:?} not defined")));
                }
                Arg::Ident(name)
            }
            Tok::Dot => Arg::Dot,
            Tok::Nil => Arg::Nil,
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.err(t.pos, format!("undefined variable {name:?}")));
                }
                Arg::Variable(name, Vec::new())
            }
            Tok::Field(f) => Arg::Field(vec![f]),
            Tok::Bool(b) => Arg::Bool(b),
            Tok::Char(c, text) => Arg::Int(c as i64, text),
            Tok::Number(text) => self.number(&text, t.pos)?,
            Tok::Str(s) => Arg::Str(s),
            Tok::LeftParen => {
                self.enter(t.pos)?;
                let pipe = self.pipeline("parenthesized pipeline", true)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }

    /// A number constant: an int when it is integral and written without a
    /// point or exponent (Go's ideal constant rules), else a float.
    fn number(&self, text: &str, pos: usize) -> Result<Arg> {
        let bad = || self.err(pos, format!("illegal number syntax: {text:?}"));
        let clean: String = text.chars().filter(|&c| c != '_').collect();
        let (neg, body) = match clean.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
        };
        let lower = body.to_ascii_lowercase();
        let int = if let Some(h) = lower.strip_prefix("0x") {
            if h.contains(['.', 'p']) {
                None
            } else {
                Some(i64::from_str_radix(h, 16).map_err(|_| bad())?)
            }
        } else if let Some(o) = lower.strip_prefix("0o") {
            Some(i64::from_str_radix(o, 8).map_err(|_| bad())?)
        } else if let Some(b) = lower.strip_prefix("0b") {
            Some(i64::from_str_radix(b, 2).map_err(|_| bad())?)
        } else if lower.len() > 1
            && lower.starts_with('0')
            && lower.bytes().all(|c| c.is_ascii_digit())
        {
            Some(i64::from_str_radix(&lower[1..], 8).map_err(|_| bad())?)
        } else if lower.bytes().all(|c| c.is_ascii_digit()) {
            lower.parse::<i64>().ok()
        } else {
            None
        };
        if let Some(i) = int {
            return Ok(Arg::Int(if neg { -i } else { i }, text.to_owned()));
        }
        let f: f64 = if lower.starts_with("0x") {
            return Err(bad());
        } else {
            lower.parse().map_err(|_| bad())?
        };
        if !f.is_finite() {
            return Err(bad());
        }
        Ok(Arg::Float(if neg { -f } else { f }, text.to_owned()))
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field(fs) => fs.iter().try_for_each(|x| write!(f, ".{x}")),
            Arg::Variable(v, fs) => {
                f.write_str(v)?;
                fs.iter().try_for_each(|x| write!(f, ".{x}"))
            }
            Arg::Dot => f.write_str("."),
            Arg::Nil => f.write_str("nil"),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Int(_, t) | Arg::Float(_, t) => f.write_str(t),
            Arg::Str(s) => f.write_str(&crate::gofmt::quote(s)),
            Arg::Ident(n) => f.write_str(n),
            Arg::Chain(a, fs) => {
                write!(f, "{a}")?;
                fs.iter().try_for_each(|x| write!(f, ".{x}"))
            }
            Arg::Pipe(p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}
