//! Everything the binary prints: tables for people, JSON for scripts, and
//! error lines. The one module allowed to write to stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use comfy_table::{ContentArrangement, Table, presets::NOTHING};
use serde::Serialize;
use steward_core::Event;

/// Writes a line to stdout and flushes. A closed pipe (`steward ... | head`)
/// ends the process quietly, as it would for any Unix filter, instead of
/// panicking the way `println!` does.
fn out(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = writeln!(out, "{text}").and_then(|()| out.flush())
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Prints a value as pretty JSON.
pub(crate) fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => out(&text),
        Err(err) => error(&format!("cannot encode output as JSON: {err}")),
    }
}

/// Prints a value as one line of JSON and flushes, for streams.
pub(crate) fn json_line<T: Serialize>(value: &T) {
    if let Ok(text) = serde_json::to_string(value) {
        out(&text);
    }
}

/// Prints a line.
pub(crate) fn line(text: &str) {
    out(text);
}

/// Writes text to stderr. A failed write is ignored rather than a panic
/// (what `eprintln!` does): after its terminal closed, `steward up` must
/// still shut down gracefully while its messages go nowhere.
fn err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// Prints an error line to stderr.
pub(crate) fn error(message: &str) {
    err(&format!("error: {message}\n"));
}

/// Prints pre-rendered error text to stderr.
pub(crate) fn error_raw(text: &str) {
    err(text);
}

/// Prints a note to stderr (messages that are not the command's result).
pub(crate) fn note(message: &str) {
    err(&format!("{message}\n"));
}

/// Stdout as a writer, for library code that prints its own output
/// (promtool's of `rules test`): each write is flushed, so progress shows
/// as it happens and interleaves with [`Stderr`] as written, and a closed
/// pipe ends the process quietly as [`line`] does.
pub(crate) struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = std::io::stdout().lock();
        match out.write_all(buf).and_then(|()| out.flush()) {
            Ok(()) => Ok(buf.len()),
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(err) => Err(err),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stderr as a writer, for library code that prints its own output: a
/// failed write is ignored, as [`note`] ignores it.
pub(crate) struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(buf).and_then(|()| err.flush());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A borderless table with a header row.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}

/// Prints a table.
pub(crate) fn print_table(table: &Table) {
    // comfy-table pads every cell, the first one too; trim for tidy output.
    for row in table.to_string().lines() {
        out(row.trim_end().strip_prefix(' ').unwrap_or(row.trim_end()));
    }
}

/// A time, shortened to seconds.
pub(crate) fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional value, or `-`.
pub(crate) fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// One journal event as a table row.
pub(crate) fn event_row(event: &Event) -> Vec<String> {
    vec![
        event.id.to_string(),
        timestamp(&event.time),
        event.kind.to_string(),
        or_dash(event.service.as_ref()),
        event.actor.to_string(),
        event.severity.to_string(),
        event.summary.clone(),
    ]
}

/// Header of [`event_row`] tables.
pub(crate) const EVENT_HEADER: [&str; 7] = [
    "ID", "TIME", "KIND", "SERVICE", "ACTOR", "SEVERITY", "SUMMARY",
];

/// One journal event as a single line, for following.
pub(crate) fn event_line(event: &Event) -> String {
    let row = event_row(event);
    format!(
        "{} {} {:<24} {:<14} {:<16} {:<8} {}",
        row[0], row[1], row[2], row[3], row[4], row[5], row[6]
    )
}
