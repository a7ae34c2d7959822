//! Why a migration failed (the file, line and statement, and the
//! database's message) before it becomes an [`Error`], with what was done
//! about it.

use std::path::{Path, PathBuf};

use crate::{Error, Migration, Statement};

/// The first line of a message, cut to a readable length.
pub(super) fn shorten(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}...")
    }
}

/// Why a migration failed, before it becomes an [`Error`].
pub(super) struct Failure {
    pub(super) file: PathBuf,
    pub(super) line: usize,
    pub(super) statement: String,
    pub(super) detail: String,
}

impl Failure {
    pub(super) fn statement(file: &Path, statement: &Statement, err: &sqlx::Error) -> Self {
        let detail = match err {
            sqlx::Error::Database(db) => db.message().to_owned(),
            other => other.to_string(),
        };
        Failure {
            file: file.to_owned(),
            line: statement.line,
            statement: shorten(&statement.sql, 160),
            detail,
        }
    }

    pub(super) fn message(&self) -> String {
        format!("{}:{}: {}", self.file.display(), self.line, self.detail)
    }

    pub(super) fn into_error(self, migration: &Migration, outcome: &str) -> Error {
        Error::MigrationFailed(Box::new(crate::FailedMigration {
            migration: migration.label(),
            file: self.file,
            line: self.line,
            statement: self.statement,
            detail: self.detail,
            outcome: outcome.to_owned(),
        }))
    }
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Failure {
            file: PathBuf::new(),
            line: 0,
            statement: String::new(),
            detail: err.to_string(),
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure {
            file: PathBuf::new(),
            line: 0,
            statement: String::new(),
            detail: err.to_string(),
        }
    }
}
