//! What the manager reports without changing anything: the history, the
//! status of every migration, validation, the plan of a run (with its
//! lint findings) and schema drift.

use std::path::PathBuf;

use serde::Serialize;

use super::MigrationManager;
use crate::{
    Dialect, Error, Migration, MigrationVersion, Result,
    conn::Conn,
    history::HistoryRow,
    lint::{self, Finding},
    split,
    status::{self, State, Status},
};

/// One migration a run will apply.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    /// `3 add_index`.
    pub migration: String,
    /// Its file.
    pub file: PathBuf,
    /// Whether it runs in one transaction.
    pub transactional: bool,
    /// Statements already done by an interrupted or failed earlier run.
    pub resume_from: usize,
    /// Its statements, in order, with their lines.
    pub statements: Vec<PlannedStatement>,
    #[serde(skip)]
    pub(super) index: usize,
}

/// A statement of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStatement {
    /// 1-based line in the file.
    pub line: usize,
    /// The SQL.
    pub sql: String,
}

/// What `apply` would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The target's engine.
    pub dialect: Dialect,
    /// Migrations to apply, in order.
    pub steps: Vec<PlanStep>,
    /// Lint findings over the steps.
    pub findings: Vec<Finding>,
    /// When backups will be taken, as a sentence.
    pub backups: String,
    /// The status the plan was made from.
    pub status: Status,
}

/// The live schema against the one the history recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// Whether they differ.
    pub drifted: bool,
    /// Fingerprint recorded by the newest migration (none before any, or
    /// when its run stopped before writing it).
    pub expected: Option<String>,
    /// Fingerprint of the live schema.
    pub actual: String,
    /// The migration that recorded `expected`.
    pub recorded_by: Option<String>,
}

impl MigrationManager {
    /// The history (empty when the table does not exist yet).
    pub async fn history(&self) -> Result<Vec<HistoryRow>> {
        let mut conn = self.connect().await?;
        let history = conn.history().await;
        conn.close().await;
        history
    }

    /// Where every migration stands.
    pub async fn status(&self) -> Result<Status> {
        Ok(status::compute(&self.source, &self.history().await?))
    }

    /// The status, or an error listing every changed, missing, failed,
    /// interrupted or (unless allowed) out-of-order migration.
    pub async fn validate(&self) -> Result<Status> {
        let status = self.status().await?;
        check(&status, self.options.allow_out_of_order)?;
        Ok(status)
    }

    /// What `apply` would run, with lint findings; changes nothing.
    pub async fn plan(&self) -> Result<Plan> {
        let mut conn = self.connect().await?;
        let result = self.plan_with(&mut conn).await;
        conn.close().await;
        result
    }

    pub(super) async fn plan_with(&self, conn: &mut Conn) -> Result<Plan> {
        let history = conn.history().await?;
        let status = status::compute(&self.source, &history);
        let target =
            match &self.options.target {
                Some(text) => Some(MigrationVersion::parse(text).ok_or_else(|| {
                    Error::Refused(format!("`{text}` is not a migration version"))
                })?),
                None => None,
            };
        let mut steps = Vec::new();
        for (index, migration) in self.source.all().enumerate() {
            let entry = status
                .entries
                .iter()
                .find(|e| e.file.as_deref() == Some(migration.up.path.as_path()))
                .expect("every file has an entry");
            let runnable = match entry.state {
                State::Pending | State::Outdated | State::Failed | State::Interrupted => true,
                State::OutOfOrder => self.options.allow_out_of_order,
                _ => false,
            };
            let beyond_target = matches!((&target, &migration.version), (Some(target), Some(version)) if version > target);
            if !runnable || beyond_target {
                continue;
            }
            let transactional = self.transactional(migration);
            // A statement-by-statement run that stopped part-way resumes.
            let resume_from = if transactional {
                0
            } else {
                entry.statements_applied.unwrap_or(0).max(0) as usize
            };
            steps.push(PlanStep {
                migration: migration.label(),
                file: migration.up.path.clone(),
                transactional,
                resume_from,
                statements: split(&migration.up.content, self.dialect)
                    .into_iter()
                    .map(|s| PlannedStatement {
                        line: s.line,
                        sql: s.sql,
                    })
                    .collect(),
                index,
            });
        }
        let findings = self.lint(conn, &steps).await?;
        Ok(Plan {
            dialect: self.dialect,
            backups: self.backup_sentence(),
            steps,
            findings,
            status,
        })
    }

    async fn lint(&self, conn: &mut Conn, steps: &[PlanStep]) -> Result<Vec<Finding>> {
        let mut context = lint::LintContext::new(self.dialect);
        for (table, column) in conn.columns().await? {
            context.existing_tables.insert(table.clone());
            context
                .existing_columns
                .entry(table)
                .or_default()
                .insert(column);
        }
        context.table_rows.extend(conn.table_sizes().await?);
        let all: Vec<&Migration> = self.source.all().collect();
        let mut findings = Vec::new();
        for step in steps {
            let migration = all[step.index];
            let statements = split(&migration.up.content, self.dialect);
            findings.extend(lint::lint_migration(migration, &statements, &mut context));
        }
        Ok(findings)
    }

    fn transactional(&self, migration: &Migration) -> bool {
        self.dialect != Dialect::Mysql && !migration.no_transaction
    }

    /// Compares the live schema with the fingerprint the newest successful
    /// migration recorded.
    pub async fn drift(&self) -> Result<Drift> {
        let mut conn = self.connect().await?;
        let history = conn.history().await?;
        let actual = conn.fingerprint().await?;
        conn.close().await;
        // The newest successful row decides: an older fingerprint would
        // report the newer migrations' changes as drift. Its fingerprint is
        // missing only when a run stopped before writing it (rows queued by
        // `Conn::fingerprint_after`).
        let recorded = history.iter().rev().find(|row| row.success);
        let expected = recorded.and_then(|row| row.schema_fingerprint.clone());
        Ok(Drift {
            drifted: expected
                .as_ref()
                .is_some_and(|expected| expected != &actual),
            recorded_by: recorded.map(|row| match &row.version {
                Some(version) => format!("{version} {}", row.name),
                None => format!("R {}", row.name),
            }),
            expected,
            actual,
        })
    }

    /// The live schema as sorted, normalised lines (for tests and `drift`).
    pub async fn schema_dump(&self) -> Result<Vec<String>> {
        let mut conn = self.connect().await?;
        let dump = conn.schema_dump().await;
        conn.close().await;
        Ok(dump?)
    }
}

/// Rejects a status with problems, one line per problem.
pub(super) fn check(status: &Status, allow_out_of_order: bool) -> Result<()> {
    let problems: Vec<String> = status
        .problems(allow_out_of_order)
        .iter()
        .filter(|entry| !matches!(entry.state, State::Failed | State::Interrupted))
        .map(|entry| {
            let label = entry.version.as_deref().map_or_else(|| format!("R {}", entry.name), |v| format!("{v} {}", entry.name));
            match entry.state {
                State::Changed => format!(
                    "  {label}: changed since it was applied ({}); restore the file, or run repair to accept it",
                    entry.file.as_ref().map_or_else(String::new, |f| f.display().to_string())
                ),
                State::Missing => format!("  {label}: applied, but its file is missing; restore the file"),
                State::OutOfOrder => format!("  {label}: pending, but a later version is applied; pass --allow-out-of-order to run it"),
                _ => format!("  {label}: {:?}", entry.state),
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid { problems })
    }
}
