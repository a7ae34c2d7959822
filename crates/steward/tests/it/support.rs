//! Running the real binary: a `steward up` server on a free port with its
//! own data directory, and CLI invocations against it.

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use steward_test_support::free_port;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_steward");

/// A `steward up` process with its configuration in a temporary directory.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) url: String,
    pub(crate) config: PathBuf,
    pub(crate) dir: tempfile::TempDir,
}

impl Server {
    /// Writes a configuration in a new directory and starts `steward up`.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("steward.toml");
        let port = free_port();
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[[services]]\nname = \"gateway\"\nport = {}\nprocess.command = [\"gateway\", \"{{port}}\"]\nhealth.http = \"/healthz\"\n",
                free_port()
            ),
        )
        .unwrap();
        Self::spawn(dir, config)
    }

    /// Starts `steward up` on an existing configuration and waits until it
    /// prints its listening line.
    pub(crate) fn spawn(dir: tempfile::TempDir, config: PathBuf) -> Self {
        Self::spawn_logging(dir, config, "warn")
    }

    /// [`Server::spawn`] logging at `level` (`STEWARD_LOG`).
    pub(crate) fn spawn_logging(dir: tempfile::TempDir, config: PathBuf, level: &str) -> Self {
        let mut child = Command::new(BIN)
            .args(["up"])
            .arg(&config)
            .env_remove("STEWARD_TOKEN")
            .env_remove("STEWARD_SERVER")
            .env("STEWARD_LOG", level)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let url = loop {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("steward up prints its listening line");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Server {
            child: Some(child),
            url,
            config,
            dir,
        }
    }

    /// Runs the CLI with `--config` pointing at this server's configuration.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        cli_in(self.dir.path(), &self.config, args)
    }

    /// Sends SIGTERM, waits for the exit status, and hands back the
    /// directory so the server can be started again on the same state.
    pub(crate) fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir, PathBuf) {
        let mut child = self.child.take().expect("running");
        Command::new("kill")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
                return (status, dir, self.config.clone());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "steward did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A webhook receiver on loopback (plain HTTP/1.1, one request per
/// connection); each JSON body comes out of the channel.
pub(crate) fn receiver() -> (String, std::sync::mpsc::Receiver<serde_json::Value>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or_default());
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

/// Runs the CLI in `dir` with `--config`.
pub(crate) fn cli_in(dir: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("STEWARD_TOKEN")
        .env_remove("STEWARD_SERVER")
        .output()
        .unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

impl Server {
    /// Kills steward with SIGKILL (its replicas keep running) and hands
    /// back the directory so that it can be started again.
    pub(crate) fn kill(mut self) -> (tempfile::TempDir, PathBuf) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL steward");
        child.wait().expect("reap steward");
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, self.config.clone())
    }
}

/// Whether the Docker tests run: `STEWARD_TEST_DOCKER` is set (by
/// `scripts/test.sh`). Says on stderr that the test skips when it is not.
pub(crate) fn docker_enabled() -> bool {
    let enabled = std::env::var("STEWARD_TEST_DOCKER").is_ok_and(|v| !v.is_empty() && v != "0");
    if !enabled {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipping: STEWARD_TEST_DOCKER is not set (scripts/test.sh sets it)");
        }
    }
    enabled
}
