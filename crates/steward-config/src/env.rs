//! The environment's part in configuration: `STEWARD_<SECTION>__<KEY>`
//! overrides and `${ENV_VAR}` references in string values.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::{
    diagnostic::Sink,
    node::{Entry, Node, Origin, Value},
    schema::Schema,
};

/// Prefix of override variables; `__` separates the levels after it.
const PREFIX: &str = "STEWARD_";

/// A snapshot of environment variables, so that loading is deterministic
/// and testable without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The current process environment (variables that are not valid
    /// Unicode are skipped).
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars_os()
                .filter_map(|(key, value)| {
                    Some((key.into_string().ok()?, value.into_string().ok()?))
                })
                .collect(),
        }
    }

    /// A value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Override variables: those that start with `STEWARD_` and contain
    /// `__` (plain `STEWARD_SERVER` or `STEWARD_TOKEN` are CLI settings).
    fn overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars
            .iter()
            .filter(|(name, _)| name.starts_with(PREFIX) && name.contains("__"))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Environment {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// Applies every override variable to the tree. Keys are matched in lower
/// case except inside maps such as `env`, where the key is data; elements
/// of `services` and `databases` are selected by name (`_` for `-`).
pub(crate) fn apply_overrides(
    tree: &mut Node,
    env: &Environment,
    schema: &Schema,
    sink: &mut Sink<'_>,
) {
    for (var, value) in env.overrides() {
        let segments: Vec<&str> = var[PREFIX.len()..].split("__").collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            sink.error(
                &Origin::Env(var.to_owned()),
                "override variable has an empty segment",
                Some("write STEWARD_<SECTION>__<KEY>, e.g. STEWARD_SERVER__LISTEN".to_owned()),
            );
            continue;
        }
        apply_one(tree, schema.root(), schema, &segments, var, value, sink);
    }
}

fn apply_one(
    node: &mut Node,
    node_schema: &Json,
    schema: &Schema,
    segments: &[&str],
    var: &str,
    value: &str,
    sink: &mut Sink<'_>,
) {
    let origin = Origin::Env(var.to_owned());
    let Some((segment, rest)) = segments.split_first() else {
        return;
    };
    // Arrays of named tables: select the element by its `name`.
    if let Value::Array(items) = &mut node.value {
        let wanted = segment.to_ascii_lowercase().replace('_', "-");
        let found = items.iter_mut().find(|item| {
            matches!(item.entry("name").map(|e| &e.node.value), Some(Value::String(name)) if *name == wanted)
        });
        match (found, schema.items(node_schema)) {
            (Some(item), Some(item_schema)) => {
                apply_one(item, item_schema, schema, rest, var, value, sink);
            }
            _ => sink.error(
                &origin,
                format!("override names `{wanted}`, but no entry has that name"),
                Some(
                    "entries of `services` and `databases` are selected by their `name`".to_owned(),
                ),
            ),
        }
        return;
    }
    let key = if schema.is_map(node_schema) {
        (*segment).to_owned()
    } else {
        segment.to_ascii_lowercase()
    };
    let child_schema = schema.property(node_schema, &key).map(|(child, _)| child);
    if !matches!(node.value, Value::Table(_)) {
        node.value = Value::Table(Vec::new());
        node.origin = origin.clone();
    }
    let Value::Table(entries) = &mut node.value else {
        unreachable!("just made a table")
    };
    let index = match entries.iter().position(|entry| entry.key == key) {
        Some(index) => index,
        None => {
            entries.push(Entry {
                key: key.clone(),
                key_origin: origin.clone(),
                node: Node::new(Value::Table(Vec::new()), origin.clone()),
            });
            entries.len() - 1
        }
    };
    let entry = &mut entries[index];
    if rest.is_empty() {
        entry.key_origin = origin.clone();
        entry.node = Node::new(Value::String(value.to_owned()), origin);
        return;
    }
    match child_schema {
        Some(child_schema) => apply_one(
            &mut entry.node,
            child_schema,
            schema,
            rest,
            var,
            value,
            sink,
        ),
        // Unknown key: build the path anyway so that the schema check
        // reports it with the variable's name and the nearest valid key.
        None => apply_one(&mut entry.node, &Json::Null, schema, rest, var, value, sink),
    }
}

/// Replaces `${NAME}` references in every string with the variable's value;
/// `$${` stands for a literal `${`. Unset variables are errors.
pub(crate) fn interpolate(node: &mut Node, env: &Environment, sink: &mut Sink<'_>) {
    match &mut node.value {
        Value::String(text) if text.contains("${") => match expand(text, env) {
            Ok(expanded) => *text = expanded,
            Err(message) => sink.error(
                &node.origin,
                message,
                Some(
                    "set the variable in steward's environment, or write `$${` for a literal `${`"
                        .to_owned(),
                ),
            ),
        },
        Value::Array(items) => {
            for item in items {
                interpolate(item, env, sink);
            }
        }
        Value::Table(entries) => {
            for entry in entries {
                interpolate(&mut entry.node, env, sink);
            }
        }
        _ => {}
    }
}

fn expand(text: &str, env: &Environment) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| "unterminated `${` reference".to_owned())?;
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{name}}}` is not a valid environment variable reference"
                ));
            }
            let value = env
                .get(name)
                .ok_or_else(|| format!("environment variable `{name}` is not set"))?;
            out.push_str(value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
