//! Starting the agent binary and reading what it says.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Path of the binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_steward-demo-agent");

/// Flags that make simulated calls take about a millisecond.
pub(crate) const FAST: &[&str] = &["--llm-latency-ms", "1", "--tool-latency-ms", "1"];

/// How long any single wait in these tests may take before it is a failure.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

/// A running agent process, killed when dropped.
pub(crate) struct Agent {
    child: Child,
    // Held open so that the agent never sees a closed stdout.
    _stdout: Lines<BufReader<ChildStdout>>,
    /// `http://127.0.0.1:PORT`, from the agent's stdout line.
    pub(crate) base: String,
    /// The port the agent announced.
    pub(crate) port: u16,
    stderr: Arc<Mutex<String>>,
    /// A client for talking to the agent.
    pub(crate) http: reqwest::Client,
}

/// A command for the agent binary with an environment free of the caller's
/// `DEMO_AGENT_*` and `PORT` settings.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(|k| k.starts_with("DEMO_AGENT_") || k == "PORT")
        {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG").args(args);
    cmd
}

impl Agent {
    /// Starts the agent with `--port 0` and the given flags, and waits for
    /// the line that announces its address.
    pub(crate) async fn start(args: &[&str]) -> Agent {
        let mut cmd = command(&["--listen", "127.0.0.1", "--port", "0"]);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn the agent binary");

        // Drain stderr continuously so the agent never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });

        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(PATIENCE, stdout.next_line())
            .await
            .expect("agent announces its address in time")
            .expect("read stdout")
            .unwrap_or_else(|| {
                panic!(
                    "agent exited without announcing; stderr:\n{}",
                    stderr.lock().unwrap()
                )
            });
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected stdout line {line:?}"))
            .to_owned();
        let port = base
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .expect("port in stdout line");
        Agent {
            child,
            _stdout: stdout,
            base,
            port,
            stderr,
            http: reqwest::Client::new(),
        }
    }

    /// The agent's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("agent still running")
    }

    /// Everything the agent logged so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the agent has logged a line containing `needle` and
    /// returns that line; stderr is drained concurrently, so a line written
    /// before stdout's announcement may still be in transit.
    pub(crate) async fn log_line(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {needle:?}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET base + path`.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request reaches the agent")
    }

    /// Runs one task and returns its status and JSON body.
    pub(crate) async fn task(&self, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/v1/tasks", self.base))
            .json(body)
            .send()
            .await
            .expect("request reaches the agent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// The `/metrics` text.
    pub(crate) async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics body")
    }

    /// Sends SIGTERM through the `kill` command.
    pub(crate) fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill failed: {status}");
    }

    /// Waits for the process to exit.
    pub(crate) async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("agent did not exit in time; stderr:\n{}", self.stderr()))
            .expect("wait for the agent")
    }
}

/// The value of the sample whose name and labels are exactly `series`.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}
