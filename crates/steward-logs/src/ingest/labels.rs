//! Label sets written as Prometheus and Loki write them, the `labels` of a
//! protobuf push: `{a="b", c="d"}`.
//!
//! [`parse_label_set`] is strict: braces, then `name="value"` pairs
//! separated by commas (a trailing comma and spaces between tokens
//! allowed), names matching `[a-zA-Z_][a-zA-Z0-9_]*`, each name once.
//! Values are Go string literals as Go's `strconv.Quote` writes them
//! (`\a \b \f \n \r \t \v \\ \"`, `\xHH` and `\ooo` bytes, `\uHHHH`,
//! `\UHHHHHHHH`), or raw strings in backquotes as LogQL also reads them;
//! the value must be UTF-8 once unescaped. Errors give the byte offset.
//! [`format_label_set`] writes the form the parser reads back.

use std::fmt::Write as _;

use steward_metrics::Labels;

/// Parses `{name="value", ...}` into its pairs, in the order written.
/// The error says what is wrong at which byte offset.
pub fn parse_label_set(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut p = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
    };
    p.skip_space();
    p.expect(b'{', "'{'")?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    loop {
        p.skip_space();
        if p.eat(b'}') {
            break;
        }
        let at = p.pos;
        let name = p.name()?;
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(format!("at byte {at}: label {name:?} is given twice"));
        }
        p.skip_space();
        p.expect(b'=', "'=' after a label name")?;
        p.skip_space();
        let value = p.value()?;
        pairs.push((name, value));
        p.skip_space();
        if p.eat(b',') {
            continue;
        }
        p.expect(b'}', "',' or '}'")?;
        break;
    }
    p.skip_space();
    if p.pos < p.s.len() {
        return Err(format!(
            "at byte {}: unexpected text after the closing '}}'",
            p.pos
        ));
    }
    Ok(pairs)
}

/// Writes `labels` as `{a="b", c="d"}`, values quoted as Go's
/// `strconv.Quote` reads them back (what [`parse_label_set`] and Loki
/// parse).
pub fn format_label_set(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&l.name);
        out.push_str("=\"");
        for c in l.value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> String {
        let at = self.pos;
        match self.text.get(at..).map(|rest| rest.chars().next()) {
            Some(Some(c)) => format!("at byte {at}: expected {what}, found {c:?}"),
            Some(None) => format!("at byte {at}: expected {what}, found the end"),
            None => format!("at byte {at}: expected {what}"),
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.pos;
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => self.pos += 1,
            _ => return Err(self.unexpected("a label name")),
        }
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_') {
            self.pos += 1;
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn value(&mut self) -> Result<String, String> {
        let start = self.pos;
        let bytes = match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.quoted()?
            }
            Some(b'`') => {
                self.pos += 1;
                let from = self.pos;
                while self.peek().is_some_and(|b| b != b'`') {
                    self.pos += 1;
                }
                let raw = self.s[from..self.pos].to_vec();
                self.expect(b'`', "the closing '`'")?;
                raw
            }
            _ => return Err(self.unexpected("a quoted label value")),
        };
        String::from_utf8(bytes)
            .map_err(|_| format!("at byte {start}: the label value is not valid UTF-8"))
    }

    /// The rest of a double-quoted Go string, unescaped (bytes: `\x` and
    /// octal escapes give bytes, checked for UTF-8 by the caller).
    fn quoted(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            match self.peek() {
                None => return Err(format!("at byte {at}: unterminated label value")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\n') => {
                    return Err(format!("at byte {at}: newline in a quoted label value"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(at, &mut out)?;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// One escape sequence, its backslash (at `at`) already read.
    fn escape(&mut self, at: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(c) = self.peek() else {
            return Err(format!("at byte {at}: unterminated label value"));
        };
        self.pos += 1;
        let simple = match c {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let bad = || format!("at byte {at}: invalid escape sequence in a label value");
        match c {
            b'x' => {
                let v = self.digits(2, 16).ok_or_else(bad)?;
                out.push(u8::try_from(v).map_err(|_| bad())?);
            }
            b'0'..=b'7' => {
                self.pos -= 1;
                let v = self.digits(3, 8).ok_or_else(bad)?;
                out.push(u8::try_from(v).map_err(|_| bad())?);
            }
            b'u' | b'U' => {
                let n = if c == b'u' { 4 } else { 8 };
                let v = self.digits(n, 16).ok_or_else(bad)?;
                let ch = char::from_u32(v).ok_or_else(bad)?;
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// Exactly `n` digits in `radix`.
    fn digits(&mut self, n: usize, radix: u32) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = char::from(self.peek()?).to_digit(radix)?;
            v = v.checked_mul(radix)?.checked_add(d)?;
            self.pos += 1;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests;
