//! Deployments through the real binary: `steward up` deploys the
//! configured services, `steward deploy --wait` exits by the outcome, and
//! steward killed with SIGKILL in the middle of deployments finishes each
//! one after a restart without orphaned or duplicated replicas.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    time::Duration,
};

use serde_json::Value;
use steward_test_support::{demo_agent, free_port, wait_until_blocking};

use crate::support::{Server, cli_in, stderr, stdout};

/// A configuration running `replicas` demo agents behind `port`.
pub(crate) fn agent_config(api: u16, port: u16, replicas: u32, extra_env: &str) -> String {
    let agent = demo_agent();
    format!(
        r#"
[server]
listen = "127.0.0.1:{api}"

[deploy]
initial_version = "1.0.0"

[[services]]
name = "agent"
replicas = {replicas}
port = {port}
env = {{ DEMO_AGENT_LLM_LATENCY_MS = "5ms", DEMO_AGENT_TOOL_LATENCY_MS = "1ms"{extra_env} }}
process.command = ["{agent}", "--port", "{{port}}", "--agent-version", "{{version}}"]
health = {{ http = "/healthz", interval = "300ms", timeout = "250ms", unhealthy_threshold = 2 }}
rollout = {{ verify_window = "500ms", drain_timeout = "5s", stop_grace = "5s", smoke = [{{ http = "/v1/tasks", method = "POST", body = '{{"prompt": "smoke", "model": "demo-pro"}}' }}] }}
"#,
        agent = agent.display()
    )
}

/// Status code of `GET path` on loopback `port`, if it answers.
pub(crate) fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    })
}

/// The agent service as `steward status -o json` shows it.
fn agent_status(dir: &Path, config: &Path) -> Value {
    let status = json(&cli_in(dir, config, &["status", "-o", "json"]));
    status["services"][0].clone()
}

/// Replica processes started from `data_dir`'s process backend, found by
/// the backend directory every replica carries in its environment.
pub(crate) fn replica_processes(data_dir: &Path) -> Vec<String> {
    let marker = format!(
        "STEWARD_BACKEND_DIR={}",
        std::fs::canonicalize(data_dir.join("replicas"))
            .unwrap_or_else(|_| data_dir.join("replicas"))
            .display()
    );
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie
            && environ
                .split(|b| *b == 0)
                .any(|var| var == marker.as_bytes())
        {
            pids.push(pid.to_string());
        }
    }
    pids
}

#[test]
fn up_deploys_and_deploy_wait_exits_by_the_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("steward.toml");
    let port = free_port();
    let api = free_port();
    std::fs::write(&config, agent_config(api, port, 2, "")).expect("write config");
    let server = Server::spawn(dir, config);
    let dir = server.dir.path().to_owned();
    wait_until_blocking(
        "steward up has deployed the agent",
        Duration::from_secs(60),
        || agent_status(&dir, &server.config)["state"] == "running",
    );
    assert_eq!(agent_status(&dir, &server.config)["version"], "1.0.0");
    assert_eq!(http_status(port, "/healthz"), Some(200));

    let done = server.cli(&["deploy", "1.1.0", "--wait"]);
    assert!(
        done.status.success(),
        "{}\n{}",
        stdout(&done),
        stderr(&done)
    );
    assert!(stdout(&done).contains("succeeded"), "{}", stdout(&done));
    assert_eq!(agent_status(&dir, &server.config)["version"], "1.1.0");

    // A version failing its health check: exit 1, and the reason.
    std::fs::write(
        &server.config,
        agent_config(api, port, 2, r#", DEMO_AGENT_FAIL_HEALTH = "true""#),
    )
    .expect("write");
    let failed = server.cli(&["deploy", "1.2.0", "--wait", "--output", "json"]);
    assert_eq!(
        failed.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&failed),
        stderr(&failed)
    );
    let lines: Vec<Value> = stdout(&failed)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|event| event["kind"] == "deploy.replica.unhealthy"),
        "{lines:?}"
    );
    assert_eq!(lines.last().expect("summary")["status"], "rolled_back");
    let message = stderr(&failed);
    assert!(message.contains("rolled back"), "{message}");
    assert!(message.contains("GET /healthz answered 503"), "{message}");
    assert_eq!(agent_status(&dir, &server.config)["version"], "1.1.0");
    assert_eq!(http_status(port, "/healthz"), Some(200));

    // A version that is healthy but dropped the model the smoke check uses.
    std::fs::write(
        &server.config,
        agent_config(
            api,
            port,
            2,
            r#", DEMO_AGENT_MODELS = "demo-mini:0.00015:0.0006""#,
        ),
    )
    .expect("write");
    let smoked = server.cli(&["deploy", "1.3.0", "--wait"]);
    assert_eq!(
        smoked.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&smoked),
        stderr(&smoked)
    );
    let message = stderr(&smoked);
    assert!(message.contains("rolled back: verify_health failed: smoke check of agent failed: POST /v1/tasks answered 422"), "{message}");
    assert_eq!(agent_status(&dir, &server.config)["version"], "1.1.0");

    // `steward rollback` goes back to the previous good release by itself.
    std::fs::write(&server.config, agent_config(api, port, 2, "")).expect("write");
    let rolled = server.cli(&["rollback", "--wait"]);
    assert!(
        rolled.status.success(),
        "{}\n{}",
        stdout(&rolled),
        stderr(&rolled)
    );
    assert_eq!(agent_status(&dir, &server.config)["version"], "1.0.0");

    let listed = json(&server.cli(&["deployments", "list", "-o", "json"]));
    let statuses: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "succeeded",
            "rolled_back",
            "rolled_back",
            "succeeded",
            "succeeded"
        ]
    );

    let (status, data, _) = server.terminate();
    assert!(status.success());
    assert!(
        replica_processes(&data.path().join(".steward")).is_empty(),
        "replicas stopped with steward"
    );
}

#[test]
fn deploy_right_after_up_waits_for_the_first_deployment_and_never_blocks_on_a_hook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("steward.toml");
    let gates = dir.path().join("gates");
    std::fs::create_dir(&gates).expect("mkdir");
    // Every deployment holds the deploy lock in its `pre_deploy` hook until
    // the test lets its version go (the hook that made a client timeout
    // leak the lock).
    let hook = format!(
        r#"hooks = {{ pre_deploy = ["sh", "-c", "while [ ! -e \"$0/$STEWARD_VERSION\" ]; do sleep 0.05; done", "{}"] }}"#,
        gates.display()
    );
    let toml = agent_config(free_port(), free_port(), 1, "")
        .replace("[deploy]\n", &format!("[deploy]\n{hook}\n"));
    std::fs::write(&config, toml).expect("write config");
    let server = Server::spawn(dir, config);
    // `steward up` has started its first deployment, which holds the lock
    // (and then sits in its hook).
    wait_until_blocking(
        "the first deployment holds the deploy lock",
        Duration::from_secs(30),
        || {
            let events = json(&server.cli(&[
                "events",
                "list",
                "--kind",
                "deploy.step.succeeded",
                "-o",
                "json",
            ]));
            events["events"].as_array().is_some_and(|events| {
                events
                    .iter()
                    .any(|event| event["payload"]["step"] == "deploy_lock")
            })
        },
    );

    // Right after `steward up`, whose first deployment is in its hook.
    let waiting = {
        let (dir, config) = (server.dir.path().to_owned(), server.config.clone());
        std::thread::spawn(move || cli_in(&dir, &config, &["deploy", "1.1.0", "--wait"]))
    };
    // Answered at once although the lock is held and hooks block: the
    // request is recorded and steward runs it.
    let requested = server.cli(&["deploy", "1.2.0", "--wait-lock", "10m", "-o", "json"]);
    assert!(
        requested.status.success(),
        "{}\n{}",
        stdout(&requested),
        stderr(&requested)
    );
    let id = json(&requested)["id"]
        .as_str()
        .expect("deployment id")
        .to_owned();
    wait_until_blocking(
        "both deployments wait for the first one",
        Duration::from_secs(30),
        || {
            let events = json(&server.cli(&[
                "events",
                "list",
                "--kind",
                "deploy.lock.waiting",
                "-o",
                "json",
            ]));
            events["events"]
                .as_array()
                .is_some_and(|events| events.len() >= 2)
        },
    );
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        std::fs::write(gates.join(version), "").expect("open the gate");
    }
    let waited = waiting.join().expect("cli thread");
    let out = stdout(&waited);
    assert!(waited.status.success(), "{out}\n{}", stderr(&waited));
    assert!(
        out.contains("waits for deployment dep_") && out.contains("of 1.0.0 by system"),
        "says whose deployment it waits for: {out}"
    );
    assert!(out.contains("hook:pre_deploy succeeded"), "{out}");
    let watched = server.cli(&["deployments", "watch", &id]);
    assert!(
        watched.status.success(),
        "{}\n{}",
        stdout(&watched),
        stderr(&watched)
    );
    let (status, _, _) = server.terminate();
    assert!(status.success());
}

#[test]
fn steward_killed_in_the_middle_of_deployments_finishes_each_one_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let toml = agent_config(free_port(), port, 2, "");
    let data_dir = dir.path().join(".steward");
    crash_rounds(dir, &toml, port, || replica_processes(&data_dir));
}

#[test]
fn on_docker_steward_killed_in_the_middle_of_deployments_leaves_no_stray_container() {
    if !crate::support::docker_enabled() {
        return;
    }
    let docker = DockerAgent::new("crash");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let toml = docker.config(&agent_config(free_port(), port, 2, ""));
    let network = docker.network.clone();
    crash_rounds(dir, &toml, port, || containers(&network, false));
    assert!(
        containers(&network, true).is_empty(),
        "no container left, running or not"
    );
}

/// The demo agent's image and a network for one test on the Docker
/// backend; dropping it removes them and the agent's containers on the
/// network, whatever happens.
pub(crate) struct DockerAgent {
    pub(crate) image: String,
    pub(crate) network: String,
}

impl DockerAgent {
    /// Builds the demo agent's image for `test` (on `steward-base:local`,
    /// with scripts/docker/demo-agent-image.sh).
    pub(crate) fn new(test: &str) -> DockerAgent {
        let pid = std::process::id();
        let agent = DockerAgent {
            image: format!("steward-demo-agent:{test}-{pid}"),
            network: format!("steward-{test}-{pid}"),
        };
        let built = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/docker/demo-agent-image.sh"
        ))
        .arg(&agent.image)
        .arg(demo_agent())
        .output()
        .expect("run demo-agent-image.sh");
        assert!(built.status.success(), "{}", stderr(&built));
        agent
    }

    /// `process`, an [`agent_config`], on the Docker backend: the agent
    /// runs from the image on the network.
    pub(crate) fn config(&self, process: &str) -> String {
        let command_line = process
            .lines()
            .find(|line| line.starts_with("process.command"))
            .expect("process command")
            .to_owned();
        let (image, network) = (&self.image, &self.network);
        process
            .replace("[deploy]\n", &format!("[deploy]\nbackend = \"docker\"\ndocker_network = \"{network}\"\n"))
            .replace(
                &command_line,
                &format!(r#"docker = {{ image = "{image}", port = 8080, command = ["--listen", "0.0.0.0", "--port", "{{port}}", "--agent-version", "{{version}}"] }}"#),
            )
    }
}

impl Drop for DockerAgent {
    fn drop(&mut self) {
        for name in containers(&self.network, true) {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &name])
                .output();
        }
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

/// The agent's containers on `network` (running ones, or all).
pub(crate) fn containers(network: &str, all: bool) -> Vec<String> {
    let mut args = vec![
        "ps",
        "--filter",
        "label=io.steward.service=agent",
        "--format",
        "{{.Names}} {{.Networks}}",
    ];
    if all {
        args.push("-a");
    }
    let output = std::process::Command::new("docker")
        .args(&args)
        .output()
        .expect("docker ps");
    stdout(&output)
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|networks| networks.split(',').any(|n| n == network))
        })
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Runs `steward up` on `toml`, then 20 deployments each interrupted by a
/// SIGKILL of steward at a different point; after each restart the
/// deployment must end succeeded or rolled back (or aborted, when the kill
/// came before it changed anything), `replicas()` (what runs,
/// as the OS or Docker sees it) must be exactly the 2 desired, and the
/// proxy must serve. SIGTERM at the end must stop every replica.
fn crash_rounds(dir: tempfile::TempDir, toml: &str, port: u16, replicas: impl Fn() -> Vec<String>) {
    let config = dir.path().join("steward.toml");
    std::fs::write(&config, toml).expect("write config");
    let mut server = Server::spawn(dir, config);
    wait_until_blocking(
        "steward up has deployed the agent",
        Duration::from_secs(90),
        || agent_status(server.dir.path(), &server.config)["state"] == "running",
    );
    for round in 0..20u64 {
        let version = format!("2.0.{round}");
        let started = json(&server.cli(&["deploy", &version, "-o", "json"]));
        let id = started["id"]
            .as_str()
            .unwrap_or_else(|| panic!("deployment started: {started}"))
            .to_owned();
        // Kill points spread over the deployment (start, replica start,
        // health wait, drain, verify window): 0 to 1.9 s in 100 ms steps.
        std::thread::sleep(Duration::from_millis((round * 700) % 2000));
        let (dir, config) = server.kill();
        server = Server::spawn(dir, config);
        let mut last = Value::Null;
        wait_until_blocking(
            &format!("deployment {id} (round {round}) ends after the restart"),
            Duration::from_secs(90),
            || {
                last = json(&server.cli(&["deployments", "show", &id, "-o", "json"]));
                matches!(
                    last["status"].as_str(),
                    Some("succeeded" | "rolled_back" | "aborted")
                )
            },
        );
        if last["status"] == "aborted" {
            assert!(
                last["error"]
                    .as_str()
                    .is_some_and(|error| error.contains("before it changed anything")),
                "round {round}: aborted only when interrupted before acting: {last}"
            );
        }
        wait_until_blocking(
            "the service is back to 2 replicas behind its proxy",
            Duration::from_secs(60),
            || {
                let agent = agent_status(server.dir.path(), &server.config);
                agent["state"] == "running" && agent["running"] == 2
            },
        );
        let running = replicas();
        assert_eq!(
            running.len(),
            2,
            "round {round}: no orphan, no duplicate: {running:?} ({last})"
        );
        assert_eq!(
            http_status(port, "/healthz"),
            Some(200),
            "round {round}: the proxy serves"
        );
    }
    let (status, _data, _) = server.terminate();
    assert!(status.success());
    assert!(replicas().is_empty(), "replicas stopped with steward");
}
