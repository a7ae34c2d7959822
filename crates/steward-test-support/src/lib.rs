//! Helpers that the tests of several steward crates share: a free
//! loopback port, the demo agent binary (built on demand), waiting
//! until a condition holds, and a real Alertmanager ([`alertmanager`]). A dev-dependency only; never published.

pub mod alertmanager;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

/// A loopback port free now (the OS picks it and the listener is closed
/// at once: another process could take it before the test binds it,
/// which loopback tests accept).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// The `steward-demo-agent` binary of the profile the calling test runs
/// in (beside the crates' binaries, e.g. `target/debug`), built with
/// that profile when the workspace build did not make it.
pub fn demo_agent() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test>-<hash> -> target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable is in a profile directory");
        let agent = profile_dir.join("steward-demo-agent");
        if !agent.is_file() {
            let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
                Some("debug") | None => "dev",
                Some(profile) => profile,
            };
            let output = Command::new(env!("CARGO"))
                .args(["build", "-p", "steward-demo-agent", "--profile", profile])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .output()
                .expect("run cargo build");
            assert!(
                output.status.success(),
                "cannot build steward-demo-agent:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            agent.is_file(),
            "{} is missing after building it",
            agent.display()
        );
        agent
    })
    .clone()
}

/// Polls `condition` every 20 ms (tokio's clock, so paused time too)
/// until it holds; fails the test naming `what` after `timeout`.
pub async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, timeout: Duration, mut condition: F) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`wait_until`] for tests without a runtime: polls every 100 ms with
/// the thread asleep in between.
pub fn wait_until_blocking(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
