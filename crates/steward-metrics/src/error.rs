//! The one error type of steward-metrics.

/// Everything that can go wrong in the metrics subsystem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A label matcher's regular expression does not compile.
    #[error("invalid regular expression {pattern:?} in matcher for label {label:?}: {reason}")]
    InvalidRegex {
        /// The label the matcher applies to.
        label: String,
        /// The expression as written.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// A sample was refused by the store (out of order, out of bounds...).
    #[error("sample refused for series {series}: {reason}")]
    SampleRefused {
        /// The series, in Prometheus' notation.
        series: String,
        /// Why it was refused.
        reason: String,
    },
    /// The store failed to read or write its files.
    #[error("storage i/o error at {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A scraped exposition is malformed (text format or OpenMetrics).
    #[error("line {line}, column {column}: {message}")]
    Exposition {
        /// 1-based line of the offending input.
        line: usize,
        /// 1-based column (in characters) of the offending input.
        column: usize,
        /// What was wrong there.
        message: String,
    },
    /// A scrape answered with an exposition format steward cannot parse.
    #[error("unsupported exposition content type {content_type:?}")]
    UnsupportedContentType {
        /// The Content-Type header as received.
        content_type: String,
    },
    /// Metric families given to the text encoder cannot be rendered.
    #[error("cannot encode metric family {family:?}: {reason}")]
    Encode {
        /// The family's name.
        family: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A relabel configuration is invalid (messages as Prometheus words them).
    #[error("{reason}")]
    InvalidRelabelConfig {
        /// What is wrong with it.
        reason: String,
    },
    /// A /proc file the resource collector cannot do without is unreadable
    /// (the root given is not a procfs).
    #[error("cannot read {path}: {source}")]
    ProcRead {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A store file failed its checks (checksum, format).
    #[error("corrupt storage file {path}: {reason}")]
    Corrupt {
        /// The file or directory involved.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process (or another open store) holds the directory.
    #[error("storage directory {path} is in use by another process")]
    Locked {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// A PromQL test file (Prometheus' `.test` format) is malformed.
    #[error("{file}:{line}: {message}")]
    TestFile {
        /// The file's name.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A PromQL query does not parse or is invalid before evaluation
    /// (Prometheus' `bad_data`).
    #[error("{0}")]
    BadQuery(String),
    /// A PromQL query failed while being evaluated (Prometheus' `execution`).
    #[error("{0}")]
    QueryExecution(String),
    /// A PromQL query ran past its timeout.
    #[error("query timed out in {0}")]
    QueryTimeout(String),
    /// A remote write or remote read body is malformed (snappy, protobuf,
    /// labels).
    #[error("{0}")]
    RemoteProtocol(String),
    /// A PromQL query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(String),
}

impl Error {
    /// The `errorType` Prometheus' HTTP API reports for this error.
    pub fn prometheus_error_type(&self) -> &'static str {
        match self {
            Error::BadQuery(_) | Error::InvalidRegex { .. } | Error::RemoteProtocol(_) => {
                "bad_data"
            }
            Error::QueryExecution(_) | Error::TooManySamples(_) => "execution",
            Error::QueryTimeout(_) => "timeout",
            _ => "internal",
        }
    }
}

/// The result type of steward-metrics.
pub type Result<T, E = Error> = std::result::Result<T, E>;
