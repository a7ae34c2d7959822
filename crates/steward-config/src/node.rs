//! A TOML tree that remembers where each key and value came from, so that
//! every later stage can point at the exact place of a problem.

use std::ops::Range;

use toml_edit::{ImDocument, InlineTable, Item, Table as TomlTable, Value as TomlValue};

use crate::{Diagnostic, Level, Location, diagnostic::Origin};

/// A value with its origin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

/// One key of a table, with the origin of the key itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_origin: Origin,
    pub(crate) node: Node,
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

impl Value {
    /// The TOML type name used in messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

impl Node {
    pub(crate) fn new(value: Value, origin: Origin) -> Self {
        Node { value, origin }
    }

    /// The entry for `key` if this node is a table that has it.
    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Table(entries) => entries.iter().find(|entry| entry.key == key),
            _ => None,
        }
    }

    /// The child at `segment`, if any.
    pub(crate) fn child(&self, segment: &Segment) -> Option<&Node> {
        match (segment, &self.value) {
            (Segment::Key(key), _) => self.entry(key).map(|entry| &entry.node),
            (Segment::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        }
    }

    /// Origin of the value at `path`, or of its nearest ancestor that is
    /// written somewhere when the value itself is not (it was defaulted).
    pub(crate) fn locate(&self, path: &[Segment]) -> &Origin {
        let mut node = self;
        let mut best = &self.origin;
        for segment in path {
            match node.child(segment) {
                Some(child) => {
                    node = child;
                    if child.origin != Origin::Unknown {
                        best = &child.origin;
                    }
                }
                None => break,
            }
        }
        best
    }

    /// Origin of the key at the end of `path` (for "unknown key" or
    /// "duplicate" messages that point at the key rather than its value).
    pub(crate) fn locate_key(&self, path: &[Segment]) -> &Origin {
        if let Some((Segment::Key(key), parent)) = path.split_last() {
            let mut node = self;
            for segment in parent {
                match node.child(segment) {
                    Some(child) => node = child,
                    None => return self.locate(path),
                }
            }
            if let Some(entry) = node.entry(key) {
                return &entry.key_origin;
            }
        }
        self.locate(path)
    }

    /// Converts the tree into JSON for serde deserialization.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::String(text) | Value::Datetime(text) => serde_json::Value::String(text.clone()),
            Value::Integer(number) => serde_json::Value::from(*number),
            Value::Float(number) => serde_json::Value::from(*number),
            Value::Boolean(flag) => serde_json::Value::Bool(*flag),
            Value::Array(items) => items.iter().map(Node::to_json).collect(),
            Value::Table(entries) => entries
                .iter()
                .map(|entry| (entry.key.clone(), entry.node.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// Parses TOML source into a located tree; a syntax error becomes a
/// diagnostic at its position.
pub(crate) fn parse(path: &str, source: &str) -> Result<Node, Diagnostic> {
    let document = ImDocument::parse(source).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        Diagnostic {
            level: Level::Error,
            message: format!("invalid TOML: {}", err.message().trim_end()),
            location: Location::in_file(path, source, span.start, span.end),
            hint: None,
        }
    })?;
    Ok(table_node(
        document.as_table(),
        origin(document.as_table().span()),
    ))
}

fn origin(span: Option<Range<usize>>) -> Origin {
    span.map_or(Origin::Unknown, Origin::File)
}

fn table_node(table: &TomlTable, table_origin: Origin) -> Node {
    let entries = table
        .iter()
        .filter_map(|(key, _)| {
            let (key_repr, item) = table.get_key_value(key)?;
            let key_origin = origin(key_repr.span());
            let node = item_node(item, &key_origin)?;
            Some(Entry {
                key: key.to_owned(),
                key_origin,
                node,
            })
        })
        .collect();
    Node::new(Value::Table(entries), table_origin)
}

fn inline_table_node(table: &InlineTable) -> Node {
    let entries = table
        .iter()
        .filter_map(|(key, _)| {
            let (key_repr, item) = table.get_key_value(key)?;
            Some(Entry {
                key: key.to_owned(),
                key_origin: origin(key_repr.span()),
                node: value_node(item.as_value()?),
            })
        })
        .collect();
    Node::new(Value::Table(entries), origin(table.span()))
}

/// An item's node; implicit tables without a header of their own borrow
/// the origin of the key that introduced them.
fn item_node(item: &Item, key_origin: &Origin) -> Option<Node> {
    match item {
        Item::None => None,
        Item::Value(value) => Some(value_node(value)),
        Item::Table(table) => {
            let table_origin = match table.span() {
                Some(span) => Origin::File(span),
                None => key_origin.clone(),
            };
            Some(table_node(table, table_origin))
        }
        Item::ArrayOfTables(array) => {
            let items = array
                .iter()
                .map(|table| table_node(table, origin(table.span())))
                .collect();
            Some(Node::new(Value::Array(items), key_origin.clone()))
        }
    }
}

/// The value of a parsed TOML value (origins inside it are file spans of
/// whatever text it was parsed from).
pub(crate) fn value_from_toml(value: &TomlValue) -> Value {
    value_node(value).value
}

fn value_node(value: &TomlValue) -> Node {
    let node_value = match value {
        TomlValue::String(text) => Value::String(text.value().clone()),
        TomlValue::Integer(number) => Value::Integer(*number.value()),
        TomlValue::Float(number) => Value::Float(*number.value()),
        TomlValue::Boolean(flag) => Value::Boolean(*flag.value()),
        TomlValue::Datetime(datetime) => Value::Datetime(datetime.value().to_string()),
        TomlValue::Array(array) => Value::Array(array.iter().map(value_node).collect()),
        TomlValue::InlineTable(table) => return inline_table_node(table),
    };
    Node::new(node_value, origin(value.span()))
}

#[cfg(test)]
mod tests;
