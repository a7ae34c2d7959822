//! The one error type of steward-template.

/// What can go wrong parsing or executing a template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The template text is malformed; formatted like Go's
    /// `template: name:line:col: message` (Go prints only the line; the
    /// column is added to locate the fault in long rule files).
    #[error("template: {name}:{line}:{column}: {message}")]
    Parse {
        /// Name of the template being parsed.
        name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// Executing a template failed; formatted like Go's
    /// `template: name:line:col: executing "name" at <node>: message`.
    #[error("template: {name}:{line}:{column}: executing {template:?} at <{node}>: {message}")]
    Exec {
        /// Name of the template text the failing node is in.
        name: String,
        /// Name of the template executing (a `define`d one, say).
        template: String,
        /// 1-based line of the failing node.
        line: usize,
        /// 1-based column of the failing node.
        column: usize,
        /// The failing node, as written.
        node: String,
        /// What went wrong.
        message: String,
    },
    /// A template was executed or invoked that was never defined.
    #[error("template: no template {0:?} associated with template set")]
    NoTemplate(String),
    /// A function (builtin or registered) failed; the executor wraps it
    /// into [`Error::Exec`] with the call's location.
    #[error("{0}")]
    Func(String),
}

impl Error {
    /// A function error with the given message (what registered functions return).
    pub fn func(message: impl Into<String>) -> Self {
        Error::Func(message.into())
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
