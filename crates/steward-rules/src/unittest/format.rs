//! How promtool prints values in its failure messages: Go's quoting,
//! `labels.Labels.String()`, `strconv.FormatFloat(v, 'E', -1, 64)`.

use steward_metrics::Labels;

/// Go's `strconv.Quote` for the characters that occur in practice.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{a="b", c="d"}`, every label including `__name__`.
pub(crate) fn go_labels(l: &Labels) -> String {
    let items: Vec<String> = l
        .iter()
        .map(|l| format!("{}={}", l.name, go_quote(&l.value)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `2.5E-01`, `NaN`, `+Inf`.
pub(crate) fn format_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = format!("{v:E}");
    let (mantissa, exp) = s.split_once('E').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}E{sign}{:02}", exp.abs())
}

/// promtool's list of alerts (labels and annotations).
pub(crate) fn alerts_string(alerts: &[(Labels, Labels)]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let one = |(l, a): &(Labels, Labels)| {
        format!("\nLabels:{}\nAnnotations:{}", go_labels(l), go_labels(a)).replace('\n', "\n  ")
    };
    let mut s = format!("[\n0:{}", one(&alerts[0]));
    for (i, a) in alerts.iter().enumerate().skip(1) {
        s.push_str(&format!(",\n{i}:{}", one(a)));
    }
    s.push_str("\n]");
    s
}

/// promtool's list of samples, `nil` when empty.
pub(crate) fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(|(l, v)| format!("{} {}", go_labels(l), format_float_e(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_prints_them() {
        assert_eq!(format_float_e(1.0), "1E+00");
        assert_eq!(format_float_e(0.25), "2.5E-01");
        assert_eq!(format_float_e(12345.0), "1.2345E+04");
        assert_eq!(format_float_e(1e-120), "1E-120");
        assert_eq!(format_float_e(0.0), "0E+00");
        assert_eq!(format_float_e(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn labels_and_alerts_as_promtool_prints_them() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        assert_eq!(go_labels(&l), r#"{__name__="up", job="a\"b"}"#);
        let a = vec![(Labels::from_pairs([("alertname", "X")]), Labels::empty())];
        assert_eq!(
            alerts_string(&a),
            "[\n0:\n  Labels:{alertname=\"X\"}\n  Annotations:{}\n]"
        );
        assert_eq!(samples_string(&[]), "nil");
    }
}
