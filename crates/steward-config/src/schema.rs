//! Checks a located tree against the JSON Schema derived from the model
//! types, reporting every unknown key, type mismatch, missing key and
//! out-of-range value at once. Serde alone stops at the first problem and
//! cannot name the valid keys; the schema knows both.

use serde_json::{Map, Value as Json};

use crate::{
    diagnostic::{Origin, Sink, nearest},
    node::{Entry, Node, Segment, Value},
};

/// A JSON Schema (as produced by schemars) and the checks over it.
pub(crate) struct Schema {
    root: Json,
}

/// Formats a path as `services[0].health.interval`.
pub(crate) fn display_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    if out.is_empty() {
        "the top level".to_owned()
    } else {
        out
    }
}

impl Schema {
    pub(crate) fn new(root: Json) -> Self {
        Schema { root }
    }

    /// The root schema.
    pub(crate) fn root(&self) -> &Json {
        &self.root
    }

    /// Follows `$ref` (and single-branch `anyOf` wrappers that schemars
    /// emits for `Option<T>`) to the schema that describes the value.
    pub(crate) fn resolve<'s>(&'s self, mut schema: &'s Json) -> &'s Json {
        loop {
            if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
                let pointer = reference.trim_start_matches('#');
                match self.root.pointer(pointer) {
                    Some(target) => {
                        schema = target;
                        continue;
                    }
                    None => return schema,
                }
            }
            if let Some(branches) = non_null_branches(schema)
                && branches.len() == 1
            {
                schema = branches[0];
                continue;
            }
            return schema;
        }
    }

    /// The schema of property `key` of an object schema, and whether the
    /// object is a free map (keys are data, not field names).
    pub(crate) fn property<'s>(&'s self, schema: &'s Json, key: &str) -> Option<(&'s Json, bool)> {
        let schema = self.resolve(schema);
        if let Some(found) = schema.get("properties").and_then(|props| props.get(key)) {
            return Some((found, false));
        }
        match schema.get("additionalProperties") {
            Some(additional) if additional.is_object() => {
                Some((additional, schema.get("properties").is_none()))
            }
            _ => None,
        }
    }

    /// Whether `schema` describes a table whose keys are data (a map).
    pub(crate) fn is_map(&self, schema: &Json) -> bool {
        let schema = self.resolve(schema);
        schema.get("properties").is_none()
            && schema
                .get("additionalProperties")
                .is_some_and(Json::is_object)
    }

    /// The item schema of an array schema.
    pub(crate) fn items<'s>(&'s self, schema: &'s Json) -> Option<&'s Json> {
        self.resolve(schema).get("items")
    }

    /// Checks `node` against `schema`, coercing values that came from
    /// environment variables (always strings) into the expected type.
    ///
    /// Returns whether the node is usable. Unusable parts (unknown keys,
    /// values of the wrong type) are pruned from the tree, so that the rest
    /// can still be deserialized and validated and the user sees every
    /// problem in one run.
    pub(crate) fn check(
        &self,
        node: &mut Node,
        schema: &Json,
        path: &mut Vec<Segment>,
        sink: &mut Sink<'_>,
    ) -> bool {
        let schema = self.resolve(schema);
        if let Some(branches) = non_null_branches(schema) {
            return self.check_union(node, &branches, path, sink);
        }
        let mut usable = true;
        if let Some(all) = schema.get("allOf").and_then(Json::as_array) {
            for branch in all {
                usable &= self.check(node, branch, path, sink);
            }
        }
        let Some(expected) = primary_type(schema) else {
            return usable;
        };
        coerce_env_value(node, expected);
        let valid = match (expected, &mut node.value) {
            ("object", Value::Table(entries)) => {
                self.check_table(entries, &node.origin, schema, path, sink)
            }
            ("array", Value::Array(items)) => {
                if let Some(item_schema) = schema.get("items") {
                    let mut index = 0;
                    items.retain_mut(|item| {
                        path.push(Segment::Index(index));
                        let keep = self.check(item, item_schema, path, sink);
                        path.pop();
                        index += 1;
                        keep
                    });
                }
                true
            }
            ("string", Value::String(text)) => check_string(text, &node.origin, schema, path, sink),
            // TOML datetimes (freeze windows) are RFC 3339 strings to serde.
            ("string", Value::Datetime(_))
                if schema.get("format").and_then(Json::as_str) == Some("date-time") =>
            {
                true
            }
            ("integer", Value::Integer(number)) => {
                check_range(*number as f64, &node.origin, schema, path, sink)
            }
            ("number", Value::Integer(number)) => {
                check_range(*number as f64, &node.origin, schema, path, sink)
            }
            ("number", Value::Float(number)) => {
                check_range(*number, &node.origin, schema, path, sink)
            }
            ("boolean", Value::Boolean(_)) => true,
            (expected, found) => {
                let found = found.type_name();
                sink.error(
                    &node.origin,
                    format!(
                        "`{}` must be {}, found {found}",
                        display_path(path),
                        article(expected)
                    ),
                    description(schema),
                );
                false
            }
        };
        usable && valid
    }

    fn check_table(
        &self,
        entries: &mut Vec<Entry>,
        origin: &Origin,
        schema: &Json,
        path: &mut Vec<Segment>,
        sink: &mut Sink<'_>,
    ) -> bool {
        let properties = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        let written: Vec<String> = entries.iter().map(|entry| entry.key.clone()).collect();
        entries.retain_mut(|entry| {
            path.push(Segment::Key(entry.key.clone()));
            let keep = match properties.and_then(|props| props.get(&entry.key)) {
                Some(property) => self.check(&mut entry.node, property, path, sink),
                None => match additional {
                    Some(additional) if additional.is_object() => {
                        self.check(&mut entry.node, additional, path, sink)
                    }
                    Some(Json::Bool(false)) => {
                        let known = properties
                            .map(Map::keys)
                            .into_iter()
                            .flatten()
                            .map(String::as_str);
                        let hint = match nearest(&entry.key, known) {
                            Some(candidate) => Some(format!("did you mean `{candidate}`?")),
                            None => properties.map(|props| {
                                let names: Vec<String> =
                                    props.keys().map(|k| format!("`{k}`")).collect();
                                format!("valid keys here: {}", names.join(", "))
                            }),
                        };
                        path.pop();
                        sink.error(
                            &entry.key_origin,
                            format!("unknown key `{}` in {}", entry.key, display_path(path)),
                            hint,
                        );
                        return false;
                    }
                    _ => true,
                },
            };
            path.pop();
            keep
        });
        let mut complete = true;
        for required in schema
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let Some(required) = required.as_str() else {
                continue;
            };
            if !entries.iter().any(|entry| entry.key == required) {
                complete = false;
                if written.iter().any(|key| key == required) {
                    continue; // present but invalid, reported already
                }
                let hint = properties
                    .and_then(|props| props.get(required))
                    .and_then(|property| {
                        description(property).or_else(|| description(self.resolve(property)))
                    });
                sink.error(
                    origin,
                    format!(
                        "missing required key `{required}` in {}",
                        display_path(path)
                    ),
                    hint,
                );
            }
        }
        complete
    }

    /// Checks a value against alternatives: string constants (enums with
    /// documented variants) are checked as one set; other unions pass when
    /// any branch passes.
    fn check_union(
        &self,
        node: &mut Node,
        branches: &[&Json],
        path: &mut Vec<Segment>,
        sink: &mut Sink<'_>,
    ) -> bool {
        let constants: Option<Vec<&str>> = branches
            .iter()
            .map(|branch| {
                let branch = self.resolve(branch);
                branch
                    .get("const")
                    .and_then(Json::as_str)
                    .map(|c| vec![c])
                    .or_else(|| {
                        branch
                            .get("enum")
                            .and_then(Json::as_array)
                            .map(|values| values.iter().filter_map(Json::as_str).collect())
                    })
            })
            .collect::<Option<Vec<Vec<&str>>>>()
            .map(|sets| sets.into_iter().flatten().collect());
        if let Some(allowed) = constants {
            return check_enum(node, &allowed, path, sink);
        }
        if let Some((tag, tags)) = self.discriminator(branches)
            && let Value::Table(entries) = &node.value
        {
            // a tagged union: the tag picks the branch, whose own
            // problems are the ones worth reporting
            match entries.iter().find(|entry| entry.key == tag) {
                Some(entry) => {
                    let Value::String(value) = &entry.node.value else {
                        path.push(Segment::from(tag));
                        let checked = check_enum(&entry.node, &tags, path, sink);
                        path.pop();
                        return checked;
                    };
                    match tags.iter().position(|t| t == value) {
                        Some(index) => return self.check(node, branches[index], path, sink),
                        None => {
                            path.push(Segment::from(tag));
                            let checked = check_enum(&entry.node, &tags, path, sink);
                            path.pop();
                            return checked;
                        }
                    }
                }
                None => {
                    sink.error(
                        &node.origin,
                        format!("missing required key `{tag}` in {}", display_path(path)),
                        Some(format!("one of {}", quoted_list(&tags))),
                    );
                    return false;
                }
            }
        }
        let mut first_failure = None;
        for branch in branches {
            let mut trial = node.clone();
            let mut scratch = sink.scratch();
            self.check(&mut trial, branch, path, &mut scratch);
            if !scratch.has_errors() {
                *node = trial;
                return true;
            }
            first_failure.get_or_insert(scratch.diagnostics);
        }
        sink.diagnostics.extend(first_failure.unwrap_or_default());
        false
    }
}

impl Schema {
    /// The property that tells the branches of a union apart, when each
    /// branch is a table that fixes it to its own constant (serde's
    /// internally tagged enums): its name and each branch's value.
    fn discriminator<'s>(&'s self, branches: &[&'s Json]) -> Option<(&'s str, Vec<&'s str>)> {
        let first = self.resolve(branches.first()?);
        let properties = first.get("properties").and_then(Json::as_object)?;
        properties.keys().find_map(|name| {
            let tags: Option<Vec<&str>> = branches
                .iter()
                .map(|branch| {
                    let property = self.resolve(branch).get("properties")?.get(name.as_str())?;
                    let property = self.resolve(property);
                    property.get("const").and_then(Json::as_str).or_else(|| {
                        match property.get("enum").and_then(Json::as_array)?.as_slice() {
                            [only] => only.as_str(),
                            _ => None,
                        }
                    })
                })
                .collect();
            tags.map(|tags| (name.as_str(), tags))
        })
    }
}

/// The branches of an `anyOf`/`oneOf`, without the `null` branch that
/// stands for an absent optional value (TOML has no null).
fn non_null_branches(schema: &Json) -> Option<Vec<&Json>> {
    let branches = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Json::as_array)?;
    Some(
        branches
            .iter()
            .filter(|branch| branch.get("type").and_then(Json::as_str) != Some("null"))
            .collect(),
    )
}

/// The schema's type, ignoring `null` in type lists.
fn primary_type(schema: &Json) -> Option<&str> {
    match schema.get("type")? {
        Json::String(name) => Some(name.as_str()),
        Json::Array(names) => names
            .iter()
            .filter_map(Json::as_str)
            .find(|name| *name != "null"),
        _ => None,
    }
    .or_else(|| schema.get("properties").map(|_| "object"))
}

fn article(type_name: &str) -> &'static str {
    match type_name {
        "object" => "a table",
        "array" => "an array",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        _ => "a value",
    }
}

/// The first sentence of a schema's description, as a hint.
fn description(schema: &Json) -> Option<String> {
    let text = schema.get("description").and_then(Json::as_str)?;
    let first = text.split("\n\n").next().unwrap_or(text).replace('\n', " ");
    let first = first.trim().trim_end_matches('.');
    let mut chars = first.chars();
    let lowered = match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => return None,
    };
    Some(format!("expected {lowered}"))
}

fn check_enum(node: &Node, allowed: &[&str], path: &[Segment], sink: &mut Sink<'_>) -> bool {
    match &node.value {
        Value::String(text) if allowed.contains(&text.as_str()) => return true,
        Value::String(text) => {
            let hint = match nearest(text, allowed.iter().copied()) {
                Some(candidate) => format!("did you mean `{candidate}`?"),
                None => format!("expected one of {}", quoted_list(allowed)),
            };
            sink.error(
                &node.origin,
                format!("`{}` has unknown value `{text}`", display_path(path)),
                Some(hint),
            );
        }
        other => sink.error(
            &node.origin,
            format!(
                "`{}` must be a string, found {}",
                display_path(path),
                other.type_name()
            ),
            Some(format!("expected one of {}", quoted_list(allowed))),
        ),
    }
    false
}

fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_string(
    text: &str,
    origin: &Origin,
    schema: &Json,
    path: &[Segment],
    sink: &mut Sink<'_>,
) -> bool {
    if let Some(allowed) = schema.get("enum").and_then(Json::as_array) {
        let allowed: Vec<&str> = allowed.iter().filter_map(Json::as_str).collect();
        return check_enum(
            &Node::new(Value::String(text.to_owned()), origin.clone()),
            &allowed,
            path,
            sink,
        );
    }
    if let Some(pattern) = schema.get("pattern").and_then(Json::as_str)
        && let Ok(regex) = regex::Regex::new(pattern)
        && !regex.is_match(text)
    {
        sink.error(
            origin,
            format!("`{}` has invalid value `{text}`", display_path(path)),
            description(schema),
        );
        return false;
    }
    true
}

fn check_range(
    number: f64,
    origin: &Origin,
    schema: &Json,
    path: &[Segment],
    sink: &mut Sink<'_>,
) -> bool {
    let bound = |key: &str| schema.get(key).and_then(Json::as_f64);
    let (minimum, maximum) = match (bound("minimum"), bound("maximum")) {
        (min, None) => (min, format_maximum(schema)),
        bounds => bounds,
    };
    let shown = |n: f64| {
        if n.fract() == 0.0 {
            format!("{}", n as i64)
        } else {
            n.to_string()
        }
    };
    if let Some(minimum) = minimum
        && number < minimum
    {
        sink.error(
            origin,
            format!(
                "`{}` is {}, below the minimum {}",
                display_path(path),
                shown(number),
                shown(minimum)
            ),
            None,
        );
        return false;
    }
    if let Some(maximum) = maximum
        && number > maximum
    {
        sink.error(
            origin,
            format!(
                "`{}` is {}, above the maximum {}",
                display_path(path),
                shown(number),
                shown(maximum)
            ),
            None,
        );
        return false;
    }
    true
}

/// The maximum implied by an integer `format` when schemars gives none.
fn format_maximum(schema: &Json) -> Option<f64> {
    match schema.get("format").and_then(Json::as_str)? {
        "uint8" => Some(u8::MAX.into()),
        "uint16" => Some(u16::MAX.into()),
        "uint32" => Some(u32::MAX.into()),
        "int32" => Some(i32::MAX.into()),
        _ => None,
    }
}

/// Environment overrides arrive as strings; give them the type the schema
/// expects, parsing arrays, tables, numbers and booleans as TOML values.
fn coerce_env_value(node: &mut Node, expected: &str) {
    let (Origin::Env(var), Value::String(raw)) = (&node.origin, &node.value) else {
        return;
    };
    if expected == "string" {
        return;
    }
    if let Ok(parsed) = raw.trim().parse::<toml_edit::Value>() {
        let mut value = crate::node::value_from_toml(&parsed);
        relabel(&mut value, var);
        node.value = value;
    }
}

/// Gives every node under an overridden value the override's origin.
fn relabel(value: &mut Value, var: &str) {
    match value {
        Value::Array(items) => {
            for item in items {
                item.origin = Origin::Env(var.to_owned());
                relabel(&mut item.value, var);
            }
        }
        Value::Table(entries) => {
            for entry in entries {
                entry.key_origin = Origin::Env(var.to_owned());
                entry.node.origin = Origin::Env(var.to_owned());
                relabel(&mut entry.node.value, var);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
