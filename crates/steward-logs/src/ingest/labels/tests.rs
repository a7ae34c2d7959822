//! Tests of the label set parser and writer.

use proptest::prelude::*;
use steward_metrics::Labels;

use super::{format_label_set, parse_label_set};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn parses_label_sets_as_promtail_writes_them() {
    assert_eq!(
        parse_label_set(r#"{job="varlogs", filename="/var/log/syslog"}"#).unwrap(),
        pairs(&[("job", "varlogs"), ("filename", "/var/log/syslog")])
    );
    assert_eq!(parse_label_set("{}").unwrap(), pairs(&[]));
    assert_eq!(
        parse_label_set(" { a = \"1\" ,b=\"2\", } ").unwrap(),
        pairs(&[("a", "1"), ("b", "2")])
    );
    assert_eq!(
        parse_label_set("{_x=`raw \\n \"`}").unwrap(),
        pairs(&[("_x", "raw \\n \"")])
    );
}

#[test]
fn unescapes_go_strings() {
    let got =
        parse_label_set(r#"{a="q\"b\\s\n\t\r\a\b\f\v", b="\x41\101\u00e9\U0001F600", c="é"}"#)
            .unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("a", "q\"b\\s\n\t\r\u{7}\u{8}\u{c}\u{b}"),
            ("b", "AAé😀"),
            ("c", "é"),
        ])
    );
    // bytes of an escaped UTF-8 sequence
    assert_eq!(
        parse_label_set(r#"{a="\xc3\xa9"}"#).unwrap(),
        pairs(&[("a", "é")])
    );
}

#[test]
fn errors_say_what_and_where() {
    let cases = [
        ("", "at byte 0: expected '{', found the end"),
        ("a=\"b\"}", "at byte 0: expected '{', found 'a'"),
        ("{1a=\"b\"}", "at byte 1: expected a label name, found '1'"),
        (
            "{a.b=\"c\"}",
            "at byte 2: expected '=' after a label name, found '.'",
        ),
        (
            "{a=b}",
            "at byte 3: expected a quoted label value, found 'b'",
        ),
        (
            "{a=\"b\" c=\"d\"}",
            "at byte 7: expected ',' or '}', found 'c'",
        ),
        ("{a=\"b\"", "at byte 6: expected ',' or '}', found the end"),
        ("{a=\"b", "at byte 5: unterminated label value"),
        ("{a=\"b\nc\"}", "at byte 5: newline in a quoted label value"),
        (
            "{a=\"\\q\"}",
            "at byte 4: invalid escape sequence in a label value",
        ),
        (
            "{a=\"\\x4\"}",
            "at byte 4: invalid escape sequence in a label value",
        ),
        (
            "{a=\"\\400\"}",
            "at byte 4: invalid escape sequence in a label value",
        ),
        (
            "{a=\"\\ud800\"}",
            "at byte 4: invalid escape sequence in a label value",
        ),
        (
            "{a=\"\\xff\"}",
            "at byte 3: the label value is not valid UTF-8",
        ),
        (
            "{a=\"1\", a=\"2\"}",
            "at byte 8: label \"a\" is given twice",
        ),
        (
            "{a=\"1\"} x",
            "at byte 8: unexpected text after the closing '}'",
        ),
        (
            "{a=`x}",
            "at byte 6: expected the closing '`', found the end",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_label_set(text).unwrap_err(), want, "{text:?}");
    }
}

#[test]
fn writes_what_it_reads() {
    let labels = Labels::from_pairs([("b", "x\"y\\z\n\t\r\u{1}é"), ("a", "1")]);
    let text = format_label_set(&labels);
    assert_eq!(text, r#"{a="1", b="x\"y\\z\n\t\r\u0001é"}"#);
    let back = Labels::from_pairs(parse_label_set(&text).unwrap());
    assert_eq!(back, labels);
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse_label_set(&text);
    }

    #[test]
    fn arbitrary_bracketed_text_never_panics(text in r#"\{[a-z_=",`\\ xu0-9\u{e9}]{0,24}\}?"#) {
        let _ = parse_label_set(&text);
    }

    #[test]
    fn round_trips_arbitrary_values(
        pairs in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..5)
    ) {
        let labels = Labels::from_pairs(pairs);
        let back = Labels::from_pairs(parse_label_set(&format_label_set(&labels)).unwrap());
        prop_assert_eq!(back, labels);
    }
}
