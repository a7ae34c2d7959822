//! The environment's part in configuration: `STEWARD_<SECTION>__<KEY>`
//! overrides and `${ENV_VAR}` references in string values.
//!
//! References are for secrets, so they are expanded only where steward
//! keeps the value secret (service `env` values, database and state URLs:
//! the fields of type `Secret`); anywhere else the expanded value would be
//! shown by `steward status` and the API, so a reference there is an error
//! ([`check_references`]).

use std::collections::BTreeMap;

use serde_json::Value as Json;
use steward_core::REDACTED;

use crate::{
    diagnostic::{Origin, Sink},
    node::{Entry, Node, Value},
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

/// A string in which `${NAME}` references were expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// Where the string is written.
    origin: Origin,
    /// The first variable it names.
    name: String,
}

/// Replaces `${NAME}` references in every string with the variable's value;
/// `$${` stands for a literal `${`. Unset variables are errors. Returns the
/// strings that had references, for [`check_references`].
pub(crate) fn interpolate(
    node: &mut Node,
    env: &Environment,
    sink: &mut Sink<'_>,
) -> Vec<Reference> {
    let mut references = Vec::new();
    interpolate_into(node, env, sink, &mut references);
    references
}

fn interpolate_into(
    node: &mut Node,
    env: &Environment,
    sink: &mut Sink<'_>,
    references: &mut Vec<Reference>,
) {
    match &mut node.value {
        Value::String(text) if text.contains("${") => match expand_names(text, env) {
            Ok((expanded, names)) => {
                *text = expanded;
                if let Some(name) = names.into_iter().next() {
                    references.push(Reference {
                        origin: node.origin.clone(),
                        name,
                    });
                }
            }
            Err(message) => {
                sink.error(
                    &node.origin,
                    message,
                    Some(
                        "set the variable in steward's environment, or write `$${` for a literal `${`"
                            .to_owned(),
                    ),
                );
                // Also checked for its place: setting the variable would
                // not make a reference outside `env` and URLs acceptable.
                if let Some(name) = first_reference(text) {
                    references.push(Reference {
                        origin: node.origin.clone(),
                        name,
                    });
                }
            }
        },
        Value::Array(items) => {
            for item in items {
                interpolate_into(item, env, sink, references);
            }
        }
        Value::Table(entries) => {
            for entry in entries {
                interpolate_into(&mut entry.node, env, sink, references);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
fn expand(text: &str, env: &Environment) -> Result<String, String> {
    expand_names(text, env).map(|(expanded, _)| expanded)
}

/// The first well-formed reference's name in `text`, if any.
fn first_reference(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let name = &after[..after.find('}')?];
            return valid_name(name).then(|| name.to_owned());
        } else {
            rest = &rest[1..];
        }
    }
    None
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The text with its references expanded, and the names it referenced.
fn expand_names(text: &str, env: &Environment) -> Result<(String, Vec<String>), String> {
    let mut names = Vec::new();
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
            if !valid_name(name) {
                return Err(format!(
                    "`${{{name}}}` is not a valid environment variable reference"
                ));
            }
            let value = env
                .get(name)
                .ok_or_else(|| format!("environment variable `{name}` is not set"))?;
            out.push_str(value);
            names.push(name.to_owned());
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok((out, names))
}

/// Refuses references in strings that steward does not keep secret. A
/// field is secret when the configuration serializes it as the redaction
/// marker (`Secret` fields do), so the rule follows the model's types and
/// covers sections added later without a list to maintain. `config` is
/// the deserialized configuration serialized again; `tree` the checked
/// tree it was deserialized from, whose shape it shares.
pub(crate) fn check_references(
    tree: &Node,
    config: &Json,
    references: &[Reference],
    source: &str,
    sink: &mut Sink<'_>,
) {
    if references.is_empty() {
        return;
    }
    walk_references(tree, Some(config), references, source, sink);
}

fn walk_references(
    node: &Node,
    config: Option<&Json>,
    references: &[Reference],
    source: &str,
    sink: &mut Sink<'_>,
) {
    match &node.value {
        Value::String(_) => {
            let Some(reference) = references.iter().find(|r| r.origin == node.origin) else {
                return;
            };
            if config.and_then(Json::as_str) == Some(REDACTED) {
                return;
            }
            let name = &reference.name;
            sink.error(
                &narrow(&reference.origin, &format!("${{{name}}}"), source),
                format!(
                    "`${{{name}}}` is only expanded in `env` values and URLs, where steward keeps it secret"
                ),
                Some(format!(
                    "elsewhere `steward status` would show its value: pass it to the service through `[services.env]` \
                     (`{name} = \"${{{name}}}\"`) and read it there (hooks and check commands inherit steward's \
                     environment already); `$${{` writes a literal `${{`"
                )),
            );
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let child = config.and_then(|c| c.get(index));
                walk_references(item, child, references, source, sink);
            }
        }
        Value::Table(entries) => {
            for entry in entries {
                let child = config.and_then(|c| c.get(&entry.key));
                walk_references(&entry.node, child, references, source, sink);
            }
        }
        _ => {}
    }
}

/// The place of `needle` inside the string written at `origin`, so that
/// the diagnostic points at the reference rather than the whole string.
fn narrow(origin: &Origin, needle: &str, source: &str) -> Origin {
    if let Origin::File(span) = origin
        && let Some(written) = source.get(span.clone())
        && let Some(at) = written.find(needle)
    {
        let start = span.start + at;
        return Origin::File(start..start + needle.len());
    }
    origin.clone()
}

#[cfg(test)]
mod tests;
