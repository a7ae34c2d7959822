//! Unit tests of `steward alerts routes`: amtool's lines, label parsing,
//! `--verify.receivers` and the configuration file's choice.

use super::*;

const CONFIG: &str = r#"
route:
  receiver: default
  routes:
    - matchers: [service="db"]
      receiver: db-pager
      continue: true
    - match_re: {service: "db|api"}
      receiver: backend
receivers: [{name: default}, {name: db-pager}, {name: backend}]
"#;

fn root() -> Route {
    Route::from_config(&Config::load(CONFIG).unwrap())
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn test_prints_the_receivers_comma_separated() {
    let labels = parse_labels(&args(&["service=db"])).unwrap();
    let tested = test(&root(), &labels, false, None);
    assert_eq!(tested.lines, ["db-pager,backend"]);
    assert!(tested.verified);
    assert_eq!(tested.json["receivers"], json!(["db-pager", "backend"]));
    assert_eq!(tested.json["routes"][0]["id"], r#"{}/{service="db"}/0"#);
    assert_eq!(tested.json["routes"][1]["group_wait"], "30s");
}

#[test]
fn verify_receivers_compares_the_joined_names() {
    let labels = parse_labels(&args(&["service=api"])).unwrap();
    assert!(test(&root(), &labels, false, Some("backend")).verified);
    let wrong = test(&root(), &labels, false, Some("default"));
    assert!(!wrong.verified);
    assert_eq!(
        wrong.lines,
        [
            "backend",
            "WARNING: Expected receivers did not match resolved receivers."
        ]
    );
    // Order matters, as amtool compares the text.
    let db = parse_labels(&args(&["service=db"])).unwrap();
    assert!(!test(&root(), &db, false, Some("backend,db-pager")).verified);
}

#[test]
fn test_with_tree_draws_the_matching_routes_first() {
    let labels = parse_labels(&args(&["service=db"])).unwrap();
    let tested = test(&root(), &labels, true, None);
    assert_eq!(
        tested.lines,
        [
            "Matching routes:",
            ".",
            "└── default-route",
            "    ├── {service=\"db\"}  receiver: db-pager",
            "    └── {service=~\"^(?:db|api)$\"}  receiver: backend",
            "",
            "",
            "db-pager,backend",
        ]
    );
}

#[test]
fn show_draws_the_whole_tree() {
    assert_eq!(
        show_lines(&root()),
        [
            "Routing tree:",
            ".",
            "└── default-route  receiver: default",
            "    ├── {service=\"db\"}  continue: true  receiver: db-pager",
            "    └── {service=~\"^(?:db|api)$\"}  receiver: backend",
            "",
        ]
    );
}

#[test]
fn labels_are_name_value_pairs_as_amtool_reads_them() {
    let labels = parse_labels(&args(&["a=1", "b=\"x, y\"", "a=2", "c="])).unwrap();
    assert_eq!(labels["a"], "2");
    assert_eq!(labels["b"], "x, y");
    assert_eq!(labels["c"], "");
    assert_eq!(
        parse_labels(&args(&["a!=1"])).unwrap_err().to_string(),
        "labels must be specified as key=value pairs"
    );
    assert_eq!(
        parse_labels(&args(&["bad"])).unwrap_err().to_string(),
        "bad matcher format: bad"
    );
}

#[test]
fn the_configuration_comes_from_config_file_or_a_yaml_config() {
    use clap::Parser;
    let cli = crate::cli::Cli::parse_from([
        "steward",
        "alerts",
        "routes",
        "test",
        "--config.file=am.yml",
        "--verify.receivers=a,b",
        "--tree",
        "x=y",
    ]);
    let crate::cli::Command::Alerts(AlertsCommand::Routes(routes)) = cli.command else {
        panic!("not alerts routes");
    };
    assert_eq!(
        config_file(&cli.global, &routes).unwrap(),
        PathBuf::from("am.yml")
    );
    let Some(RoutesCommand::Test {
        tree,
        verify_receivers,
        labels,
    }) = routes.command
    else {
        panic!("not test");
    };
    assert!(tree);
    assert_eq!(verify_receivers.as_deref(), Some("a,b"));
    assert_eq!(labels, ["x=y"]);

    let cli = crate::cli::Cli::parse_from(["steward", "--config", "am.yaml", "alerts", "routes"]);
    let crate::cli::Command::Alerts(AlertsCommand::Routes(routes)) = cli.command else {
        panic!("not alerts routes");
    };
    assert!(routes.command.is_none());
    assert_eq!(
        config_file(&cli.global, &routes).unwrap(),
        PathBuf::from("am.yaml")
    );

    let cli = crate::cli::Cli::parse_from([
        "steward",
        "--config",
        "steward.toml",
        "alerts",
        "routes",
        "show",
    ]);
    let crate::cli::Command::Alerts(AlertsCommand::Routes(routes)) = cli.command else {
        panic!("not alerts routes");
    };
    assert!(config_file(&cli.global, &routes).is_err());
}
