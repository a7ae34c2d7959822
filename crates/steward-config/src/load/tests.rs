//! Unit tests for the `load` module.

use super::*;

#[test]
fn the_schema_documents_every_section() {
    let schema = json_schema();
    let properties = schema["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["databases", "deploy", "server", "services"]);
    assert_eq!(schema["additionalProperties"], false);
    assert!(schema["$defs"]["ServiceConfig"]["properties"]["replicas"]["description"].is_string());
}

#[test]
fn sqlite_urls_resolve_relative_files_only() {
    let base = Path::new("/srv/app");
    assert_eq!(
        resolve_sqlite_url("sqlite://data/x.db", base),
        "sqlite:///srv/app/data/x.db"
    );
    assert_eq!(
        resolve_sqlite_url("sqlite:x.db?mode=rwc", base),
        "sqlite:///srv/app/x.db?mode=rwc"
    );
    assert_eq!(
        resolve_sqlite_url("sqlite:///abs/x.db", base),
        "sqlite:///abs/x.db"
    );
    assert_eq!(
        resolve_sqlite_url("sqlite::memory:", base),
        "sqlite::memory:"
    );
    assert_eq!(
        resolve_sqlite_url("postgres://h/db", base),
        "postgres://h/db"
    );
}

#[test]
fn semantic_checks_still_run_when_the_schema_check_fails() {
    let text = "[[services]]\nname = \"a\"\nreplicas = \"two\"\nport = 1\nprocess.command = [\"a\"]\nhealth.tcp = true\n[[services]]\nname = \"b\"\nport = 1\nprocess.command = [\"b\"]\nhealth.tcp = true\n";
    let Err(Error::Invalid(report)) = load_str("f", text, Path::new("."), &Environment::default())
    else {
        panic!("expected errors");
    };
    let messages: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "`services[0].replicas` must be an integer, found a string",
            "port 1 of service `b` is already used by service `a`"
        ]
    );
}

#[test]
fn paths_are_normalized_lexically() {
    let cases = [
        ("/a/b/../c", "/a/c"),
        ("a/./b", "a/b"),
        ("../x", "../x"),
        ("a/../../x", "../x"),
        ("/..", "/"),
        (".", "."),
        ("a/..", "."),
    ];
    for (input, expected) in cases {
        assert_eq!(
            normalize(Path::new(input)),
            PathBuf::from(expected),
            "{input}"
        );
    }
}
