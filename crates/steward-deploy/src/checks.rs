//! Pre-deployment checks: each reported as passed or failed with what was
//! found, so that `--dry-run` shows them all and a refusal says why.

use chrono::Utc;
use steward_config::Config;

use crate::{
    manager::DeploymentManager,
    model::{ChangeKind, CheckResult, Release, ServiceChange},
};

/// Name of the deploy-lock check.
const LOCK_CHECK: &str = "no other deployment in progress";

fn result(name: &str, outcome: Result<String, String>) -> CheckResult {
    let passed = outcome.is_ok();
    CheckResult {
        name: name.to_owned(),
        passed,
        detail: outcome.unwrap_or_else(|err| err),
    }
}

/// Runs every check but the database ones (the planner adds those).
pub(crate) async fn run(
    manager: &DeploymentManager,
    config: &Config,
    release: &Release,
    changes: &[ServiceChange],
    own: Option<&str>,
) -> Vec<CheckResult> {
    let mut checks = vec![result(
        "configuration valid",
        Ok(format!(
            "{} services, {} databases, {} backend",
            config.services.len(),
            config.databases.len(),
            manager.backend().kind()
        )),
    )];
    checks.push(result(
        "backend reachable",
        manager
            .backend()
            .ping()
            .await
            .map_err(|err| err.to_string()),
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
        match manager.backend().artifact(spec).await {
            Ok(found) => artifacts.push(found),
            Err(err) => missing.push(err.to_string()),
        }
    }
    checks.push(result(
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
        LOCK_CHECK,
        match manager.lock_holder_alive().await {
            Ok(None) => Ok("deploy lock free".to_owned()),
            Ok(Some(holder)) if Some(holder.deployment_id.as_str()) == own => {
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
    checks.push(result("enough disk", disk(manager, config)));
    checks.push(result("outside change freeze", freeze(config)));
    checks
}

fn disk(manager: &DeploymentManager, config: &Config) -> Result<String, String> {
    let dir = manager.data_dir();
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
