//! Arbitrary templates never panic: they render or return an error.

use proptest::prelude::*;
use steward_template::{Templates, Value};

fn data() -> Value {
    serde_json::json!({"a": {"b": [1, 2.5, "x", null]}, "s": "str", "n": 0}).into()
}

proptest! {
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
