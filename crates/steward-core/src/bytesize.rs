//! Byte sizes written for humans (`256MiB`, `1.5GB`, `512M`), used for
//! memory limits and disk-space checks.

use std::{fmt, str::FromStr};

use crate::Error;

/// Suffixes and their multipliers. Bare `K`/`M`/`G`/`T` are binary, as in
/// Docker and Kubernetes memory limits.
const SUFFIXES: [(&str, u64); 13] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("K", 1 << 10),
    ("M", 1 << 20),
    ("G", 1 << 30),
    ("T", 1 << 40),
    ("B", 1),
];

/// A number of bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let err = |reason| Error::InvalidByteSize {
            value: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, suffix) = trimmed.split_at(split);
        let suffix = suffix.trim_start();
        let multiplier = if suffix.is_empty() {
            1
        } else {
            SUFFIXES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(suffix) && name.len() == suffix.len())
                .map(|(_, multiplier)| *multiplier)
                .ok_or_else(|| err("unknown unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB"))?
        };
        let value: f64 = number
            .parse()
            .map_err(|_| err("expected a number followed by a unit, e.g. `256MiB`"))?;
        let bytes = value * multiplier as f64;
        if !bytes.is_finite() || bytes > u64::MAX as f64 {
            return Err(err("too large"));
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const BINARY: [(&str, u64); 4] = [
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        for (unit, size) in BINARY {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        for (unit, size) in BINARY {
            if self.0 >= size {
                return write!(f, "{:.1}{unit}", self.0 as f64 / size as f64);
            }
        }
        write!(f, "{}B", self.0)
    }
}

crate::text_form::text_form!(
    ByteSize,
    schema = "ByteSize",
    pattern = "^[0-9]+(\\.[0-9]+)?\\s*([KMGT]i?B|[KMGT]|B)?$",
    description = "A size in bytes with a unit, e.g. `256MiB`, `1GB` or `512M`"
);

#[cfg(test)]
mod tests;
