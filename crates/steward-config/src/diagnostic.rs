//! Configuration diagnostics and their rendering with file:line:column and
//! the offending source line, in the style of compiler messages.

use std::{
    fmt::{self, Write as _},
    ops::Range,
};

use serde::Serialize;

/// Where a key or value of the configuration came from (what a
/// diagnostic points at once [`Sink::location`] resolves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A byte range of the configuration file.
    File(Range<usize>),
    /// An environment override.
    Env(String),
    /// Not written anywhere (an implied table, or a default).
    Unknown,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; the configuration is still usable.
    Warning,
    /// The configuration cannot be used.
    Error,
}

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A place in the configuration file (1-based line and column, byte range).
    File {
        /// The file as given by the user.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// Byte offset of the start.
        start: usize,
        /// Byte offset of the end.
        end: usize,
    },
    /// An environment variable that overrides the file.
    Env {
        /// The variable's name.
        var: String,
    },
    /// Nowhere in particular (e.g. a default value).
    Unknown,
}

impl Location {
    /// Computes line and column of a byte range in `source`.
    pub(crate) fn in_file(path: &str, source: &str, start: usize, end: usize) -> Self {
        let start = start.min(source.len());
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = source[line_start..start].chars().count() + 1;
        Location::File {
            path: path.to_owned(),
            line,
            column,
            start,
            end: end.max(start),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File {
                path, line, column, ..
            } => write!(f, "{path}:{line}:{column}"),
            Location::Env { var } => write!(f, "environment variable {var}"),
            Location::Unknown => f.write_str("(no location)"),
        }
    }
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// What is wrong, in one lowercase sentence.
    pub message: String,
    /// Where it is.
    pub location: Location,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

/// Every diagnostic of one configuration, with the source needed to show
/// the offending lines.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The configuration file as given by the user.
    pub path: String,
    /// All diagnostics, in source order.
    pub diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    source: String,
}

impl Report {
    pub(crate) fn new(path: String, source: String, mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| match &d.location {
            Location::File { start, .. } => (0, *start),
            Location::Env { .. } => (1, 0),
            Location::Unknown => (2, 0),
        });
        Report {
            path,
            diagnostics,
            source,
        }
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// Renders every diagnostic with its source line, then a summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            self.render_one(&mut out, diagnostic);
        }
        let (errors, warnings) = (self.error_count(), self.warning_count());
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        if errors > 0 {
            let _ = writeln!(
                out,
                "error: {} has {errors} error{} and {warnings} warning{}",
                self.path,
                plural(errors),
                plural(warnings)
            );
        } else if warnings > 0 {
            let _ = writeln!(
                out,
                "warning: {} is valid with {warnings} warning{}",
                self.path,
                plural(warnings)
            );
        }
        out
    }

    fn render_one(&self, out: &mut String, diagnostic: &Diagnostic) {
        let level = match diagnostic.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let _ = writeln!(out, "{level}: {}", diagnostic.message);
        let _ = writeln!(out, "  --> {}", diagnostic.location);
        if let Location::File {
            line, start, end, ..
        } = &diagnostic.location
        {
            let line_start = self.source[..*start].rfind('\n').map_or(0, |at| at + 1);
            let line_end = self.source[*start..]
                .find('\n')
                .map_or(self.source.len(), |at| start + at);
            let text = &self.source[line_start..line_end];
            let gutter = line.to_string().len();
            let pad = self.source[line_start..*start].chars().count();
            let width = self.source[*start..(*end).min(line_end)]
                .chars()
                .count()
                .max(1);
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{line} | {text}");
            let _ = writeln!(out, "{:gutter$} | {:pad$}{}", "", "", "^".repeat(width));
        }
        if let Some(hint) = &diagnostic.hint {
            let gutter = match &diagnostic.location {
                Location::File { line, .. } => line.to_string().len(),
                _ => 1,
            };
            let _ = writeln!(out, "{:gutter$} = help: {hint}", "");
        }
        out.push('\n');
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render().trim_end())
    }
}

/// Collects diagnostics, turning node origins into locations.
pub(crate) struct Sink<'a> {
    path: &'a str,
    source: &'a str,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(path: &'a str, source: &'a str) -> Self {
        Sink {
            path,
            source,
            diagnostics: Vec::new(),
        }
    }

    /// An empty sink for the same file, to try a check without reporting.
    pub(crate) fn scratch(&self) -> Sink<'a> {
        Sink::new(self.path, self.source)
    }

    pub(crate) fn location(&self, origin: &Origin) -> Location {
        match origin {
            Origin::File(span) => Location::in_file(self.path, self.source, span.start, span.end),
            Origin::Env(var) => Location::Env { var: var.clone() },
            Origin::Unknown => Location::Unknown,
        }
    }

    pub(crate) fn push(
        &mut self,
        level: Level,
        origin: &Origin,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let location = self.location(origin);
        self.diagnostics.push(Diagnostic {
            level,
            message: message.into(),
            location,
            hint,
        });
    }

    pub(crate) fn error(
        &mut self,
        origin: &Origin,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Level::Error, origin, message, hint);
    }

    pub(crate) fn warning(
        &mut self,
        origin: &Origin,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Level::Warning, origin, message, hint);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be
/// a plausible typo.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (candidate.len().max(word.len()) / 3).max(1) + 1
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests;
