//! What each step does: the gates (the deploy lock, the pre-checks that
//! plan the deployment against what runs now, the `pre_deploy` hook), the
//! steps that act (migrate a database, bring a service to its new spec,
//! verify health), and how each of those is undone. The engine decides
//! when they run (`engine.rs`).

use std::{sync::Arc, time::Duration};

use steward_config::{Config, Strategy};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    DeploymentManager, Error, Result,
    gates::{MetricGate, PromqlGate},
    health::HealthParams,
    hooks::{self, HookContext},
    journal::describe_changes,
    model::{ChangeKind, Deployment, ServiceSpec, StepKind},
    plan::{Scope, migration_manager},
    recorder::Recorder,
    rollout::{Converger, RolloutEvent},
    smoke,
};

impl DeploymentManager {
    /// Runs gate `index`: the deploy lock, the pre-checks (which plan the
    /// deployment against what runs now) or a hook.
    pub(crate) async fn run_gate(
        &self,
        deployment: &mut Deployment,
        index: usize,
        config: &Config,
        wait_lock: Duration,
        recorder: &Recorder,
        cancel: &CancellationToken,
    ) -> Result<String> {
        match deployment.plan.steps[index].kind.clone() {
            StepKind::DeployLock => {
                self.wait_for_lock(deployment, wait_lock, recorder, cancel)
                    .await
            }
            StepKind::PreChecks => {
                let scope = Scope {
                    release: &deployment.release,
                    selected: deployment.requested_services.as_ref(),
                    actor: &deployment.actor,
                    own: Some(&deployment.id),
                    create_only: deployment.create_only,
                };
                let planned = tokio::select! {
                    planned = self.compute_plan(config, &scope) => planned?,
                    () = cancel.cancelled() => return Err(Error::Cancelled),
                };
                deployment.services = planned.services;
                deployment.previous = planned.previous;
                deployment.plan.changes = planned.changes;
                deployment.plan.checks = planned.checks;
                // A resumed deployment plans again: its acting steps are
                // those of the new plan.
                deployment.plan.steps.retain(|step| step.kind.is_gate());
                deployment.plan.steps.extend(planned.steps);
                let failed: Vec<String> = deployment
                    .plan
                    .checks
                    .iter()
                    .filter(|check| !check.passed)
                    .map(|check| format!("{}: {}", check.name, check.detail))
                    .collect();
                let passed = deployment.plan.checks.len() - failed.len();
                let changes = describe_changes(&deployment.plan.changes);
                if failed.is_empty() {
                    Ok(format!("{passed} checks passed; {changes}"))
                } else if deployment.forced {
                    Ok(format!(
                        "{} checks failed and were overridden by --force ({}); {changes}",
                        failed.len(),
                        failed.join("; ")
                    ))
                } else {
                    Err(Error::ChecksFailed(failed.join("; ")))
                }
            }
            StepKind::Hook { hook } => {
                let (name, argv) = match hook.as_str() {
                    "pre_deploy" => ("pre_deploy", config.deploy.hooks.pre_deploy.as_ref()),
                    other => {
                        return Err(Error::Invalid(format!("unknown hook `{other}`")));
                    }
                };
                let Some(argv) = argv else {
                    return Ok(format!("no {name} hook configured any more"));
                };
                let context = HookContext::of(deployment);
                tokio::select! {
                    outcome = hooks::run(name, argv, &context, config.deploy.hooks.timeout.get()) => outcome?,
                    () = cancel.cancelled() => return Err(Error::Cancelled),
                }
                Ok(format!("{name} hook {} succeeded", argv.join(" ")))
            }
            StepKind::DatabaseMigration { .. }
            | StepKind::UpdateServices { .. }
            | StepKind::VerifyHealth => Err(Error::Internal(format!(
                "{} is not a gate",
                deployment.plan.steps[index].kind.label()
            ))),
        }
    }

    pub(crate) async fn run_step(
        &self,
        converger: &Converger,
        deployment: &mut Deployment,
        index: usize,
        config: &Config,
    ) -> Result<String> {
        let kind = deployment.plan.steps[index].kind.clone();
        match kind {
            StepKind::DeployLock | StepKind::PreChecks | StepKind::Hook { .. } => Err(
                Error::Internal(format!("{} is a gate, not a step", kind.label())),
            ),
            StepKind::DatabaseMigration { database, .. } => {
                let manager = migration_manager(
                    config,
                    configured_database(config, &database)?,
                    self.data_dir(),
                    &deployment.actor,
                )?;
                let report = manager.apply().await?;
                if let StepKind::DatabaseMigration { backup, .. } =
                    &mut deployment.plan.steps[index].kind
                {
                    *backup = report.backups.first().map(|info| info.id.clone());
                }
                Ok(format!(
                    "applied {} migrations to {database}",
                    report.migrations.len()
                ))
            }
            StepKind::UpdateServices { service } => {
                let target = deployment.release.service(&service).filter(|_| {
                    deployment.plan.changes.iter().any(|change| {
                        change.service == service && change.kind != ChangeKind::Remove
                    })
                });
                converger.converge(&service, target, &deployment.id).await?;
                Ok(match target {
                    Some(spec) => format!(
                        "{service} runs {} replicas of {}",
                        spec.replicas, spec.version
                    ),
                    None => format!("{service} removed"),
                })
            }
            StepKind::VerifyHealth => self.verify_health(converger, deployment).await,
        }
    }

    /// Every changed service stays healthy through its verify window,
    /// then its smoke checks and the metric gates pass.
    async fn verify_health(
        &self,
        converger: &Converger,
        deployment: &Deployment,
    ) -> Result<String> {
        let specs: Vec<&ServiceSpec> = deployment
            .plan
            .changes
            .iter()
            .filter(|change| {
                matches!(
                    change.kind,
                    ChangeKind::Create | ChangeKind::Update | ChangeKind::Scale
                )
            })
            .filter_map(|change| deployment.release.service(&change.service))
            .collect();
        let since = deployment
            .plan
            .steps
            .iter()
            .find(|step| !step.kind.is_gate())
            .and_then(|step| step.started_at)
            .unwrap_or(deployment.created_at);
        // Health and the configured PromQL gates through the window, the
        // first failure ending it.
        let checks = specs.iter().map(|spec| async move {
            let window = spec.rollout.verify_window.get();
            let (_, evaluated) = tokio::try_join!(
                converger.verify(spec, window),
                watch_gates(converger, deployment, spec, since, window),
            )?;
            Ok::<usize, Error>(evaluated)
        });
        let evaluations: usize = futures::future::join_all(checks)
            .await
            .into_iter()
            .collect::<Result<Vec<usize>>>()?
            .into_iter()
            .sum();
        let mut smoke_count = 0;
        for spec in &specs {
            let addr = match converger.proxies.get(&spec.name) {
                Some((_, addr)) => Some(addr),
                None => converger
                    .replicas(&spec.name)
                    .await?
                    .first()
                    .map(|replica| replica.addr),
            };
            for check in &spec.rollout.smoke {
                smoke::run(&spec.name, check, addr).await?;
                smoke_count += 1;
            }
        }
        let gates: Vec<Arc<dyn MetricGate>> = self.gates();
        for spec in &specs {
            for gate in &gates {
                gate.check(spec, since)
                    .await
                    .map_err(|reason| Error::Gate {
                        service: spec.name.to_string(),
                        gate: gate.name(),
                        reason,
                    })?;
            }
        }
        Ok(format!(
            "{} services healthy through their verify windows; {smoke_count} smoke checks and {} metric gates passed{}",
            specs.len(),
            gates.len() * specs.len(),
            if evaluations > 0 {
                format!("; {evaluations} PromQL gate evaluations passed")
            } else {
                String::new()
            }
        ))
    }

    pub(crate) async fn rollback_step(
        &self,
        converger: &Converger,
        deployment: &Deployment,
        index: usize,
        config: &Config,
    ) -> Result<String> {
        match &deployment.plan.steps[index].kind {
            StepKind::DeployLock
            | StepKind::PreChecks
            | StepKind::Hook { .. }
            | StepKind::VerifyHealth => Ok("nothing to undo".to_owned()),
            StepKind::DatabaseMigration {
                database,
                before,
                backup,
                ..
            } => {
                let manager = migration_manager(
                    config,
                    configured_database(config, database)?,
                    self.data_dir(),
                    &deployment.actor,
                )?;
                // Down files first; the backup taken before the step when
                // a down file is missing or a down migration fails.
                match manager.down(Some(before.as_deref().unwrap_or("0"))).await {
                    Ok(report) => Ok(format!(
                        "undid {} migrations of {database}",
                        report.migrations.len()
                    )),
                    Err(down) => match backup {
                        Some(id) => {
                            manager.restore(id).await?;
                            Ok(format!("restored {database} from backup {id} ({down})"))
                        }
                        None => Err(down.into()),
                    },
                }
            }
            StepKind::UpdateServices { service } => {
                let mut previous = deployment.previous.get(service).cloned().flatten();
                // Going back is never a canary of the old version: the
                // new one's replicas are replaced at once, as rolling.
                if let Some(spec) = &mut previous
                    && spec.rollout.strategy == Strategy::Canary
                {
                    spec.rollout.strategy = Strategy::Rolling;
                }
                converger
                    .converge(service, previous.as_ref(), &deployment.id)
                    .await?;
                Ok(match previous {
                    Some(spec) => format!(
                        "{service} back on {} ({} replicas)",
                        spec.version, spec.replicas
                    ),
                    None => format!("{service} stopped (it did not run before)"),
                })
            }
        }
    }
}

/// Evaluates `spec`'s configured PromQL gates every interval through
/// `window` (the last evaluation at its end), journaling each verdict;
/// the first failing one fails. Returns how many evaluations passed.
async fn watch_gates(
    converger: &Converger,
    deployment: &Deployment,
    spec: &ServiceSpec,
    since: chrono::DateTime<chrono::Utc>,
    window: Duration,
) -> Result<usize> {
    let Some(first) = spec.rollout.gate.first() else {
        return Ok(0);
    };
    let Some(source) = converger.metrics.clone() else {
        return Err(Error::Gate {
            service: spec.name.to_string(),
            gate: first.name.clone(),
            reason: "no metrics to evaluate it on ([metrics] is disabled)".to_owned(),
        });
    };
    let previous = deployment
        .previous
        .get(&spec.name)
        .cloned()
        .flatten()
        .map(|previous| previous.version)
        .filter(|version| version != &spec.version);
    let health_interval = HealthParams::of(spec.health.as_ref()).interval;
    let start = Instant::now();
    let end = start + window;
    let mut gates: Vec<(PromqlGate, Duration, Instant)> = spec
        .rollout
        .gate
        .iter()
        .map(|config| {
            let interval = config
                .interval
                .map_or(health_interval, |interval| interval.get())
                .max(Duration::from_millis(10));
            let gate = PromqlGate::new(config.clone(), previous.clone(), Arc::clone(&source));
            (gate, interval, start + interval)
        })
        .collect();
    let mut passed = 0;
    loop {
        let due = gates
            .iter()
            .map(|(_, _, next)| *next)
            .min()
            .unwrap_or(end)
            .min(end);
        tokio::time::sleep_until(due).await;
        for (gate, interval, next) in &mut gates {
            if *next > due && due < end {
                continue;
            }
            *next = due + *interval;
            let verdict = gate.evaluate(spec, since).await;
            (converger.events)(RolloutEvent::GateEvaluated {
                service: spec.name.clone(),
                verdict: verdict.clone(),
            });
            if !verdict.passed {
                return Err(Error::Gate {
                    service: spec.name.to_string(),
                    gate: verdict.gate,
                    reason: verdict.detail,
                });
            }
            passed += 1;
        }
        if due >= end {
            return Ok(passed);
        }
    }
}

/// The configuration of database `name`, which a migration step needs.
fn configured_database<'c>(
    config: &'c Config,
    name: &steward_core::Name,
) -> Result<&'c steward_config::DatabaseConfig> {
    config
        .databases
        .iter()
        .find(|database| &database.name == name)
        .ok_or_else(|| Error::NotFound(format!("database {name} is no longer configured")))
}
