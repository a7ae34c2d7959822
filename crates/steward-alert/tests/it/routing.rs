//! Data-driven routing: every `tests/cases/routing/*.yml` (see the README
//! beside it) through steward's routing tree, and, when
//! `STEWARD_TEST_AMTOOL` names amtool 0.25, through `amtool config routes
//! test --verify.receivers` with the same configuration; both must give
//! the expected receivers.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use steward_alert::{Config, LabelSet, Route};

/// One case file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// Read as text by [`read`].
    #[serde(rename = "config")]
    _config: serde::de::IgnoredAny,
    cases: Vec<Case>,
}

/// One alert and where it must go.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    labels: LabelSet,
    receivers: Vec<String>,
    #[serde(default)]
    routes: Vec<ExpectedRoute>,
    #[serde(default)]
    muted: Vec<Muted>,
}

/// The options expected of a matched route; what is left out is not checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRoute {
    id: Option<String>,
    group_by: Option<Vec<String>>,
    group_wait: Option<String>,
    group_interval: Option<String>,
    repeat_interval: Option<String>,
    mute_time_intervals: Option<Vec<String>>,
    active_time_intervals: Option<Vec<String>>,
}

/// Whether each matched route is muted at an instant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Muted {
    at: DateTime<Utc>,
    routes: Vec<bool>,
}

pub(crate) fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/routing");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no routing cases");
    files
}

/// The case file and its configuration's text, as written (what amtool
/// reads): the lines under `config:` up to the next top-level key,
/// unindented. The text is cut rather than re-serialized so that scalars
/// stay as written (`1.10` is not `1.1`).
fn read(path: &Path) -> (CaseFile, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let file: CaseFile =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut config = String::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with([' ', '#']) && !line.is_empty() {
            inside = line == "config:";
            continue;
        }
        if inside {
            config.push_str(line.strip_prefix("  ").unwrap_or(line));
            config.push('\n');
        }
    }
    assert!(!config.trim().is_empty(), "{}: no config", path.display());
    (file, config)
}

#[allow(clippy::print_stdout)] // the skip line is the point
pub(crate) fn amtool() -> Option<String> {
    let amtool = std::env::var("STEWARD_TEST_AMTOOL")
        .ok()
        .filter(|p| !p.is_empty());
    if amtool.is_none() {
        println!("skipping the comparison with amtool: STEWARD_TEST_AMTOOL is not set");
    }
    amtool
}

/// `name="value"` with the value quoted as amtool's matcher parser reads it.
pub(crate) fn label_arg(name: &str, value: &str) -> String {
    let escaped = value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n");
    format!("{name}=\"{escaped}\"")
}

fn check_route(where_: &str, route: &Route, expected: &ExpectedRoute) {
    let opts = route.opts();
    if let Some(id) = &expected.id {
        assert_eq!(route.id(), id, "{where_}: id");
    }
    if let Some(group_by) = &expected.group_by {
        let actual: Vec<String> = if opts.group_by_all {
            vec!["...".to_owned()]
        } else {
            opts.group_by.iter().cloned().collect()
        };
        let mut expected = group_by.clone();
        expected.sort();
        assert_eq!(actual, expected, "{where_}: group_by");
    }
    let timers = [
        ("group_wait", &expected.group_wait, opts.group_wait),
        (
            "group_interval",
            &expected.group_interval,
            opts.group_interval,
        ),
        (
            "repeat_interval",
            &expected.repeat_interval,
            opts.repeat_interval,
        ),
    ];
    for (name, expected, actual) in timers {
        if let Some(expected) = expected {
            let expected = steward_core::parse_duration(expected).unwrap();
            assert_eq!(actual, expected, "{where_}: {name}");
        }
    }
    if let Some(mute) = &expected.mute_time_intervals {
        assert_eq!(
            &opts.mute_time_intervals, mute,
            "{where_}: mute_time_intervals"
        );
    }
    if let Some(active) = &expected.active_time_intervals {
        assert_eq!(
            &opts.active_time_intervals, active,
            "{where_}: active_time_intervals"
        );
    }
}

#[test]
fn routing_cases_route_as_expected() {
    let mut count = 0;
    for path in case_files() {
        let (file, text) = read(&path);
        let config = Config::load(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let root = Route::from_config(&config);
        let intervals = config.time_intervals();
        for (i, case) in file.cases.iter().enumerate() {
            let where_ = format!("{} case {i} {:?}", path.display(), case.labels);
            let matched = root.r#match(&case.labels);
            let receivers: Vec<&str> = matched.iter().map(|r| r.opts().receiver.as_str()).collect();
            assert_eq!(receivers, case.receivers, "{where_}: receivers");
            if !case.routes.is_empty() {
                assert_eq!(case.routes.len(), matched.len(), "{where_}: routes listed");
            }
            for (route, expected) in matched.iter().zip(&case.routes) {
                check_route(&where_, route, expected);
            }
            for muted in &case.muted {
                let actual: Vec<bool> = matched
                    .iter()
                    .map(|r| {
                        let opts = r.opts();
                        intervals
                            .mutes(
                                &opts.mute_time_intervals,
                                &opts.active_time_intervals,
                                muted.at,
                            )
                            .unwrap()
                    })
                    .collect();
                assert_eq!(actual, muted.routes, "{where_}: muted at {}", muted.at);
            }
            count += 1;
        }
    }
    assert!(count >= 50, "only {count} routing cases");
}

#[test]
fn amtool_routes_the_cases_as_steward_does() {
    let Some(amtool) = amtool() else { return };
    let dir = std::env::temp_dir().join(format!("steward-alert-routing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for path in case_files() {
        let (file, text) = read(&path);
        let config_path = dir.join(path.file_name().unwrap());
        std::fs::write(&config_path, &text).unwrap();
        let root = Route::from_config(&Config::load(&text).unwrap());
        for (i, case) in file.cases.iter().enumerate() {
            let where_ = format!("{} case {i} {:?}", path.display(), case.labels);
            let expected = case.receivers.join(",");
            let output = Command::new(&amtool)
                .args(["config", "routes", "test"])
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!("--verify.receivers={expected}"))
                .args(case.labels.iter().map(|(k, v)| label_arg(k, v)))
                .output()
                .expect("amtool runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{where_}: amtool disagrees: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(stdout.lines().next(), Some(expected.as_str()), "{where_}");
            assert_eq!(root.receivers(&case.labels).join(","), expected, "{where_}");
        }
        // The whole tree is drawn the same too.
        let output = Command::new(&amtool)
            .args(["config", "routes", "show"])
            .arg(format!("--config.file={}", config_path.display()))
            .output()
            .expect("amtool runs");
        let drawn = format!("Routing tree:\n{}\n", root.tree());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            drawn,
            "{}",
            path.display()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
