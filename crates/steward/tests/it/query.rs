//! `steward query` and `steward targets` against a real `steward up` that
//! scrapes itself.

use std::time::{Duration, Instant};

use serde_json::Value;
use steward_test_support::free_port;

use crate::support::{Server, stderr, stdout};

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n[metrics]\nscrape_interval = \"300ms\"\nscrape_timeout = \"250ms\"\n",
            free_port()
        ),
    )
    .unwrap();
    Server::spawn(dir, config)
}

#[test]
fn query_and_targets_show_what_steward_scrapes_of_itself() {
    let server = start();

    // Poll until the first scrapes are stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    let table = loop {
        let out = server.cli(&["query", "up"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        if text
            .lines()
            .any(|line| line.starts_with("up{") && line.contains("job=\"steward\""))
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no up{{job=\"steward\"}}: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(table.starts_with("SERIES"), "{table}");
    let row = table
        .lines()
        .find(|line| line.contains("job=\"steward\""))
        .unwrap();
    assert!(row.trim_end().ends_with(" 1"), "{row}");

    // JSON is the API's data.
    let out = server.cli(&["query", "up", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let data: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(data["resultType"], "vector");

    // A scalar prints its value alone.
    let out = server.cli(&["query", "1 + 1"]);
    assert_eq!(stdout(&out).trim(), "2", "{}", stderr(&out));

    // A range query draws a chart with a legend.
    let out = server.cli(&["query", "up", "--range", "1m", "--step", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let chart = stdout(&out);
    assert!(!chart.contains('\x1b'), "no colour on a pipe: {chart}");
    assert!(
        chart
            .lines()
            .any(|line| line.trim_start().starts_with("* up{") && line.contains("steward")),
        "{chart}"
    );
    assert!(chart.contains(" +---"), "{chart}");

    // Bad PromQL is a usage error with Prometheus' error type.
    let out = server.cli(&["query", "sum("]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: bad_data: "),
        "{}",
        stderr(&out)
    );

    let out = server.cli(&["targets", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let data: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs: Vec<&str> = data["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scrapePool"].as_str().unwrap())
        .collect();
    assert!(jobs.contains(&"steward"), "{jobs:?}");

    let out = server.cli(&["targets"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("JOB"), "{text}");
    assert!(
        text.lines()
            .any(|line| line.starts_with("steward ") && line.contains(" up ")),
        "{text}"
    );
}
