//! The executor: walks a parsed tree against data, as Go's text/template
//! does (variable scopes, Go's truth, sorted map ranges, `break` and
//! `continue`, short-circuit `and`/`or`, missing map keys). Every failure
//! is an [`Error::Exec`]; nothing panics.

use std::fmt;

use crate::funcs::builtin;
use crate::lexer::line_col;
use crate::parser::{Arg, Cmd, Control, Node, Pipe, Tree};
use crate::{Error, MissingKey, Result, Templates, Value};

/// How deep `{{template}}` calls may nest (Go allows 100000, but Rust
/// recursion on a thread's stack does not go that far).
const MAX_TEMPLATE_DEPTH: usize = 100;
/// Nodes one execution may visit. Templates come from configuration and
/// run in steward's alert and notification paths, so a template that
/// recurses into itself twice per level (exponential within the depth
/// limit) or ranges over a huge number must end with an error, not hang.
const MAX_STEPS: u64 = 1_000_000;
/// Bytes one execution may write, for the same reason.
const MAX_OUTPUT: usize = 1 << 20;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct State<'a> {
    set: &'a Templates,
    name: &'a str,
    tree: &'a Tree,
    vars: Vec<(String, Value)>,
    out: &'a mut String,
    depth: usize,
    /// Nodes visited so far by this execution, nested templates included.
    steps: &'a std::cell::Cell<u64>,
}

/// Executes template `name` of `set` with `data` as dot, appending to `out`.
pub(crate) fn execute(set: &Templates, name: &str, data: &Value, out: &mut String) -> Result<()> {
    let tree = set
        .tree(name)
        .ok_or_else(|| Error::NoTemplate(name.to_owned()))?;
    let steps = std::cell::Cell::new(0);
    let mut state = State {
        set,
        name,
        tree,
        vars: vec![("$".to_owned(), data.clone())],
        out,
        depth: 0,
        steps: &steps,
    };
    state.walk(data, &tree.root)?;
    Ok(())
}

impl<'a> State<'a> {
    fn fail(&self, pos: usize, node: &dyn fmt::Display, message: impl Into<String>) -> Error {
        let (line, column) = line_col(&self.tree.source, pos);
        Error::Exec {
            name: self.tree.parse_name.clone(),
            line,
            column,
            node: node.to_string(),
            template: self.name.to_owned(),
            message: message.into(),
        }
    }

    /// Wraps a function's error with the call's location.
    fn wrap(&self, cmd: &Cmd, e: Error, what: &str) -> Error {
        match e {
            Error::Func(m) => self.fail(cmd.pos, cmd, format!("{what}{m}")),
            other => other,
        }
    }

    fn walk(&mut self, dot: &Value, nodes: &'a [Node]) -> Result<Flow> {
        for node in nodes {
            match self.node(dot, node)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, dot: &Value, node: &'a Node) -> Result<Flow> {
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > MAX_STEPS || self.out.len() > MAX_OUTPUT {
            let pos = node_pos(node);
            return Err(self.fail(
                pos,
                &"execution",
                format!("template execution exceeded its limit ({MAX_STEPS} steps or {MAX_OUTPUT} bytes of output)"),
            ));
        }
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(pipe) => {
                let v = self.pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    use std::fmt::Write as _;
                    let _ = write!(self.out, "{v}");
                }
            }
            Node::If(c) => return self.if_with(dot, c, false),
            Node::With(c) => return self.if_with(dot, c, true),
            Node::Range(c) => return self.range(dot, c),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Template { pos, name, pipe } => {
                let data = match pipe {
                    Some(p) => self.pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let node = format!("{{{{template {}}}}}", crate::gofmt::quote(name));
                let Some(tree) = self.set.tree(name) else {
                    return Err(self.fail(*pos, &node, format!("no such template {name:?}")));
                };
                if self.depth >= MAX_TEMPLATE_DEPTH {
                    return Err(self.fail(
                        *pos,
                        &node,
                        format!("exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"),
                    ));
                }
                let mut sub = State {
                    set: self.set,
                    name,
                    tree,
                    vars: vec![("$".to_owned(), data.clone())],
                    out: self.out,
                    depth: self.depth + 1,
                    steps: self.steps,
                };
                sub.walk(&data, &tree.root)?;
            }
        }
        Ok(Flow::Normal)
    }

    fn if_with(&mut self, dot: &Value, c: &'a Control, with: bool) -> Result<Flow> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &c.pipe)?;
        let flow = if v.truthy() {
            self.walk(if with { &v } else { dot }, &c.list)?
        } else if let Some(e) = &c.else_list {
            self.walk(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range(&mut self, dot: &Value, c: &'a Control) -> Result<Flow> {
        let mark = self.vars.len();
        let v = self.commands(dot, &c.pipe)?.resolved();
        // Lazily: `range 1000000000` must meet the step limit, not
        // allocate a billion items first.
        let items: Box<dyn Iterator<Item = (Value, Value)> + '_> = match &v {
            Value::List(l) => Box::new(
                l.iter()
                    .enumerate()
                    .map(|(i, e)| (Value::Int(i as i64), e.clone())),
            ),
            Value::Map(m) => Box::new(m.iter().map(|(k, e)| (Value::String(k.clone()), e.clone()))),
            Value::Int(n) => Box::new((0..*n).map(|i| (Value::Int(i), Value::Int(i)))),
            Value::Nil | Value::NoValue => Box::new(std::iter::empty()),
            other => {
                return Err(self.fail(
                    c.pipe.pos,
                    &c.pipe,
                    format!("range can't iterate over {other}"),
                ));
            }
        };
        let mut items = items.peekable();
        if items.peek().is_none() {
            let flow = match &c.else_list {
                Some(e) => self.walk(dot, e)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(flow);
        }
        let decl = &c.pipe.decl;
        if !c.pipe.is_assign {
            // Declared once; set on each iteration.
            for d in decl {
                self.vars.push((d.clone(), Value::Nil));
            }
        }
        let body_mark = self.vars.len();
        for (index, elem) in items {
            match (decl.len(), c.pipe.is_assign) {
                (0, _) => {}
                (1, false) => self.vars[body_mark - 1].1 = elem.clone(),
                (_, false) => {
                    self.vars[body_mark - 2].1 = index;
                    self.vars[body_mark - 1].1 = elem.clone();
                }
                (1, true) => self.set_var(&decl[0], elem.clone()),
                (_, true) => {
                    self.set_var(&decl[0], index);
                    self.set_var(&decl[1], elem.clone());
                }
            }
            let flow = self.walk(&elem, &c.list)?;
            self.vars.truncate(body_mark);
            if let Flow::Break = flow {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var(&self, name: &str) -> Value {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::NoValue)
    }

    /// A pipeline's value, declaring or assigning its variables.
    fn pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> Result<Value> {
        let v = self.commands(dot, pipe)?;
        for d in &pipe.decl {
            if pipe.is_assign {
                self.set_var(d, v.clone());
            } else {
                self.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn commands(&mut self, dot: &Value, pipe: &'a Pipe) -> Result<Value> {
        let mut last = None;
        for cmd in &pipe.cmds {
            last = Some(self.command(dot, cmd, last)?);
        }
        Ok(last.unwrap_or(Value::NoValue))
    }

    fn not_a_function(&self, cmd: &Cmd, fin: &Option<Value>) -> Result<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return Err(self.fail(
                cmd.pos,
                cmd,
                format!("can't give argument to non-function {}", cmd.args[0]),
            ));
        }
        Ok(())
    }

    fn command(&mut self, dot: &Value, cmd: &'a Cmd, fin: Option<Value>) -> Result<Value> {
        let rest = &cmd.args[1..];
        match &cmd.args[0] {
            Arg::Field(fs) => self.field_chain(dot, cmd, dot.clone(), fs, rest, fin),
            Arg::Variable(name, fs) => {
                let v = self.var(name);
                if fs.is_empty() {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                self.field_chain(dot, cmd, v, fs, rest, fin)
            }
            Arg::Chain(inner, fs) => {
                if matches!(**inner, Arg::Nil) {
                    return Err(self.fail(cmd.pos, cmd, "indirection through explicit nil"));
                }
                let recv = self.arg(dot, cmd, inner)?;
                self.field_chain(dot, cmd, recv, fs, rest, fin)
            }
            Arg::Ident(name) => self.function(dot, cmd, name, rest, fin),
            Arg::Pipe(p) => {
                self.not_a_function(cmd, &fin)?;
                self.pipeline(dot, p)
            }
            Arg::Nil => Err(self.fail(cmd.pos, cmd, "nil is not a command")),
            lit => {
                self.not_a_function(cmd, &fin)?;
                self.arg(dot, cmd, lit)
            }
        }
    }

    fn field_chain(
        &mut self,
        dot: &Value,
        cmd: &'a Cmd,
        mut recv: Value,
        fields: &[String],
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> Result<Value> {
        let n = fields.len();
        for f in &fields[..n - 1] {
            recv = self.field(dot, cmd, f, recv, &[], None)?;
        }
        self.field(dot, cmd, &fields[n - 1], recv, args, fin)
    }

    fn field(
        &mut self,
        dot: &Value,
        cmd: &'a Cmd,
        name: &str,
        recv: Value,
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> Result<Value> {
        let has_args = !args.is_empty() || fin.is_some();
        match recv {
            Value::NoValue => match self.set.missing_key {
                MissingKey::Error => {
                    Err(self.fail(cmd.pos, cmd, format!("nil data; no entry for key {name:?}")))
                }
                _ => Ok(Value::NoValue),
            },
            Value::Object(o) => {
                let mut argv = self.args(dot, cmd, args)?;
                argv.extend(fin.clone());
                match o.method(name, &argv) {
                    Some(r) => r.map_err(|e| self.wrap(cmd, e, &format!("error calling {name}: "))),
                    None => self.field(dot, cmd, name, o.value(), args, fin),
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.fail(
                        cmd.pos,
                        cmd,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                match m.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => match self.set.missing_key {
                        MissingKey::Default => Ok(Value::NoValue),
                        MissingKey::Zero => Ok(Value::map_zero(&m)),
                        MissingKey::Error => Err(self.fail(
                            cmd.pos,
                            cmd,
                            format!("map has no entry for key {name:?}"),
                        )),
                    },
                }
            }
            Value::Nil => Err(self.fail(
                cmd.pos,
                cmd,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            other => Err(self.fail(
                cmd.pos,
                cmd,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn args(&mut self, dot: &Value, cmd: &'a Cmd, args: &'a [Arg]) -> Result<Vec<Value>> {
        args.iter().map(|a| self.arg(dot, cmd, a)).collect()
    }

    /// An argument's value; a missing value becomes nil, as Go passes it
    /// to a function's interface parameter.
    fn arg(&mut self, dot: &Value, cmd: &'a Cmd, arg: &'a Arg) -> Result<Value> {
        let v = match arg {
            Arg::Field(fs) => self.field_chain(dot, cmd, dot.clone(), fs, &[], None)?,
            Arg::Variable(name, fs) => {
                let v = self.var(name);
                if fs.is_empty() {
                    v
                } else {
                    self.field_chain(dot, cmd, v, fs, &[], None)?
                }
            }
            Arg::Chain(inner, fs) => {
                let recv = self.arg(dot, cmd, inner)?;
                self.field_chain(dot, cmd, recv, fs, &[], None)?
            }
            Arg::Pipe(p) => self.pipeline(dot, p)?,
            Arg::Ident(name) => self.function(dot, cmd, name, &[], None)?,
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i, _) => Value::Int(*i),
            Arg::Float(f, _) => Value::Float(*f),
            Arg::Str(s) => Value::String(s.clone()),
        };
        Ok(match v {
            Value::NoValue => Value::Nil,
            v => v,
        })
    }

    fn function(
        &mut self,
        dot: &Value,
        cmd: &'a Cmd,
        name: &str,
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> Result<Value> {
        if let Some(f) = self.set.funcs.get(name) {
            let mut argv = self.args(dot, cmd, args)?;
            argv.extend(fin);
            return f
                .call(&argv)
                .map_err(|e| self.wrap(cmd, e, &format!("error calling {name}: ")));
        }
        if name == "and" || name == "or" {
            if args.is_empty() && fin.is_none() {
                return Err(self.fail(
                    cmd.pos,
                    cmd,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut v = Value::Nil;
            for a in args {
                v = self.arg(dot, cmd, a)?;
                if v.truthy() == (name == "or") {
                    return Ok(v);
                }
            }
            return Ok(fin.unwrap_or(v));
        }
        let mut argv = self.args(dot, cmd, args)?;
        argv.extend(fin);
        match builtin::call(name, &argv) {
            Some(r) => r.map_err(|e| self.wrap(cmd, e, &format!("error calling {name}: "))),
            None => Err(self.fail(cmd.pos, cmd, format!("{name:?} is not a defined function"))),
        }
    }
}

/// Where `node` starts in the source, for errors (0 for text and the
/// loop controls, which have no position of their own).
fn node_pos(node: &Node) -> usize {
    match node {
        Node::Action(pipe) => pipe.pos,
        Node::If(c) | Node::Range(c) | Node::With(c) => c.pipe.pos,
        Node::Template { pos, .. } => *pos,
        Node::Text(_) | Node::Break | Node::Continue => 0,
    }
}
