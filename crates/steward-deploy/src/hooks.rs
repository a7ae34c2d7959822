//! Deployment hooks: argv commands (never shell strings) run before a
//! deployment, after it succeeded, and after it was rolled back, with the
//! deployment described in `STEWARD_*` environment variables.

use std::{process::Stdio, time::Duration};

use tokio::io::AsyncReadExt;

use crate::{Error, Result, model::Deployment};

/// What a hook is told about the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookContext {
    /// `STEWARD_VERSION`.
    pub version: String,
    /// `STEWARD_SERVICES`, comma-separated.
    pub services: String,
    /// `STEWARD_DEPLOYMENT_ID`.
    pub deployment_id: String,
    /// `STEWARD_ACTOR`.
    pub actor: String,
    /// `STEWARD_STATUS`: the deployment's status when the hook runs.
    pub status: String,
}

impl HookContext {
    /// The context of `deployment`.
    pub fn of(deployment: &Deployment) -> Self {
        HookContext {
            version: deployment.release.version.to_string(),
            services: deployment
                .services
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            deployment_id: deployment.id.clone(),
            actor: deployment.actor.to_string(),
            status: deployment.status.to_string(),
        }
    }

    fn vars(&self) -> [(&'static str, &str); 5] {
        [
            ("STEWARD_VERSION", &self.version),
            ("STEWARD_SERVICES", &self.services),
            ("STEWARD_DEPLOYMENT_ID", &self.deployment_id),
            ("STEWARD_ACTOR", &self.actor),
            ("STEWARD_STATUS", &self.status),
        ]
    }
}

/// The last bytes of a hook's output kept for its error message.
const OUTPUT_TAIL: usize = 2000;

/// Runs `argv` with the context in its environment; fails when it cannot
/// start, exits non-zero, or outlives `timeout` (it is then killed).
pub(crate) async fn run(
    hook: &'static str,
    argv: &[String],
    context: &HookContext,
    timeout: Duration,
) -> Result<()> {
    let fail = |reason: String| Error::Hook { hook, reason };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| fail("empty command".to_owned()))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(context.vars())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| fail(format!("cannot run {program}: {err}")))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (_, _, status) = tokio::join!(
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err),
            child.wait()
        );
        (status, out, err)
    };
    let (status, out, err) = tokio::time::timeout(timeout, run).await.map_err(|_| {
        fail(format!(
            "{program} did not finish within {}",
            steward_core::format_duration(timeout)
        ))
    })?;
    let status = status.map_err(|err| fail(format!("{program}: {err}")))?;
    tracing::info!(hook, program = %program, %status, "hook finished");
    if status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&err).into_owned();
    if output.trim().is_empty() {
        output = String::from_utf8_lossy(&out).into_owned();
    }
    let output = output.trim();
    let mut start = output.len().saturating_sub(OUTPUT_TAIL);
    while !output.is_char_boundary(start) {
        start += 1;
    }
    let tail = &output[start..];
    Err(fail(if tail.is_empty() {
        format!("{program} exited with {status}")
    } else {
        format!("{program} exited with {status}: {tail}")
    }))
}

#[cfg(test)]
mod tests;
