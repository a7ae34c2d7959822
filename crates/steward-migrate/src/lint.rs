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

use std::{
    collections::{HashMap, HashSet},
    panic,
    path::PathBuf,
};

use sqlparser::{
    ast::{
        self, AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, DataType,
        DetachPartitionMode, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
        IndexColumn, LockTableMode, ObjectName, ObjectNamePart, ObjectType, RenameTableNameKind,
        Spanned, TableConstraint,
    },
    dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect},
    keywords::Keyword,
    parser::Parser,
    tokenizer::{Location, Span, Token, Tokenizer},
};

use steward_core::Severity;

use crate::{Dialect, Migration, Statement};

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

/// How long an `ALTER TABLE` holds its `ACCESS EXCLUSIVE` lock, least to
/// most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Hold {
    /// Catalogue-only change: quick, but it waits for running queries and
    /// every query queued behind it waits too.
    Brief,
    /// Every row is read to check a constraint or build an index.
    Scan,
    /// The table is rewritten.
    Rewrite,
}

/// The lock an `ALTER TABLE` operation needs, with what causes it.
struct TableLock {
    hold: Hold,
    cause: String,
}

impl TableLock {
    fn new(hold: Hold, cause: impl Into<String>) -> Option<Self> {
        Some(TableLock {
            hold,
            cause: cause.into(),
        })
    }
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

    fn create_table(&mut self, create: &ast::CreateTable) {
        let table = name_of(&create.name);
        // Temporary tables live in the migration's session only.
        if create.temporary {
            return;
        }
        // `IF NOT EXISTS` on a table that is already there changes nothing.
        if create.if_not_exists
            && self.preexisting(&table)
            && self.ctx.existing_tables.contains(&table)
        {
            return;
        }
        let types: HashMap<String, String> = create
            .columns
            .iter()
            .map(|column| (ident(&column.name), type_text(&column.data_type)))
            .collect();
        self.ctx.existing_tables.insert(table.clone());
        self.ctx
            .existing_columns
            .insert(table.clone(), types.keys().cloned().collect());
        self.ctx.column_types.insert(table.clone(), types);
        self.ctx.table_rows.remove(&table);
        self.created.insert(table);
    }

    fn create_index(&mut self, index: &ast::CreateIndex, statement: &Statement) {
        let table = name_of(&index.table_name);
        let name = index.name.as_ref().map(name_of);
        if let Some(name) = &name {
            self.created_indexes.insert(name.clone());
        }
        let existing = self.preexisting(&table);
        let label = match &name {
            Some(name) => format!("{name} on {table}"),
            None => format!("on {table}"),
        };
        if index.unique && existing {
            self.report(
                code::UNIQUE_ON_EXISTING_COLUMN,
                Severity::Warning,
                statement.line,
                format!(
                    "unique index {label} ({}) fails if existing rows hold duplicates",
                    columns_text(&index.columns)
                ),
                UNIQUE_HINT,
            );
        }
        if self.ctx.dialect != Dialect::Postgres {
            return;
        }
        if index.concurrently {
            self.concurrently(statement.line, "create index concurrently");
        } else if existing {
            self.report(
                code::CREATE_INDEX_NOT_CONCURRENTLY,
                Severity::Warning,
                statement.line,
                format!("create index {label} blocks writes to {table} while the index builds"),
                "use create index concurrently, in a migration whose first line is \
                 `-- steward:no-transaction`",
            );
        }
    }

    /// `CONCURRENTLY` cannot run in a transaction block.
    fn concurrently(&mut self, line: usize, what: &str) {
        if !self.no_transaction {
            self.report(
                code::CONCURRENTLY_IN_TRANSACTION,
                Severity::Error,
                line,
                format!("{what} cannot run inside a transaction, and this migration runs in one"),
                "add `-- steward:no-transaction` as the first line of the file; if a concurrent \
                 index build fails, drop the invalid index before retrying",
            );
        }
    }

    fn drop(
        &mut self,
        object_type: ObjectType,
        names: &[ObjectName],
        statement: &Statement,
        concurrently: bool,
    ) {
        match object_type {
            ObjectType::Schema | ObjectType::Database => {
                let kind = if object_type == ObjectType::Schema {
                    "schema"
                } else {
                    "database"
                };
                for name in names {
                    self.report(
                        code::DROP_SCHEMA,
                        Severity::Error,
                        line_at(statement, name.span()),
                        format!(
                            "drop {kind} {} deletes every table in it with its data",
                            name_of(name)
                        ),
                        "back up first and make sure nothing uses it any more; prefer \
                         dropping in a later release than the one that stops using it",
                    );
                }
            }
            ObjectType::Table => {
                for name in names {
                    let table = name_of(name);
                    if self.preexisting(&table) {
                        self.report(
                            code::DROP_TABLE,
                            Severity::Error,
                            line_at(statement, name.span()),
                            format!("drop table {table} deletes the table with its data"),
                            "expand/contract: stop using the table in one release and drop it \
                             in a later one, after a backup (or rename it aside first)",
                        );
                    }
                    self.forget_table(&table);
                }
            }
            ObjectType::Index if self.ctx.dialect == Dialect::Postgres => {
                if concurrently {
                    self.concurrently(statement.line, "drop index concurrently");
                    return;
                }
                for name in names {
                    let index = name_of(name);
                    if !self.created_indexes.contains(&index) {
                        self.report(
                            code::DROP_INDEX_NOT_CONCURRENTLY,
                            Severity::Warning,
                            line_at(statement, name.span()),
                            format!(
                                "drop index {index} takes an access exclusive lock on its table"
                            ),
                            "use drop index concurrently, in a migration whose first line is \
                             `-- steward:no-transaction`",
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn alter_table(&mut self, alter: &ast::AlterTable, statement: &Statement) {
        let mut table = name_of(&alter.name);
        // Looked up before a rename in this statement moves the estimate.
        let rows = self.ctx.rows_if_large(&table);
        let mut lock: Option<TableLock> = None;
        for operation in &alter.operations {
            let line = line_at(statement, operation.span());
            let existing = self.preexisting(&table);
            let needed = match operation {
                AlterTableOperation::AddColumn { column_def, .. } => {
                    self.add_column(&table, column_def, line, existing)
                }
                AlterTableOperation::DropColumn { column_names, .. } => {
                    for column in column_names {
                        self.drop_column(&table, column, line_at(statement, column.span), existing);
                    }
                    TableLock::new(Hold::Brief, "drop column")
                }
                AlterTableOperation::AddConstraint {
                    constraint,
                    not_valid,
                } => self.add_constraint(&table, constraint, *not_valid, line, existing),
                AlterTableOperation::AlterColumn { column_name, op } => {
                    let column = ident(column_name);
                    match op {
                        AlterColumnOperation::SetDataType { data_type, .. } => {
                            self.type_change(&table, &column, data_type, line, existing);
                            TableLock::new(Hold::Rewrite, format!("type change of {column}"))
                        }
                        AlterColumnOperation::SetNotNull => {
                            TableLock::new(Hold::Scan, format!("set not null on {column}"))
                        }
                        _ => TableLock::new(Hold::Brief, format!("alter column {column}")),
                    }
                }
                AlterTableOperation::RenameColumn {
                    old_column_name,
                    new_column_name,
                } => {
                    self.rename_column(&table, old_column_name, new_column_name, line, existing);
                    TableLock::new(Hold::Brief, "rename column")
                }
                AlterTableOperation::RenameTable { table_name } => {
                    let new = match table_name {
                        RenameTableNameKind::As(name) | RenameTableNameKind::To(name) => {
                            name_of(name)
                        }
                    };
                    self.rename_table(&table, &new, line);
                    table = new;
                    TableLock::new(Hold::Brief, "rename")
                }
                // MySQL.
                AlterTableOperation::ChangeColumn {
                    old_name,
                    new_name,
                    data_type,
                    ..
                } => {
                    let mut column = ident(old_name);
                    if ident(new_name) != column {
                        self.rename_column(&table, old_name, new_name, line, existing);
                        column = ident(new_name);
                    }
                    self.type_change(&table, &column, data_type, line, existing);
                    TableLock::new(Hold::Rewrite, format!("change column {column}"))
                }
                AlterTableOperation::ModifyColumn {
                    col_name,
                    data_type,
                    ..
                } => {
                    let column = ident(col_name);
                    self.type_change(&table, &column, data_type, line, existing);
                    TableLock::new(Hold::Rewrite, format!("modify column {column}"))
                }
                AlterTableOperation::DetachPartitionOf {
                    mode: Some(DetachPartitionMode::Concurrently),
                    ..
                } => {
                    if self.ctx.dialect == Dialect::Postgres {
                        self.concurrently(line, "detach partition concurrently");
                    }
                    None
                }
                // PostgreSQL takes weaker locks for these (share update
                // exclusive or share row exclusive), and the MySQL options
                // take none by themselves.
                AlterTableOperation::ValidateConstraint { .. }
                | AlterTableOperation::EnableTrigger { .. }
                | AlterTableOperation::DisableTrigger { .. }
                | AlterTableOperation::EnableAlwaysTrigger { .. }
                | AlterTableOperation::EnableReplicaTrigger { .. }
                | AlterTableOperation::AttachPartition { .. }
                | AlterTableOperation::AttachPartitionOf { .. }
                | AlterTableOperation::SetOptionsParens { .. }
                | AlterTableOperation::ResetOptions { .. }
                | AlterTableOperation::Algorithm { .. }
                | AlterTableOperation::Lock { .. }
                | AlterTableOperation::AutoIncrement { .. } => None,
                _ => TableLock::new(Hold::Brief, "alter table"),
            };
            if let Some(needed) = needed
                && lock.as_ref().is_none_or(|held| needed.hold > held.hold)
            {
                lock = Some(needed);
            }
        }
        if self.ctx.dialect != Dialect::Postgres {
            return;
        }
        let (Some(rows), Some(lock)) = (rows, lock) else {
            return;
        };
        let (how, hint) = match lock.hold {
            Hold::Rewrite => (
                "while it rewrites the table",
                "every read and write waits for the rewrite: add a new column and backfill it \
                 in batches instead, or schedule a maintenance window; set lock_timeout so the \
                 migration fails fast instead of queueing",
            ),
            Hold::Scan => (
                "while it scans every row",
                "add check and foreign key constraints with not valid and validate constraint in \
                 a later migration (for set not null, validate a check (column is not null) \
                 constraint first); build unique indexes concurrently and add the constraint \
                 with using index; set lock_timeout",
            ),
            Hold::Brief => (
                "that queues behind running queries",
                "the change itself is quick, but while it waits for the lock every query queued \
                 behind it waits too: set a short lock_timeout (set lock_timeout = '5s') and \
                 retry on timeout",
            ),
        };
        self.report(
            code::ACCESS_EXCLUSIVE_LOCK_LARGE_TABLE,
            Severity::Warning,
            statement.line,
            format!(
                "alter table {} ({}) takes an access exclusive lock on a large table (~{rows} rows) {how}",
                name_of(&alter.name),
                lock.cause
            ),
            hint,
        );
    }

    fn add_column(
        &mut self,
        table: &str,
        column: &ColumnDef,
        line: usize,
        existing: bool,
    ) -> Option<TableLock> {
        let name = ident(&column.name);
        let options = || column.options.iter().map(|option| &option.option);
        let not_null = options()
            .any(|option| matches!(option, ColumnOption::NotNull | ColumnOption::PrimaryKey(_)));
        let fills = is_serial(&column.data_type) || options().any(fills_itself);
        if existing && not_null && !fills {
            self.report(
                code::NOT_NULL_WITHOUT_DEFAULT,
                Severity::Error,
                line,
                format!(
                    "add column {table}.{name} not null without a default fails on a table with rows"
                ),
                "add the column with a default, or nullable and backfill it in batches, then set \
                 not null (on postgresql after validating a check (column is not null) not valid \
                 constraint)",
            );
        }
        self.ctx
            .existing_columns
            .entry(table.to_owned())
            .or_default()
            .insert(name.clone());
        self.ctx
            .column_types
            .entry(table.to_owned())
            .or_default()
            .insert(name.clone(), type_text(&column.data_type));
        self.added_columns.insert((table.to_owned(), name.clone()));
        if is_serial(&column.data_type) || options().any(rewrites) {
            TableLock::new(
                Hold::Rewrite,
                format!("add column {name} with a volatile default"),
            )
        } else if options().any(|option| {
            matches!(
                option,
                ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_)
            )
        }) {
            TableLock::new(Hold::Scan, format!("add column {name} with an index"))
        } else {
            // A constant or stable default is only recorded in the
            // catalogue (PostgreSQL 11 and later).
            None
        }
    }

    fn drop_column(&mut self, table: &str, column: &Ident, line: usize, existing: bool) {
        let name = ident(column);
        let added = self.added_columns.remove(&(table.to_owned(), name.clone()));
        if existing && !added {
            self.report(
                code::DROP_COLUMN,
                Severity::Error,
                line,
                format!("drop column {table}.{name} deletes its data"),
                "expand/contract: stop reading and writing the column in one release and drop \
                 it in a later one, after a backup",
            );
        }
        if let Some(columns) = self.ctx.existing_columns.get_mut(table) {
            columns.remove(&name);
        }
        if let Some(types) = self.ctx.column_types.get_mut(table) {
            types.remove(&name);
        }
    }

    fn add_constraint(
        &mut self,
        table: &str,
        constraint: &TableConstraint,
        not_valid: bool,
        line: usize,
        existing: bool,
    ) -> Option<TableLock> {
        let unique = match constraint {
            TableConstraint::Unique(unique) => Some(("unique constraint", &unique.columns)),
            TableConstraint::PrimaryKey(primary) => Some(("primary key", &primary.columns)),
            _ => None,
        };
        if let Some((kind, columns)) = unique
            && existing
        {
            self.report(
                code::UNIQUE_ON_EXISTING_COLUMN,
                Severity::Warning,
                line,
                format!(
                    "adding a {kind} on {table} ({}) fails if existing rows hold duplicates",
                    columns_text(columns)
                ),
                UNIQUE_HINT,
            );
        }
        match constraint {
            // Share row exclusive: blocks writes while it validates, but not
            // reads.
            TableConstraint::ForeignKey(_) => None,
            _ if not_valid => None,
            TableConstraint::Unique(_) | TableConstraint::PrimaryKey(_) => {
                TableLock::new(Hold::Scan, "add constraint builds an index")
            }
            TableConstraint::UniqueUsingIndex(_) | TableConstraint::PrimaryKeyUsingIndex(_) => {
                TableLock::new(Hold::Brief, "add constraint using index")
            }
            _ => TableLock::new(Hold::Scan, "add constraint without not valid"),
        }
    }

    /// A column gets `new_type` (PostgreSQL `ALTER COLUMN ... TYPE`, MySQL
    /// `MODIFY`/`CHANGE COLUMN`, which always restate the type).
    fn type_change(
        &mut self,
        table: &str,
        column: &str,
        new_type: &DataType,
        line: usize,
        existing: bool,
    ) {
        let new_type = type_text(new_type);
        let known = self
            .ctx
            .column_types
            .get(table)
            .and_then(|types| types.get(column));
        let added = self
            .added_columns
            .contains(&(table.to_owned(), column.to_owned()));
        if known != Some(&new_type) && existing && !added {
            self.report(
                code::ALTER_COLUMN_TYPE,
                Severity::Warning,
                line,
                format!(
                    "changing the type of {table}.{column} to {new_type} rewrites the table, fails on values that do not convert and can break the running version"
                ),
                "expand/contract: add a column of the new type, backfill it, write both, switch \
                 reads, then drop the old column in a later release",
            );
        }
        self.ctx
            .column_types
            .entry(table.to_owned())
            .or_default()
            .insert(column.to_owned(), new_type);
    }

    fn rename_column(
        &mut self,
        table: &str,
        old: &Ident,
        new: &Ident,
        line: usize,
        existing: bool,
    ) {
        let (old, new) = (ident(old), ident(new));
        let old_key = (table.to_owned(), old.clone());
        let added = self.added_columns.remove(&old_key);
        if added {
            self.added_columns.insert((table.to_owned(), new.clone()));
        } else if existing {
            self.report(
                code::RENAME_COLUMN,
                Severity::Warning,
                line,
                format!(
                    "rename column {table}.{old} to {new} breaks the running version, which still uses {old}"
                ),
                "expand/contract: add the new column, backfill it and write both, switch reads, \
                 then drop the old column in a later release",
            );
        }
        if let Some(columns) = self.ctx.existing_columns.get_mut(table)
            && columns.remove(&old)
        {
            columns.insert(new.clone());
        }
        if let Some(types) = self.ctx.column_types.get_mut(table)
            && let Some(data_type) = types.remove(&old)
        {
            types.insert(new, data_type);
        }
    }

    fn rename_table(&mut self, old: &str, new: &str, line: usize) {
        if self.preexisting(old) {
            self.report(
                code::RENAME_TABLE,
                Severity::Warning,
                line,
                format!(
                    "rename table {old} to {new} breaks the running version, which still uses {old}"
                ),
                "expand/contract: create the new table (or a view named like the old one), \
                 backfill and keep both in sync, switch the application, then drop the old one \
                 in a later release",
            );
        }
        let ctx = &mut *self.ctx;
        if ctx.existing_tables.remove(old) {
            ctx.existing_tables.insert(new.to_owned());
        }
        if let Some(columns) = ctx.existing_columns.remove(old) {
            ctx.existing_columns.insert(new.to_owned(), columns);
        }
        if let Some(types) = ctx.column_types.remove(old) {
            ctx.column_types.insert(new.to_owned(), types);
        }
        if let Some(rows) = ctx.table_rows.remove(old) {
            ctx.table_rows.insert(new.to_owned(), rows);
        }
        if self.created.remove(old) {
            self.created.insert(new.to_owned());
        }
        self.added_columns = std::mem::take(&mut self.added_columns)
            .into_iter()
            .map(|(table, column)| {
                if table == old {
                    (new.to_owned(), column)
                } else {
                    (table, column)
                }
            })
            .collect();
    }

    fn forget_table(&mut self, table: &str) {
        self.ctx.existing_tables.remove(table);
        self.ctx.existing_columns.remove(table);
        self.ctx.column_types.remove(table);
        self.ctx.table_rows.remove(table);
        self.created.remove(table);
        self.added_columns.retain(|(owner, _)| owner != table);
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

const UNIQUE_HINT: &str = "look for duplicates first (group by the columns having count(*) > 1); \
     on postgresql create the unique index concurrently in a no-transaction migration, then add \
     the constraint with using index";

/// Parses one statement's text in `dialect`; the error is the parser's.
fn parse(sql: &str, dialect: Dialect) -> Result<Vec<ast::Statement>, String> {
    // The parser is not expected to panic, but one odd statement must not
    // take the whole plan down with it.
    let parsed = panic::catch_unwind(|| match dialect {
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql),
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, sql),
        Dialect::Mysql => Parser::parse_sql(&MySqlDialect {}, sql),
    });
    match parsed {
        Ok(Ok(statements)) => Ok(statements),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the parser failed on this statement".to_owned()),
    }
}

/// `sql` with the `CONCURRENTLY` of `DROP INDEX CONCURRENTLY` replaced by
/// spaces, or `None` when it is not such a statement.
fn without_drop_index_concurrently(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut words = tokens
        .iter()
        .filter(|token| !matches!(token.token, Token::Whitespace(_)))
        .map(|token| match &token.token {
            Token::Word(word) if word.quote_style.is_none() => Some((word.keyword, token.span)),
            _ => None,
        });
    let (
        Some(Some((Keyword::DROP, _))),
        Some(Some((Keyword::INDEX, _))),
        Some(Some((Keyword::CONCURRENTLY, span))),
    ) = (words.next(), words.next(), words.next())
    else {
        return None;
    };
    let start = byte_offset(sql, span.start)?;
    let end = start + "CONCURRENTLY".len();
    if !sql.get(start..end)?.eq_ignore_ascii_case("concurrently") {
        return None;
    }
    Some(format!(
        "{}{}{}",
        &sql[..start],
        " ".repeat(end - start),
        &sql[end..]
    ))
}

/// Byte offset of a tokenizer location (1-based line and column in
/// characters).
fn byte_offset(text: &str, at: Location) -> Option<usize> {
    let (mut line, mut column) = (1, 1);
    for (offset, ch) in text.char_indices() {
        if line == at.line && column == at.column {
            return Some(offset);
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    None
}

/// The file line of a node's span within `statement`, or the statement's
/// line when the parser recorded no span.
fn line_at(statement: &Statement, span: Span) -> usize {
    match usize::try_from(span.start.line) {
        Ok(line) if line > 0 => statement.line + line - 1,
        _ => statement.line,
    }
}

/// An identifier as the linter compares it: unquoted, lowercase.
fn ident(ident: &Ident) -> String {
    ident.value.to_lowercase()
}

/// The last part of a possibly qualified name, as [`ident`].
fn name_of(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(part)) => ident(part),
        Some(ObjectNamePart::Function(function)) => ident(&function.name),
        None => String::new(),
    }
}

/// A name given as text (from the live database), as [`name_of`].
fn normalize(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name).trim();
    last.trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'))
        .to_lowercase()
}

/// A type as the parser prints it, lowercase, to compare restated types.
fn type_text(data_type: &DataType) -> String {
    data_type.to_string().to_lowercase()
}

/// The indexed columns (or expressions) for messages.
fn columns_text(columns: &[IndexColumn]) -> String {
    columns
        .iter()
        .map(|column| match &column.column.expr {
            Expr::Identifier(name) => ident(name),
            Expr::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_default(),
            expr => expr.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `serial` types: an integer with a sequence default.
fn is_serial(data_type: &DataType) -> bool {
    match data_type {
        DataType::Custom(name, _) => matches!(
            name_of(name).as_str(),
            "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial"
        ),
        _ => false,
    }
}

/// Whether a column option gives existing rows a value.
fn fills_itself(option: &ColumnOption) -> bool {
    match option {
        ColumnOption::Default(_)
        | ColumnOption::Generated { .. }
        | ColumnOption::Identity(_)
        | ColumnOption::Materialized(_)
        | ColumnOption::Alias(_) => true,
        // MySQL's AUTO_INCREMENT, SQLite's AUTOINCREMENT.
        ColumnOption::DialectSpecific(tokens) => tokens.iter().any(|token| {
            matches!(token, Token::Word(word)
                if matches!(word.keyword, Keyword::AUTO_INCREMENT | Keyword::AUTOINCREMENT))
        }),
        _ => false,
    }
}

/// Whether adding a column with this option rewrites a PostgreSQL table:
/// a volatile default, an identity, or a stored generated column.
fn rewrites(option: &ColumnOption) -> bool {
    match option {
        ColumnOption::Default(expr) => is_volatile(expr),
        ColumnOption::Generated {
            generation_expr,
            generation_expr_mode,
            ..
        } => {
            generation_expr.is_none()
                || matches!(
                    generation_expr_mode,
                    Some(ast::GeneratedExpressionMode::Stored)
                )
        }
        ColumnOption::Identity(_) => true,
        _ => false,
    }
}

/// PostgreSQL functions common in defaults that are not volatile. Any other
/// function counts as volatile, as user-defined functions are unless
/// declared otherwise.
const NOT_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "current_schema",
    "current_setting",
    "lower",
    "upper",
    "trim",
    "concat",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "length",
    "md5",
    "abs",
    "round",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "make_interval",
    "date_trunc",
    "timezone",
    "to_timestamp",
    "to_date",
    "to_char",
];

/// Whether a default expression calls a volatile function (PostgreSQL then
/// computes it for every existing row, rewriting the table).
fn is_volatile(expr: &Expr) -> bool {
    match expr {
        Expr::Function(function) => {
            !NOT_VOLATILE.contains(&name_of(&function.name).as_str())
                || match &function.args {
                    FunctionArguments::List(list) => list.args.iter().any(|arg| match arg {
                        FunctionArg::Named { arg, .. }
                        | FunctionArg::ExprNamed { arg, .. }
                        | FunctionArg::Unnamed(arg) => {
                            matches!(arg, FunctionArgExpr::Expr(expr) if is_volatile(expr))
                        }
                    }),
                    FunctionArguments::Subquery(_) => true,
                    FunctionArguments::None => false,
                }
        }
        Expr::Cast { expr, .. } | Expr::Nested(expr) | Expr::UnaryOp { expr, .. } => {
            is_volatile(expr)
        }
        Expr::BinaryOp { left, right, .. } => is_volatile(left) || is_volatile(right),
        Expr::Subquery(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
