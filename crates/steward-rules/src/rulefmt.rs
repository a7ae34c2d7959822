//! Prometheus rule files, read unchanged, and their validation as
//! `promtool check rules` does it.
//!
//! ```yaml
//! groups:
//!   - name: example
//!     interval: 30s      # default: the global evaluation interval
//!     limit: 10          # at most this many series or alerts per rule, 0: no limit
//!     rules:
//!       - record: job:up:sum
//!         expr: sum by (job) (up)
//!         labels: { team: a }
//!       - alert: Down
//!         expr: up == 0
//!         for: 5m
//!         keep_firing_for: 10m
//!         labels: { severity: page }
//!         annotations: { summary: "{{ $labels.instance }} is down" }
//! ```
//!
//! Problems are worded as promtool words them (`group "x", rule 2, "y":
//! invalid recording rule name: ...`) but without the line and column
//! promtool puts before a rule's problems: the YAML reader gives positions
//! for syntax errors only.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::expand::AnnotationExpander;
use crate::querier::{RuleQuerier, check_promql};
use crate::{Error, Result};

/// The content of one rule file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroups {
    /// The groups, in file order.
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

/// A group: rules evaluated in order, at one timestamp, at an interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    /// The group's name, unique in its file.
    #[serde(default)]
    pub name: String,
    /// How often the group is evaluated (default: the global interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<PromDuration>,
    /// The most series a recording rule or alerts an alerting rule may
    /// produce per evaluation (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: usize,
    /// The rules, evaluated in this order.
    #[serde(default)]
    pub rules: Vec<RuleNode>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One rule as written: exactly one of `record` and `alert` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleNode {
    /// The series name a recording rule writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The name of an alerting rule (its alerts' `alertname`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The expression (PromQL, or the language of the file's querier).
    #[serde(default)]
    pub expr: String,
    /// How long an alert stays pending before it fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<PromDuration>,
    /// How long an alert keeps firing after its condition cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<PromDuration>,
    /// Labels added to (or replacing those of) every result.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// An alert's annotations (templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl RuleNode {
    /// The rule's name: the alert's, else the recorded series'.
    pub fn name(&self) -> &str {
        match (&self.alert, &self.record) {
            (Some(a), _) if !a.is_empty() => a,
            (_, Some(r)) => r,
            _ => "",
        }
    }
}

/// Reads and validates the rule file at `path`.
pub fn parse_file(path: &Path, expander: &dyn AnnotationExpander) -> Result<RuleGroups> {
    parse_file_with(path, expander, None)
}

/// Reads and validates the rule file at `path`, its expressions in
/// `querier`'s language (PromQL when `None`).
pub fn parse_file_with(
    path: &Path,
    expander: &dyn AnnotationExpander,
    querier: Option<&dyn RuleQuerier>,
) -> Result<RuleGroups> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_str_with(&path.display().to_string(), &text, expander, querier)
}

/// Parses and validates a rule file's text; `file` names it in errors.
pub fn parse_str(file: &str, text: &str, expander: &dyn AnnotationExpander) -> Result<RuleGroups> {
    parse_str_with(file, text, expander, None)
}

/// As [`parse_str`], the expressions in `querier`'s language (PromQL
/// when `None`).
pub fn parse_str_with(
    file: &str,
    text: &str,
    expander: &dyn AnnotationExpander,
    querier: Option<&dyn RuleQuerier>,
) -> Result<RuleGroups> {
    // `Option` so that an empty file (no document) is a file without groups
    let groups = serde_yaml_ng::from_str::<Option<RuleGroups>>(text)
        .map_err(|e| Error::Invalid {
            errors: vec![format!("{file}: {e}")],
        })?
        .unwrap_or_default();
    let errors = validate_with(&groups, expander, querier);
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(Error::Invalid {
            errors: errors.into_iter().map(|e| format!("{file}: {e}")).collect(),
        })
    }
}

/// Every problem of a parsed file, in promtool's order and wording.
pub fn validate(groups: &RuleGroups, expander: &dyn AnnotationExpander) -> Vec<String> {
    validate_with(groups, expander, None)
}

/// As [`validate`], the expressions checked by `querier` (PromQL when
/// `None`).
pub fn validate_with(
    groups: &RuleGroups,
    expander: &dyn AnnotationExpander,
    querier: Option<&dyn RuleQuerier>,
) -> Vec<String> {
    let check = |expr: &str| match querier {
        Some(q) => q.check(expr),
        None => check_promql(expr),
    };
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in &groups.groups {
        if g.name.is_empty() {
            errs.push("Groupname must not be empty".to_string());
        }
        if !seen.insert(g.name.as_str()) {
            errs.push(format!(
                "groupname: \"{}\" is repeated in the same file",
                g.name
            ));
        }
        for (i, r) in g.rules.iter().enumerate() {
            for e in validate_rule(r, expander, &check) {
                errs.push(format!(
                    "group {:?}, rule {}, {:?}: {e}",
                    g.name,
                    i + 1,
                    r.name()
                ));
            }
        }
    }
    errs
}

fn validate_rule(
    r: &RuleNode,
    expander: &dyn AnnotationExpander,
    check: &dyn Fn(&str) -> std::result::Result<(), String>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let record = r.record.as_deref().unwrap_or("");
    let alert = r.alert.as_deref().unwrap_or("");
    if !record.is_empty() && !alert.is_empty() {
        errs.push("only one of 'record' and 'alert' must be set".into());
    }
    if record.is_empty() && alert.is_empty() {
        errs.push("one of 'record' or 'alert' must be set".into());
    }
    if r.expr.is_empty() {
        errs.push("field 'expr' must be set in rule".into());
    } else if let Err(e) = check(&r.expr) {
        errs.push(e);
    }
    if !record.is_empty() {
        if !r.annotations.is_empty() {
            errs.push("invalid field 'annotations' in recording rule".into());
        }
        if r.for_.is_some_and(|d| d.0 != 0) {
            errs.push("invalid field 'for' in recording rule".into());
        }
        if r.keep_firing_for.is_some_and(|d| d.0 != 0) {
            errs.push("invalid field 'keep_firing_for' in recording rule".into());
        }
        if !is_metric_name(record) {
            errs.push(format!("invalid recording rule name: {record}"));
        }
    }
    for name in r.labels.keys() {
        if !is_label_name(name) || name == "__name__" {
            errs.push(format!("invalid label name: {name}"));
        }
    }
    for name in r.annotations.keys() {
        if !is_label_name(name) {
            errs.push(format!("invalid annotation name: {name}"));
        }
    }
    // templates are only checked in alerting rules, as Prometheus does
    if !alert.is_empty() {
        let texts = (r.labels.iter().map(|(k, t)| ("label", k, t)))
            .chain(r.annotations.iter().map(|(k, t)| ("annotation", k, t)));
        for (kind, key, text) in texts {
            if let Err(e) = expander.check_syntax(text, alert) {
                errs.push(format!("{kind} {key:?}: {e}"));
            }
        }
    }
    errs
}

/// Whether `s` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `s` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
