//! The parser stages: `json`, `logfmt`, `pattern`, `regexp`, `unpack`.
//! Extracted names are sanitised as Loki does (characters outside
//! `[a-zA-Z0-9_]` become `_`, a leading digit gets a `_` prefix).

use regex::Regex;
use serde_json::Value as Json;

use super::LabelSet;
use crate::logql::ast::{JsonPath, JsonStep, PatternPart};

fn sanitize(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}

fn flatten(prefix: &str, obj: &serde_json::Map<String, Json>, labels: &mut LabelSet<'_>) {
    for (k, v) in obj {
        let name = if prefix.is_empty() {
            sanitize(k)
        } else {
            format!("{prefix}_{}", sanitize(k))
        };
        match v {
            Json::Object(inner) => flatten(&name, inner, labels),
            // arrays are not extracted without a path, as in Loki
            Json::Array(_) | Json::Null => {}
            v => {
                if let Some(s) = scalar(v) {
                    labels.set_extracted(&name, s);
                }
            }
        }
    }
}

/// `| json`: every scalar field, nested objects flattened with `_`; or,
/// with parameters, the value at each path (objects and arrays as JSON).
pub(crate) fn json(line: &str, params: &[(String, JsonPath)], labels: &mut LabelSet<'_>) {
    let obj = match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(obj)) => obj,
        Ok(_) => {
            labels.set_error("JSONParserErr", "not a JSON object".to_owned());
            return;
        }
        Err(e) => {
            labels.set_error("JSONParserErr", e.to_string());
            return;
        }
    };
    if params.is_empty() {
        flatten("", &obj, labels);
        return;
    }
    for (label, path) in params {
        let mut cur = obj.get(match path.steps.first() {
            Some(JsonStep::Key(k)) => k.as_str(),
            _ => "",
        });
        if !matches!(path.steps.first(), Some(JsonStep::Key(_))) {
            cur = None;
        }
        for step in path.steps.iter().skip(1) {
            cur = match (cur, step) {
                (Some(Json::Object(o)), JsonStep::Key(k)) => o.get(k),
                (Some(Json::Array(a)), JsonStep::Index(i)) => a.get(*i),
                _ => None,
            };
        }
        let value = match cur {
            Some(Json::Null) | None => String::new(),
            Some(v @ (Json::Object(_) | Json::Array(_))) => v.to_string(),
            Some(v) => scalar(v).unwrap_or_default(),
        };
        labels.set_extracted(label, value);
    }
}

/// Splits a logfmt line into key-value pairs.
fn logfmt_pairs(line: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            if chars[i] == '"' {
                return Err(format!(
                    "logfmt syntax error at pos {}: unexpected '\"'",
                    i + 1
                ));
            }
            i += 1;
        }
        if i == start {
            return Err(format!(
                "logfmt syntax error at pos {}: unexpected '='",
                i + 1
            ));
        }
        let key: String = chars[start..i].iter().collect();
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(format!(
                            "logfmt syntax error at pos {}: unterminated quoted value",
                            i + 1
                        ));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            value.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                        }
                        c => value.push(c),
                    }
                }
            } else {
                while i < chars.len() && !chars[i].is_whitespace() {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// `| logfmt`: every key, or with parameters only the keys named.
pub(crate) fn logfmt(line: &str, params: &[(String, String)], labels: &mut LabelSet<'_>) {
    let pairs = match logfmt_pairs(line) {
        Ok(p) => p,
        Err(e) => {
            labels.set_error("LogfmtParserErr", e);
            return;
        }
    };
    if params.is_empty() {
        for (k, v) in pairs {
            labels.set_extracted(&sanitize(&k), v);
        }
        return;
    }
    for (label, key) in params {
        if let Some((_, v)) = pairs.iter().rev().find(|(k, _)| k == key) {
            labels.set_extracted(label, v.clone());
        }
    }
}

/// `| pattern`: captures between literals; a leading literal anchors the
/// match at the start of the line; a last capture takes the rest. A line
/// that does not match extracts nothing.
pub(crate) fn pattern(line: &str, parts: &[PatternPart], labels: &mut LabelSet<'_>) {
    let mut pos = 0;
    let mut found: Vec<(&str, &str)> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        match &parts[i] {
            PatternPart::Literal(l) => {
                if !line[pos..].starts_with(l.as_str()) {
                    return;
                }
                pos += l.len();
                i += 1;
            }
            PatternPart::Capture(name) => {
                let (value, next) = match parts.get(i + 1) {
                    Some(PatternPart::Literal(l)) => match line[pos..].find(l.as_str()) {
                        Some(at) => (&line[pos..pos + at], pos + at + l.len()),
                        None => return,
                    },
                    _ => (&line[pos..], line.len()),
                };
                if let Some(name) = name {
                    found.push((name, value));
                }
                pos = next;
                i += 2;
            }
        }
    }
    for (name, value) in found {
        labels.set_extracted(name, value.to_owned());
    }
}

/// `| regexp`: the named groups of the first match.
pub(crate) fn regexp(line: &str, regex: &Regex, labels: &mut LabelSet<'_>) {
    let Some(caps) = regex.captures(line) else {
        return;
    };
    for name in regex.capture_names().flatten() {
        if let Some(m) = caps.name(name) {
            labels.set_extracted(&sanitize(name), m.as_str().to_owned());
        }
    }
}

/// `| unpack`: string fields of a JSON object become labels; `_entry`
/// is returned as the new line.
pub(crate) fn unpack(line: &str, labels: &mut LabelSet<'_>) -> Option<String> {
    let obj = match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(obj)) => obj,
        Ok(_) => {
            labels.set_error("JSONParserErr", "not a JSON object".to_owned());
            return None;
        }
        Err(e) => {
            labels.set_error("JSONParserErr", e.to_string());
            return None;
        }
    };
    let mut entry = None;
    for (k, v) in obj {
        if let Json::String(s) = v {
            if k == "_entry" {
                entry = Some(s);
            } else {
                labels.set_extracted(&sanitize(&k), s);
            }
        }
    }
    entry
}
