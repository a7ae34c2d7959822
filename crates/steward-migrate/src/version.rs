//! Migration versions: `1`, `1.2.3`, `20240101120000` or diesel's
//! `2019-08-14-123456`, compared segment by segment as numbers.

use std::{cmp::Ordering, fmt};

/// A migration version: its text as written and its numeric segments.
#[derive(Debug, Clone)]
pub struct MigrationVersion {
    text: String,
    /// Segments with trailing zeros removed, so `1.0` equals `1`.
    segments: Vec<u64>,
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
            segments.push(part.parse().ok()?);
        }
        while segments.len() > 1 && segments.last() == Some(&0) {
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
