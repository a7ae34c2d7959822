//! Template function sets: Go's builtins, and the sets Prometheus and
//! Alertmanager add, plus helpers for writing functions.

pub mod alertmanager;
pub(crate) mod builtin;
pub mod prometheus;

use crate::{Error, Result, Value};

/// Checks a function got exactly `n` arguments.
pub fn expect_args(args: &[Value], n: usize) -> Result<()> {
    if args.len() != n {
        return Err(Error::func(format!(
            "wrong number of args: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

/// Argument `i` as a string, with Go's message when it is not one.
pub fn str_arg(args: &[Value], i: usize) -> Result<&str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(Error::func(format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        ))),
        None => Err(Error::func(format!("missing argument {}", i + 1))),
    }
}

/// The text Go's `html`, `js` and `urlquery` work on: a lone string
/// argument as is, anything else as `fmt.Sprint` prints it.
pub(crate) fn text_of(args: &[Value]) -> String {
    match args {
        [Value::String(s)] => s.clone(),
        _ => crate::gofmt::sprint(args),
    }
}
