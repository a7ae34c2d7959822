//! Rules on `ALTER TABLE`, operation by operation: added columns (`NOT
//! NULL` without a default), dropped, retyped and renamed columns, added
//! constraints, and on PostgreSQL the `ACCESS EXCLUSIVE` lock the
//! statement takes on a large table (briefly, for a scan, or for a
//! rewrite, whichever of its operations needs most).

use sqlparser::{
    ast::{
        self, AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, DataType,
        DetachPartitionMode, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
        RenameTableNameKind, Spanned, TableConstraint,
    },
    keywords::Keyword,
    tokenizer::Token,
};
use steward_core::Severity;

use super::{
    Linter, code,
    indexes::UNIQUE_HINT,
    sql::{columns_text, ident, line_at, name_of, type_text},
};
use crate::{Dialect, Statement};

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

impl Linter<'_> {
    pub(super) fn alter_table(&mut self, alter: &ast::AlterTable, statement: &Statement) {
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
