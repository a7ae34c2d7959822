//! Metrics through the real binary: `steward up` scrapes the replicas it
//! runs, and the Prometheus API shows one series per replica whose
//! `version` label follows a rolling deployment.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    time::Duration,
};

use serde_json::Value;
use steward_test_support::{free_port, wait_until_blocking};

use crate::{
    deploy::agent_config,
    support::{Server, stderr, stdout},
};

/// `query` answered by steward's Prometheus API on `api` (POST form, as
/// Grafana sends it).
fn query(api: u16, token: &str, query: &str) -> Value {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = format!("query={encoded}");
    let mut stream = TcpStream::connect(("127.0.0.1", api)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "POST /prometheus/api/v1/query HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (_, json) = response.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"))
}

/// `(replica, version)` of each series of `result`, sorted.
fn by_replica(answer: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = answer["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("a vector: {answer}"))
        .iter()
        .map(|s| {
            (
                s["metric"]["replica"].as_str().unwrap_or("-").to_owned(),
                s["metric"]["version"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".steward").join("admin.token"))
        .expect("admin token")
        .trim()
        .to_owned()
}

#[test]
fn up_scrapes_its_replicas_and_versions_follow_a_rolling_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("steward.toml");
    let (api, port) = (free_port(), free_port());
    let text = agent_config(api, port, 2, "").replace(
        "process.command",
        "metrics_path = \"/metrics\"\nprocess.command",
    ) + "\n[metrics]\nscrape_interval = \"300ms\"\nscrape_timeout = \"250ms\"\n";
    std::fs::write(&config, text).expect("write config");
    let server = Server::spawn(dir, config);
    let dir = server.dir.path().to_owned();
    wait_until_blocking(
        "the admin token is written",
        Duration::from_secs(30),
        || dir.join(".steward").join("admin.token").exists(),
    );
    let token = token(&dir);
    let per_replica = "sum by (replica, version) (rate(demo_agent_tasks_total[1m]))";
    wait_until_blocking(
        "both replicas of 1.0.0 are scraped",
        Duration::from_secs(60),
        || {
            let got = by_replica(&query(api, &token, per_replica));
            got.len() == 2 && got.iter().all(|(_, v)| v == "1.0.0")
        },
    );

    // each replica's process tree is measured under cAdvisor's names
    wait_until_blocking(
        "both replicas' resident memory is collected",
        Duration::from_secs(30),
        || {
            let got = by_replica(&query(api, &token, "container_memory_rss > 0"));
            got.len() == 2 && got.iter().all(|(_, v)| v == "1.0.0")
        },
    );
    let fds = query(api, &token, "container_file_descriptors");
    assert!(
        fds["data"]["result"].as_array().is_some_and(|series| series
            .iter()
            .all(|s| s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()) > Some(2.0))),
        "{fds}"
    );

    let done = server.cli(&["deploy", "1.1.0", "--wait"]);
    assert!(
        done.status.success(),
        "{}\n{}",
        stdout(&done),
        stderr(&done)
    );
    // an instant selector: a stale marker ends a series at once (a range
    // function would still see the old replicas' last minute)
    let now = "count by (replica, version) (demo_agent_tasks_total)";
    wait_until_blocking(
        "the new replicas are scraped and the old ones went stale",
        Duration::from_secs(30),
        || {
            let got = by_replica(&query(api, &token, now));
            got.len() == 2 && got.iter().all(|(_, v)| v == "1.1.0")
        },
    );
    // over the last minute both versions were there, side by side
    let versions = query(
        api,
        &token,
        "count by (version) (count_over_time(demo_agent_tasks_total[1m]))",
    );
    let mut seen: Vec<&str> = versions["data"]["result"]
        .as_array()
        .expect("vector")
        .iter()
        .filter_map(|s| s["metric"]["version"].as_str())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, ["1.0.0", "1.1.0"], "{versions}");

    let (status, _, _) = server.terminate();
    assert!(status.success());
}
