//! The LogQL lexer: turns a query into tokens that carry their column.

use crate::{Error, Result};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name: `sum`, `by`, `level`, `__error__`, `json`.
    Ident(String),
    /// A quoted or backtick string, unescaped.
    Str(String),
    /// A number, possibly followed by a unit: `5`, `0.99`, `5m`, `1h30m`, `5MB`.
    Num(String),
    /// Punctuation or an operator: `{`, `|=`, `>=`, `+`.
    Op(&'static str),
    /// The end of the query.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Op(s) => format!("{s:?}"),
            Tok::Eof => "end of query".to_owned(),
        }
    }
}

/// A token and the 1-based column (in characters) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) col: usize,
}

const OPS: &[&str] = &[
    "!=", "!~", "=~", "==", "|=", "|~", ">=", "<=", "{", "}", "(", ")", "[", "]", ",", "=", "|",
    ">", "<", "+", "-", "*", "/", "%", "^",
];

/// Splits `query` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(query: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            // a comment runs to the end of the line
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                col,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == 'µ')
            {
                // an exponent's sign: 1e-3
                i += 1;
                if i < chars.len()
                    && (chars[i] == '-' || chars[i] == '+')
                    && matches!(chars[i - 1], 'e' | 'E')
                    && chars[start..i - 1]
                        .iter()
                        .all(|c| c.is_ascii_digit() || *c == '.')
                {
                    i += 1;
                }
            }
            out.push(Token {
                tok: Tok::Num(chars[start..i].iter().collect()),
                col,
            });
            continue;
        }
        if c == '"' {
            let (s, next) = lex_quoted(&chars, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                col,
            });
            i = next;
            continue;
        }
        if c == '`' {
            let start = i + 1;
            let Some(len) = chars[start..].iter().position(|c| *c == '`') else {
                return Err(Error::InvalidQuery(format!(
                    "column {col}: unterminated backtick string"
                )));
            };
            out.push(Token {
                tok: Tok::Str(chars[start..start + len].iter().collect()),
                col,
            });
            i = start + len + 1;
            continue;
        }
        let Some(op) = OPS.iter().find(|op| {
            op.chars()
                .enumerate()
                .all(|(k, oc)| chars.get(i + k) == Some(&oc))
        }) else {
            return Err(Error::InvalidQuery(format!(
                "column {col}: unexpected character {c:?}"
            )));
        };
        out.push(Token {
            tok: Tok::Op(op),
            col,
        });
        i += op.len();
    }
    out.push(Token {
        tok: Tok::Eof,
        col: chars.len() + 1,
    });
    Ok(out)
}

/// A double-quoted string starting at `chars[at]` with Go's escapes;
/// returns it and the index after the closing quote.
fn lex_quoted(chars: &[char], at: usize) -> Result<(String, usize)> {
    let col = at + 1;
    let mut s = String::new();
    let mut i = at + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(Error::InvalidQuery(format!(
                "column {col}: unterminated string"
            )));
        };
        i += 1;
        match c {
            '"' => return Ok((s, i)),
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(Error::InvalidQuery(format!(
                        "column {col}: unterminated string"
                    )));
                };
                i += 1;
                match e {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    'a' => s.push('\x07'),
                    'b' => s.push('\x08'),
                    'f' => s.push('\x0c'),
                    'v' => s.push('\x0b'),
                    '\\' | '"' | '\'' => s.push(e),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = chars.get(i..i + n).unwrap_or_default().iter().collect();
                        let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        let Some(ch) = ch.filter(|_| hex.len() == n) else {
                            return Err(Error::InvalidQuery(format!(
                                "column {}: invalid escape \\{e} in string",
                                i - 1
                            )));
                        };
                        s.push(ch);
                        i += n;
                    }
                    other => {
                        return Err(Error::InvalidQuery(format!(
                            "column {}: invalid escape \\{other} in string",
                            i - 1
                        )));
                    }
                }
            }
            c => s.push(c),
        }
    }
}
