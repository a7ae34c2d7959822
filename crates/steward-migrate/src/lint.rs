//! Lint findings for migration SQL (being written).
