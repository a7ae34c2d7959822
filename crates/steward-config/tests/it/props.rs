//! Property tests: whatever text and environment the loader is given, it
//! answers with a configuration or a report, and renders the report,
//! without panicking.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use steward_config::{Environment, Error, load_str};

fn example_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/agent-system"
    ))
    .to_owned()
}

fn example() -> String {
    std::fs::read_to_string(example_dir().join("steward.toml")).expect("the example configuration")
}

/// Loads `text` and renders whatever comes back; only a panic fails.
fn load_and_render(text: &str, env: &Environment) {
    match load_str("steward.toml", text, &example_dir(), env) {
        Ok(loaded) => {
            let _ = loaded.report.render();
        }
        Err(Error::Invalid(report)) => {
            let rendered = report.render();
            assert!(rendered.contains("error"), "{rendered}");
            let _ = report.to_string();
        }
        Err(other) => {
            let _ = other.to_string();
        }
    }
}

/// Pieces of TOML and of steward's schema, to build text that gets past
/// the parser more often than random characters do.
fn toml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_owned()),
        Just(" = ".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\"\"\"".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("[[services]]\n".to_owned()),
        Just("[[databases]]\n".to_owned()),
        Just("[server]\n".to_owned()),
        Just("[deploy.hooks]\n".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        Just(".".to_owned()),
        Just("name = \"a\"\n".to_owned()),
        Just("process.command = [\"a\", \"{port}\"]\n".to_owned()),
        Just("health.tcp = true\n".to_owned()),
        Just("env = { K = \"${API_KEY}\" }\n".to_owned()),
        Just("url = \"postgres://u:${API_KEY}@h/d\"\n".to_owned()),
        Just("\"${API_KEY}\"".to_owned()),
        Just("\"${UNSET}\"".to_owned()),
        Just("\"$${\"".to_owned()),
        Just("\"${\"".to_owned()),
        Just("port".to_owned()),
        Just("replicas".to_owned()),
        Just("listen".to_owned()),
        Just("depends_on = [\"a\"]\n".to_owned()),
        Just("1".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("1e400".to_owned()),
        Just("true".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("\"30s\"".to_owned()),
        Just("\"999999999999999999999y\"".to_owned()),
        Just("\"127.0.0.1:0\"".to_owned()),
        Just("é".to_owned()),
        Just("\u{1F4A5}".to_owned()),
        Just("\t".to_owned()),
        Just("\r\n".to_owned()),
        Just("#".to_owned()),
        "[a-z_]{1,8}",
        "\\PC{1,4}",
    ]
}

/// One change to the example's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Splice(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Replace(at, byte)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), toml_piece()).prop_map(|(at, piece)| Edit::Splice(at, piece)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Replace(at, byte) if len > 0 => bytes[at % len] = *byte,
            Edit::Insert(at, byte) => bytes.insert(at % (len + 1), *byte),
            Edit::Delete(at) if len > 0 => {
                bytes.remove(at % len);
            }
            Edit::Splice(at, piece) => {
                let at = at % (len + 1);
                bytes.splice(at..at, piece.bytes());
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Environments with overrides (well-formed or not) and a secret.
fn environment() -> impl Strategy<Value = Environment> {
    let segment = prop_oneof![
        Just("SERVER".to_owned()),
        Just("LISTEN".to_owned()),
        Just("DATA_DIR".to_owned()),
        Just("SERVICES".to_owned()),
        Just("GATEWAY".to_owned()),
        Just("AGENT_WORKER".to_owned()),
        Just("ENV".to_owned()),
        Just("REPLICAS".to_owned()),
        Just("HEALTH".to_owned()),
        Just("DATABASES".to_owned()),
        Just("DEPLOY".to_owned()),
        Just(String::new()),
        "[A-Za-z_]{1,6}",
    ];
    let var = prop::collection::vec(segment, 1..5)
        .prop_map(|segments| format!("STEWARD_{}", segments.join("__")));
    let value = prop_oneof![
        Just("127.0.0.1:9999".to_owned()),
        Just("3".to_owned()),
        Just("${API_KEY}".to_owned()),
        Just(String::new()),
        any::<String>(),
    ];
    (
        prop::collection::vec((var, value), 0..4),
        prop::option::of(any::<String>()),
    )
        .prop_map(|(overrides, secret)| {
            let mut vars: Vec<(String, String)> = overrides;
            if let Some(secret) = secret {
                vars.push(("API_KEY".to_owned(), secret));
            }
            vars.into_iter().collect()
        })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), env in environment()) {
        load_and_render(&text, &env);
    }

    #[test]
    fn pieces_of_toml_never_panic(
        pieces in prop::collection::vec(toml_piece(), 0..60),
        env in environment(),
    ) {
        load_and_render(&pieces.concat(), &env);
    }

    #[test]
    fn the_example_changed_at_random_never_panics(
        edits in prop::collection::vec(edit(), 1..8),
        env in environment(),
    ) {
        load_and_render(&apply(&example(), &edits), &env);
    }
}
