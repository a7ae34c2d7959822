//! Health checks: one probe (HTTP, TCP or command) and the thresholds
//! that turn probe results into healthy or unhealthy.
//!
//! Until a replica first answers, it is probed every
//! [`STARTUP_PROBE_INTERVAL`] so that it joins the proxy as soon as it is
//! ready; failures still count at most once per configured interval, and
//! not at all during the start period, so the thresholds mean what they
//! say in time. Timing comes from tokio's clock (tested with paused time).

use std::{future::Future, net::SocketAddr, time::Duration};

use async_trait::async_trait;
use steward_config::{HealthCheck, Probe};
use tokio::time::Instant;

use crate::backend::{HealthProbe, Replica, within};

/// How often a replica that has not answered yet is probed.
pub const STARTUP_PROBE_INTERVAL: Duration = Duration::from_millis(25);

/// The timing and thresholds of a check, with defaults for services that
/// configure none (a TCP connect every 2 s).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthParams {
    /// Between checks.
    pub interval: Duration,
    /// Per check.
    pub timeout: Duration,
    /// Consecutive successes to be healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures to be unhealthy.
    pub unhealthy_threshold: u32,
    /// Failures do not count before this.
    pub start_period: Duration,
}

impl HealthParams {
    /// From the configured check.
    pub fn of(check: Option<&HealthCheck>) -> Self {
        match check {
            Some(check) => HealthParams {
                interval: check.interval.get(),
                timeout: check.timeout.get(),
                healthy_threshold: check.healthy_threshold.max(1),
                unhealthy_threshold: check.unhealthy_threshold.max(1),
                start_period: check.start_period.get(),
            },
            None => HealthParams {
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(1),
                healthy_threshold: 1,
                unhealthy_threshold: 3,
                start_period: Duration::ZERO,
            },
        }
    }
}

/// Runs one probe (HTTP, TCP or command) against a replica's address.
#[derive(Debug, Clone)]
pub struct Prober {
    http: reqwest::Client,
}

impl Default for Prober {
    fn default() -> Self {
        Prober::new()
    }
}

impl Prober {
    /// A prober with its own HTTP client (no proxies, no redirects).
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .expect("the HTTP client builds");
        Prober { http }
    }

    /// Probes the replica at `addr` once, within `timeout`. `Err` says why
    /// it is not healthy.
    pub async fn probe_addr(
        &self,
        check: Option<&HealthCheck>,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<(), String> {
        let probe = check.map_or(Probe::Tcp, HealthCheck::probe);
        let attempt = async {
            match probe {
                Probe::Http(path) => {
                    let url = format!("http://{addr}{path}");
                    let response = self
                        .http
                        .get(&url)
                        .send()
                        .await
                        .map_err(|err| format!("GET {path}: {}", error_chain(&err)))?;
                    let status = response.status();
                    if status.is_success() {
                        Ok(())
                    } else {
                        Err(format!("GET {path} answered {status}"))
                    }
                }
                Probe::Tcp => tcp_probe(addr).await,
                Probe::Command(argv) => {
                    let status = tokio::process::Command::new(&argv[0])
                        .args(&argv[1..])
                        .env("STEWARD_REPLICA_ADDR", addr.to_string())
                        .env("STEWARD_REPLICA_PORT", addr.port().to_string())
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .kill_on_drop(true)
                        .status()
                        .await
                        .map_err(|err| format!("cannot run {}: {err}", argv[0]))?;
                    if status.success() {
                        Ok(())
                    } else {
                        Err(format!("{} exited with {status}", argv[0]))
                    }
                }
            }
        };
        within(timeout, attempt).await
    }
}

#[async_trait]
impl HealthProbe for Prober {
    async fn probe(
        &self,
        check: Option<&HealthCheck>,
        replica: &Replica,
        timeout: Duration,
    ) -> Result<(), String> {
        self.probe_addr(check, replica.addr, timeout).await
    }
}

/// How long a TCP probe waits to see whether an accepted connection is
/// closed at once.
const TCP_SETTLE: Duration = Duration::from_millis(100);

/// Healthy when the port accepts a connection that stays open. A port
/// forwarder in front of the replica (Docker's, for published ports)
/// accepts even when nothing listens behind it, then closes the
/// connection at once: that counts as a failure. A service that sends a
/// banner, or says nothing, passes.
async fn tcp_probe(addr: SocketAddr) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|err| format!("connect to {addr}: {err}"))?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(TCP_SETTLE, stream.peek(&mut byte)).await {
        Ok(Ok(0)) => Err(format!("{addr} accepted and closed the connection at once")),
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionReset => {
            Err(format!("{addr} reset the connection at once"))
        }
        _ => Ok(()),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Probes until `healthy_threshold` consecutive successes (`Ok`) or
/// `unhealthy_threshold` counted failures after the start period (`Err`
/// with the last failure).
pub async fn wait_healthy<F, Fut>(params: &HealthParams, mut probe: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let mut successes = 0;
    let mut failures = 0;
    let mut answered = false;
    let mut last_counted: Option<Instant> = None;
    loop {
        let at = Instant::now();
        match probe().await {
            Ok(()) => {
                answered = true;
                failures = 0;
                successes += 1;
                if successes >= params.healthy_threshold {
                    return Ok(());
                }
            }
            Err(reason) => {
                successes = 0;
                let in_start_period = at.duration_since(started) < params.start_period;
                let due =
                    last_counted.is_none_or(|last| at.duration_since(last) >= params.interval);
                if !in_start_period && due {
                    failures += 1;
                    last_counted = Some(at);
                    if failures >= params.unhealthy_threshold {
                        return Err(reason);
                    }
                }
            }
        }
        let pause = if answered {
            params.interval
        } else {
            STARTUP_PROBE_INTERVAL.min(params.interval)
        };
        tokio::time::sleep_until(at + pause).await;
    }
}

/// Probes every interval for `window`; `Err` as soon as
/// `unhealthy_threshold` consecutive probes fail.
pub async fn stays_healthy<F, Fut>(
    params: &HealthParams,
    window: Duration,
    mut probe: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let end = Instant::now() + window;
    let mut failures = 0;
    loop {
        let at = Instant::now();
        match probe().await {
            Ok(()) => failures = 0,
            Err(reason) => {
                failures += 1;
                if failures >= params.unhealthy_threshold {
                    return Err(reason);
                }
            }
        }
        let next = at + params.interval;
        if next >= end {
            tokio::time::sleep_until(end).await;
            return Ok(());
        }
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests;
