//! Loading real configuration files: the shipped example, path resolution,
//! secrets and the rendered report.

use std::path::Path;

use steward_config::{Environment, Error, Probe, load, load_str};

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_example_agent_system_is_valid() {
    let path = repo_root().join("examples/agent-system/steward.toml");
    let loaded = load(&path, &Environment::default()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(loaded.report.diagnostics, vec![]);
    let names: Vec<&str> = loaded
        .config
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["agent-worker", "gateway"]);
    assert_eq!(loaded.config.service("agent-worker").unwrap().replicas, 2);
    assert_eq!(loaded.config.databases.len(), 1);
    assert!(
        loaded.config.databases[0]
            .migrations
            .as_ref()
            .unwrap()
            .is_dir()
    );
}

#[test]
fn relative_paths_resolve_against_the_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    let text = "[[databases]]\nname = \"app\"\nurl = \"sqlite://data/app.db?mode=rwc\"\nmigrations = \"migrations\"\n";
    let loaded = load_str("inline", text, dir.path(), &Environment::default()).unwrap();
    assert_eq!(loaded.data_dir(), dir.path().join(".steward"));
    assert_eq!(
        loaded.state_url().expose(),
        &format!(
            "sqlite://{}",
            dir.path().join(".steward/steward.db").display()
        )
    );
    let database = &loaded.config.databases[0];
    assert_eq!(
        database.migrations.as_deref(),
        Some(dir.path().join("migrations").as_path())
    );
    assert_eq!(
        database.url.expose(),
        &format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("data/app.db").display()
        )
    );
}

#[test]
fn secrets_are_resolved_but_never_printed() {
    let env: Environment = [("DB_PASSWORD", "hunter2-very-secret")]
        .into_iter()
        .collect();
    let text = "[server]\nstate_url = \"postgres://s:${DB_PASSWORD}@db/s\"\n[[services]]\nname = \"a\"\nprocess.command = [\"a\"]\nhealth.tcp = true\nenv = { TOKEN = \"${DB_PASSWORD}\" }\n";
    let loaded = load_str("inline", text, Path::new("."), &env).unwrap();
    assert_eq!(
        loaded.state_url().expose(),
        "postgres://s:hunter2-very-secret@db/s"
    );
    assert_eq!(
        loaded.config.services[0].env["TOKEN"].expose(),
        "hunter2-very-secret"
    );
    let debug = format!("{loaded:?}");
    let json = serde_json::to_string(&loaded.config).unwrap();
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!json.contains("hunter2"), "{json}");
}

#[test]
fn the_report_renders_every_problem_with_its_line() {
    let text = "[[services]]\nname = \"a\"\nreplcas = 1\nport = 8080\nprocess.command = [\"a\"]\nhealth.tcp = true\n\n[[services]]\nname = \"b\"\nport = 8080\ndepends_on = [\"c\"]\nprocess.command = [\"b\"]\nhealth.tcp = true\n";
    let Err(Error::Invalid(report)) =
        load_str("bad.toml", text, Path::new("."), &Environment::default())
    else {
        panic!("expected an invalid configuration");
    };
    let rendered = report.render();
    assert_eq!(report.error_count(), 3, "{rendered}");
    assert!(rendered.contains("--> bad.toml:3:1"), "{rendered}");
    assert!(rendered.contains("--> bad.toml:10:8"), "{rendered}");
    assert!(rendered.contains("--> bad.toml:11:15"), "{rendered}");
    assert!(
        rendered.ends_with("error: bad.toml has 3 errors and 0 warnings\n"),
        "{rendered}"
    );
    assert!(rendered.contains("3 | replcas = 1"), "{rendered}");
    assert!(
        rendered.contains("= help: did you mean `replicas`?"),
        "{rendered}"
    );
}

#[test]
fn health_probe_reflects_the_configured_check() {
    let text = "[[services]]\nname = \"a\"\nprocess.command = [\"a\"]\nhealth.command = [\"check\", \"--quick\"]\n";
    let loaded = load_str("inline", text, Path::new("."), &Environment::default()).unwrap();
    let health = loaded.config.services[0].health.as_ref().unwrap();
    assert_eq!(
        health.probe(),
        Probe::Command(&["check".to_owned(), "--quick".to_owned()])
    );
    assert_eq!(health.interval.to_string(), "2s");
}

#[test]
fn a_missing_file_says_which() {
    let err = load(
        Path::new("/nonexistent/steward.toml"),
        &Environment::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read configuration file /nonexistent/steward.toml"),
        "{err}"
    );
}
