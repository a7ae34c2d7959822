//! Cuts a migration file into statements, each with the line it starts on,
//! without parsing SQL: a lexer that knows strings, quoted identifiers,
//! comments, PostgreSQL dollar quotes, `BEGIN ... END` bodies of triggers
//! and routines, and MySQL's `DELIMITER` lines. Statements run one by one so
//! that progress can be recorded and an error named by file and line, and
//! so that files the SQL parser cannot read still run.

use crate::Dialect;

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's text, from its first token to before its delimiter.
    pub sql: String,
    /// 1-based line of the first token.
    pub line: usize,
    /// Byte offset of the first token in the file.
    pub start: usize,
}

/// Splits `text` into statements. Comments and blank text between
/// statements are dropped; a statement keeps comments inside it.
pub fn split(text: &str, dialect: Dialect) -> Vec<Statement> {
    Splitter {
        text,
        bytes: text.as_bytes(),
        dialect,
        statements: Vec::new(),
    }
    .run()
}

struct Splitter<'a> {
    text: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    statements: Vec<Statement>,
}

impl Splitter<'_> {
    fn run(mut self) -> Vec<Statement> {
        let mut delimiter = ";".to_owned();
        let mut at = 0;
        // Start of the current statement's first token, if one was seen.
        let mut start: Option<usize> = None;
        // Words of the statement so far (uppercased, first few), to know
        // whether BEGIN/END nest a body.
        let mut head: Vec<String> = Vec::new();
        let mut depth: usize = 0;
        while at < self.bytes.len() {
            let rest = &self.text[at..];
            // MySQL client `DELIMITER x` lines, only between statements.
            if self.dialect == Dialect::Mysql && start.is_none() && at_line_start(self.bytes, at) {
                let line_end = rest.find('\n').map_or(self.bytes.len(), |n| at + n);
                let line = self.text[at..line_end].trim();
                if let Some(new) = line
                    .get(..9)
                    .filter(|word| word.eq_ignore_ascii_case("DELIMITER"))
                    .map(|_| line[9..].trim())
                    .filter(|new| !new.is_empty())
                {
                    delimiter = new.to_owned();
                    at = line_end;
                    continue;
                }
            }
            let byte = self.bytes[at];
            if byte.is_ascii_whitespace() {
                at += 1;
                continue;
            }
            if let Some(end) = self.comment_end(at) {
                at = end;
                continue;
            }
            if depth == 0 && rest.starts_with(delimiter.as_str()) {
                if let Some(begin) = start.take() {
                    self.push(begin, at);
                }
                head.clear();
                at += delimiter.len();
                continue;
            }
            if start.is_none() {
                start = Some(at);
            }
            if let Some(end) = self.quoted_end(at) {
                at = end;
                continue;
            }
            if is_word_byte(byte) {
                let end = at + rest.bytes().take_while(|b| is_word_byte(*b)).count();
                let word = self.text[at..end].to_ascii_uppercase();
                let mut end = end;
                if has_body(&head) {
                    match word.as_str() {
                        "BEGIN" | "CASE" => depth += 1,
                        "END" => {
                            // `END IF`, `END LOOP`, `END WHILE` and `END
                            // REPEAT` close blocks whose openers are not
                            // counted (IF is also a function and a clause);
                            // `END CASE` closes a counted CASE.
                            let (next, next_end) = self.next_word(end);
                            match next.as_str() {
                                "IF" | "LOOP" | "WHILE" | "REPEAT" => end = next_end,
                                "CASE" => {
                                    depth = depth.saturating_sub(1);
                                    end = next_end;
                                }
                                _ => depth = depth.saturating_sub(1),
                            }
                        }
                        _ => {}
                    }
                }
                if head.len() < 6 {
                    head.push(word);
                }
                at = end;
                continue;
            }
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
        if let Some(begin) = start {
            self.push(begin, self.bytes.len());
        }
        self.statements
    }

    /// The next word after `at` (uppercased, skipping whitespace) and the
    /// index after it; an empty word when something else comes first.
    fn next_word(&self, at: usize) -> (String, usize) {
        let start = at
            + self.text[at..]
                .bytes()
                .take_while(u8::is_ascii_whitespace)
                .count();
        let end = start
            + self.text[start..]
                .bytes()
                .take_while(|b| is_word_byte(*b))
                .count();
        (self.text[start..end].to_ascii_uppercase(), end)
    }

    fn push(&mut self, start: usize, end: usize) {
        let sql = self.text[start..end].trim_end();
        if sql.is_empty() {
            return;
        }
        let line = self.text[..start].matches('\n').count() + 1;
        self.statements.push(Statement {
            sql: sql.to_owned(),
            line,
            start,
        });
    }

    /// The end of a comment starting at `at`, if one does.
    fn comment_end(&self, at: usize) -> Option<usize> {
        let rest = &self.bytes[at..];
        let line_comment =
            rest.starts_with(b"--") || (self.dialect == Dialect::Mysql && rest.starts_with(b"#"));
        if line_comment {
            return Some(
                self.text[at..]
                    .find('\n')
                    .map_or(self.bytes.len(), |n| at + n + 1),
            );
        }
        if rest.starts_with(b"/*") {
            // PostgreSQL nests block comments; the others end at the first `*/`.
            let nests = self.dialect == Dialect::Postgres;
            let mut depth = 0usize;
            let mut i = at;
            while i + 1 < self.bytes.len() {
                if self.bytes[i] == b'/' && self.bytes[i + 1] == b'*' && (nests || depth == 0) {
                    depth += 1;
                    i += 2;
                } else if self.bytes[i] == b'*' && self.bytes[i + 1] == b'/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return Some(i);
                    }
                } else {
                    i += 1;
                }
            }
            return Some(self.bytes.len());
        }
        None
    }

    /// The end of a string, quoted identifier or dollar-quoted body starting
    /// at `at`, if one does.
    fn quoted_end(&self, at: usize) -> Option<usize> {
        let byte = self.bytes[at];
        match byte {
            b'\'' => {
                // PostgreSQL E'...' strings and MySQL strings take backslash
                // escapes; standard strings only double the quote.
                let backslash = self.dialect == Dialect::Mysql
                    || (at > 0
                        && matches!(self.bytes[at - 1], b'E' | b'e')
                        && !is_word_byte(*self.bytes.get(at.wrapping_sub(2)).unwrap_or(&b' ')));
                Some(self.closing(at + 1, b'\'', backslash))
            }
            b'"' => Some(self.closing(at + 1, b'"', self.dialect == Dialect::Mysql)),
            b'`' if self.dialect != Dialect::Postgres => Some(self.closing(at + 1, b'`', false)),
            b'[' if self.dialect == Dialect::Sqlite => Some(
                self.text[at..]
                    .find(']')
                    .map_or(self.bytes.len(), |n| at + n + 1),
            ),
            b'$' if self.dialect == Dialect::Postgres => {
                let tag_len = self.bytes[at + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let close = at + 1 + tag_len;
                if self.bytes.get(close) != Some(&b'$')
                    || self.bytes.get(at + 1).is_some_and(u8::is_ascii_digit)
                {
                    return None; // `$1` parameter or a lone `$`
                }
                let tag = &self.text[at..=close];
                Some(
                    self.text[close + 1..]
                        .find(tag)
                        .map_or(self.bytes.len(), |n| close + 1 + n + tag.len()),
                )
            }
            _ => None,
        }
    }

    /// Index after the closing `quote`, which may be escaped by doubling it
    /// (or with a backslash when `backslash`).
    fn closing(&self, mut i: usize, quote: u8, backslash: bool) -> usize {
        while i < self.bytes.len() {
            let byte = self.bytes[i];
            if backslash && byte == b'\\' {
                i += 2;
            } else if byte == quote {
                if self.bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            } else {
                i += 1;
            }
        }
        self.bytes.len()
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn at_line_start(bytes: &[u8], at: usize) -> bool {
    bytes[..at]
        .iter()
        .rev()
        .take_while(|b| **b != b'\n')
        .all(u8::is_ascii_whitespace)
}

/// Whether a statement beginning with these words has a `BEGIN ... END`
/// body whose semicolons do not end it: triggers, and routines written
/// without dollar quotes (MySQL, PostgreSQL `BEGIN ATOMIC`).
fn has_body(head: &[String]) -> bool {
    if head.first().map(String::as_str) != Some("CREATE") {
        return false;
    }
    head.iter().skip(1).take(4).any(|word| {
        matches!(
            word.as_str(),
            "TRIGGER" | "FUNCTION" | "PROCEDURE" | "EVENT"
        )
    })
}

#[cfg(test)]
mod tests;
