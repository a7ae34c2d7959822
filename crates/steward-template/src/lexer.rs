//! The lexer: template text to tokens, applying `{{-`/`-}}` trimming and
//! dropping `{{/* comments */}}` on the way, as Go's text/template lexer does.

use crate::{Error, Result};

/// A keyword of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Ident(String),
    Keyword(Keyword),
    /// `.Name`, without the dot.
    Field(String),
    /// `$name` including the `$`; `$` alone is the data.
    Variable(String),
    Dot,
    /// A string literal, unquoted.
    Str(String),
    /// A character constant, as written.
    Char(char, String),
    /// A number, as written.
    Number(String),
    Bool(bool),
    Nil,
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    Comma,
    Space,
    Eof,
}

/// A token and its byte offset in the source.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

struct Lexer<'a> {
    name: &'a str,
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: usize,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Tokenizes a template.
pub(crate) fn lex(name: &str, src: &str) -> Result<Vec<Token>> {
    let mut l = Lexer {
        name,
        src,
        pos: 0,
        tokens: Vec::new(),
        paren_depth: 0,
    };
    l.run()?;
    Ok(l.tokens)
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, message: impl Into<String>) -> Error {
        let (line, column) = line_col(self.src, pos);
        Error::Parse {
            name: self.name.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        self.tokens.push(Token { tok, pos });
    }

    fn run(&mut self) -> Result<()> {
        let mut trim_next = false;
        loop {
            let start = self.pos;
            let (text_end, found) = match self.rest().find(LEFT) {
                Some(i) => (self.pos + i, true),
                None => (self.src.len(), false),
            };
            let mut text = &self.src[start..text_end];
            if trim_next {
                text = text.trim_start_matches(is_space);
            }
            let left_trim = found && has_left_trim(&self.src[text_end + LEFT.len()..]);
            if left_trim {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                let off = text.as_ptr() as usize - self.src.as_ptr() as usize;
                self.emit(Tok::Text(text.to_owned()), off);
            }
            if !found {
                self.emit(Tok::Eof, self.src.len());
                return Ok(());
            }
            self.pos = text_end + LEFT.len();
            if left_trim {
                self.pos += 1; // the dash; the space stays as a separator
            }
            trim_next = self.action(text_end, left_trim)?;
        }
    }

    /// Lexes one action after its left delimiter; returns whether it ended
    /// with a trim marker.
    fn action(&mut self, delim_pos: usize, left_trim: bool) -> Result<bool> {
        // A comment must directly follow the delimiter (and trim marker).
        let off = if left_trim { 1 } else { 0 };
        if self.rest()[off..].starts_with("/*") {
            let comment_start = self.pos + off;
            let Some(end) = self.src[comment_start + 2..].find("*/") else {
                return Err(self.err(comment_start, "unclosed comment"));
            };
            self.pos = comment_start + 2 + end + 2;
            if self.rest().starts_with(RIGHT) {
                self.pos += RIGHT.len();
                return Ok(false);
            }
            if has_right_trim(self.rest()) {
                self.pos += 1 + "-}}".len();
                return Ok(true);
            }
            return Err(self.err(self.pos, "comment ends before closing delimiter"));
        }
        self.emit(Tok::LeftDelim, delim_pos);
        loop {
            let rest = self.rest();
            let start = self.pos;
            if has_right_trim(rest) && self.paren_depth == 0 {
                self.emit(Tok::Space, start);
                self.emit(Tok::RightDelim, start + 1);
                self.pos += 1 + "-}}".len();
                return Ok(true);
            }
            if rest.starts_with(RIGHT) {
                if self.paren_depth > 0 {
                    return Err(self.err(start, "unclosed left paren"));
                }
                self.emit(Tok::RightDelim, start);
                self.pos += RIGHT.len();
                return Ok(false);
            }
            let Some(c) = rest.chars().next() else {
                return Err(self.err(delim_pos, "unclosed action"));
            };
            match c {
                c if is_space(c) => {
                    let n = rest.len() - rest.trim_start_matches(is_space).len();
                    // Keep the last whitespace char for the right trim check.
                    let keep = if has_right_trim(&rest[n.saturating_sub(1)..]) {
                        1
                    } else {
                        0
                    };
                    self.pos += n - keep;
                    if keep == 0 {
                        self.emit(Tok::Space, start);
                    }
                }
                '|' => self.single(Tok::Pipe),
                ',' => self.single(Tok::Comma),
                '(' => {
                    self.paren_depth += 1;
                    self.single(Tok::LeftParen);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.paren_depth -= 1;
                    self.single(Tok::RightParen);
                }
                ':' => {
                    if !rest.starts_with(":=") {
                        return Err(self.err(start, "expected :="));
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, start);
                }
                '=' => self.single(Tok::Assign),
                '"' => self.quoted(start)?,
                '`' => {
                    let Some(end) = rest[1..].find('`') else {
                        return Err(self.err(start, "unterminated raw quoted string"));
                    };
                    let s = rest[1..1 + end].to_owned();
                    self.pos += end + 2;
                    self.emit(Tok::Str(s), start);
                }
                '\'' => self.char_constant(start)?,
                '$' => {
                    let n = rest[1..].find(|c| !is_alnum(c)).unwrap_or(rest.len() - 1);
                    self.pos += 1 + n;
                    self.emit(Tok::Variable(rest[..1 + n].to_owned()), start);
                }
                '.' => {
                    let next = rest[1..].chars().next();
                    if next.is_some_and(|c| c.is_ascii_digit()) {
                        self.number(start)?;
                    } else if next.is_some_and(is_alnum) {
                        let n = rest[1..].find(|c| !is_alnum(c)).unwrap_or(rest.len() - 1);
                        self.pos += 1 + n;
                        self.emit(Tok::Field(rest[1..1 + n].to_owned()), start);
                    } else {
                        self.single(Tok::Dot);
                    }
                }
                '+' | '-' | '0'..='9' => self.number(start)?,
                c if is_alnum(c) => {
                    let n = rest.find(|c| !is_alnum(c)).unwrap_or(rest.len());
                    let word = &rest[..n];
                    self.pos += n;
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        "block" => Tok::Keyword(Keyword::Block),
                        "break" => Tok::Keyword(Keyword::Break),
                        "continue" => Tok::Keyword(Keyword::Continue),
                        "define" => Tok::Keyword(Keyword::Define),
                        "else" => Tok::Keyword(Keyword::Else),
                        "end" => Tok::Keyword(Keyword::End),
                        "if" => Tok::Keyword(Keyword::If),
                        "range" => Tok::Keyword(Keyword::Range),
                        "template" => Tok::Keyword(Keyword::Template),
                        "with" => Tok::Keyword(Keyword::With),
                        _ => Tok::Ident(word.to_owned()),
                    };
                    self.emit(tok, start);
                    if !self.at_terminator() {
                        return Err(self.err(
                            start,
                            format!(
                                "bad character {:?}",
                                self.rest().chars().next().unwrap_or(' ')
                            ),
                        ));
                    }
                }
                c => {
                    return Err(self.err(
                        start,
                        format!("unrecognized character in action: U+{:04X} {c:?}", c as u32),
                    ));
                }
            }
        }
    }

    fn single(&mut self, tok: Tok) {
        let start = self.pos;
        self.pos += 1;
        self.emit(tok, start);
    }

    fn at_terminator(&self) -> bool {
        let rest = self.rest();
        match rest.chars().next() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(' | '=') => true,
            _ => rest.starts_with(RIGHT),
        }
    }

    fn quoted(&mut self, start: usize) -> Result<()> {
        let mut chars = self.rest()[1..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if chars.next().is_none_or(|(_, c)| c == '\n') => break,
                '\\' => {}
                '\n' => break,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(self.err(start, "unterminated quoted string"));
        };
        let raw = &self.rest()[1..1 + end];
        let s = unescape(raw, '"').map_err(|m| self.err(start, m))?;
        self.pos += end + 2;
        self.emit(Tok::Str(s), start);
        Ok(())
    }

    fn char_constant(&mut self, start: usize) -> Result<()> {
        let rest = &self.rest()[1..];
        let mut chars = rest.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '\n' => break,
                '\'' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(self.err(start, "unterminated character constant"));
        };
        let s = unescape(&rest[..end], '\'').map_err(|m| self.err(start, m))?;
        let mut it = s.chars();
        let (Some(c), None) = (it.next(), it.next()) else {
            return Err(self.err(
                start,
                format!("malformed character constant: '{}'", &rest[..end]),
            ));
        };
        self.pos += end + 2;
        self.emit(Tok::Char(c, self.src[start..self.pos].to_owned()), start);
        Ok(())
    }

    fn number(&mut self, start: usize) -> Result<()> {
        let rest = self.rest();
        let b = rest.as_bytes();
        let mut i = 0;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let mut exp_chars: &[u8] = b"eE";
        if b.len() > i + 1
            && b[i] == b'0'
            && matches!(b[i + 1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
        {
            if matches!(b[i + 1], b'x' | b'X') {
                exp_chars = b"pP";
            }
            i += 2;
        }
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
                i += 1;
                if exp_chars.contains(&c) && i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                    i += 1;
                }
            } else {
                break;
            }
        }
        let text = &rest[..i];
        self.pos += i;
        if !text.bytes().any(|c| c.is_ascii_digit()) {
            return Err(self.err(start, format!("bad number syntax: {text:?}")));
        }
        self.emit(Tok::Number(text.to_owned()), start);
        Ok(())
    }
}

fn has_left_trim(after_delim: &str) -> bool {
    let mut it = after_delim.chars();
    it.next() == Some('-') && it.next().is_some_and(is_space)
}

fn has_right_trim(s: &str) -> bool {
    let mut it = s.chars();
    it.next().is_some_and(is_space) && it.as_str().starts_with("-}}")
}

/// Resolves Go escapes in a quoted string or character constant.
fn unescape(raw: &str, quote: char) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("invalid syntax")?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            c if c == quote => out.push(c),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(n).collect();
                let v = u32::from_str_radix(&hex, 16).map_err(|_| "invalid syntax")?;
                if hex.len() != n {
                    return Err("invalid syntax".into());
                }
                // \x is a byte in Go; only ASCII bytes make sense in a Rust string.
                let ch = char::from_u32(v).ok_or("invalid syntax")?;
                out.push(ch);
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(8))
                        .ok_or("invalid syntax")?;
                    v = v * 8 + d;
                }
                out.push(char::from_u32(v).ok_or("invalid syntax")?);
            }
            _ => return Err(format!("invalid syntax: unknown escape \\{e}")),
        }
    }
    Ok(out)
}
