//! What the target's catalogue says: a normalised schema dump and its
//! fingerprint (for drift detection and tests), integrity checks after a
//! migration, and the tables, columns and sizes the linter needs.

use sha2::{Digest, Sha256};

use crate::{Dialect, conn::Conn, history::HISTORY_TABLE};

/// Schemas that are not the user's.
const PG_USER_SCHEMA: &str = "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";

/// PostgreSQL's dump as `(rel, line)`: `rel` is the user relation a line
/// describes (table, view, sequence), 0 for objects of no relation
/// (schemas, routines, types, extensions), so that a migration that only
/// adds relations is fingerprinted by reading those alone. Reads
/// `pg_catalog` directly: its `information_schema` views are several times
/// slower on a large schema.
fn pg_keyed_dump(only: Option<&str>) -> String {
    let user = PG_USER_SCHEMA;
    // Each relation's lines are read through LATERAL joins on its oid, so
    // that reading a few relations uses the catalogue's indexes whatever
    // plan the server caches for the prepared query.
    let only_rels = only.map_or(String::new(), |rels| format!(" AND c.oid IN ({rels})"));
    let relations = format!(
        "SELECT r.oid AS rel, l.line FROM (SELECT c.oid, c.relname, c.relkind, n.nspname FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname {user} AND c.relname <> '{HISTORY_TABLE}' \
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S'){only_rels}) r \
         CROSS JOIN LATERAL ( \
           SELECT 'table ' || r.nspname || '.' || r.relname || ' ' || r.relkind::text WHERE r.relkind <> 'S' \
           UNION ALL SELECT 'column ' || r.nspname || '.' || r.relname || '.' || a.attname || ' ' \
             || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull::text \
             || ' default=' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') || ' identity=' || a.attidentity::text \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped AND r.relkind <> 'S' \
           UNION ALL SELECT 'constraint ' || r.nspname || '.' || r.relname || '.' || con.conname || ' ' || pg_get_constraintdef(con.oid) \
             FROM pg_constraint con WHERE con.conrelid = r.oid \
           UNION ALL SELECT 'index ' || ixn.nspname || '.' || ic.relname || ' ' || pg_get_indexdef(i.indexrelid) FROM pg_index i \
             JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace ixn ON ixn.oid = ic.relnamespace WHERE i.indrelid = r.oid \
           UNION ALL SELECT 'view ' || r.nspname || '.' || r.relname || ' ' || pg_get_viewdef(r.oid) WHERE r.relkind = 'v' \
           UNION ALL SELECT 'matview ' || r.nspname || '.' || r.relname || ' ' || pg_get_viewdef(r.oid) WHERE r.relkind = 'm' \
           UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE t.tgrelid = r.oid AND NOT t.tgisinternal \
           UNION ALL SELECT 'sequence ' || r.nspname || '.' || r.relname WHERE r.relkind = 'S' \
             AND r.relname NOT LIKE '{HISTORY_TABLE}%' \
         ) l(line)"
    );
    if only.is_some() {
        return relations;
    }
    format!(
        "{relations} \
         UNION ALL SELECT 0::oid, 'schema ' || nspname FROM pg_namespace WHERE nspname {user} \
           AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%' \
         UNION ALL SELECT 0::oid, 'routine ' || pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
           WHERE n.nspname {user} AND p.prokind IN ('f', 'p') \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \
         UNION ALL SELECT 0::oid, 'type ' || n.nspname || '.' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) \
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
           WHERE n.nspname {user} GROUP BY n.nspname, t.typname \
         UNION ALL SELECT 0::oid, 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'"
    )
}

/// One line per schema object: tables and columns, constraints, indexes,
/// views, triggers, routines, sequences, types. Column order is left out,
/// so a column dropped and re-added reads the same. The history table is
/// not part of the schema.
fn dump_query(dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name <> '{HISTORY_TABLE}' AND tbl_name <> '{HISTORY_TABLE}'"
        ),
        Dialect::Postgres => format!("SELECT line FROM ({}) d", pg_keyed_dump(None)),
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
             UNION ALL SELECT CONCAT('view ', TABLE_NAME, ' ', REPLACE(VIEW_DEFINITION, CONCAT('`', DATABASE(), '`.'), '')) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() \
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

    /// The schema fingerprint, from a full read of the catalogue.
    pub(crate) async fn fingerprint(&mut self) -> Result<String, sqlx::Error> {
        let mut sum = LineSum::default();
        for (_, lines) in self.fingerprint_lines().await? {
            sum.add(&lines);
        }
        Ok(sum.fingerprint())
    }

    /// The dump's lines, aggregated by the database into one text per
    /// relation (PostgreSQL) or in all (elsewhere), separated by U+001E:
    /// decoding a row per schema object made fingerprinting the costliest
    /// part of applying a small migration.
    async fn fingerprint_lines(&mut self) -> Result<Vec<(u32, String)>, sqlx::Error> {
        let query = match self.dialect() {
            Dialect::Sqlite => format!(
                "WITH d(line) AS ({}) SELECT '0', group_concat(line, char(30)) FROM d",
                dump_query(Dialect::Sqlite)
            ),
            Dialect::Postgres => format!(
                "SELECT rel::text, string_agg(line, chr(30)) FROM ({}) d GROUP BY rel",
                pg_keyed_dump(None)
            ),
            Dialect::Mysql => {
                self.execute("SET SESSION group_concat_max_len = 1073741824")
                    .await?;
                format!(
                    "WITH d(line) AS ({}) SELECT '0', CAST(GROUP_CONCAT(line SEPARATOR '\u{1e}') AS CHAR) FROM d",
                    dump_query(Dialect::Mysql)
                )
            }
        };
        Ok(keyed(self.text_rows(&query).await?))
    }

    /// The fingerprint after a migration, kept up to date in `state`;
    /// `None` when it is left for [`Self::flush_fingerprints`].
    ///
    /// `created` names the relations the migration made when that is all
    /// it did to the catalogue ([`crate::lint::only_creates`]). On
    /// PostgreSQL, where reading the whole catalogue after each of a
    /// thousand migrations costs more than the migrations, such a
    /// migration's row is written without a fingerprint and the caller
    /// queues it (`CatalogCache::defer`); the queue is filled in by one
    /// query before the next migration that does anything else, and at the
    /// end of the run. Anything else reads everything.
    pub(crate) async fn fingerprint_after(
        &mut self,
        state: &mut CatalogCache,
        created: Option<&[String]>,
    ) -> Result<Option<String>, sqlx::Error> {
        if self.dialect() == Dialect::Postgres && state.primed && created.is_some() {
            return Ok(None);
        }
        // The caller flushes the queue before a migration that does not
        // only create relations; whatever is still queued here can no
        // longer be computed from this catalogue and stays unrecorded.
        state.pending.clear();
        self.fingerprint_primed(state).await.map(Some)
    }

    /// Writes the fingerprints of the queued rows: the relations their
    /// migrations created (with the sequences those own) are read in one
    /// query and added, in order, to the previous sum. When a name does not
    /// resolve to one new relation, or exists in another schema too (it
    /// could change how existing definitions are qualified), the queue's
    /// last row gets a full read and the others stay without one.
    pub(crate) async fn flush_fingerprints(
        &mut self,
        state: &mut CatalogCache,
    ) -> Result<(), sqlx::Error> {
        if state.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut state.pending);
        let rows = match self.pg_new_relations(state, &pending).await? {
            Some(added) => {
                let mut rows = Vec::with_capacity(pending.len());
                for (index, (rank, _)) in pending.iter().enumerate() {
                    for (rel, name, lines) in added
                        .iter()
                        .filter(|(k, ..)| *k == index)
                        .map(|(_, r, n, l)| (r, n, l))
                    {
                        let mut sum = LineSum::default();
                        sum.add(lines);
                        state.total.plus(&sum);
                        state.relations.insert(*rel, sum);
                        state.names.insert(name.clone());
                    }
                    rows.push((*rank, state.total.fingerprint()));
                }
                rows
            }
            None => {
                let fingerprint = self.fingerprint_primed(state).await?;
                pending
                    .last()
                    .map(|(rank, _)| vec![(*rank, fingerprint)])
                    .unwrap_or_default()
            }
        };
        self.set_fingerprints(&rows).await
    }

    /// A full read that also primes `state` for incremental use.
    pub(crate) async fn fingerprint_primed(
        &mut self,
        state: &mut CatalogCache,
    ) -> Result<String, sqlx::Error> {
        let suspects = state.suspects.take();
        let pending = std::mem::take(&mut state.pending);
        *state = CatalogCache {
            suspects,
            pending,
            ..CatalogCache::default()
        };
        for (rel, lines) in self.fingerprint_lines().await? {
            let mut sum = LineSum::default();
            sum.add(&lines);
            state.total.plus(&sum);
            state.relations.insert(rel, sum);
        }
        if self.dialect() == Dialect::Postgres {
            state.names = self
                .text_rows(&format!(
                    "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname {PG_USER_SCHEMA}"
                ))
                .await?
                .into_iter()
                .filter_map(|row| row.into_iter().next().flatten())
                .collect();
            state.primed = true;
        }
        Ok(state.total.fingerprint())
    }

    /// For each queued migration (by index), the relations its names
    /// resolve to, with the sequences they own, and their dump lines; `None`
    /// unless each is new and its name unique. One query for the queue.
    async fn pg_new_relations(
        &mut self,
        state: &CatalogCache,
        pending: &[(i64, Vec<String>)],
    ) -> Result<Option<Vec<(usize, u32, String, String)>>, sqlx::Error> {
        // One text[] parameter of `index:name`, so the query text is the
        // same every time (see `text_rows_with`).
        let items: Vec<String> = pending
            .iter()
            .enumerate()
            .flat_map(|(index, (_, names))| names.iter().map(move |name| format!("{index}:{name}")))
            .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        if items.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let query = format!(
            "WITH made AS MATERIALIZED (SELECT split_part(item, ':', 1)::int AS k, \
                 to_regclass(substr(item, strpos(item, ':') + 1))::oid AS rel FROM unnest($1::text[]) AS item), \
             owned AS MATERIALIZED (SELECT m.k, c.oid, c.relname, \
               (SELECT count(*) FROM pg_class x WHERE x.relname = c.relname AND x.oid <> c.oid) AS namesakes \
               FROM made m CROSS JOIN LATERAL (SELECT m.rel UNION SELECT d.objid FROM pg_depend d \
                 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = m.rel AND d.classid = 'pg_class'::regclass) o(rel) \
               JOIN pg_class c ON c.oid = o.rel AND (o.rel = m.rel OR c.relkind = 'S')) \
             SELECT 'relation', o.k::text, o.oid::text, o.relname::text, o.namesakes::text, l.lines FROM owned o \
               LEFT JOIN (SELECT rel, string_agg(line, chr(30)) AS lines FROM ({}) d GROUP BY rel) l ON l.rel = o.oid \
             UNION ALL SELECT 'unresolved', count(*)::text, '', '', '', '' FROM made WHERE rel IS NULL",
            pg_keyed_dump(Some("SELECT oid FROM owned"))
        );
        let rows = self
            .text_rows_with(&query, format!("{{{}}}", items.join(",")))
            .await?;
        let mut added = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            let [
                Some(kind),
                Some(index),
                Some(rel),
                Some(name),
                Some(namesakes),
                lines,
            ] = row.as_slice()
            else {
                return Ok(None);
            };
            if kind == "unresolved" {
                if index != "0" {
                    return Ok(None);
                }
                continue;
            }
            let (Ok(index), Ok(rel)) = (index.parse::<usize>(), rel.parse::<u32>()) else {
                return Ok(None);
            };
            if namesakes != "0"
                || state.relations.contains_key(&rel)
                || state.names.contains(name)
                || !seen.insert(rel)
            {
                return Ok(None);
            }
            added.push((index, rel, name.clone(), lines.clone().unwrap_or_default()));
        }
        Ok(Some(added))
    }

    /// PostgreSQL objects that a failed or careless migration leaves
    /// behind: invalid indexes and NOT VALID constraints (empty elsewhere).
    pub(crate) async fn suspects(&mut self) -> Result<Suspects, sqlx::Error> {
        if self.dialect() != Dialect::Postgres {
            return Ok(Suspects::default());
        }
        // One round trip: this runs before and after every migration.
        let rows = self
            .text_rows(
                "SELECT 'index', n.nspname || '.' || c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid \
                 UNION ALL SELECT 'constraint', conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE NOT convalidated",
            )
            .await?;
        let (mut invalid_indexes, mut not_valid) = (Vec::new(), Vec::new());
        for row in rows {
            if let [Some(kind), Some(name)] = row.as_slice() {
                if kind == "index" {
                    invalid_indexes.push(name.clone());
                } else {
                    not_valid.push(name.clone());
                }
            }
        }
        Ok(Suspects {
            invalid_indexes,
            not_valid,
        })
    }

    /// Integrity problems after a migration (empty when all is well), and
    /// the suspects now. `creates_only`: the migration only created
    /// relations ([`crate::lint::only_creates`]). SQLite's integrity check of the tables the migration names and its
    /// foreign-key check of the whole database; on PostgreSQL, invalid
    /// indexes and NOT VALID constraints that appeared since `before` (NOT
    /// VALID ones only when the migration did not ask for them).
    pub(crate) async fn integrity_problems(
        &mut self,
        migration_sql: &str,
        before: &Suspects,
        creates_only: bool,
    ) -> Result<(Vec<String>, Suspects), sqlx::Error> {
        let mut problems = Vec::new();
        let mut now = Suspects::default();
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
            // A migration that only created relations (in a transaction,
            // so without CONCURRENTLY) cannot have left an invalid index or
            // a NOT VALID constraint.
            Dialect::Postgres if creates_only => now = before.clone(),
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
                now = after;
            }
            // InnoDB checks foreign keys as it goes; a full CHECK TABLE
            // reads every row, which is no job for a migration.
            Dialect::Mysql => {}
        }
        Ok((problems, now))
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

/// `(rel, lines)` rows of [`Conn::fingerprint_lines`].
fn keyed(rows: Vec<Vec<Option<String>>>) -> Vec<(u32, String)> {
    rows.into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            let rel = row.next()??.parse().ok()?;
            Some((rel, row.next()?.unwrap_or_default()))
        })
        .collect()
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

/// What a run knows of the catalogue between its migrations, so that each
/// migration's checks read only what it changed: the fingerprint as the
/// sum of the line hashes of each relation, and the suspect objects.
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    /// Suspects after the previous migration (its transaction committed
    /// them), the next one's "before".
    pub(crate) suspects: Option<Suspects>,
    /// Rows written without a fingerprint, with the relations their
    /// migrations created (see [`Conn::fingerprint_after`]).
    pending: Vec<(i64, Vec<String>)>,
    primed: bool,
    total: LineSum,
    relations: std::collections::HashMap<u32, LineSum>,
    names: std::collections::HashSet<String>,
}

impl CatalogCache {
    /// Queues a row written without a fingerprint.
    pub(crate) fn defer(&mut self, rank: i64, created: Vec<String>) {
        self.pending.push((rank, created));
    }

    /// Whether rows wait for a fingerprint.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// The sum, modulo 2^256, of the SHA-256 of each whitespace-normalised
/// dump line. A sum is indifferent to order, so the fingerprint needs no
/// collation-dependent sort and can be updated a relation at a time; a sum
/// (unlike XOR) does not cancel out repeated lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineSum([u64; 4]);

impl LineSum {
    /// Adds every line of `lines`, separated by U+001E.
    fn add(&mut self, lines: &str) {
        for line in lines.split('\u{1e}') {
            if line.split_whitespace().next().is_none() {
                continue;
            }
            let mut hasher = Sha256::new();
            for (index, word) in line.split_whitespace().enumerate() {
                if index > 0 {
                    hasher.update(b" ");
                }
                hasher.update(word.as_bytes());
            }
            let digest = hasher.finalize();
            let mut limbs = [0u64; 4];
            for (limb, chunk) in limbs.iter_mut().zip(digest.chunks_exact(8)) {
                *limb = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            }
            self.plus(&LineSum(limbs));
        }
    }

    /// Adds another sum, with carries.
    fn plus(&mut self, other: &LineSum) {
        let mut carry = false;
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            let (sum, c1) = mine.overflowing_add(theirs);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *mine = sum;
            carry = c1 || c2;
        }
    }

    /// SHA-256 (hex) of the sum.
    fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for limb in self.0 {
            hasher.update(limb.to_le_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests;
