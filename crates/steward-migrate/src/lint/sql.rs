//! The linter's view of SQL text: parsing a statement in the target's
//! dialect (and the `DROP INDEX CONCURRENTLY` the parser cannot read),
//! lines of nodes within a statement, and names and types reduced to how
//! the rules compare them.

use std::panic;

use sqlparser::{
    ast::{self, DataType, Expr, Ident, IndexColumn, ObjectName, ObjectNamePart},
    dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect},
    keywords::Keyword,
    parser::Parser,
    tokenizer::{Location, Span, Token, Tokenizer},
};

use crate::{Dialect, Statement};

/// Parses one statement's text in `dialect`; the error is the parser's.
pub(super) fn parse(sql: &str, dialect: Dialect) -> Result<Vec<ast::Statement>, String> {
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
pub(super) fn without_drop_index_concurrently(sql: &str) -> Option<String> {
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
pub(super) fn line_at(statement: &Statement, span: Span) -> usize {
    match usize::try_from(span.start.line) {
        Ok(line) if line > 0 => statement.line + line - 1,
        _ => statement.line,
    }
}

/// An identifier as the linter compares it: unquoted, lowercase.
pub(super) fn ident(ident: &Ident) -> String {
    ident.value.to_lowercase()
}

/// The last part of a possibly qualified name, as [`ident`].
pub(super) fn name_of(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(part)) => ident(part),
        Some(ObjectNamePart::Function(function)) => ident(&function.name),
        None => String::new(),
    }
}

/// A name given as text (from the live database), as [`name_of`].
pub(super) fn normalize(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name).trim();
    last.trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'))
        .to_lowercase()
}

/// A type as the parser prints it, lowercase, to compare restated types.
pub(super) fn type_text(data_type: &DataType) -> String {
    data_type.to_string().to_lowercase()
}

/// The indexed columns (or expressions) for messages.
pub(super) fn columns_text(columns: &[IndexColumn]) -> String {
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
