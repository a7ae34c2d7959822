//! The functions Alertmanager (0.25) offers notification templates
//! (`toUpper`, `toLower`, `title`, `join`, `match`, `safeHtml`,
//! `reReplaceAll`, `stringSlice`), and the methods of its data types:
//! label and annotation sets (`KV`: `.SortedPairs`, `.Names`, `.Values`,
//! `.Remove`), sorted pairs (`.Names`, `.Values`) and alert lists
//! (`.Firing`, `.Resolved`), provided as [`Object`]s by [`kv`], [`alerts`]
//! and [`wrap_data`].
//!
//! Times (`.StartsAt`, `.EndsAt`) stay the strings the data holds; Go's
//! `time.Time` methods are not offered.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::funcs::prometheus::title;
use crate::funcs::{expect_args, str_arg};
use crate::{Error, FuncMap, Function, Object, Result, Value};

/// Alertmanager's default template functions.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    let mut add = |name: &str, f: Function| {
        m.insert(name.to_owned(), f);
    };
    add("toUpper", Function::new(|a| one_str(a, str::to_uppercase)));
    add("toLower", Function::new(|a| one_str(a, str::to_lowercase)));
    add("title", Function::new(|a| one_str(a, title)));
    add("safeHtml", Function::new(|a| one_str(a, str::to_owned)));
    add(
        "join",
        Function::new(|a| {
            expect_args(a, 2)?;
            let sep = str_arg(a, 0)?;
            Ok(Value::String(strings(&a[1])?.join(sep)))
        }),
    );
    add(
        "match",
        Function::new(|a| {
            expect_args(a, 2)?;
            let re = regex::Regex::new(str_arg(a, 0)?)
                .map_err(|e| Error::func(format!("error parsing regexp: {e}")))?;
            Ok(Value::Bool(re.is_match(str_arg(a, 1)?)))
        }),
    );
    add(
        "reReplaceAll",
        Function::new(|a| {
            expect_args(a, 3)?;
            let re = regex::Regex::new(str_arg(a, 0)?)
                .map_err(|e| Error::func(format!("regexp: {e}")))?;
            Ok(re
                .replace_all(str_arg(a, 2)?, str_arg(a, 1)?)
                .into_owned()
                .into())
        }),
    );
    add(
        "stringSlice",
        Function::new(|a| {
            for i in 0..a.len() {
                str_arg(a, i)?;
            }
            Ok(Value::list(a.iter().cloned()))
        }),
    );
    m
}

fn one_str(a: &[Value], f: impl Fn(&str) -> String) -> Result<Value> {
    expect_args(a, 1)?;
    Ok(Value::String(f(str_arg(a, 0)?)))
}

/// A list of strings (Go's `[]string`).
fn strings(v: &Value) -> Result<Vec<String>> {
    match v.resolved() {
        Value::List(l) => l
            .iter()
            .map(|e| match e {
                Value::String(s) => Ok(s.clone()),
                e => Err(Error::func(format!(
                    "wrong type for value; expected []string; got element of type {}",
                    e.type_name()
                ))),
            })
            .collect(),
        Value::Nil => Ok(Vec::new()),
        v => Err(Error::func(format!(
            "wrong type for value; expected []string; got {}",
            v.type_name()
        ))),
    }
}

/// A label or annotation set with Alertmanager's `KV` methods.
pub fn kv(map: BTreeMap<String, Value>) -> Value {
    Value::Object(Arc::new(Kv(Arc::new(map))))
}

/// An alert list with `.Firing` and `.Resolved`.
pub fn alerts(list: Vec<Value>) -> Value {
    Value::Object(Arc::new(Alerts(Arc::new(list))))
}

#[derive(Debug)]
struct Kv(Arc<BTreeMap<String, Value>>);

impl Kv {
    /// Alertmanager sorts pairs by name, but puts `alertname` first.
    fn sorted_pairs(&self) -> Vec<(String, Value)> {
        let mut pairs: Vec<(String, Value)> =
            self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(i) = pairs.iter().position(|(k, _)| k == "alertname") {
            let p = pairs.remove(i);
            pairs.insert(0, p);
        }
        pairs
    }
}

impl Object for Kv {
    fn type_name(&self) -> &str {
        "template.KV"
    }

    fn value(&self) -> Value {
        Value::Map(self.0.clone())
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        let no_args = || expect_args(args, 0);
        Some(match name {
            "SortedPairs" => {
                no_args().map(|()| Value::Object(Arc::new(Pairs(self.sorted_pairs()))))
            }
            "Names" => no_args().map(|()| {
                Value::list(
                    self.sorted_pairs()
                        .into_iter()
                        .map(|(k, _)| Value::String(k)),
                )
            }),
            "Values" => {
                no_args().map(|()| Value::list(self.sorted_pairs().into_iter().map(|(_, v)| v)))
            }
            "Remove" => expect_args(args, 1).and_then(|()| {
                let drop = strings(&args[0])?;
                let kept = self
                    .0
                    .iter()
                    .filter(|(k, _)| !drop.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()));
                Ok(kv(kept.collect()))
            }),
            _ => return None,
        })
    }
}

#[derive(Debug)]
struct Pairs(Vec<(String, Value)>);

impl Object for Pairs {
    fn type_name(&self) -> &str {
        "template.Pairs"
    }

    fn value(&self) -> Value {
        Value::list(
            self.0.iter().map(|(k, v)| {
                Value::map([("Name", Value::String(k.clone())), ("Value", v.clone())])
            }),
        )
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        Some(match name {
            "Names" => expect_args(args, 0)
                .map(|()| Value::list(self.0.iter().map(|(k, _)| Value::String(k.clone())))),
            "Values" => {
                expect_args(args, 0).map(|()| Value::list(self.0.iter().map(|(_, v)| v.clone())))
            }
            _ => return None,
        })
    }
}

#[derive(Debug)]
struct Alerts(Arc<Vec<Value>>);

impl Alerts {
    fn with_status(&self, status: &str) -> Value {
        let is = |a: &Value| match a.resolved() {
            Value::Map(m) => m.get("Status").and_then(Value::as_str) == Some(status),
            _ => false,
        };
        alerts(self.0.iter().filter(|a| is(a)).cloned().collect())
    }
}

impl Object for Alerts {
    fn type_name(&self) -> &str {
        "template.Alerts"
    }

    fn value(&self) -> Value {
        Value::List(self.0.clone())
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        Some(match name {
            "Firing" => expect_args(args, 0).map(|()| self.with_status("firing")),
            "Resolved" => expect_args(args, 0).map(|()| self.with_status("resolved")),
            _ => return None,
        })
    }
}

/// Upper-cases the first letter of the webhook JSON's keys, which are
/// Alertmanager's Go field names in camel case.
fn go_name(k: &str) -> String {
    let mut c = k.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Turns notification data (as Alertmanager's webhook JSON or with Go's
/// field names) into what templates expect: Go field names, label and
/// annotation sets as `KV`s and `.Alerts` with `.Firing`/`.Resolved`.
pub fn wrap_data(data: &Value) -> Value {
    let Value::Map(m) = data else {
        return data.clone();
    };
    let out = m.iter().map(|(k, v)| {
        let k = go_name(k);
        let v = match (k.as_str(), v) {
            ("GroupLabels" | "CommonLabels" | "CommonAnnotations", Value::Map(m)) => {
                kv((**m).clone())
            }
            ("Alerts", Value::List(l)) => alerts(l.iter().map(wrap_alert).collect()),
            _ => v.clone(),
        };
        (k, v)
    });
    Value::map(out)
}

fn wrap_alert(a: &Value) -> Value {
    let Value::Map(m) = a else { return a.clone() };
    Value::map(m.iter().map(|(k, v)| {
        let k = go_name(k);
        let v = match (k.as_str(), v) {
            ("Labels" | "Annotations", Value::Map(m)) => kv((**m).clone()),
            _ => v.clone(),
        };
        (k, v)
    }))
}
