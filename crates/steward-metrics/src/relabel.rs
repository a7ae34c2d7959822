//! Prometheus relabelling (`relabel_configs`, `metric_relabel_configs`)
//! with Prometheus 2.42's semantics and validation messages.
//!
//! A [`RelabelConfig`] deserializes from TOML or YAML with Prometheus'
//! field names and defaults (`separator` ";", `regex` "(.*)", fully
//! anchored, `replacement` "$1", `action` replace) and is validated while
//! deserializing, so a loaded config is always applicable.

use std::sync::OnceLock;

use md5::{Digest, Md5};
use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

use crate::labels::LabelsBuilder;
use crate::{Error, Labels, Result};

/// What a relabel rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Sets `target_label` to `replacement` expanded with the regex's
    /// groups over the joined source values, when the regex matches.
    #[default]
    Replace,
    /// Drops the set unless the regex matches the joined source values.
    Keep,
    /// Drops the set if the regex matches the joined source values.
    Drop,
    /// Drops the set unless `target_label`'s value equals the joined
    /// source values.
    KeepEqual,
    /// Drops the set if `target_label`'s value equals the joined source
    /// values.
    DropEqual,
    /// Sets `target_label` to the md5 of the joined source values modulo
    /// `modulus`.
    HashMod,
    /// Copies every label whose name matches the regex to the name
    /// `replacement` expands to.
    LabelMap,
    /// Deletes every label whose name matches the regex.
    LabelDrop,
    /// Deletes every label whose name does not match the regex.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// The name as written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name, case-insensitively as Prometheus does.
    pub fn parse(s: &str) -> Result<Action> {
        const ALL: [Action; 11] = [
            Action::Replace,
            Action::Keep,
            Action::Drop,
            Action::KeepEqual,
            Action::DropEqual,
            Action::HashMod,
            Action::LabelMap,
            Action::LabelDrop,
            Action::LabelKeep,
            Action::Lowercase,
            Action::Uppercase,
        ];
        let lower = s.to_lowercase();
        ALL.into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| Error::InvalidRelabelConfig {
                reason: format!("unknown relabel action {s:?}"),
            })
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A relabel rule as written, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelabelSpec {
    /// Labels whose values are joined with `separator` into the value the
    /// regex is applied to.
    pub source_labels: Vec<String>,
    /// The separator of the joined source values.
    pub separator: String,
    /// The label an action writes; `replace` expands `$1`/`${name}` in it.
    pub target_label: String,
    /// The regular expression, anchored at both ends.
    pub regex: String,
    /// The modulus of `hashmod`.
    pub modulus: u64,
    /// The replacement of `replace` and `labelmap`.
    pub replacement: String,
    /// The action.
    pub action: Action,
}

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

impl Default for RelabelSpec {
    fn default() -> Self {
        Self {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            target_label: String::new(),
            regex: DEFAULT_REGEX.to_owned(),
            modulus: 0,
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
        }
    }
}

/// A validated relabel rule with its compiled regex.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RelabelSpec", into = "RelabelSpec")]
pub struct RelabelConfig {
    spec: RelabelSpec,
    regex: Regex,
}

impl PartialEq for RelabelConfig {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl TryFrom<RelabelSpec> for RelabelConfig {
    type Error = Error;
    fn try_from(spec: RelabelSpec) -> Result<Self> {
        RelabelConfig::new(spec)
    }
}

impl From<RelabelConfig> for RelabelSpec {
    fn from(c: RelabelConfig) -> Self {
        c.spec
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidRelabelConfig { reason }
}

/// Prometheus' `relabelTarget`: a label name where `$1`, `${1}`,
/// `${name}` may stand for parts.
fn relabel_target() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$").expect("a constant pattern")
    })
}

fn is_label_name(s: &str) -> bool {
    crate::exposition::is_label_name(s)
}

impl RelabelConfig {
    /// Validates `spec` as Prometheus 2.42 does and compiles its regex.
    pub fn new(spec: RelabelSpec) -> Result<Self> {
        let a = spec.action;
        let t = spec.target_label.as_str();
        if a == Action::HashMod && spec.modulus == 0 {
            return Err(invalid(
                "relabel configuration for hashmod requires non-zero modulus".to_owned(),
            ));
        }
        let needs_target = matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && t.is_empty() {
            return Err(invalid(format!(
                "relabel configuration for {a} action requires 'target_label' value"
            )));
        }
        let bad_target = || invalid(format!("{t:?} is invalid 'target_label' for {a} action"));
        if a == Action::Replace {
            let ok = if t.contains('$') {
                relabel_target().is_match(t)
            } else {
                is_label_name(t)
            };
            if !ok {
                return Err(bad_target());
            }
        }
        let case_or_equal = matches!(
            a,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if (case_or_equal || a == Action::HashMod) && !is_label_name(t) {
            return Err(bad_target());
        }
        if case_or_equal && spec.replacement != DEFAULT_REPLACEMENT {
            return Err(invalid(format!(
                "'replacement' can not be set for {a} action"
            )));
        }
        if a == Action::LabelMap && !relabel_target().is_match(&spec.replacement) {
            return Err(invalid(format!(
                "{:?} is invalid 'replacement' for {a} action",
                spec.replacement
            )));
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (spec.regex != DEFAULT_REGEX
                || spec.modulus != 0
                || spec.separator != DEFAULT_SEPARATOR
                || spec.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(invalid(format!(
                "{a} action requires only 'source_labels' and `target_label`, and no other fields"
            )));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (!spec.source_labels.is_empty()
                || !t.is_empty()
                || spec.modulus != 0
                || spec.separator != DEFAULT_SEPARATOR
                || spec.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(invalid(format!(
                "{a} action requires only 'regex', and no other fields"
            )));
        }
        let regex = Regex::new(&format!("^(?:{})$", spec.regex))
            .map_err(|e| invalid(format!("invalid regex {:?}: {e}", spec.regex)))?;
        Ok(Self { spec, regex })
    }

    /// The rule as written.
    pub fn spec(&self) -> &RelabelSpec {
        &self.spec
    }

    /// Applies the rule; false when it drops the set.
    fn apply(&self, b: &mut LabelsBuilder) -> bool {
        let s = &self.spec;
        let mut val = String::new();
        for (i, name) in s.source_labels.iter().enumerate() {
            if i > 0 {
                val.push_str(&s.separator);
            }
            val.push_str(b.get(name).unwrap_or(""));
        }
        match s.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => return b.get(&s.target_label).unwrap_or("") != val,
            Action::KeepEqual => return b.get(&s.target_label).unwrap_or("") == val,
            Action::Replace => {
                let Some(caps) = self.regex.captures(&val) else {
                    return true;
                };
                let target = go_expand(&self.regex, &caps, &s.target_label);
                // A target expanding to an invalid name is skipped, as
                // Prometheus does.
                if !is_label_name(&target) {
                    return true;
                }
                let value = go_expand(&self.regex, &caps, &s.replacement);
                // An empty value deletes the label (the builder's rule).
                b.set(target, value);
            }
            Action::Lowercase => {
                b.set(s.target_label.as_str(), val.to_lowercase());
            }
            Action::Uppercase => {
                b.set(s.target_label.as_str(), val.to_uppercase());
            }
            Action::HashMod => {
                let sum = Md5::digest(val.as_bytes());
                // Prometheus keeps the last 8 bytes, big-endian, so shards
                // stay where its earlier versions put them.
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&sum[8..16]);
                let m = u64::from_be_bytes(tail) % s.modulus.max(1);
                b.set(s.target_label.as_str(), m.to_string());
            }
            Action::LabelMap => {
                let snapshot: Vec<(String, String)> = b
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                for (name, value) in snapshot {
                    if let Some(caps) = self.regex.captures(&name) {
                        let new = go_expand(&self.regex, &caps, &s.replacement);
                        if !new.is_empty() {
                            b.set(new, value);
                        }
                    }
                }
            }
            Action::LabelDrop => {
                b.retain(|l| !self.regex.is_match(&l.name));
            }
            Action::LabelKeep => {
                b.retain(|l| self.regex.is_match(&l.name));
            }
        }
        true
    }
}

/// Go's `regexp.Expand`: `$1`, `${1}`, `$name`, `${name}` (the longest
/// run of letters, digits and `_` after `$`), `$$` for `$`; an unknown
/// group expands to nothing and a malformed reference stays literal.
pub fn go_expand(re: &Regex, caps: &Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (braced, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len: usize = body
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(body.len(), |(i, _)| i);
        let name = &body[..len];
        let closed = !braced || body[len..].starts_with('}');
        if name.is_empty() || !closed {
            out.push('$');
            continue;
        }
        rest = &body[len + usize::from(braced)..];
        let num = if name.len() <= 8
            && name.bytes().all(|c| c.is_ascii_digit())
            && !(name.len() > 1 && name.starts_with('0'))
        {
            name.parse::<usize>().ok()
        } else {
            None
        };
        let group = match num {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// Applies `configs` in order to `labels`; `None` when a rule drops the
/// set.
pub fn relabel(labels: &Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    let mut b = labels.builder();
    for c in configs {
        if !c.apply(&mut b) {
            return None;
        }
    }
    Some(b.build())
}

#[cfg(test)]
mod tests;
