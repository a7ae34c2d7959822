//! The dynamic values templates work on: Go's `interface{}` reduced to the
//! kinds Prometheus and Alertmanager data contain, plus functions (for
//! `call`) and opaque objects (for method-like access such as
//! Alertmanager's `.Alerts.Firing`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::gofmt;
use crate::{Error, Result};

/// A value in a template's data, a variable or a function's argument or result.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's invalid value: the result of a missing map key. Prints as
    /// `<no value>`; passed to functions as [`Value::Nil`].
    NoValue,
    /// `nil`.
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (Go `int`).
    Int(i64),
    /// A float (Go `float64`).
    Float(f64),
    /// A string.
    String(String),
    /// A list (Go slice). Shared so that passing data around is cheap.
    List(Arc<Vec<Value>>),
    /// A map with string keys, iterated in key order as Go does.
    Map(Arc<BTreeMap<String, Value>>),
    /// A function value, invoked with the `call` builtin.
    Func(Function),
    /// An application-defined value with methods.
    Object(Arc<dyn Object>),
}

/// A function callable from templates: by name when registered in a
/// [`FuncMap`](crate::FuncMap), or with `call` when held in a [`Value::Func`].
pub type FuncFn = dyn Fn(&[Value]) -> Result<Value> + Send + Sync;

/// A shareable function.
#[derive(Clone)]
pub struct Function(pub Arc<FuncFn>);

impl Function {
    /// Wraps a closure.
    pub fn new(f: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static) -> Self {
        Function(Arc::new(f))
    }

    /// Calls the function.
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        (self.0)(args)
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Function")
    }
}

/// A value with Go-like methods: `.Name` on an object first tries
/// [`Object::method`], then falls back to field access on
/// [`Object::value`], which is also what the object prints, ranges and
/// compares as.
pub trait Object: fmt::Debug + Send + Sync {
    /// The Go type name shown in error messages.
    fn type_name(&self) -> &str;
    /// The plain value this object behaves as.
    fn value(&self) -> Value;
    /// Calls method `name`; `None` when there is no such method.
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value>>;
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::NoValue => f.write_str("NoValue"),
            Value::Nil => f.write_str("Nil"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Map(m) => f.debug_map().entries(m.iter()).finish(),
            Value::Func(_) => f.write_str("Func"),
            Value::Object(o) => write!(f, "Object({o:?})"),
        }
    }
}

/// Prints as Go's `fmt.Sprint` (`%v`) does.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::NoValue => f.write_str("<no value>"),
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&gofmt::format_g(*x, None, false)),
            Value::String(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{}", v.nested())?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{}", v.nested())?;
                }
                f.write_str("]")
            }
            // Go prints a func's address; there is nothing useful to show.
            Value::Func(_) => f.write_str("<func>"),
            Value::Object(o) => write!(f, "{}", o.value()),
        }
    }
}

impl Value {
    /// A list value.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Self {
        Value::List(Arc::new(items.into_iter().collect()))
    }

    /// A map value.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Map(Arc::new(
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }

    /// A string map value (such as a label set).
    pub fn string_map<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Value::map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into()))),
        )
    }

    /// The value inside nested containers, where a missing value prints as nil.
    fn nested(&self) -> &Value {
        match self {
            Value::NoValue => &Value::Nil,
            v => v,
        }
    }

    /// Resolves objects to the plain value they behave as.
    pub fn resolved(&self) -> Value {
        match self {
            Value::Object(o) => o.value().resolved(),
            v => v.clone(),
        }
    }

    /// Go's truth: false, 0, nil, empty string, list or map are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::NoValue | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(x) => *x != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Func(_) => true,
            Value::Object(o) => o.value().truthy(),
        }
    }

    /// The Go type name used in error messages and `%!verb(type=value)`.
    pub fn type_name(&self) -> String {
        match self {
            Value::NoValue | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Func(_) => "func".into(),
            Value::Object(o) => o.type_name().into(),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Go's `len`.
    pub fn len(&self) -> Result<usize> {
        match self.resolved() {
            Value::String(s) => Ok(s.len()),
            Value::List(l) => Ok(l.len()),
            Value::Map(m) => Ok(m.len()),
            v => Err(Error::func(format!("len of type {}", v.type_name()))),
        }
    }

    /// Whether [`Value::len`] is zero (or the value has no length).
    pub fn is_empty(&self) -> bool {
        self.len().map(|n| n == 0).unwrap_or(true)
    }

    /// The zero value Go's `index` returns for a missing key of this map:
    /// "" when every value is a string (Go's `map[string]string`, as label
    /// sets are), nil otherwise. A dynamic map has no element type, so this
    /// is inferred from the values.
    pub(crate) fn map_zero(m: &BTreeMap<String, Value>) -> Value {
        if !m.is_empty() && m.values().all(|v| matches!(v, Value::String(_))) {
            Value::String(String::new())
        } else {
            Value::Nil
        }
    }
}

/// Go's `eq` on two basic values.
pub(crate) fn equal(a: &Value, b: &Value) -> Result<bool> {
    let (a, b) = (a.resolved(), b.resolved());
    match (&a, &b) {
        (Value::Nil | Value::NoValue, Value::Nil | Value::NoValue) => Ok(true),
        (Value::Nil | Value::NoValue, _) | (_, Value::Nil | Value::NoValue) => Ok(false),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        (Value::Int(x), Value::Int(y)) => Ok(x == y),
        (Value::Float(x), Value::Float(y)) => Ok(x == y),
        (Value::String(x), Value::String(y)) => Ok(x == y),
        (Value::List(_) | Value::Map(_) | Value::Func(_), _)
        | (_, Value::List(_) | Value::Map(_) | Value::Func(_)) => Err(Error::func(format!(
            "non-comparable type {}",
            if matches!(a, Value::List(_) | Value::Map(_) | Value::Func(_)) {
                a.type_name()
            } else {
                b.type_name()
            }
        ))),
        _ => Err(Error::func("incompatible types for comparison")),
    }
}

/// Go's `lt` on two basic values.
pub(crate) fn less(a: &Value, b: &Value) -> Result<bool> {
    let (a, b) = (a.resolved(), b.resolved());
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        (
            Value::Int(_) | Value::Float(_) | Value::String(_),
            Value::Int(_) | Value::Float(_) | Value::String(_),
        ) => Err(Error::func("incompatible types for comparison")),
        _ => Err(Error::func("invalid type for comparison")),
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::list(a.into_iter().map(Value::from)),
            serde_json::Value::Object(o) => Value::map(o.into_iter().map(|(k, v)| (k, v.into()))),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Value::List(Arc::new(l))
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Self {
        Value::Map(Arc::new(m))
    }
}
