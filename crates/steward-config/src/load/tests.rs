//! Unit tests for the `load` module.

use super::*;

#[test]
fn the_schema_documents_every_section() {
    let schema = json_schema();
    let properties = schema["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alerts",
            "databases",
            "deploy",
            "incidents",
            "logs",
            "metrics",
            "oncall",
            "proxy",
            "retention",
            "rules",
            "server",
            "services"
        ]
    );
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
fn references_in_secret_fields_load_next_to_overrides() {
    let text = "[server]\nstate_url = \"postgres://s:${DB_PASSWORD}@db/s\"\n[[services]]\nname = \"a\"\nprocess.command = [\"a\"]\nhealth.tcp = true\nenv = { API_KEY = \"${API_KEY}\" }\n";
    let env: Environment = [
        ("DB_PASSWORD", "hunter2"),
        ("API_KEY", "sk-live-123"),
        ("STEWARD_SERVER__LISTEN", "127.0.0.1:9999"),
        ("STEWARD_SERVICES__A__REPLICAS", "3"),
        // Override values are taken as written, never expanded.
        ("STEWARD_SERVICES__A__ENV__EXTRA", "${API_KEY}"),
    ]
    .into_iter()
    .collect();
    let loaded = load_str("f", text, Path::new("."), &env).unwrap();
    let config = &loaded.config;
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(config.services[0].replicas, 3);
    assert_eq!(config.services[0].env["API_KEY"].expose(), "sk-live-123");
    assert_eq!(config.services[0].env["EXTRA"].expose(), "${API_KEY}");
    assert_eq!(loaded.state_url().expose(), "postgres://s:hunter2@db/s");
    let shown = serde_json::to_string(config).unwrap();
    assert!(
        !shown.contains("hunter2") && !shown.contains("sk-live"),
        "{shown}"
    );
}

#[test]
fn a_reference_outside_env_is_refused_with_a_pointer_to_env() {
    let text = "[[services]]\nname = \"a\"\nprocess.command = [\"a\", \"--key=${API_KEY}\"]\nhealth.tcp = true\n";
    let env: Environment = [("API_KEY", "sk-live-123")].into_iter().collect();
    let Err(Error::Invalid(report)) = load_str("f", text, Path::new("."), &env) else {
        panic!("expected the reference to be refused");
    };
    assert_eq!(report.diagnostics.len(), 1, "{report}");
    let diagnostic = &report.diagnostics[0];
    assert_eq!(diagnostic.location.to_string(), "f:3:32");
    assert_eq!(
        diagnostic.message,
        "`${API_KEY}` is only expanded in `env` values and URLs, where steward keeps it secret"
    );
    let hint = diagnostic.hint.as_deref().unwrap();
    assert!(
        hint.contains("`[services.env]` (`API_KEY = \"${API_KEY}\"`)"),
        "{hint}"
    );
    assert!(!report.to_string().contains("sk-live"), "{report}");
}
