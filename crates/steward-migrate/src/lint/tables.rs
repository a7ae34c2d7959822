//! Rules on whole tables and schemas: `CREATE TABLE` (recorded in the
//! context), `DROP SCHEMA`/`DATABASE`/`TABLE`/`INDEX` (data loss, and
//! PostgreSQL's `DROP INDEX` lock) and renamed tables (which break the
//! running version).

use std::collections::HashMap;

use sqlparser::ast::{self, ObjectName, ObjectType, Spanned};
use steward_core::Severity;

use super::{
    Linter, code,
    sql::{ident, line_at, name_of, type_text},
};
use crate::{Dialect, Statement};

impl Linter<'_> {
    pub(super) fn create_table(&mut self, create: &ast::CreateTable) {
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

    pub(super) fn drop(
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

    pub(super) fn rename_table(&mut self, old: &str, new: &str, line: usize) {
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
}
