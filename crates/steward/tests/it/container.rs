//! Steward's container image: `docker/Dockerfile` on the base image that
//! `scripts/docker/base-image.sh` makes builds, a container of it answers
//! `/healthz` on its published port and stops cleanly, and its
//! configuration (`docker/steward.toml`) follows the example system.
//!
//! The image is built by `scripts/docker/build-image.sh --bin-dir` from the
//! binaries of this build, as a user builds it. That needs a Docker engine,
//! so it runs only with `STEWARD_TEST_DOCKER=1` (`scripts/test.sh` sets it
//! after checking `docker info`).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{BIN, stderr, stdout};

/// The variable that turns this test on.
/// How long the container has to answer `/healthz` with 200.
const HEALTHZ_TIMEOUT: Duration = Duration::from_secs(60);

/// Removes the test's container (with its anonymous volume) and image,
/// however the test ends.
struct Cleanup {
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .output();
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Runs a command to completion, capturing its output.
fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
}

/// Runs `docker` and returns its stdout, failing the test with its output
/// when it fails.
fn docker(args: &[&str]) -> String {
    let output = run(Command::new("docker").args(args));
    assert!(
        output.status.success(),
        "docker {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output).trim().to_owned()
}

/// Polls `url` until it answers 200 (returning its JSON body), the
/// container stops, or the timeout passes (returning the last answer).
fn wait_for_healthz(url: &str, container: &str) -> Result<Value, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        let deadline = Instant::now() + HEALTHZ_TIMEOUT;
        loop {
            let last = match client.get(url).send().await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {
                    return response
                        .json::<Value>()
                        .await
                        .map_err(|err| format!("/healthz answered 200 but not JSON: {err}"));
                }
                Ok(response) => format!(
                    "HTTP {}: {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                ),
                Err(err) => err.to_string(),
            };
            let running = docker(&["inspect", "-f", "{{.State.Running}}", container]);
            if running != "true" {
                return Err(format!("the container stopped; last answer: {last}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no 200 from {url} within {HEALTHZ_TIMEOUT:?}; last answer: {last}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

#[test]
fn the_image_builds_and_its_container_passes_healthz() {
    if !crate::support::docker_enabled() {
        return;
    }
    let repo = repo_root();
    let steward = Path::new(BIN);
    // Beside steward, where the image script takes both from.
    steward_test_support::demo_agent();
    let bin_dir = steward
        .parent()
        .expect("the steward binary is in a directory");

    let pid = std::process::id();
    let cleanup = Cleanup {
        container: format!("steward-test-{pid}"),
        image: format!("steward-test:{pid}"),
    };
    // Leftovers of an earlier run that had this process id.
    let _ = run(Command::new("docker").args(["rm", "-f", "-v", &cleanup.container]));

    // The base image and the image, as a user makes them, from this
    // build's binaries.
    let build = run(Command::new(repo.join("scripts/docker/build-image.sh"))
        .arg("--bin-dir")
        .arg(bin_dir)
        .args(["--tag", &cleanup.image])
        .current_dir(&repo));
    assert!(
        build.status.success(),
        "scripts/docker/build-image.sh failed ({}):\n{}\n{}",
        build.status,
        stdout(&build),
        stderr(&build)
    );
    assert_eq!(
        docker(&["image", "inspect", "-f", "{{.Config.User}}", &cleanup.image]),
        "steward",
        "the image runs as the unprivileged steward user"
    );

    docker(&[
        "run",
        "-d",
        "--name",
        &cleanup.container,
        "-p",
        "127.0.0.1::7373",
        "-e",
        "STEWARD_LOG=info",
        &cleanup.image,
    ]);
    let published = docker(&["port", &cleanup.container, "7373/tcp"]);
    let address = published
        .lines()
        .find(|line| line.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("7373 is published on loopback: {published}"));
    let url = format!("http://{address}/healthz");

    let health = wait_for_healthz(&url, &cleanup.container);
    let logs = run(Command::new("docker").args(["logs", &cleanup.container]));
    let logs = format!("{}{}", stdout(&logs), stderr(&logs));
    let health = health.unwrap_or_else(|err| panic!("{err}\ncontainer logs:\n{logs}"));
    assert_eq!(health["status"], "ok", "{health}\ncontainer logs:\n{logs}");

    // Docker's own health check (`steward healthcheck` inside) agrees.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = docker(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            &cleanup.container,
        ]);
        if state == "healthy" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the container's HEALTHCHECK never passed (last state {state})"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // SIGTERM reaches steward as PID 1 and it shuts down cleanly.
    docker(&["stop", "-t", "30", &cleanup.container]);
    let exit = docker(&["inspect", "-f", "{{.State.ExitCode}}", &cleanup.container]);
    let logs = run(Command::new("docker").args(["logs", &cleanup.container]));
    assert_eq!(
        exit,
        "0",
        "steward exits 0 on docker stop; container logs:\n{}{}",
        stdout(&logs),
        stderr(&logs)
    );
}

/// The lines of a steward.toml that are not comments, blank, or one of the
/// settings the container's configuration changes.
fn settings_but_paths(text: &str) -> Vec<&str> {
    const CHANGED: [&str; 4] = ["listen =", "data_dir =", "url =", "migrations ="];
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter(|line| !CHANGED.iter().any(|key| line.starts_with(key)))
        .collect()
}

#[test]
fn the_container_configuration_follows_the_example_system() {
    let repo = repo_root();
    let read = |path: &str| {
        std::fs::read_to_string(repo.join(path)).unwrap_or_else(|err| panic!("read {path}: {err}"))
    };
    let example = read("examples/agent-system/steward.toml");
    let container = read("docker/steward.toml");
    assert_eq!(
        settings_but_paths(&container),
        settings_but_paths(&example),
        "docker/steward.toml differs from examples/agent-system/steward.toml in more than its paths; keep them in step"
    );
}
