//! Unit tests for the statement splitter.

use super::*;

fn sqls(text: &str, dialect: Dialect) -> Vec<String> {
    split(text, dialect).into_iter().map(|s| s.sql).collect()
}

#[test]
fn splits_on_semicolons_with_start_lines() {
    let text = "-- header\nCREATE TABLE a (id INT);\n\n  INSERT INTO a VALUES (1);\nSELECT 1";
    let statements = split(text, Dialect::Sqlite);
    let found: Vec<(&str, usize)> = statements
        .iter()
        .map(|s| (s.sql.as_str(), s.line))
        .collect();
    assert_eq!(
        found,
        [
            ("CREATE TABLE a (id INT)", 2),
            ("INSERT INTO a VALUES (1)", 4),
            ("SELECT 1", 5)
        ]
    );
    assert_eq!(
        &text[statements[1].start..statements[1].start + 6],
        "INSERT"
    );
}

#[test]
fn semicolons_in_strings_identifiers_and_comments_do_not_split() {
    let text = "INSERT INTO t VALUES ('a;b', 'it''s;'); -- x; y\nSELECT \"we;ird\" FROM t /* ; */ WHERE 1;";
    assert_eq!(
        sqls(text, Dialect::Postgres),
        [
            "INSERT INTO t VALUES ('a;b', 'it''s;')",
            "SELECT \"we;ird\" FROM t /* ; */ WHERE 1"
        ]
    );
}

#[test]
fn postgres_dollar_quotes_and_nested_comments() {
    let text = "CREATE FUNCTION f() RETURNS trigger AS $body$\nBEGIN\n  NEW.x := 1; RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql;\n/* outer /* inner; */ still; */\nSELECT $$a;b$$, $1;";
    let found = sqls(text, Dialect::Postgres);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].ends_with("$body$ LANGUAGE plpgsql"),
        "{}",
        found[0]
    );
    assert_eq!(found[1], "SELECT $$a;b$$, $1");
}

#[test]
fn postgres_escape_strings_take_backslashes() {
    let text = "SELECT E'a\\';b'; SELECT 'c\\'; SELECT 2;";
    assert_eq!(
        sqls(text, Dialect::Postgres),
        ["SELECT E'a\\';b'", "SELECT 'c\\'", "SELECT 2"]
    );
}

#[test]
fn sqlite_trigger_bodies_stay_whole() {
    let text = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END;\n  DELETE FROM c;\nEND;\nCREATE INDEX i ON a (x);";
    let found = sqls(text, Dialect::Sqlite);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].ends_with("END"), "{}", found[0]);
    assert_eq!(found[1], "CREATE INDEX i ON a (x)");
}

#[test]
fn a_transaction_begin_is_not_a_body() {
    let text = "BEGIN;\nINSERT INTO a VALUES (1);\nCOMMIT;";
    assert_eq!(
        sqls(text, Dialect::Sqlite),
        ["BEGIN", "INSERT INTO a VALUES (1)", "COMMIT"]
    );
}

#[test]
fn mysql_delimiters_hashes_and_backslashes() {
    let text = "# comment; here\nDELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 'x\\';y'; END$$\nDELIMITER ;\nINSERT INTO `we;ird` VALUES (\"a\\\"b;\");\n";
    let found = sqls(text, Dialect::Mysql);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("CREATE PROCEDURE") && found[0].ends_with("END"),
        "{}",
        found[0]
    );
    assert_eq!(found[1], "INSERT INTO `we;ird` VALUES (\"a\\\"b;\")");
}

#[test]
fn mysql_routines_without_delimiter_stay_whole() {
    let text = "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; SET NEW.y = 2; END;\nSELECT 1;";
    assert_eq!(sqls(text, Dialect::Mysql).len(), 2);
}

#[test]
fn only_comments_and_blank_lines_give_nothing() {
    assert!(split("-- nothing\n\n/* at all */\n;;\n", Dialect::Postgres).is_empty());
}

#[test]
fn unterminated_quotes_run_to_the_end_without_panicking() {
    let found = sqls("SELECT 'open; SELECT 2", Dialect::Sqlite);
    assert_eq!(found, ["SELECT 'open; SELECT 2"]);
    let found = sqls("SELECT $x$ never closed", Dialect::Postgres);
    assert_eq!(found, ["SELECT $x$ never closed"]);
}

#[test]
fn multibyte_text_is_kept_intact() {
    assert_eq!(
        sqls("INSERT INTO t VALUES ('é;ü'); SELECT '✓';", Dialect::Sqlite),
        ["INSERT INTO t VALUES ('é;ü')", "SELECT '✓'"]
    );
}

#[test]
fn mysql_compound_statement_ends_do_not_close_the_body() {
    let text = "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW BEGIN\n  IF NEW.x < 0 THEN SET NEW.x = 0; END IF;\n  CASE NEW.y WHEN 1 THEN SET NEW.z = 1; ELSE SET NEW.z = 2; END CASE;\n  WHILE NEW.x > 10 DO SET NEW.x = NEW.x - 1; END WHILE;\n  SET NEW.w = IF(NEW.x > 1, 1, 0);\nEND;\nSELECT 1;";
    let found = sqls(text, Dialect::Mysql);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].ends_with("END"), "{}", found[0]);
    assert_eq!(found[1], "SELECT 1");
}

#[test]
fn mysql_end_case_inside_a_delimited_routine() {
    let text = "DELIMITER //\nCREATE PROCEDURE p(x INT) BEGIN CASE x WHEN 1 THEN SELECT 1; END CASE; END//\nDELIMITER ;\nSELECT 2;";
    assert_eq!(sqls(text, Dialect::Mysql).len(), 2);
}

mod properties {
    //! Arbitrary input never panics the splitter, and what it returns
    //! points back into the input.

    use proptest::prelude::*;

    use super::*;

    const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    /// Pieces the lexer treats specially, and some that it must not.
    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("'".to_owned()),
            Just("''".to_owned()),
            Just("\"".to_owned()),
            Just("`".to_owned()),
            Just("\\".to_owned()),
            Just("E'".to_owned()),
            Just("e'\\'".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("$".to_owned()),
            Just("$$".to_owned()),
            Just("$body$".to_owned()),
            Just("$1".to_owned()),
            Just("--".to_owned()),
            Just("#".to_owned()),
            Just("/*".to_owned()),
            Just("*/".to_owned()),
            Just("/*/".to_owned()),
            Just(";".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just(" ".to_owned()),
            Just("\nDELIMITER //\n".to_owned()),
            Just("\nDELIMITER ;\n".to_owned()),
            Just("DELIMITER".to_owned()),
            Just("delimiter $$".to_owned()),
            Just("//".to_owned()),
            Just("BEGIN".to_owned()),
            Just("END".to_owned()),
            Just("END IF".to_owned()),
            Just("END CASE".to_owned()),
            Just("CASE".to_owned()),
            Just("CREATE TRIGGER t ".to_owned()),
            Just("CREATE FUNCTION f ".to_owned()),
            Just("CREATE".to_owned()),
            Just("é".to_owned()),
            Just("\u{1F4A5}".to_owned()),
            Just("\u{0}".to_owned()),
            "[a-zA-Z_0-9]{1,6}",
            "\\PC{1,3}",
        ]
    }

    /// Checks what the splitter says about `text` against `text` itself.
    fn check(text: &str, dialect: Dialect) -> Result<(), TestCaseError> {
        let statements = split(text, dialect);
        let mut previous = None;
        for statement in &statements {
            prop_assert!(!statement.sql.is_empty());
            prop_assert_eq!(statement.sql.trim_end(), statement.sql.as_str());
            prop_assert!(text.is_char_boundary(statement.start));
            prop_assert!(text[statement.start..].starts_with(statement.sql.as_str()));
            prop_assert_eq!(
                statement.line,
                text[..statement.start].matches('\n').count() + 1
            );
            prop_assert!(previous.is_none_or(|p| p < statement.start));
            previous = Some(statement.start);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            for dialect in DIALECTS {
                check(&text, dialect)?;
            }
        }

        #[test]
        fn mixes_of_quotes_comments_and_delimiters_never_panic(
            tokens in prop::collection::vec(token(), 0..80)
        ) {
            let text = tokens.concat();
            for dialect in DIALECTS {
                check(&text, dialect)?;
            }
        }
    }
}
