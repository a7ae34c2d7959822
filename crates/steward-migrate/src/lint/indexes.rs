//! Rules on indexes: a unique index over rows that may hold duplicates,
//! and on PostgreSQL an index built without `CONCURRENTLY` (which blocks
//! writes) or `CONCURRENTLY` inside a transaction (which fails).

use sqlparser::ast;
use steward_core::Severity;

use super::{
    Linter, code,
    sql::{columns_text, name_of},
};
use crate::{Dialect, Statement};

/// How to add a unique index or constraint to a table with rows.
pub(super) const UNIQUE_HINT: &str = "look for duplicates first (group by the columns having count(*) > 1); \
     on postgresql create the unique index concurrently in a no-transaction migration, then add \
     the constraint with using index";

impl Linter<'_> {
    pub(super) fn create_index(&mut self, index: &ast::CreateIndex, statement: &Statement) {
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
    pub(super) fn concurrently(&mut self, line: usize, what: &str) {
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
}
