//! Label matchers as Alertmanager 0.25 parses, prints and applies them
//! (`pkg/labels`): `name op value` with `=`, `!=`, `=~` and `!~`, values
//! quoted or not, several matchers in `{...}` separated by commas; regular
//! expressions anchored at both ends; a missing label matches as the
//! empty string.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::{Error, Result};

/// An alert's labels (or annotations): name to value, in name order.
pub type LabelSet = BTreeMap<String, String>;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`: equal to the value.
    Equal,
    /// `!=`: not equal to the value.
    NotEqual,
    /// `=~`: the whole value matches the regular expression.
    Regexp,
    /// `!~`: the whole value does not match the regular expression.
    NotRegexp,
}

impl MatchType {
    /// The operator as written: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }

    /// Whether it is `!=` or `!~`.
    pub fn is_negative(self) -> bool {
        matches!(self, MatchType::NotEqual | MatchType::NotRegexp)
    }

    /// Whether it is `=~` or `!~`.
    pub fn is_regex(self) -> bool {
        matches!(self, MatchType::Regexp | MatchType::NotRegexp)
    }
}

/// One matcher: a label name, an operator and a value (a regular
/// expression for `=~` and `!~`).
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label's name.
    pub name: String,
    /// The operator.
    pub kind: MatchType,
    /// The value or the regular expression as written.
    pub value: String,
    /// The expression anchored at both ends, for `=~` and `!~`.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A matcher; an error when a regular expression does not compile.
    pub fn new(name: impl Into<String>, kind: MatchType, value: impl Into<String>) -> Result<Self> {
        let (name, value) = (name.into(), value.into());
        let regex = match kind.is_regex() {
            true => Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                Error::BadMatcher(format!(
                    "invalid regular expression {value:?}: {}",
                    regex_error(&value, &e)
                ))
            })?),
            false => None,
        };
        Ok(Matcher {
            name,
            kind,
            value,
            regex,
        })
    }

    /// Whether `value` (the label's value, empty when missing) matches.
    pub fn matches(&self, value: &str) -> bool {
        match (&self.regex, self.kind) {
            (_, MatchType::Equal) => value == self.value,
            (_, MatchType::NotEqual) => value != self.value,
            (Some(re), MatchType::Regexp) => re.is_match(value),
            (Some(re), MatchType::NotRegexp) => !re.is_match(value),
            (None, _) => false,
        }
    }

    /// Whether the label set's value of this matcher's label matches.
    pub fn matches_labels(&self, labels: &LabelSet) -> bool {
        self.matches(labels.get(&self.name).map_or("", String::as_str))
    }
}

/// `name="value"` with the value quoted and `\`, `"` and newlines escaped
/// (Alertmanager's `Matcher.String`).
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped = self
            .value
            .replace('\\', r"\\")
            .replace('"', r#"\""#)
            .replace('\n', r"\n");
        write!(f, "{}{}\"{escaped}\"", self.name, self.kind.as_str())
    }
}

/// A regular expression's error on one line, worded as Go's
/// (``error parsing regexp: <what>: `<expression>` ``): Rust's syntax
/// errors span several lines, which an API's JSON string or a CLI's
/// message should not.
pub fn regex_error(pattern: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let what = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(&text);
    format!(
        "error parsing regexp: {}: `{pattern}`",
        what.trim_start_matches("error: ")
    )
}

/// Matchers that must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Whether every matcher matches `labels` (true when there are none).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches_labels(labels))
    }

    /// Parses Alertmanager's matcher list: `{a="1", b=~"x|y"}`, braces
    /// optional, commas inside quotes kept.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.strip_prefix('{').unwrap_or(text);
        let text = text.strip_suffix('}').unwrap_or(text);
        let mut tokens = Vec::new();
        let mut token = String::new();
        let (mut quoted, mut escaped) = (false, false);
        for c in text.chars() {
            match c {
                ',' if !quoted => {
                    tokens.push(std::mem::take(&mut token));
                    continue;
                }
                '"' if !escaped => quoted = !quoted,
                '"' => escaped = false,
                '\\' => escaped = !escaped,
                _ => escaped = false,
            }
            token.push(c);
        }
        if !token.trim().is_empty() {
            tokens.push(token);
        }
        tokens
            .iter()
            .map(|t| parse_matcher(t))
            .collect::<Result<_>>()
            .map(Matchers)
    }
}

impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

static MATCHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$")
        .expect("a valid expression")
});

/// One matcher, `name op value`, the value quoted or not, as Alertmanager
/// 0.25's `ParseMatcher` reads it (its error messages included).
pub fn parse_matcher(text: &str) -> Result<Matcher> {
    let caps = MATCHER
        .captures(text)
        .ok_or_else(|| Error::BadMatcher(format!("bad matcher format: {text}")))?;
    let kind = match &caps[2] {
        "=" => MatchType::Equal,
        "!=" => MatchType::NotEqual,
        "=~" => MatchType::Regexp,
        _ => MatchType::NotRegexp,
    };
    let raw = &caps[3];
    let (body, mut expect_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    let last = body.char_indices().last().map_or(0, |(i, _)| i);
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            }
            continue;
        }
        match c {
            '\\' if i < last => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_quote || i < last {
                    return Err(Error::BadMatcher(format!(
                        "matcher value contains unescaped double quote: {raw}"
                    )));
                }
                expect_quote = false;
            }
            other => value.push(other),
        }
    }
    if expect_quote {
        return Err(Error::BadMatcher(format!(
            "matcher value contains unescaped double quote: {raw}"
        )));
    }
    Matcher::new(&caps[1], kind, value)
}

#[cfg(test)]
mod tests;
