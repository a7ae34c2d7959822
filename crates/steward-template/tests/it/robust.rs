//! Arbitrary templates never panic: they render or return an error.

use proptest::prelude::*;
use steward_template::{Templates, Value};

fn data() -> Value {
    serde_json::json!({"a": {"b": [1, 2.5, "x", null]}, "s": "str", "n": 0}).into()
}

proptest! {
    // A fixed seed: the same cases on every run, so a case that fails is
    // found again (a random seed once drew a template that ran for minutes).
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,64}") {
        let mut t = Templates::new();
        if t.parse("p", &text).is_ok() {
            let _ = t.execute("p", &data());
        }
    }

    #[test]
    fn random_actions_never_panic(parts in prop::collection::vec(prop::sample::select(vec![
        "{{", "}}", "{{-", " -}}", " ", ".a", ".b", "$x", ":=", "=", "|", "(", ")", "if", "else",
        "end", "range", "with", "define", "template", "block", "break", "continue", "\"s\"", "1",
        "-2.5", "nil", "true", "printf", "\"%d %v %5.1f\"", "index", "slice", "len", "eq", "lt",
        "and", "or", "not", "call", "html", "$", ".", ",", "/*", "*/", "'c'", "`r`",
    ]), 0..24)) {
        let text: String = parts.concat();
        let mut t = Templates::new();
        if t.parse("p", &text).is_ok() {
            let _ = t.execute("p", &data());
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    let ifs = format!("{}x{}", "{{if 1}}".repeat(5000), "{{end}}".repeat(5000));
    for text in [parens, ifs] {
        let err = Templates::new()
            .parse("deep", &text)
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    }
}

#[test]
fn nesting_within_the_limit_executes() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(60), ")".repeat(60));
    let ifs = format!("{}x{}", "{{if 1}}".repeat(60), "{{end}}".repeat(60));
    for (text, want) in [(parens, "1"), (ifs, "x")] {
        let mut t = Templates::new();
        t.parse("deep", &text).unwrap();
        assert_eq!(t.execute("deep", &Value::Nil).unwrap(), want);
    }
}

#[test]
fn exponential_recursion_and_huge_ranges_end_with_an_error() {
    let twice = r#"{{define "s"}}x{{template "s"}}{{template "s"}}{{end}}{{template "s"}}"#;
    let huge = "{{range 1000000000}}x{{end}}";
    for text in [twice, huge] {
        let mut t = Templates::new();
        t.parse("p", text).unwrap();
        let err = t.execute("p", &Value::Nil).unwrap_err();
        assert!(err.to_string().contains("exceeded"), "{text}: {err}");
    }
}

#[test]
fn loops_with_continue_and_break_end() {
    for (text, want) in [
        ("{{range 3}}{{continue}}x{{end}}y", "y"),
        ("{{range 3}}a{{break}}{{end}}", "a"),
        (
            "{{range $i, $v := 3}}{{if eq $i 1}}{{continue}}{{end}}{{$v}}{{end}}",
            "02",
        ),
    ] {
        let mut t = Templates::new();
        t.parse("p", text).unwrap();
        assert_eq!(t.execute("p", &Value::Nil).unwrap(), want, "{text}");
    }
}
