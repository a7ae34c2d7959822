//! Migration versions: `1`, `1.2.3`, `20240101120000` or diesel's
//! `2019-08-14-123456`, compared segment by segment as numbers.

use std::{cmp::Ordering, fmt};

/// A migration version: its text as written and its numeric segments.
#[derive(Debug, Clone)]
pub struct MigrationVersion {
    text: String,
    /// Segments with trailing zeros removed, so `1.0` equals `1`.
    segments: Vec<Segment>,
}

/// A segment's digits without leading zeros (empty for zero). Compared
/// as a number of any size: a longer one is larger, then digit by digit;
/// so every string of digits is a segment (the API documents versions by
/// a pattern, and anything it matches parses).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Segment(String);

impl Segment {
    fn parse(digits: &str) -> Self {
        Segment(digits.trim_start_matches('0').to_owned())
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialOrd for Segment {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Segment {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl MigrationVersion {
    /// Parses a version: digits, separated by `.`, `_` or `-`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || !text.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut segments = Vec::new();
        for part in text.split(['.', '_', '-']) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            segments.push(Segment::parse(part));
        }
        while segments.len() > 1 && segments.last().is_some_and(Segment::is_zero) {
            segments.pop();
        }
        Some(MigrationVersion {
            text: text.to_owned(),
            segments,
        })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for MigrationVersion {
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments
    }
}

impl Eq for MigrationVersion {}

impl PartialOrd for MigrationVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MigrationVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.segments.cmp(&other.segments)
    }
}

impl std::hash::Hash for MigrationVersion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.segments.hash(state);
    }
}

impl fmt::Display for MigrationVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
