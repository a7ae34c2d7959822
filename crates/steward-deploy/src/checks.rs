//! Pre-deployment checks: each reported as passed or failed with what was
//! found, so that `--dry-run` shows them all and a refusal says why.
//!
//! The checks are given what they look at (the backend, the data
//! directory, the deploy lock's holder, the deployment the plan is for)
//! rather than the manager, and each result carries its [`CheckKind`],
//! which orders the list and is how code tells checks apart.

use std::path::Path;

use chrono::Utc;
use steward_config::Config;

use crate::{
    Result,
    backend::Backend,
    model::{ChangeKind, CheckKind, CheckResult, LockHolder, Release, ServiceChange},
};

/// What the checks look at besides the configuration and the plan.
pub(crate) struct Inputs<'a> {
    /// The backend that runs the services.
    pub(crate) backend: &'a dyn Backend,
    /// Steward's data directory, whose free space is checked.
    pub(crate) data_dir: &'a Path,
    /// The live holder of the deploy lock, if any.
    pub(crate) lock_holder: Result<Option<LockHolder>>,
    /// The deployment the plan is for, when it holds the deploy lock.
    pub(crate) own: Option<&'a str>,
}

/// A check's result from its outcome (what was found either way).
pub(crate) fn result(
    kind: CheckKind,
    name: impl Into<String>,
    outcome: Result<String, String>,
) -> CheckResult {
    let passed = outcome.is_ok();
    CheckResult {
        name: name.into(),
        kind,
        passed,
        detail: outcome.unwrap_or_else(|err| err),
    }
}

/// Runs every check but the database ones, which the planner makes while
/// it plans migrations and passes as `databases`; returns them all in
/// [`CheckKind`] order.
pub(crate) async fn run(
    config: &Config,
    release: &Release,
    changes: &[ServiceChange],
    inputs: Inputs<'_>,
    databases: Vec<CheckResult>,
) -> Vec<CheckResult> {
    let backend = inputs.backend;
    let mut checks = vec![result(
        CheckKind::Configuration,
        "configuration valid",
        Ok(format!(
            "{} services, {} databases, {} backend",
            config.services.len(),
            config.databases.len(),
            backend.kind()
        )),
    )];
    checks.push(result(
        CheckKind::Backend,
        "backend reachable",
        backend.ping().await.map_err(|err| err.to_string()),
    ));
    let mut artifacts = Vec::new();
    let mut missing = Vec::new();
    for change in changes {
        if !matches!(
            change.kind,
            ChangeKind::Create | ChangeKind::Update | ChangeKind::Scale
        ) {
            continue;
        }
        let Some(spec) = release.service(&change.service) else {
            continue;
        };
        match backend.artifact(spec).await {
            Ok(found) => artifacts.push(found),
            Err(err) => missing.push(err.to_string()),
        }
    }
    checks.push(result(
        CheckKind::Artifact,
        "artifact present",
        if missing.is_empty() {
            Ok(if artifacts.is_empty() {
                "nothing to start".to_owned()
            } else {
                artifacts.join("; ")
            })
        } else {
            Err(missing.join("; "))
        },
    ));
    checks.push(result(
        CheckKind::DeployLock,
        "no other deployment in progress",
        match inputs.lock_holder {
            Ok(None) => Ok("deploy lock free".to_owned()),
            Ok(Some(holder)) if Some(holder.deployment_id.as_str()) == inputs.own => {
                Ok("deploy lock held by this deployment".to_owned())
            }
            Ok(Some(holder)) => Err(format!(
                "deployment {} holds the deploy lock (pid {} on {} since {})",
                holder.deployment_id,
                holder.pid,
                holder.host,
                holder.since.to_rfc3339()
            )),
            Err(err) => Err(err.to_string()),
        },
    ));
    checks.push(result(
        CheckKind::Disk,
        "enough disk",
        disk(inputs.data_dir, config),
    ));
    checks.push(result(
        CheckKind::Freeze,
        "outside change freeze",
        freeze(config),
    ));
    checks.extend(databases);
    // Listed in the kinds' order; the sort is stable, so the database
    // checks keep the configuration's order.
    checks.sort_by_key(|check| check.kind);
    checks
}

fn disk(dir: &Path, config: &Config) -> Result<String, String> {
    let stat = nix::sys::statvfs::statvfs(dir)
        .map_err(|err| format!("cannot read free space of {}: {err}", dir.display()))?;
    let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    let needed = config.deploy.min_free_disk.bytes();
    let shown = |bytes: u64| format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30));
    if free >= needed {
        Ok(format!(
            "{} free in {} (needs {})",
            shown(free),
            dir.display(),
            shown(needed)
        ))
    } else {
        Err(format!(
            "only {} free in {}, {} needed (deploy.min_free_disk)",
            shown(free),
            dir.display(),
            shown(needed)
        ))
    }
}

fn freeze(config: &Config) -> Result<String, String> {
    let now = Utc::now();
    match config
        .deploy
        .freeze
        .iter()
        .find(|window| window.start <= now && now < window.end)
    {
        Some(window) => Err(format!(
            "change freeze until {}{}",
            window.end.to_rfc3339(),
            window
                .reason
                .as_ref()
                .map(|reason| format!(": {reason}"))
                .unwrap_or_default()
        )),
        None => Ok(if config.deploy.freeze.is_empty() {
            "no freeze windows configured".to_owned()
        } else {
            "not in a freeze window".to_owned()
        }),
    }
}

#[cfg(test)]
mod tests;
