//! Prometheus 2.42 (`STEWARD_TEST_PROMETHEUS`) with steward as its
//! alertmanager: `alerting.alertmanagers` points at steward's
//! `/alertmanager` prefix with the admin token as bearer credentials; a
//! rule that fires at once reaches a webhook receiver on loopback through
//! steward's routing, and so does its resolution when the rule stops
//! holding.

use std::{
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::Value;
use steward_test_support::free_port;

use crate::support::{Server, receiver};

/// The next payload with `status`, within a minute.
fn next_with_status(rx: &mpsc::Receiver<Value>, status: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let body = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {status} notification"));
        if body["status"] == status {
            return body;
        }
    }
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_delivers_through_steward_to_a_webhook() {
    let Some(bin) = std::env::var_os("STEWARD_TEST_PROMETHEUS") else {
        #[allow(clippy::print_stderr)] // the skip is worth seeing in the test output
        {
            eprintln!("skipping: set STEWARD_TEST_PROMETHEUS to a prometheus 2.42 binary");
        }
        return;
    };
    let (url, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n[alerts]\nconfig_yaml = '''\nroute:\n  receiver: hook\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {url}\n'''\n",
            free_port()
        ),
    )
    .unwrap();
    let server = Server::spawn(dir, config);
    let token_file = server.dir.path().join(".steward/admin.token");
    assert!(token_file.exists(), "steward wrote its admin token");
    let address = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    let prom_dir = tempfile::tempdir().unwrap();
    let rules = prom_dir.path().join("rules.yml");
    // true for the next 15 seconds, then false: the alert fires, then
    // Prometheus sends it resolved
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 15;
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: e2e\n    interval: 1s\n    rules:\n      - alert: AlwaysOn\n        expr: vector(1) and on() (vector(time()) < {until})\n        labels: {{severity: page}}\n        annotations: {{summary: 'value {{{{ $value }}}}'}}\n"
        ),
    )
    .unwrap();
    let prom_config = prom_dir.path().join("prometheus.yml");
    {
        std::fs::write(
            &prom_config,
            format!(
                "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{address}']\n      path_prefix: /alertmanager\n      api_version: v2\n      authorization:\n        credentials_file: {}\n",
                rules.display(),
                token_file.display()
            ),
        )
        .unwrap();
    }
    let web = format!("127.0.0.1:{}", free_port());
    let prometheus = Prometheus(
        Command::new(bin)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            // resend every second (default: a minute): the first send can
            // come before the alertmanager is discovered and be dropped
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(prom_dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );

    let firing = next_with_status(&got, "firing");
    let alert = &firing["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "AlwaysOn");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "value 1");

    let resolved = next_with_status(&got, "resolved");
    assert_eq!(resolved["alerts"][0]["labels"]["alertname"], "AlwaysOn");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    drop(prometheus);
    let (status, _, _) = server.terminate();
    assert!(status.success());
}
