//! Physical lines joined into entries: a Rust panic, a Python traceback
//! or a Java exception is one entry, not one per line.
//!
//! A [`Joiner`] holds the entry being built. A line either starts a new
//! entry (the held one is then complete) or is appended to the held one
//! with `\n`. Which, is decided by [`MultilineConfig::start_pattern`] when
//! set (a line that matches starts an entry, any other continues), and
//! otherwise by built-in rules: an indented or blank line continues, and
//! the shapes of panics, tracebacks and exceptions are followed (a
//! traceback's last, unindented `ValueError: boom` line and the
//! `Caused by:` of a Java exception continue too). The held entry is also
//! complete when no line came for [`MultilineConfig::max_wait`] (the
//! caller asks [`Joiner::deadline`] and calls [`Joiner::flush_due`]), or
//! when it reaches `max_lines` or `max_bytes`.
//!
//! Each line comes with a cursor (where the reader is after it), and each
//! joined entry carries the cursor of its last line: a caller that saves
//! the cursor of the last entry the store acknowledged resumes at the
//! start of the entry it still held, so nothing is lost or duplicated.

use std::time::Duration;

use regex::Regex;
use tokio::time::Instant;

use crate::Entry;

pub use steward_config::MultilineConfig;

/// A joined entry and the cursor after its last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined<C> {
    /// The entry: its first line's timestamp and its lines joined by `\n`
    /// (trailing blank lines dropped), without metadata.
    pub entry: Entry,
    /// The cursor that came with its last line.
    pub cursor: C,
}

/// Where the built-in rules are within a multi-line shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// An ordinary line: indented and blank lines continue it.
    Plain,
    /// `thread '...' panicked at ...`; `message` while the line after a
    /// header ending in `:` (Rust 1.73's format) is still to come.
    Panic { message: bool },
    /// Within a Python traceback's frames: the next unindented line is
    /// the exception.
    Frames,
    /// After a traceback's exception line: a chained traceback may follow.
    Raised,
    /// After `During handling of the above exception...`: the next
    /// traceback belongs to this entry.
    Chained,
    /// A Java exception: `at` frames, `Caused by:`, `... N more`.
    Java,
}

/// The entry being built.
#[derive(Debug)]
struct Held<C> {
    entry: Entry,
    lines: usize,
    cursor: C,
    last_at: Instant,
}

/// Joins lines into entries; see the module's documentation.
#[derive(Debug)]
pub struct Joiner<C> {
    start: Option<Regex>,
    max_wait: Duration,
    max_lines: usize,
    max_bytes: usize,
    shape: Shape,
    held: Option<Held<C>>,
}

impl<C> Joiner<C> {
    /// A joiner with `config`; an error when its start pattern is not a
    /// valid regular expression.
    pub fn new(config: &MultilineConfig) -> Result<Self, regex::Error> {
        let start = config
            .start_pattern
            .as_deref()
            .map(Regex::new)
            .transpose()?;
        Ok(Joiner {
            start,
            max_wait: config.max_wait.get(),
            max_lines: usize::try_from(config.max_lines)
                .unwrap_or(usize::MAX)
                .max(1),
            max_bytes: usize::try_from(config.max_bytes.bytes())
                .unwrap_or(usize::MAX)
                .max(1),
            shape: Shape::Plain,
            held: None,
        })
    }

    /// Takes one line (without its newline) read at `ts` (ns since the
    /// epoch), with the cursor after it; entries it completes are pushed
    /// to `out` (at most two: the held one, and this line's when it alone
    /// reaches a limit).
    pub fn push(&mut self, ts: i64, line: &str, cursor: C, out: &mut Vec<Joined<C>>) {
        let now = Instant::now();
        // asked even with nothing held: after a cut at a limit, the shape
        // (a traceback's frames, say) still decides what the line is
        let continues = self.continues(line);
        if let Some(held) = &mut self.held {
            let fits = held.entry.line.len() + 1 + line.len() <= self.max_bytes;
            if continues && fits {
                held.entry.line.push('\n');
                held.entry.line.push_str(line);
                held.lines += 1;
                held.cursor = cursor;
                held.last_at = now;
                if held.lines >= self.max_lines {
                    // the shape is kept: what follows still continues it
                    out.extend(self.take());
                }
                return;
            }
            out.extend(self.take());
        }
        if !continues {
            self.shape = self.start_shape(line);
        }
        self.held = Some(Held {
            entry: Entry::new(ts, line),
            lines: 1,
            cursor,
            last_at: now,
        });
        if self.max_lines <= 1 || line.len() >= self.max_bytes {
            out.extend(self.take());
        }
    }

    /// When the held entry is complete if no line comes: `max_wait` after
    /// its last line. `None` when no entry is held.
    pub fn deadline(&self) -> Option<Instant> {
        self.held.as_ref().map(|held| held.last_at + self.max_wait)
    }

    /// The held entry if its [`deadline`](Self::deadline) is at or before
    /// `now`.
    pub fn flush_due(&mut self, now: Instant) -> Option<Joined<C>> {
        match self.deadline() {
            Some(deadline) if deadline <= now => self.flush(),
            _ => None,
        }
    }

    /// The held entry, whatever its age (the source ended, say). What
    /// comes next starts afresh: a pause ends a multi-line shape.
    pub fn flush(&mut self) -> Option<Joined<C>> {
        self.shape = Shape::Plain;
        self.take()
    }

    /// Whether an entry is held.
    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }

    fn take(&mut self) -> Option<Joined<C>> {
        let mut held = self.held.take()?;
        // blank lines continue an entry in case more of it follows (a
        // chained traceback); at its end they carry nothing
        let kept = held.entry.line.trim_end_matches('\n').len();
        held.entry.line.truncate(kept);
        Some(Joined {
            entry: held.entry,
            cursor: held.cursor,
        })
    }

    /// Whether `line` continues the held entry (and the shape it leaves).
    fn continues(&mut self, line: &str) -> bool {
        if let Some(start) = &self.start {
            return !start.is_match(line);
        }
        let indented = line.starts_with([' ', '\t']);
        let blank = line.trim().is_empty();
        let (continues, next) = match self.shape {
            Shape::Plain => (indented || blank, Shape::Plain),
            Shape::Panic { message } => {
                let own =
                    message && !blank || line.starts_with("note: ") || line == "stack backtrace:";
                (own || indented || blank, Shape::Panic { message: false })
            }
            Shape::Frames => {
                if indented || blank {
                    (true, Shape::Frames)
                } else {
                    // the exception that ends the traceback: `ValueError: boom`
                    (!is_start(line), Shape::Raised)
                }
            }
            Shape::Raised | Shape::Chained => {
                if line.starts_with("During handling of the above exception")
                    || line.starts_with("The above exception was the direct cause")
                {
                    (true, Shape::Chained)
                } else if self.shape == Shape::Chained
                    && line.starts_with("Traceback (most recent call last):")
                {
                    (true, Shape::Frames)
                } else {
                    (indented || blank, self.shape)
                }
            }
            Shape::Java => {
                let own = line.starts_with("Caused by: ")
                    || line.starts_with("Suppressed: ")
                    || line.trim_start().starts_with("... ");
                (own || indented || blank, Shape::Java)
            }
        };
        if continues {
            self.shape = next;
        }
        continues
    }

    /// The shape an entry starting with `line` has.
    fn start_shape(&self, line: &str) -> Shape {
        if self.start.is_some() {
            Shape::Plain
        } else if is_panic(line) {
            Shape::Panic {
                message: line.ends_with(':'),
            }
        } else if line.starts_with("Traceback (most recent call last):") {
            Shape::Frames
        } else if line.starts_with("Exception in thread \"") || is_java_exception(line) {
            Shape::Java
        } else {
            Shape::Plain
        }
    }
}

/// Whether `line` is the first line of a panic, traceback or exception.
fn is_start(line: &str) -> bool {
    is_panic(line)
        || line.starts_with("Traceback (most recent call last):")
        || line.starts_with("Exception in thread \"")
}

/// `thread 'main' panicked at src/main.rs:2:5:` (and the older
/// `thread 'main' panicked at 'boom', src/main.rs:2:5`).
fn is_panic(line: &str) -> bool {
    line.starts_with("thread '") && line.contains("' panicked at ")
}

/// A Java exception's header without a thread: `java.lang.IllegalStateException: boom`,
/// a qualified class name ending in `Exception`, `Error` or `Throwable`.
fn is_java_exception(line: &str) -> bool {
    let class = line.split_once(':').map_or(line, |(class, _)| class);
    class.contains('.')
        && class
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$'))
        && ["Exception", "Error", "Throwable"]
            .iter()
            .any(|end| class.ends_with(end))
}

#[cfg(test)]
mod tests;
