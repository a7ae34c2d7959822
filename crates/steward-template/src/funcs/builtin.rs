//! Go text/template's builtin functions (`and` and `or` are in the
//! executor, since they evaluate their arguments lazily).

use std::fmt::Write as _;

use crate::funcs::{expect_args, str_arg, text_of};
use crate::gofmt::{sprint, sprintf, sprintln};
use crate::value::{equal, less};
use crate::{Error, Result, Value};

/// Names of the builtins, for the parser's "function not defined" check.
pub(crate) const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "call",
];

/// Calls builtin `name`; `None` when there is no such builtin.
pub(crate) fn call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    Some(match name {
        "not" => expect_args(args, 1).map(|()| Value::Bool(!args[0].truthy())),
        "len" => expect_args(args, 1).and_then(|()| args[0].len().map(|n| Value::Int(n as i64))),
        "index" => index(args),
        "slice" => slice(args),
        "print" => Ok(Value::String(sprint(args))),
        "println" => Ok(Value::String(sprintln(args))),
        "printf" => str_arg(args, 0).map(|f| Value::String(sprintf(f, &args[1..]))),
        "eq" => eq(args),
        "ne" => two(args)
            .and_then(|(a, b)| equal(a, b))
            .map(|b| Value::Bool(!b)),
        "lt" => two(args).and_then(|(a, b)| less(a, b)).map(Value::Bool),
        "le" => two(args)
            .and_then(|(a, b)| Ok(less(a, b)? || equal(a, b)?))
            .map(Value::Bool),
        "gt" => two(args)
            .and_then(|(a, b)| Ok(!(less(a, b)? || equal(a, b)?)))
            .map(Value::Bool),
        "ge" => two(args)
            .and_then(|(a, b)| less(a, b))
            .map(|b| Value::Bool(!b)),
        "html" => Ok(Value::String(html_escape(&text_of(args)))),
        "js" => Ok(Value::String(js_escape(&text_of(args)))),
        "urlquery" => Ok(Value::String(query_escape(&text_of(args)))),
        "call" => call_fn(args),
        _ => return None,
    })
}

fn two(args: &[Value]) -> Result<(&Value, &Value)> {
    expect_args(args, 2)?;
    Ok((&args[0], &args[1]))
}

fn eq(args: &[Value]) -> Result<Value> {
    let Some((first, rest)) = args.split_first() else {
        return Err(Error::func(
            "wrong number of args for eq: want at least 1 got 0",
        ));
    };
    if rest.is_empty() {
        return Err(Error::func("missing argument for comparison"));
    }
    for r in rest {
        if equal(first, r)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn int_index(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => Err(Error::func("cannot index slice/array with nil")),
        v => Err(Error::func(format!(
            "cannot index slice/array with type {}",
            v.type_name()
        ))),
    }
}

fn index(args: &[Value]) -> Result<Value> {
    let Some((item, keys)) = args.split_first() else {
        return Err(Error::func(
            "wrong number of args for index: want at least 1 got 0",
        ));
    };
    let mut item = item.resolved();
    for k in keys {
        item = match &item {
            Value::List(l) => {
                let i = int_index(k)?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| l.get(i))
                    .cloned()
                    .ok_or_else(|| Error::func(format!("index out of range: {i}")))?
            }
            Value::String(s) => {
                let i = int_index(k)?;
                let b = usize::try_from(i)
                    .ok()
                    .and_then(|i| s.as_bytes().get(i))
                    .ok_or_else(|| Error::func(format!("index out of range: {i}")))?;
                Value::Int(i64::from(*b))
            }
            Value::Map(m) => match k {
                Value::String(key) => m.get(key).cloned().unwrap_or_else(|| Value::map_zero(m)),
                Value::Nil => Value::map_zero(m),
                k => {
                    return Err(Error::func(format!(
                        "value has type {}; should be string",
                        k.type_name()
                    )));
                }
            },
            Value::Nil | Value::NoValue => return Err(Error::func("index of untyped nil")),
            v => {
                return Err(Error::func(format!(
                    "can't index item of type {}",
                    v.type_name()
                )));
            }
        }
        .resolved();
    }
    Ok(item)
}

fn slice(args: &[Value]) -> Result<Value> {
    let Some((item, idx)) = args.split_first() else {
        return Err(Error::func(
            "wrong number of args for slice: want at least 1 got 0",
        ));
    };
    let item = item.resolved();
    if idx.len() > 3 {
        return Err(Error::func(format!(
            "too many slice indexes: {}",
            idx.len()
        )));
    }
    let len = match &item {
        Value::String(s) => {
            if idx.len() == 3 {
                return Err(Error::func("cannot 3-index slice a string"));
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Nil | Value::NoValue => return Err(Error::func("slice of untyped nil")),
        v => {
            return Err(Error::func(format!(
                "can't slice item of type {}",
                v.type_name()
            )));
        }
    };
    let mut ix = [0usize, len, len];
    for (n, v) in idx.iter().enumerate() {
        let i = int_index(v)?;
        let i = usize::try_from(i)
            .ok()
            .filter(|&i| i <= len)
            .ok_or_else(|| Error::func(format!("index out of range: {i}")))?;
        ix[n] = i;
    }
    if ix[0] > ix[1] {
        return Err(Error::func(format!(
            "invalid slice index: {} > {}",
            ix[0], ix[1]
        )));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(Error::func(format!(
            "invalid slice index: {} > {}",
            ix[1], ix[2]
        )));
    }
    match item {
        Value::String(s) => s
            .get(ix[0]..ix[1])
            .map(Value::from)
            .ok_or_else(|| Error::func("slice splits a UTF-8 character")),
        Value::List(l) => Ok(Value::list(l[ix[0]..ix[1]].iter().cloned())),
        _ => Ok(Value::Nil),
    }
}

fn call_fn(args: &[Value]) -> Result<Value> {
    match args.split_first() {
        None => Err(Error::func(
            "wrong number of args for call: want at least 1 got 0",
        )),
        Some((Value::Func(f), rest)) => f.call(rest),
        Some((Value::Nil | Value::NoValue, _)) => Err(Error::func("call of nil")),
        Some((v, _)) => Err(Error::func(format!(
            "non-function of type {}",
            v.type_name()
        ))),
    }
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
