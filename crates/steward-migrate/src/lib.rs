//! The MigrationManager: versioned migrations for the operated system's
//! databases (SQLite, PostgreSQL, MariaDB/MySQL) and for steward's own.
//!
//! A run is a plan first: [`source`] reads a directory (steward's layout or
//! sqlx, golang-migrate and diesel layouts unchanged), [`split`] cuts each
//! file into statements with their lines, [`lint`] reports risky changes,
//! and the plan compares files with the target's history. Applying takes a
//! lock that dies with its holder, backs up, runs each migration with its
//! history row in one transaction where the engine allows it (statement by
//! statement with recorded progress where it does not), verifies integrity
//! and fingerprints the schema.

pub mod backup;
mod catalog;
pub mod configured;
mod conn;
mod db_url;
mod error;
pub mod events;
pub mod history;
pub mod lint;
mod lock;
mod manager;
pub mod progress;
pub mod source;
pub mod split;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
mod version;

pub use db_url::sqlite_file;
pub use error::{Error, FailedMigration, Result};
pub use events::MigrationEvent;
pub use lint::{Finding, LintContext, denied, lint_migration};
pub use manager::{
    Applied, BackupPolicy, DEFAULT_TOOL_TIMEOUT, Drift, MigrationManager, Options, Plan, PlanStep,
    PlannedStatement, RepairAction, RunReport, default_actor,
};
pub use source::{Migration, MigrationKind, Source, SqlFile};
pub use split::{Statement, split};
pub use version::MigrationVersion;

/// The SQL dialect of a target database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MariaDB or MySQL.
    Mysql,
}

impl Dialect {
    /// The dialect of a database URL, by its scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        let url = steward_core::DatabaseUrl::parse(url).map_err(|_| Error::UnsupportedUrl {
            scheme: url.split(':').next().unwrap_or_default().to_owned(),
        })?;
        Ok(match url.engine() {
            steward_core::Engine::Sqlite => Dialect::Sqlite,
            steward_core::Engine::Postgres => Dialect::Postgres,
            steward_core::Engine::Mysql => Dialect::Mysql,
        })
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}
