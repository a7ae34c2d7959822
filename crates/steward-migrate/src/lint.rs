//! Lints the SQL of pending migrations before it runs: each statement is
//! parsed with `sqlparser` in the target's dialect, and changes that lose
//! data, fail on rows already in the table, break the version still running
//! during a rolling deploy, or hold long locks are reported as [`Finding`]s.
//!
//! A [`LintContext`] describes the database before a migration (tables,
//! columns, estimated rows); [`lint_migration`] updates it with what the
//! migration creates, drops and renames so the next migration of the plan is
//! linted against the schema it will really meet. Statements the parser
//! cannot read are reported (`unparsable-sql`) and otherwise skipped: they
//! still run, they are just not checked.
//!
//! This file holds the public API and the walk over statements (with the
//! `TRUNCATE` and `LOCK TABLE` rules, one branch each); the rules are
//! grouped by the statements they read: [`tables`] (create, drop, rename),
//! [`indexes`] and [`alter`] (`ALTER TABLE` and the locks it takes), on top
//! of [`sql`] (parsing and names).

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
};

use sqlparser::ast::{self, LockTableMode, Spanned};
use steward_core::Severity;

use crate::{Dialect, Migration, Statement};

mod alter;
mod indexes;
mod sql;
mod tables;

use sql::{line_at, name_of, normalize, parse, without_drop_index_concurrently};

/// Row count from which a table is large when [`LintContext::new`] builds
/// the context.
pub const DEFAULT_LARGE_TABLE_ROWS: u64 = 100_000;

/// What the database holds before the migration being linted.
///
/// Names are lowercase and unqualified (`users`, not `public."Users"`): the
/// linter compares identifiers case-insensitively and by their last part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintContext {
    /// The target's SQL dialect: which parser to use and which checks apply.
    pub dialect: Dialect,
    /// Tables that exist before the migration: in the live database or
    /// created by earlier migrations of the same plan.
    pub existing_tables: HashSet<String>,
    /// Columns per existing table.
    pub existing_columns: HashMap<String, HashSet<String>>,
    /// Declared types per table and column, where known (from `CREATE
    /// TABLE` and `ADD COLUMN` of earlier migrations, as the parser prints
    /// them, lowercase). MySQL's `MODIFY`/`CHANGE COLUMN` must repeat the
    /// type; with the type known, repeating it unchanged is no type change.
    pub column_types: HashMap<String, HashMap<String, String>>,
    /// Estimated rows per table (PostgreSQL `reltuples`), for findings about
    /// locks on large tables.
    pub table_rows: HashMap<String, u64>,
    /// Tables with at least this many rows are large.
    pub large_table_rows: u64,
}

impl LintContext {
    /// An empty context for `dialect`, with [`DEFAULT_LARGE_TABLE_ROWS`].
    pub fn new(dialect: Dialect) -> Self {
        LintContext {
            dialect,
            existing_tables: HashSet::new(),
            existing_columns: HashMap::new(),
            column_types: HashMap::new(),
            table_rows: HashMap::new(),
            large_table_rows: DEFAULT_LARGE_TABLE_ROWS,
        }
    }

    /// Records a table of the live database with its columns. Names are
    /// reduced like identifiers in SQL: last part of a qualified name,
    /// quotes removed, lowercase.
    pub fn add_table<S: AsRef<str>>(&mut self, table: &str, columns: impl IntoIterator<Item = S>) {
        let table = normalize(table);
        self.existing_tables.insert(table.clone());
        self.existing_columns
            .entry(table)
            .or_default()
            .extend(columns.into_iter().map(|column| normalize(column.as_ref())));
    }

    /// The estimated rows of `table` if it is large.
    fn rows_if_large(&self, table: &str) -> Option<u64> {
        self.table_rows
            .get(table)
            .copied()
            .filter(|rows| *rows >= self.large_table_rows)
    }
}

/// The stable codes of findings.
pub mod code {
    /// `DROP SCHEMA` / `DROP DATABASE`: every table in it is lost.
    pub const DROP_SCHEMA: &str = "drop-schema";
    /// `DROP TABLE` of a table that existed before the migration.
    pub const DROP_TABLE: &str = "drop-table";
    /// `ALTER TABLE ... DROP COLUMN` of a column that existed before.
    pub const DROP_COLUMN: &str = "drop-column";
    /// `ADD COLUMN ... NOT NULL` without a default on an existing table.
    pub const NOT_NULL_WITHOUT_DEFAULT: &str = "not-null-without-default";
    /// A unique index or constraint over columns of an existing table.
    pub const UNIQUE_ON_EXISTING_COLUMN: &str = "unique-on-existing-column";
    /// A column's type changes.
    pub const ALTER_COLUMN_TYPE: &str = "alter-column-type";
    /// A table is renamed.
    pub const RENAME_TABLE: &str = "rename-table";
    /// A column is renamed.
    pub const RENAME_COLUMN: &str = "rename-column";
    /// PostgreSQL: `CREATE INDEX` without `CONCURRENTLY` on an existing table.
    pub const CREATE_INDEX_NOT_CONCURRENTLY: &str = "create-index-not-concurrently";
    /// PostgreSQL: `DROP INDEX` without `CONCURRENTLY`.
    pub const DROP_INDEX_NOT_CONCURRENTLY: &str = "drop-index-not-concurrently";
    /// PostgreSQL: `CONCURRENTLY` in a migration that runs in a transaction.
    pub const CONCURRENTLY_IN_TRANSACTION: &str = "concurrently-in-transaction";
    /// PostgreSQL: an `ACCESS EXCLUSIVE` lock on a large table.
    pub const ACCESS_EXCLUSIVE_LOCK_LARGE_TABLE: &str = "access-exclusive-lock-large-table";
    /// The statement cannot be parsed, so it is not checked.
    pub const UNPARSABLE_SQL: &str = "unparsable-sql";
}

/// One risky change found in a migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable kebab-case code (see [`code`]).
    pub code: &'static str,
    /// How bad the change is.
    pub severity: Severity,
    /// The migration file, relative to the migration directory.
    pub file: PathBuf,
    /// 1-based line of the risky part of the statement.
    pub line: usize,
    /// What is risky, naming the table and column.
    pub message: String,
    /// How to make the change safely.
    pub hint: String,
}

/// Lints one migration's up file, already split into `statements`, against
/// `ctx`, then leaves in `ctx` what the migration creates, drops and renames
/// so that the next migration of the plan sees it.
pub fn lint_migration(
    migration: &Migration,
    statements: &[Statement],
    ctx: &mut LintContext,
) -> Vec<Finding> {
    let mut linter = Linter {
        ctx,
        file: &migration.up.path,
        no_transaction: migration.no_transaction,
        created: HashSet::new(),
        added_columns: HashSet::new(),
        created_indexes: HashSet::new(),
        findings: Vec::new(),
    };
    for statement in statements {
        linter.statement(statement);
    }
    linter.findings
}

/// The relations (tables and views, as written) a migration creates, when
/// creating them, indexing them and changing rows is all its statements
/// do; `None` for anything else (or anything the parser cannot read). The
/// fingerprint of such a migration is the previous one plus the new
/// relations' lines, so only those need reading. DDL hidden in a function
/// that a statement calls is not seen here.
pub(crate) fn only_creates(statements: &[Statement], dialect: Dialect) -> Option<Vec<String>> {
    let mut created: Vec<String> = Vec::new();
    for statement in statements {
        for parsed in parse(&statement.sql, dialect).ok()? {
            match parsed {
                ast::Statement::CreateTable(create)
                    if !create.temporary
                        && !create.or_replace
                        && create.inherits.is_none()
                        && create.partition_of.is_none()
                        && create.like.is_none()
                        && create.clone.is_none() =>
                {
                    created.push(create.name.to_string());
                }
                ast::Statement::CreateView(view) if !view.or_replace && !view.or_alter => {
                    created.push(view.name.to_string());
                }
                ast::Statement::CreateIndex(index)
                    if !index.concurrently
                        && created.iter().any(|name| {
                            name.eq_ignore_ascii_case(&index.table_name.to_string())
                        }) => {}
                ast::Statement::Insert(_)
                | ast::Statement::Update(_)
                | ast::Statement::Delete(_)
                | ast::Statement::Query(_) => {}
                _ => return None,
            }
        }
    }
    Some(created)
}

/// Whether any finding is at least as severe as `deny` (`--deny <severity>`).
pub fn denied(findings: &[Finding], deny: Severity) -> bool {
    findings.iter().any(|finding| finding.severity >= deny)
}

/// Lints the statements of one migration.
struct Linter<'a> {
    ctx: &'a mut LintContext,
    file: &'a PathBuf,
    no_transaction: bool,
    /// Tables created by this migration so far: nothing uses them yet and
    /// they hold no rows.
    created: HashSet<String>,
    /// Columns (table, column) added by this migration so far.
    added_columns: HashSet<(String, String)>,
    /// Indexes created by this migration so far.
    created_indexes: HashSet<String>,
    findings: Vec<Finding>,
}

impl Linter<'_> {
    fn statement(&mut self, statement: &Statement) {
        let dialect = self.ctx.dialect;
        // sqlparser does not read PostgreSQL's `DROP INDEX CONCURRENTLY`;
        // blank the keyword out (keeping every line and column) and
        // remember it.
        let stripped = (dialect == Dialect::Postgres)
            .then(|| without_drop_index_concurrently(&statement.sql))
            .flatten();
        let drop_concurrently = stripped.is_some();
        let sql = stripped.as_deref().unwrap_or(&statement.sql);
        match parse(sql, dialect) {
            Ok(parsed) => {
                for ast in &parsed {
                    self.ast(ast, statement, drop_concurrently);
                }
            }
            Err(error) => self.unparsable(statement, &error),
        }
    }

    fn ast(&mut self, ast: &ast::Statement, statement: &Statement, drop_concurrently: bool) {
        let postgres = self.ctx.dialect == Dialect::Postgres;
        match ast {
            ast::Statement::CreateTable(create) => self.create_table(create),
            ast::Statement::CreateIndex(index) => self.create_index(index, statement),
            ast::Statement::AlterTable(alter) => self.alter_table(alter, statement),
            ast::Statement::Drop {
                object_type, names, ..
            } => self.drop(*object_type, names, statement, drop_concurrently),
            ast::Statement::RenameTable(renames) => {
                for rename in renames {
                    let line = line_at(statement, rename.old_name.span());
                    let (old, new) = (name_of(&rename.old_name), name_of(&rename.new_name));
                    self.rename_table(&old, &new, line);
                }
            }
            ast::Statement::Truncate(truncate) if postgres => {
                for target in &truncate.table_names {
                    let table = name_of(&target.name);
                    if let Some(rows) = self.ctx.rows_if_large(&table) {
                        self.report(
                            code::ACCESS_EXCLUSIVE_LOCK_LARGE_TABLE,
                            Severity::Warning,
                            line_at(statement, target.name.span()),
                            format!(
                                "truncate {table} takes an access exclusive lock on a large table (~{rows} rows)"
                            ),
                            "truncate waits for every running query on the table and blocks \
                             every query queued behind it: set a short lock_timeout and retry, \
                             or delete in batches",
                        );
                    }
                    self.ctx.table_rows.insert(table, 0);
                }
            }
            ast::Statement::Lock(lock)
                if postgres
                    && matches!(lock.lock_mode, None | Some(LockTableMode::AccessExclusive)) =>
            {
                for target in &lock.tables {
                    let table = name_of(&target.name);
                    if let Some(rows) = self.ctx.rows_if_large(&table) {
                        self.report(
                            code::ACCESS_EXCLUSIVE_LOCK_LARGE_TABLE,
                            Severity::Warning,
                            line_at(statement, target.name.span()),
                            format!(
                                "lock table {table} in access exclusive mode blocks every query on a large table (~{rows} rows) until the migration ends"
                            ),
                            "take the weakest lock mode that suffices (share row exclusive \
                             keeps reads going) and set a short lock_timeout",
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn unparsable(&mut self, statement: &Statement, error: &str) {
        let error = error.strip_prefix("sql parser error: ").unwrap_or(error);
        // Errors end in "at Line: l, Column: c", relative to the statement.
        let (detail, line) = match error.rfind(" at Line: ") {
            Some(at) => {
                let line = error[at + " at Line: ".len()..]
                    .split(',')
                    .next()
                    .and_then(|line| line.trim().parse::<usize>().ok())
                    .filter(|line| *line > 0);
                (&error[..at], line)
            }
            None => (error, None),
        };
        let message = match line {
            Some(line) => format!(
                "the sql parser cannot read this statement: {detail} (line {})",
                statement.line + line - 1
            ),
            None => format!("the sql parser cannot read this statement: {detail}"),
        };
        self.report(
            code::UNPARSABLE_SQL,
            Severity::Warning,
            statement.line,
            message,
            "the statement still runs, but the linter cannot check it: review it by hand",
        );
    }

    /// Whether `table` existed before this migration. A table the context
    /// does not know counts as existing: it was made outside the
    /// migrations, or by SQL the parser could not read, and may hold rows.
    fn preexisting(&self, table: &str) -> bool {
        !self.created.contains(table)
    }

    fn report(
        &mut self,
        code: &'static str,
        severity: Severity,
        line: usize,
        message: String,
        hint: &str,
    ) {
        self.findings.push(Finding {
            code,
            severity,
            file: self.file.clone(),
            line,
            message,
            hint: hint.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests;
