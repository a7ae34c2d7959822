//! Label matchers (`name="v"`, `!=`, `=~`, `!~`) as the store applies them.
//!
//! Regular expressions are fully anchored, as in Prometheus: `job=~"api"`
//! matches only `api`, never `api-2`. A missing label matches as the empty
//! string, so `foo=""` selects series without `foo`.

use regex::Regex;

use crate::{Error, Labels, Result};

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// A matcher; regex patterns are compiled (anchored) here.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?s:{value})$")).map_err(|e| Error::InvalidRegex {
                    label: name.clone(),
                    pattern: value.clone(),
                    reason: e.to_string(),
                })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name,
            op,
            value,
            regex,
        })
    }

    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            regex: None,
        }
    }

    /// A matcher with a regular expression compiled by the caller (anchored
    /// already): the PromQL engine compiles selectors as Prometheus 2 does,
    /// where `.` does not match a newline. For `Equal`/`NotEqual` the
    /// regex is ignored.
    pub fn with_regex(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
        regex: Regex,
    ) -> Self {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(regex),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Self {
            name: name.into(),
            op,
            value: value.into(),
            regex,
        }
    }

    /// Whether `value` (empty when the label is missing) matches.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => self.value == value,
            (MatchOp::NotEqual, _) => self.value != value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // new() always compiles the regex of a regex matcher
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether the matcher matches the empty string (and so series that
    /// lack the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Whether a series with `labels` is selected by this matcher.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }
}

/// Whether every matcher selects `labels`.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_missing_is_empty() {
        let m = Matcher::new(MatchOp::Regex, "job", "api").unwrap();
        assert!(m.matches("api"));
        assert!(!m.matches("api-2"));
        let l = Labels::from_pairs([("job", "x")]);
        assert!(Matcher::equal("foo", "").matches_labels(&l));
        assert!(!Matcher::equal("job", "").matches_labels(&l));
        assert!(
            Matcher::new(MatchOp::NotRegex, "a", "b|c")
                .unwrap()
                .matches_labels(&l)
        );
    }

    #[test]
    fn bad_regex_names_label_and_pattern() {
        let e = Matcher::new(MatchOp::Regex, "job", "(")
            .unwrap_err()
            .to_string();
        assert!(e.contains("job") && e.contains("\"(\""), "{e}");
    }
}
