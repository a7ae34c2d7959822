//! Go's `fmt` formatting of template values: `%v` printing, `print`,
//! `println` and `printf` with the verbs, flags, width and precision that
//! Go supports for the kinds a [`Value`] can hold, including Go's
//! `%!verb(type=value)` notation for mismatched verbs.

use std::fmt::Write as _;

use crate::Value;

/// Decimal digits (no leading zeros, no trailing zeros except for zero
/// itself) and the decimal point position: value = 0.d1d2... * 10^dp.
struct Digits {
    digits: Vec<u8>,
    dp: i32,
}

/// Digits of |x|, shortest round-trip when `sig` is None, else rounded to
/// `sig` significant digits (exactly, as Go's strconv does).
fn digits(x: f64, sig: Option<usize>) -> Digits {
    let x = x.abs();
    if x == 0.0 {
        return Digits {
            digits: vec![b'0'],
            dp: 1,
        };
    }
    let s = match sig {
        None => format!("{x:e}"),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), x),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    Digits {
        digits,
        dp: exp + 1,
    }
}

fn special(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("NaN")
    } else if x == f64::INFINITY {
        Some("+Inf")
    } else if x == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn exponent(out: &mut String, exp: i32, upper: bool) {
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.abs());
}

/// Go's `%g` (`prec` None: shortest, as `%v` prints floats), signed.
pub(crate) fn format_g(x: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(x) {
        return s.to_owned();
    }
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    let d = match prec {
        None => digits(x, None),
        Some(p) => digits(x, Some(p.max(1))),
    };
    let nd = d.digits.len() as i32;
    let mut eprec = match prec {
        None => 6,
        Some(p) => p.max(1) as i32,
    };
    if prec.is_some() && eprec > nd && nd >= d.dp {
        eprec = nd;
    }
    let exp = d.dp - 1;
    if exp < -4 || exp >= eprec {
        out.push(d.digits[0] as char);
        if nd > 1 {
            out.push('.');
            out.extend(d.digits[1..].iter().map(|&c| c as char));
        }
        exponent(&mut out, exp, upper);
        return out;
    }
    fixed_digits(&mut out, &d, (nd - d.dp).max(0) as usize);
    out
}

fn fixed_digits(out: &mut String, d: &Digits, frac: usize) {
    let nd = d.digits.len() as i32;
    if d.dp > 0 {
        for i in 0..d.dp {
            out.push(if i < nd {
                d.digits[i as usize] as char
            } else {
                '0'
            });
        }
    } else {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac as i32 {
            let j = d.dp + i;
            out.push(if j >= 0 && j < nd {
                d.digits[j as usize] as char
            } else {
                '0'
            });
        }
    }
}

/// Go's `%e` with the given precision (6 by default), signed.
pub(crate) fn format_e(x: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(x) {
        return s.to_owned();
    }
    let s = format!("{x:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mut out = mant.to_owned();
    exponent(&mut out, exp.parse().unwrap_or(0), upper);
    out
}

/// Go's `%f` with the given precision (6 by default), signed.
pub(crate) fn format_f(x: f64, prec: usize) -> String {
    match special(x) {
        Some(s) => s.to_owned(),
        None => format!("{x:.prec$}"),
    }
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `fmt.Sprint`: operands concatenated, with a space between two
/// operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::String(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        let _ = write!(out, "{}", arg(a));
    }
    out
}

/// Go's `fmt.Sprintln`: operands separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = args
        .iter()
        .map(|a| arg(a).to_string())
        .collect::<Vec<_>>()
        .join(" ");
    out.push('\n');
    out
}

/// Inside fmt, a missing value is a nil interface.
fn arg(v: &Value) -> &Value {
    match v {
        Value::NoValue => &Value::Nil,
        v => v,
    }
}

#[derive(Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars, args, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars, args, &mut next).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
            Some(a) => {
                next += 1;
                out.push_str(&format_one(verb, spec, arg(a)));
            }
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", arg(a).type_name(), arg(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// A width or precision: digits, or `*` taking an int argument.
fn number(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &[Value],
    next: &mut usize,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let n = match args.get(*next) {
            Some(Value::Int(i)) => usize::try_from(*i).ok(),
            _ => None,
        };
        *next += 1;
        return n;
    }
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        // Bounded so that a huge width cannot exhaust memory.
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1 << 16));
        chars.next();
    }
    n
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil | Value::NoValue => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={v})", v.type_name()),
    }
}

/// Formats one operand.
fn format_one(verb: char, spec: Spec, v: &Value) -> String {
    let v = v.resolved();
    match &v {
        Value::Nil | Value::NoValue => match verb {
            'v' => pad("<nil>".into(), spec, false),
            _ => bad_verb(verb, &v),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(b.to_string(), spec, false),
            _ => bad_verb(verb, &v),
        },
        Value::Int(i) => format_int(verb, spec, *i).unwrap_or_else(|| bad_verb(verb, &v)),
        Value::Float(x) => {
            let s = match verb {
                'v' | 'g' => format_g(*x, spec.prec, false),
                'G' => format_g(*x, spec.prec, true),
                'e' | 'E' => format_e(*x, spec.prec.unwrap_or(6), verb == 'E'),
                'f' | 'F' => format_f(*x, spec.prec.unwrap_or(6)),
                _ => return bad_verb(verb, &v),
            };
            let finite = x.is_finite();
            let s = sign(s, spec);
            pad(s, spec, finite)
        }
        Value::String(s) => {
            let s = match verb {
                'v' | 's' => match spec.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                },
                'q' if spec.sharp
                    && !s.contains('`')
                    && !s.chars().any(|c| c.is_control() && c != '\t') =>
                {
                    format!("`{s}`")
                }
                'q' => quote(s),
                'x' | 'X' => hex_bytes(s.as_bytes(), verb == 'X', spec.space),
                _ => return bad_verb(verb, &v),
            };
            pad(s, spec, false)
        }
        Value::List(l) => {
            let parts: Vec<String> = l.iter().map(|e| format_one(verb, spec, arg(e))).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, e)| {
                    format!(
                        "{}:{}",
                        format_one(verb, spec, &Value::String(k.clone())),
                        format_one(verb, spec, arg(e))
                    )
                })
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        Value::Func(_) | Value::Object(_) => pad(v.to_string(), spec, false),
    }
}

fn hex_bytes(b: &[u8], upper: bool, space: bool) -> String {
    let mut out = String::new();
    for (i, byte) in b.iter().enumerate() {
        if space && i > 0 {
            out.push(' ');
        }
        if upper {
            let _ = write!(out, "{byte:02X}");
        } else {
            let _ = write!(out, "{byte:02x}");
        }
    }
    out
}

fn format_int(verb: char, spec: Spec, i: i64) -> Option<String> {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let (mut digits, prefix) = match verb {
        'v' | 'd' => (u.to_string(), ""),
        'b' => (format!("{u:b}"), if spec.sharp { "0b" } else { "" }),
        'o' => (format!("{u:o}"), if spec.sharp { "0" } else { "" }),
        'O' => (format!("{u:o}"), "0o"),
        'x' => (format!("{u:x}"), if spec.sharp { "0x" } else { "" }),
        'X' => (format!("{u:X}"), if spec.sharp { "0X" } else { "" }),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return Some(pad(c.to_string(), spec, false));
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let q = quote(&c.to_string());
            let inner = &q[1..q.len() - 1];
            let inner = if inner == "\\\"" {
                "\""
            } else if c == '\'' {
                "\\'"
            } else {
                inner
            };
            return Some(pad(format!("'{inner}'"), spec, false));
        }
        'U' => return Some(pad(format!("U+{u:04X}"), spec, false)),
        _ => return None,
    };
    if let Some(p) = spec.prec {
        while digits.len() < p {
            digits.insert(0, '0');
        }
        if p == 0 && u == 0 {
            digits.clear();
        }
    }
    let s = format!("{}{prefix}{digits}", if neg { "-" } else { "" });
    let s = sign(s, spec);
    // Go ignores the 0 flag when a precision is given for integers.
    Some(pad(
        s,
        Spec {
            zero: spec.zero && spec.prec.is_none(),
            ..spec
        },
        true,
    ))
}

/// Applies the `+` and space flags to a formatted number.
fn sign(s: String, spec: Spec) -> String {
    // Negative numbers and infinities (Go prints "+Inf") carry their sign.
    if s.starts_with(['-', '+']) {
        return s;
    }
    if s == "NaN" {
        return if spec.plus {
            "+NaN".into()
        } else if spec.space {
            " NaN".into()
        } else {
            s
        };
    }
    if spec.plus {
        format!("+{s}")
    } else if spec.space {
        format!(" {s}")
    } else {
        s
    }
}

/// Pads to the width: left with spaces (or zeros after any sign, for
/// numbers and strings alike as Go does), right with spaces for `-`.
fn pad(s: String, spec: Spec, numeric: bool) -> String {
    let Some(width) = spec.width else { return s };
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if spec.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    if spec.zero {
        if numeric && (s.starts_with(['-', '+', ' '])) {
            let (sign, rest) = s.split_at(1);
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        return format!("{}{s}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}
