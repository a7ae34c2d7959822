//! A real Alertmanager (Debian's `prometheus-alertmanager`, named by
//! `STEWARD_TEST_ALERTMANAGER`) on a free loopback port, for the tests
//! that send it alerts: clustering off, its configuration and storage in
//! the test's directory, killed when the handle drops.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{free_port, wait_until_blocking};

/// A configuration whose one receiver takes everything and sends it
/// nowhere, grouping for a second.
pub const SINK_CONFIG: &str =
    "route:\n  receiver: sink\n  group_wait: 1s\nreceivers:\n  - name: sink\n";

/// The Alertmanager binary, or `None` (and a line saying the test skips)
/// when `STEWARD_TEST_ALERTMANAGER` is not set.
#[allow(clippy::print_stdout)] // the skip line is the point
pub fn binary() -> Option<String> {
    let path = std::env::var("STEWARD_TEST_ALERTMANAGER")
        .ok()
        .filter(|p| !p.is_empty());
    if path.is_none() {
        println!("skipping the Alertmanager test: STEWARD_TEST_ALERTMANAGER is not set");
    }
    path
}

/// A running Alertmanager.
pub struct Alertmanager {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Alertmanager {
    /// Starts `binary` with `config` (YAML) and storage in `dir`, and
    /// waits until it is ready (its log is `dir/alertmanager.log`).
    pub fn start(binary: &str, dir: &Path, config: &str) -> Self {
        std::fs::write(dir.join("alertmanager.yml"), config).expect("write alertmanager.yml");
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address={address}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("alertmanager.log")).expect("log file"))
            .spawn()
            .expect("alertmanager starts");
        let this = Alertmanager {
            child,
            url: format!("http://{address}"),
            address,
        };
        wait_until_blocking("alertmanager is ready", Duration::from_secs(20), || {
            this.get("/-/ready")
                .is_some_and(|(status, _)| status == 200)
        });
        this
    }

    /// `GET path`: the status and body, or `None` when it does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(&self.address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split_whitespace().nth(1)?.parse().ok()?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        Some((status, body.to_owned()))
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
