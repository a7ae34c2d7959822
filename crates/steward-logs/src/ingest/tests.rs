//! Tests of the entry points: content types, encodings, limits.
