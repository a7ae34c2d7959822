//! The checks every push passes whatever its format, and the merging of
//! streams with the same labels.

use std::collections::HashMap;

use steward_metrics::Labels;

use super::Limits;
use crate::{Entry, PushStream};

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The label set of a stream from its pairs (`path` names them in
/// errors). Pairs with an empty value are absent labels, as in Prometheus.
pub(crate) fn labels<N: AsRef<str>, V: AsRef<str>>(
    pairs: &[(N, V)],
    path: &str,
    limits: &Limits,
) -> Result<Labels, String> {
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !is_label_name(name) {
            return Err(format!(
                "{path}: label name {:?} is not valid: use [a-zA-Z_][a-zA-Z0-9_]*",
                shorten(name)
            ));
        }
        if name.len() > limits.max_label_name_bytes {
            return Err(format!(
                "{path}: label name {:?} of {} bytes is longer than the limit of {} bytes",
                shorten(name),
                name.len(),
                limits.max_label_name_bytes
            ));
        }
        if value.len() > limits.max_label_value_bytes {
            return Err(format!(
                "{path}: value of label {name:?} of {} bytes is longer than the limit of {} bytes",
                value.len(),
                limits.max_label_value_bytes
            ));
        }
    }
    let labels = Labels::from_pairs(pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref())));
    if labels.is_empty() {
        return Err(format!("{path}: a stream needs at least one label"));
    }
    if labels.len() > limits.max_labels_per_stream {
        return Err(format!(
            "{path}: {} labels are more than the limit of {}",
            labels.len(),
            limits.max_labels_per_stream
        ));
    }
    Ok(labels)
}

/// Checks an entry's line and structured metadata (`path` names the entry
/// in errors; a function, as it is only needed for an error and a push
/// holds many thousands of entries).
pub(crate) fn entry(
    entry: &Entry,
    path: impl Fn() -> String,
    limits: &Limits,
) -> Result<(), String> {
    if entry.line.len() > limits.max_line_bytes {
        return Err(format!(
            "{}: line of {} bytes is longer than the limit of {} bytes",
            path(),
            entry.line.len(),
            limits.max_line_bytes
        ));
    }
    if entry.metadata.len() > limits.max_metadata_entries {
        return Err(format!(
            "{}: {} structured metadata fields are more than the limit of {}",
            path(),
            entry.metadata.len(),
            limits.max_metadata_entries
        ));
    }
    let mut bytes = 0;
    for (name, value) in &entry.metadata {
        if !is_label_name(name) {
            return Err(format!(
                "{}: structured metadata name {:?} is not valid: use [a-zA-Z_][a-zA-Z0-9_]*",
                path(),
                shorten(name)
            ));
        }
        bytes += name.len() + value.len();
    }
    if bytes > limits.max_metadata_bytes {
        return Err(format!(
            "{}: structured metadata of {bytes} bytes is larger than the limit of {} bytes",
            path(),
            limits.max_metadata_bytes
        ));
    }
    Ok(())
}

/// At most 64 characters of `s`, to quote it in a message.
fn shorten(s: &str) -> &str {
    s.char_indices().nth(64).map_or(s, |(i, _)| &s[..i])
}

/// Streams with the same labels merged into one (entries in the order
/// given), in the order their labels first came; streams without entries
/// left out.
pub(crate) fn merge(streams: impl IntoIterator<Item = (Labels, Vec<Entry>)>) -> Vec<PushStream> {
    let mut out: Vec<PushStream> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (labels, entries) in streams {
        if entries.is_empty() {
            continue;
        }
        match index.get(&labels) {
            Some(&i) => out[i].entries.extend(entries),
            None => {
                index.insert(labels.clone(), out.len());
                out.push(PushStream { labels, entries });
            }
        }
    }
    out
}
