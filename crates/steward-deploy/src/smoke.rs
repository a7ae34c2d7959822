//! Smoke checks: after the verify window, requests through the service's
//! proxy (or commands) that must give the expected answer.

use std::{net::SocketAddr, process::Stdio, time::Duration};

use steward_config::SmokeCheck;
use steward_core::Name;

use crate::{Error, Result};

/// How long one smoke check may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one check against the service at `addr` (its proxy).
pub(crate) async fn run(
    service: &Name,
    check: &SmokeCheck,
    addr: Option<SocketAddr>,
) -> Result<()> {
    let fail = |reason: String| Error::Smoke {
        service: service.to_string(),
        reason,
    };
    if let Some(path) = &check.http {
        let addr =
            addr.ok_or_else(|| fail("the service has no port to send the request to".to_owned()))?;
        let method = reqwest::Method::from_bytes(check.method.to_uppercase().as_bytes())
            .map_err(|_| fail(format!("`{}` is not an HTTP method", check.method)))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(TIMEOUT)
            .build()
            .expect("the HTTP client builds");
        let mut request = client.request(method.clone(), format!("http://{addr}{path}"));
        if let Some(body) = &check.body {
            request = match serde_json::from_str::<serde_json::Value>(body) {
                Ok(json) => request.json(&json),
                Err(_) => request.body(body.clone()),
            };
        }
        let response = request
            .send()
            .await
            .map_err(|err| fail(format!("{method} {path}: {err}")))?;
        let status = response.status().as_u16();
        if status != check.expect_status {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Err(fail(format!(
                "{method} {path} answered {status}, expected {}: {body}",
                check.expect_status
            )));
        }
        return Ok(());
    }
    if let Some(argv) = &check.command {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| fail("empty command".to_owned()))?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(addr) = addr {
            command.env("STEWARD_SERVICE_URL", format!("http://{addr}"));
        }
        let output = tokio::time::timeout(TIMEOUT, command.output())
            .await
            .map_err(|_| fail(format!("{program} did not finish within 30s")))?
            .map_err(|err| fail(format!("cannot run {program}: {err}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(fail(format!(
                "{program} exited with {}: {}",
                output.status,
                stderr.trim()
            )));
        }
        return Ok(());
    }
    Err(fail(
        "the check has neither `http` nor `command`".to_owned(),
    ))
}
