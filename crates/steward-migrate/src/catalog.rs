//! What the target's catalogue says: a normalised schema dump and its
//! fingerprint (for drift detection and tests), integrity checks after a
//! migration, and the tables, columns and sizes the linter needs.

use sha2::{Digest, Sha256};

use crate::{Dialect, conn::Conn, history::HISTORY_TABLE};

/// One line per schema object, sorted: tables and columns, constraints,
/// indexes, views, triggers, routines, sequences, types. Column order is
/// left out, so a column dropped and re-added reads the same. The history
/// table is not part of the schema.
fn dump_query(dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name <> '{HISTORY_TABLE}' AND tbl_name <> '{HISTORY_TABLE}'"
        ),
        Dialect::Postgres => {
            let user_schema = "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
            format!(
                "SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname {user_schema} AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%' \
                 UNION ALL SELECT 'table ' || table_schema || '.' || table_name || ' ' || table_type FROM information_schema.tables \
                   WHERE table_schema {user_schema} AND table_name <> '{HISTORY_TABLE}' \
                 UNION ALL SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type \
                   || COALESCE('(' || character_maximum_length || ')', '') || ' null=' || is_nullable \
                   || ' default=' || COALESCE(column_default, '') || ' identity=' || is_identity FROM information_schema.columns \
                   WHERE table_schema {user_schema} AND table_name <> '{HISTORY_TABLE}' \
                 UNION ALL SELECT 'constraint ' || n.nspname || '.' || c.relname || '.' || con.conname || ' ' || pg_get_constraintdef(con.oid) \
                   FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname {user_schema} AND c.relname <> '{HISTORY_TABLE}' \
                 UNION ALL SELECT 'index ' || schemaname || '.' || indexname || ' ' || indexdef FROM pg_indexes \
                   WHERE schemaname {user_schema} AND tablename <> '{HISTORY_TABLE}' \
                 UNION ALL SELECT 'view ' || schemaname || '.' || viewname || ' ' || definition FROM pg_views WHERE schemaname {user_schema} \
                 UNION ALL SELECT 'matview ' || schemaname || '.' || matviewname || ' ' || definition FROM pg_matviews WHERE schemaname {user_schema} \
                 UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname {user_schema} \
                 UNION ALL SELECT 'routine ' || pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                   WHERE n.nspname {user_schema} AND p.prokind IN ('f', 'p') \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \
                 UNION ALL SELECT 'sequence ' || schemaname || '.' || sequencename FROM pg_sequences \
                   WHERE schemaname {user_schema} AND sequencename NOT LIKE '{HISTORY_TABLE}%' \
                 UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) \
                   FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
                   WHERE n.nspname {user_schema} GROUP BY n.nspname, t.typname \
                 UNION ALL SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'"
            )
        }
        Dialect::Mysql => format!(
            "SELECT CONCAT('table ', TABLE_NAME, ' ', TABLE_TYPE, ' ', IFNULL(ENGINE, '')) FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{HISTORY_TABLE}' \
             UNION ALL SELECT CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, ' null=', IS_NULLABLE, \
               ' default=', IFNULL(COLUMN_DEFAULT, 'NULL'), ' ', EXTRA) FROM information_schema.COLUMNS \
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{HISTORY_TABLE}' \
             UNION ALL SELECT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, ' unique=', 1 - NON_UNIQUE, ' ', \
               GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)) FROM information_schema.STATISTICS \
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{HISTORY_TABLE}' GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE \
             UNION ALL SELECT CONCAT('foreign_key ', TABLE_NAME, '.', CONSTRAINT_NAME, ' -> ', REFERENCED_TABLE_NAME, \
               ' update=', UPDATE_RULE, ' delete=', DELETE_RULE) FROM information_schema.REFERENTIAL_CONSTRAINTS \
               WHERE CONSTRAINT_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('check ', TABLE_NAME, '.', CONSTRAINT_NAME, ' ', CHECK_CLAUSE) FROM information_schema.CHECK_CONSTRAINTS \
               WHERE CONSTRAINT_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('view ', TABLE_NAME, ' ', VIEW_DEFINITION) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('trigger ', TRIGGER_NAME, ' ', ACTION_TIMING, ' ', EVENT_MANIPULATION, ' ', EVENT_OBJECT_TABLE, ' ', \
               ACTION_STATEMENT) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
             UNION ALL SELECT CONCAT('routine ', ROUTINE_TYPE, ' ', ROUTINE_NAME, ' ', IFNULL(ROUTINE_DEFINITION, '')) \
               FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"
        ),
    }
}

/// Collapses whitespace runs, so that formatting differences in stored
/// definitions do not read as schema changes.
fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Conn {
    /// The normalised schema dump: sorted lines, history table excluded.
    pub(crate) async fn schema_dump(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let query = dump_query(self.dialect());
        let rows = self.text_rows(&query).await?;
        let mut lines: Vec<String> = rows
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .map(|line| normalise(&line))
            .collect();
        lines.sort();
        Ok(lines)
    }

    /// SHA-256 (hex) of the schema dump, whitespace-normalised. The dump is
    /// aggregated into one text by the database: a fingerprint is taken
    /// after every migration, and decoding a row per schema object made it
    /// the costliest part of applying a small migration.
    pub(crate) async fn fingerprint(&mut self) -> Result<String, sqlx::Error> {
        let dump = dump_query(self.dialect());
        let aggregate = match self.dialect() {
            Dialect::Sqlite => {
                format!(
                    "WITH d(line) AS ({dump}) SELECT group_concat(line, char(10)) FROM (SELECT line FROM d ORDER BY line)"
                )
            }
            Dialect::Postgres => format!(
                "WITH d(line) AS ({dump}) SELECT string_agg(line, E'\\n' ORDER BY line) FROM d"
            ),
            Dialect::Mysql => {
                self.execute("SET SESSION group_concat_max_len = 1073741824")
                    .await?;
                format!(
                    "WITH d(line) AS ({dump}) SELECT CAST(GROUP_CONCAT(line ORDER BY line SEPARATOR '\\n') AS CHAR) FROM d"
                )
            }
        };
        let text = self
            .text_rows(&aggregate)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
            .unwrap_or_default();
        let mut hasher = Sha256::new();
        for (index, word) in text.split_whitespace().enumerate() {
            if index > 0 {
                hasher.update(b" ");
            }
            hasher.update(word.as_bytes());
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// PostgreSQL objects that a failed or careless migration leaves
    /// behind: invalid indexes and NOT VALID constraints (empty elsewhere).
    pub(crate) async fn suspects(&mut self) -> Result<Suspects, sqlx::Error> {
        if self.dialect() != Dialect::Postgres {
            return Ok(Suspects::default());
        }
        let first = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
            rows.into_iter()
                .filter_map(|row| row.into_iter().next().flatten())
                .collect()
        };
        let invalid_indexes = first(
            self.text_rows(
                "SELECT n.nspname || '.' || c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid",
            )
            .await?,
        );
        let not_valid = first(
            self.text_rows("SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE NOT convalidated")
                .await?,
        );
        Ok(Suspects {
            invalid_indexes,
            not_valid,
        })
    }

    /// Integrity problems after a migration (empty when all is well):
    /// SQLite's integrity check of the tables the migration names and its
    /// foreign-key check of the whole database; on PostgreSQL, invalid
    /// indexes and NOT VALID constraints that appeared since `before` (NOT
    /// VALID ones only when the migration did not ask for them).
    pub(crate) async fn integrity_problems(
        &mut self,
        migration_sql: &str,
        before: &Suspects,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut problems = Vec::new();
        match self.dialect() {
            Dialect::Sqlite => {
                // The whole-file check reads every page, which on a large
                // database takes minutes per migration; the tables the
                // migration names are the ones it can have damaged.
                let tables = self
                    .text_rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                    .await?;
                let mentioned = words(migration_sql);
                for table in tables
                    .into_iter()
                    .filter_map(|row| row.into_iter().next().flatten())
                {
                    if !mentioned.contains(&table.to_lowercase()) {
                        continue;
                    }
                    let check =
                        format!("PRAGMA integrity_check(\"{}\")", table.replace('"', "\"\""));
                    for row in self.text_rows(&check).await? {
                        if let Some(Some(text)) = row.into_iter().next()
                            && text != "ok"
                        {
                            problems.push(format!("integrity check of {table}: {text}"));
                        }
                    }
                }
                let violations = self
                    .text_rows(
                        "SELECT \"table\" || ' row ' || COALESCE(CAST(rowid AS TEXT), '?') || ' references missing ' || parent \
                         FROM pragma_foreign_key_check",
                    )
                    .await?;
                problems.extend(
                    violations
                        .into_iter()
                        .filter_map(|row| row.into_iter().next().flatten())
                        .map(|text| format!("foreign key violation: {text}")),
                );
            }
            Dialect::Postgres => {
                let after = self.suspects().await?;
                problems.extend(
                    after
                        .invalid_indexes
                        .iter()
                        .filter(|index| !before.invalid_indexes.contains(index))
                        .map(|index| {
                            format!(
                                "index {index} is invalid (a failed CREATE INDEX CONCURRENTLY?)"
                            )
                        }),
                );
                if !migration_sql.to_ascii_uppercase().contains("NOT VALID") {
                    problems.extend(
                        after
                            .not_valid
                            .iter()
                            .filter(|constraint| !before.not_valid.contains(constraint))
                            .map(|constraint| format!("constraint {constraint} is NOT VALID")),
                    );
                }
            }
            // InnoDB checks foreign keys as it goes; a full CHECK TABLE
            // reads every row, which is no job for a migration.
            Dialect::Mysql => {}
        }
        Ok(problems)
    }

    /// Columns of every user table, as (table, column), lowercase.
    pub(crate) async fn columns(&mut self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let query = match self.dialect() {
            Dialect::Sqlite => format!(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '{HISTORY_TABLE}'"
            ),
            Dialect::Postgres => format!(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name <> '{HISTORY_TABLE}'"
            ),
            Dialect::Mysql => format!(
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{HISTORY_TABLE}'"
            ),
        };
        Ok(self
            .text_rows(&query)
            .await?
            .into_iter()
            .filter_map(|row| {
                let mut row = row.into_iter();
                Some((row.next()??.to_lowercase(), row.next()??.to_lowercase()))
            })
            .collect())
    }

    /// Estimated rows per table (PostgreSQL statistics; empty elsewhere,
    /// where no lint needs them).
    pub(crate) async fn table_sizes(&mut self) -> Result<Vec<(String, u64)>, sqlx::Error> {
        if self.dialect() != Dialect::Postgres {
            return Ok(Vec::new());
        }
        let rows = self
            .text_rows(
                "SELECT relname::text, GREATEST(reltuples, 0)::bigint::text FROM pg_class \
                 WHERE relkind IN ('r', 'p') AND relnamespace = current_schema()::regnamespace",
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let mut row = row.into_iter();
                Some((row.next()??.to_lowercase(), row.next()??.parse().ok()?))
            })
            .collect())
    }
}

/// The identifiers in SQL text, lowercase (for "does the migration name
/// this table").
fn words(sql: &str) -> std::collections::HashSet<String> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Suspect PostgreSQL objects at one moment, to tell which a migration
/// created.
#[derive(Debug, Clone, Default)]
pub(crate) struct Suspects {
    invalid_indexes: Vec<String>,
    not_valid: Vec<String>,
}
