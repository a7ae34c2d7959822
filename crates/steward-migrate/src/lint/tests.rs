//! Unit tests of the linter: each rule on the statements it reads, per
//! dialect, and the context a plan carries from one migration to the next.

use super::*;
use crate::{MigrationKind, SqlFile, split};

const PG: Dialect = Dialect::Postgres;
const SQLITE: Dialect = Dialect::Sqlite;
const MYSQL: Dialect = Dialect::Mysql;

fn migration(sql: &str, no_transaction: bool) -> Migration {
    Migration {
        version: None,
        name: "test".to_owned(),
        kind: MigrationKind::Versioned,
        up: SqlFile::new("V2__test.sql", sql),
        down: None,
        verify: None,
        no_transaction,
    }
}

/// `users` and `tags` are small, `orders` is large.
fn context(dialect: Dialect) -> LintContext {
    let mut ctx = LintContext::new(dialect);
    ctx.add_table("users", ["id", "email", "name", "age"]);
    ctx.add_table("orders", ["id", "user_id", "total"]);
    ctx.add_table("tags", ["id", "name"]);
    ctx.table_rows.insert("orders".to_owned(), 2_000_000);
    ctx.table_rows.insert("tags".to_owned(), 10);
    ctx
}

fn lint_in(ctx: &mut LintContext, sql: &str, no_transaction: bool) -> Vec<Finding> {
    let migration = migration(sql, no_transaction);
    let statements = split(&migration.up.content, ctx.dialect);
    lint_migration(&migration, &statements, ctx)
}

fn lint(dialect: Dialect, sql: &str) -> Vec<Finding> {
    lint_in(&mut context(dialect), sql, false)
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|finding| finding.code).collect()
}

const DROP_SCHEMA: &str = code::DROP_SCHEMA;
const DROP_TABLE: &str = code::DROP_TABLE;
const DROP_COLUMN: &str = code::DROP_COLUMN;
const NOT_NULL: &str = code::NOT_NULL_WITHOUT_DEFAULT;
const UNIQUE: &str = code::UNIQUE_ON_EXISTING_COLUMN;
const TYPE: &str = code::ALTER_COLUMN_TYPE;
const RENAME_TABLE: &str = code::RENAME_TABLE;
const RENAME_COLUMN: &str = code::RENAME_COLUMN;
const CREATE_INDEX: &str = code::CREATE_INDEX_NOT_CONCURRENTLY;
const DROP_INDEX: &str = code::DROP_INDEX_NOT_CONCURRENTLY;
const IN_TRANSACTION: &str = code::CONCURRENTLY_IN_TRANSACTION;
const LOCK: &str = code::ACCESS_EXCLUSIVE_LOCK_LARGE_TABLE;
const UNPARSABLE: &str = code::UNPARSABLE_SQL;

/// (dialect, migration text, expected codes in order), in a migration that
/// runs in a transaction, against [`context`].
const CASES: &[(Dialect, &str, &[&str])] = &[
    // Data loss.
    (PG, "DROP SCHEMA billing CASCADE", &[DROP_SCHEMA]),
    (MYSQL, "DROP DATABASE app", &[DROP_SCHEMA]),
    (PG, "DROP TABLE users", &[DROP_TABLE]),
    (SQLITE, "DROP TABLE IF EXISTS users", &[DROP_TABLE]),
    (MYSQL, "DROP TABLE users, tags", &[DROP_TABLE, DROP_TABLE]),
    (PG, "CREATE TABLE tmp (id int); DROP TABLE tmp", &[]),
    (PG, "ALTER TABLE users DROP COLUMN email", &[DROP_COLUMN]),
    (
        SQLITE,
        "ALTER TABLE users DROP COLUMN email",
        &[DROP_COLUMN],
    ),
    (
        MYSQL,
        "ALTER TABLE users DROP COLUMN email, DROP COLUMN age",
        &[DROP_COLUMN, DROP_COLUMN],
    ),
    (
        PG,
        "CREATE TABLE t (id int, x int); ALTER TABLE t DROP COLUMN x",
        &[],
    ),
    (
        PG,
        "ALTER TABLE users ADD COLUMN x int; ALTER TABLE users DROP COLUMN x",
        &[],
    ),
    // NOT NULL without a default.
    (
        PG,
        "ALTER TABLE users ADD COLUMN score int NOT NULL",
        &[NOT_NULL],
    ),
    (
        SQLITE,
        "ALTER TABLE users ADD COLUMN score INTEGER NOT NULL",
        &[NOT_NULL],
    ),
    (
        MYSQL,
        "ALTER TABLE users ADD score INT NOT NULL",
        &[NOT_NULL],
    ),
    (
        PG,
        "ALTER TABLE users ADD COLUMN ref int PRIMARY KEY",
        &[NOT_NULL],
    ),
    (
        PG,
        "ALTER TABLE users ADD COLUMN score int NOT NULL DEFAULT 0",
        &[],
    ),
    (
        SQLITE,
        "ALTER TABLE users ADD COLUMN score TEXT NOT NULL DEFAULT ''",
        &[],
    ),
    (PG, "ALTER TABLE users ADD COLUMN score int", &[]),
    (PG, "ALTER TABLE users ADD COLUMN n bigserial NOT NULL", &[]),
    (
        PG,
        "ALTER TABLE users ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS IDENTITY",
        &[],
    ),
    (
        MYSQL,
        "ALTER TABLE users ADD COLUMN n INT NOT NULL AUTO_INCREMENT",
        &[],
    ),
    (
        PG,
        "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN x int NOT NULL",
        &[],
    ),
    (
        PG,
        "CREATE TABLE IF NOT EXISTS users (id int); ALTER TABLE users ADD x int NOT NULL",
        &[NOT_NULL],
    ),
    // Unique over existing rows.
    (SQLITE, "CREATE UNIQUE INDEX ux ON users (email)", &[UNIQUE]),
    (MYSQL, "CREATE UNIQUE INDEX ux ON users (email)", &[UNIQUE]),
    (
        PG,
        "CREATE UNIQUE INDEX ux ON users (lower(email))",
        &[UNIQUE, CREATE_INDEX],
    ),
    (
        PG,
        "ALTER TABLE users ADD CONSTRAINT users_email UNIQUE (email)",
        &[UNIQUE],
    ),
    (
        MYSQL,
        "ALTER TABLE users ADD UNIQUE (email, name)",
        &[UNIQUE],
    ),
    (
        MYSQL,
        "ALTER TABLE users ADD UNIQUE INDEX ux (email)",
        &[UNIQUE],
    ),
    (
        PG,
        "ALTER TABLE users ADD CONSTRAINT users_email UNIQUE USING INDEX ux",
        &[],
    ),
    (
        PG,
        "CREATE TABLE t (id int, e text); CREATE UNIQUE INDEX ux ON t (e); ALTER TABLE t ADD UNIQUE (e)",
        &[],
    ),
    // Type changes.
    (
        PG,
        "ALTER TABLE users ALTER COLUMN age TYPE bigint",
        &[TYPE],
    ),
    (
        PG,
        "ALTER TABLE users ALTER COLUMN age SET DATA TYPE bigint USING age::bigint",
        &[TYPE],
    ),
    (MYSQL, "ALTER TABLE users MODIFY COLUMN age BIGINT", &[TYPE]),
    (
        MYSQL,
        "ALTER TABLE users CHANGE COLUMN age years BIGINT",
        &[RENAME_COLUMN, TYPE],
    ),
    (
        MYSQL,
        "CREATE TABLE t (a INT); ALTER TABLE t MODIFY a BIGINT",
        &[],
    ),
    // Renames.
    (PG, "ALTER TABLE users RENAME TO people", &[RENAME_TABLE]),
    (
        SQLITE,
        "ALTER TABLE users RENAME TO people",
        &[RENAME_TABLE],
    ),
    (
        MYSQL,
        "RENAME TABLE users TO people, tags TO labels",
        &[RENAME_TABLE, RENAME_TABLE],
    ),
    (
        PG,
        "ALTER TABLE users RENAME COLUMN email TO mail",
        &[RENAME_COLUMN],
    ),
    (
        SQLITE,
        "ALTER TABLE users RENAME COLUMN email TO mail",
        &[RENAME_COLUMN],
    ),
    (
        PG,
        "CREATE TABLE t (a int); ALTER TABLE t RENAME TO u; ALTER TABLE u RENAME a TO b",
        &[],
    ),
    // Indexes on PostgreSQL.
    (PG, "CREATE INDEX ix ON users (email)", &[CREATE_INDEX]),
    (PG, "CREATE TABLE t (e text); CREATE INDEX ix ON t (e)", &[]),
    (SQLITE, "CREATE INDEX ix ON users (email)", &[]),
    (MYSQL, "CREATE INDEX ix ON users (email)", &[]),
    (
        PG,
        "CREATE INDEX CONCURRENTLY ix ON users (email)",
        &[IN_TRANSACTION],
    ),
    (PG, "DROP INDEX ix", &[DROP_INDEX]),
    (
        PG,
        "DROP INDEX IF EXISTS a, b CASCADE",
        &[DROP_INDEX, DROP_INDEX],
    ),
    (
        PG,
        "DROP INDEX CONCURRENTLY IF EXISTS ix",
        &[IN_TRANSACTION],
    ),
    (
        PG,
        "CREATE TABLE t (e text); CREATE INDEX ix ON t (e); DROP INDEX ix",
        &[],
    ),
    (SQLITE, "DROP INDEX ix", &[]),
    (MYSQL, "DROP INDEX ix ON users", &[]),
    // Locks on a large PostgreSQL table.
    (
        PG,
        "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid()",
        &[LOCK],
    ),
    (PG, "ALTER TABLE orders ADD COLUMN n bigserial", &[LOCK]),
    (
        PG,
        "ALTER TABLE orders ADD COLUMN at timestamptz NOT NULL DEFAULT now()",
        &[],
    ),
    (
        PG,
        "ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT CURRENT_TIMESTAMP",
        &[],
    ),
    (PG, "ALTER TABLE orders ADD COLUMN note text", &[]),
    (
        PG,
        "ALTER TABLE orders ALTER COLUMN total SET NOT NULL",
        &[LOCK],
    ),
    (
        PG,
        "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2)",
        &[TYPE, LOCK],
    ),
    (
        PG,
        "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0)",
        &[LOCK],
    ),
    (
        PG,
        "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID",
        &[],
    ),
    (PG, "ALTER TABLE orders VALIDATE CONSTRAINT positive", &[]),
    (
        PG,
        "ALTER TABLE orders ADD CONSTRAINT owner FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
        &[],
    ),
    (
        PG,
        "ALTER TABLE orders ADD PRIMARY KEY (id)",
        &[UNIQUE, LOCK],
    ),
    (
        PG,
        "ALTER TABLE orders RENAME COLUMN total TO amount",
        &[RENAME_COLUMN, LOCK],
    ),
    (
        PG,
        "ALTER TABLE orders DROP COLUMN total",
        &[DROP_COLUMN, LOCK],
    ),
    (
        PG,
        "ALTER TABLE orders RENAME TO purchases",
        &[RENAME_TABLE, LOCK],
    ),
    (PG, "TRUNCATE orders", &[LOCK]),
    (PG, "TRUNCATE tags", &[]),
    (PG, "LOCK TABLE orders", &[LOCK]),
    (PG, "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", &[LOCK]),
    (PG, "LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE", &[]),
    (PG, "ALTER TABLE tags ALTER COLUMN name SET NOT NULL", &[]),
    (
        MYSQL,
        "ALTER TABLE orders MODIFY COLUMN total BIGINT",
        &[TYPE],
    ),
    (MYSQL, "TRUNCATE orders", &[]),
    // Schema-qualified and quoted names.
    (PG, r#"DROP TABLE "Public"."USERS""#, &[DROP_TABLE]),
    (
        PG,
        r#"ALTER TABLE public."Users" DROP COLUMN "Email""#,
        &[DROP_COLUMN],
    ),
    (
        PG,
        r#"CREATE TABLE app."T" (id int); DROP TABLE app.t"#,
        &[],
    ),
    (
        MYSQL,
        "ALTER TABLE `app`.`Users` RENAME COLUMN `Email` TO `mail`",
        &[RENAME_COLUMN],
    ),
    (
        SQLITE,
        r#"CREATE TABLE "T" (a int); CREATE UNIQUE INDEX ux ON [t] (a)"#,
        &[],
    ),
    // Harmless statements.
    (
        PG,
        "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL)",
        &[],
    ),
    (PG, "INSERT INTO users (id, email) VALUES (1, 'a@b')", &[]),
    (PG, "UPDATE users SET name = 'x' WHERE id = 1", &[]),
    (PG, "CREATE VIEW v AS SELECT id FROM users", &[]),
    (PG, "DROP VIEW v", &[]),
    (PG, "CREATE EXTENSION IF NOT EXISTS pgcrypto", &[]),
    (PG, "GRANT SELECT ON users TO reader", &[]),
    (PG, "COMMENT ON TABLE users IS 'people'", &[]),
    (
        SQLITE,
        "CREATE TRIGGER tr AFTER INSERT ON users BEGIN UPDATE tags SET name = 'x'; END",
        &[],
    ),
    // Unparsable.
    (PG, "DO $$ BEGIN PERFORM 1; END $$", &[UNPARSABLE]),
    (SQLITE, "SELEKT 1", &[UNPARSABLE]),
    (MYSQL, "ALTER TABLE users FROB email", &[UNPARSABLE]),
];

#[test]
fn cases() {
    let mut failures = Vec::new();
    for (dialect, sql, expected) in CASES {
        let findings = lint(*dialect, sql);
        if codes(&findings) != *expected {
            failures.push(format!(
                "{dialect:?} {sql}\n  expected {expected:?}\n  got {findings:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn severities() {
    let cases = [
        (DROP_SCHEMA, "DROP SCHEMA s", Severity::Error),
        (DROP_TABLE, "DROP TABLE users", Severity::Error),
        (
            DROP_COLUMN,
            "ALTER TABLE users DROP COLUMN age",
            Severity::Error,
        ),
        (
            NOT_NULL,
            "ALTER TABLE users ADD x int NOT NULL",
            Severity::Error,
        ),
        (
            UNIQUE,
            "ALTER TABLE users ADD UNIQUE (email)",
            Severity::Warning,
        ),
        (
            TYPE,
            "ALTER TABLE users ALTER age TYPE text",
            Severity::Warning,
        ),
        (
            RENAME_TABLE,
            "ALTER TABLE users RENAME TO people",
            Severity::Warning,
        ),
        (
            RENAME_COLUMN,
            "ALTER TABLE users RENAME age TO years",
            Severity::Warning,
        ),
        (
            CREATE_INDEX,
            "CREATE INDEX ix ON users (age)",
            Severity::Warning,
        ),
        (DROP_INDEX, "DROP INDEX ix", Severity::Warning),
        (
            IN_TRANSACTION,
            "CREATE INDEX CONCURRENTLY ix ON users (age)",
            Severity::Error,
        ),
        (LOCK, "LOCK TABLE orders", Severity::Warning),
        (UNPARSABLE, "FROB", Severity::Warning),
    ];
    for (code, sql, severity) in cases {
        let findings = lint(PG, sql);
        assert_eq!(codes(&findings), [code], "{sql}");
        let finding = &findings[0];
        assert_eq!(finding.severity, severity, "{sql}");
        assert_eq!(finding.file, PathBuf::from("V2__test.sql"));
        assert_eq!(finding.line, 1);
        assert!(!finding.message.ends_with('.'), "{}", finding.message);
        assert!(!finding.hint.is_empty());
        assert!(
            !finding.message.starts_with(char::is_uppercase),
            "{}",
            finding.message
        );
    }
}

#[test]
fn concurrently_in_a_no_transaction_migration_is_fine() {
    for sql in [
        "CREATE INDEX CONCURRENTLY ix ON users (email)",
        "DROP INDEX CONCURRENTLY ix",
        "-- steward:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS \"IX\";",
    ] {
        let findings = lint_in(&mut context(PG), sql, true);
        assert_eq!(findings, [], "{sql}");
    }
    // A unique index still fails on duplicates, concurrently or not.
    let findings = lint_in(
        &mut context(PG),
        "CREATE UNIQUE INDEX CONCURRENTLY ux ON users (email)",
        true,
    );
    assert_eq!(codes(&findings), [UNIQUE]);
}

#[test]
fn sqlite_has_no_concurrently_findings() {
    let findings = lint(SQLITE, "CREATE INDEX ix ON users (email);\nDROP INDEX ix;");
    assert_eq!(findings, []);
}

#[test]
fn unparsable_sql_is_exactly_one_warning() {
    let sql = "CREATE TABLE t (id int);\n\nALTER TABLE users\n  FROBNICATE email;\nDROP VIEW v;";
    let findings = lint(PG, sql);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding.code, UNPARSABLE);
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(finding.line, 3);
    assert!(
        finding.message.contains("FROBNICATE"),
        "{}",
        finding.message
    );
    assert!(finding.message.ends_with("(line 4)"), "{}", finding.message);
    assert!(finding.hint.contains("still runs"));
}

#[test]
fn garbage_never_panics() {
    for dialect in [PG, SQLITE, MYSQL] {
        for sql in [
            "",
            "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
            "SELECT 'unterminated",
            "ALTER TABLE",
            "DROP INDEX CONCURRENTLY",
            "\u{feff}ÿ DROP ; ;",
            &"SELECT ".repeat(1000),
            &format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500)),
        ] {
            let statements = vec![Statement {
                sql: sql.to_owned(),
                line: 1,
                start: 0,
            }];
            let findings =
                lint_migration(&migration(sql, false), &statements, &mut context(dialect));
            assert!(
                codes(&findings).iter().all(|code| *code == UNPARSABLE),
                "{sql}: {findings:?}"
            );
        }
    }
}

#[test]
fn lines_of_a_multi_statement_file() {
    let sql = "\
-- steward migration
CREATE TABLE a (id int);

ALTER TABLE users
  ADD COLUMN x int,
  DROP COLUMN email,
  ADD COLUMN y int NOT NULL;
/* a comment */ DROP TABLE
  tags;
CREATE INDEX ix
  ON users (name);
";
    let findings = lint(PG, sql);
    let got: Vec<(&str, usize)> = findings.iter().map(|f| (f.code, f.line)).collect();
    assert_eq!(
        got,
        [
            (DROP_COLUMN, 6),
            (NOT_NULL, 7),
            (DROP_TABLE, 9),
            (CREATE_INDEX, 10)
        ]
    );
}

#[test]
fn messages_name_tables_and_columns() {
    let findings = lint(PG, r#"ALTER TABLE public."Users" DROP COLUMN "Email""#);
    assert_eq!(
        findings[0].message,
        "drop column users.email deletes its data"
    );
    let findings = lint(PG, "CREATE UNIQUE INDEX ux ON s.users (email, lower(name))");
    assert_eq!(
        findings[0].message,
        "unique index ux on users (email, lower(name)) fails if existing rows hold duplicates"
    );
    let findings = lint(PG, "ALTER TABLE orders ALTER COLUMN total SET NOT NULL");
    assert!(findings[0].message.contains("orders"));
    assert!(findings[0].message.contains("2000000 rows"));
    assert!(findings[0].message.contains("set not null on total"));
    let findings = lint(PG, "CREATE INDEX CONCURRENTLY ix ON users (email)");
    assert!(findings[0].hint.contains("-- steward:no-transaction"));
    let findings = lint(PG, "ALTER TABLE users RENAME COLUMN email TO mail");
    assert!(findings[0].hint.contains("expand/contract"));
}

#[test]
fn context_follows_the_plan() {
    let mut ctx = context(PG);
    let first = "CREATE TABLE accounts (ID int, Name text);\n\
                 ALTER TABLE users ADD COLUMN nick text;\n\
                 ALTER TABLE users RENAME COLUMN name TO full_name;\n\
                 ALTER TABLE users DROP COLUMN age;\n\
                 ALTER TABLE orders RENAME TO purchases;\n\
                 DROP TABLE tags;";
    lint_in(&mut ctx, first, false);
    assert!(ctx.existing_tables.contains("accounts"));
    assert_eq!(
        ctx.existing_columns["accounts"],
        HashSet::from(["id".to_owned(), "name".to_owned()])
    );
    assert_eq!(
        ctx.existing_columns["users"],
        HashSet::from(["id", "email", "full_name", "nick"].map(str::to_owned))
    );
    assert!(!ctx.existing_tables.contains("tags"));
    assert!(!ctx.existing_columns.contains_key("tags"));
    assert!(!ctx.existing_tables.contains("orders"));
    assert!(ctx.existing_tables.contains("purchases"));
    assert_eq!(ctx.table_rows.get("purchases"), Some(&2_000_000));

    // The next migration meets accounts as an existing table, and the
    // renamed large table under its new name.
    let findings = lint_in(
        &mut ctx,
        "ALTER TABLE accounts ADD COLUMN email text NOT NULL;\n\
         ALTER TABLE purchases ALTER COLUMN total SET NOT NULL;",
        false,
    );
    assert_eq!(codes(&findings), [NOT_NULL, LOCK]);
}

#[test]
fn restated_mysql_type_is_no_type_change() {
    let mut ctx = context(MYSQL);
    lint_in(
        &mut ctx,
        "CREATE TABLE t (a INT NOT NULL, b VARCHAR(10))",
        false,
    );
    let findings = lint_in(
        &mut ctx,
        "ALTER TABLE t CHANGE COLUMN a c INT NOT NULL;\nALTER TABLE t MODIFY b VARCHAR(10) NOT NULL;\nALTER TABLE t MODIFY b VARCHAR(20);",
        false,
    );
    let got: Vec<(&str, usize)> = findings.iter().map(|f| (f.code, f.line)).collect();
    assert_eq!(got, [(RENAME_COLUMN, 1), (TYPE, 3)]);
}

#[test]
fn large_table_threshold_is_configurable() {
    let mut ctx = context(PG);
    ctx.large_table_rows = 5;
    let findings = lint_in(
        &mut ctx,
        "ALTER TABLE tags ALTER COLUMN name SET NOT NULL",
        false,
    );
    assert_eq!(codes(&findings), [LOCK]);
    assert_eq!(LintContext::new(PG).large_table_rows, 100_000);
}

#[test]
fn add_table_normalises_names() {
    let mut ctx = LintContext::new(PG);
    ctx.add_table("public.\"Users\"", ["\"Email\"", "ID"]);
    assert!(ctx.existing_tables.contains("users"));
    assert_eq!(
        ctx.existing_columns["users"],
        HashSet::from(["email".to_owned(), "id".to_owned()])
    );
}

#[test]
fn denied_compares_severities() {
    let findings = lint(PG, "CREATE INDEX ix ON users (email)");
    assert!(denied(&findings, Severity::Info));
    assert!(denied(&findings, Severity::Warning));
    assert!(!denied(&findings, Severity::Error));
    let findings = lint(PG, "DROP TABLE users");
    assert!(denied(&findings, Severity::Error));
    assert!(!denied(&findings, Severity::Critical));
    assert!(!denied(&[], Severity::Info));
}

#[test]
fn findings_serialize() {
    let findings = lint(PG, "DROP TABLE users");
    let json = serde_json::to_value(&findings[0]).unwrap();
    assert_eq!(json["code"], "drop-table");
    assert_eq!(json["severity"], "error");
    assert_eq!(json["file"], "V2__test.sql");
    assert_eq!(json["line"], 1);
}
