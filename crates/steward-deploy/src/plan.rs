//! Planning: the release a configuration describes, the changes a
//! release makes to what runs (create, update, scale, remove per service,
//! dependencies first), the steps that make them, and the
//! pre-deployment checks. Planning reads and never changes anything.

use std::collections::BTreeMap;

use chrono::Utc;
use steward_config::{Config, DatabaseConfig};
use steward_core::{Actor, Name, Severity, Version};
use steward_migrate::MigrationManager;

use crate::{
    DeployRequest, DeploymentManager, Error, Result, checks,
    model::{
        ChangeKind, CheckKind, CheckResult, Deployment, DeploymentStatus, Plan, Release,
        ServiceChange, ServiceSpec, Step, StepKind, new_deployment_id,
    },
};

/// The release `config` describes at `version` for its backend, services
/// in dependency order.
pub fn release_from_config(config: &Config, version: &Version) -> Result<Release> {
    let backend = config.deploy.backend;
    let mut services = Vec::new();
    for service in ordered(config) {
        let spec = ServiceSpec::from_config(service, version, backend).ok_or_else(|| {
            let kind = match backend {
                steward_config::BackendKind::Process => "process",
                steward_config::BackendKind::Docker => "docker",
            };
            Error::Invalid(format!(
                "service {} has no [services.{kind}] section for the {kind} backend",
                service.name
            ))
        })?;
        services.push(spec);
    }
    Ok(Release {
        version: version.clone(),
        services,
    })
}

/// Services with their dependencies first (validation rejects cycles).
fn ordered(config: &Config) -> Vec<&steward_config::ServiceConfig> {
    let mut done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    while out.len() < config.services.len() {
        let before = out.len();
        for service in &config.services {
            if done.contains(&service.name.as_str()) {
                continue;
            }
            if service
                .depends_on
                .iter()
                .all(|dep| done.contains(&dep.as_str()) || config.service(dep).is_none())
            {
                done.push(service.name.as_str());
                out.push(service);
            }
        }
        if out.len() == before {
            // A cycle (rejected by validation): keep file order for the rest.
            out.extend(
                config
                    .services
                    .iter()
                    .filter(|s| !done.contains(&s.name.as_str())),
            );
            break;
        }
    }
    out
}

/// The gates every deployment passes before it acts.
pub(crate) fn gate_steps(config: &Config) -> Vec<Step> {
    let mut steps = vec![
        Step::new(StepKind::DeployLock),
        Step::new(StepKind::PreChecks),
    ];
    if config.deploy.hooks.pre_deploy.is_some() {
        steps.push(Step::new(StepKind::Hook {
            hook: "pre_deploy".to_owned(),
        }));
    }
    steps
}

/// What a plan is asked for.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The release to deploy.
    pub(crate) release: &'a Release,
    /// Only these services (`None`: the release's, and the removal of
    /// running ones it no longer has).
    pub(crate) selected: Option<&'a Vec<Name>>,
    /// Who asks (recorded on migrations).
    pub(crate) actor: &'a Actor,
    /// The deployment that holds the deploy lock for this plan, if any.
    pub(crate) own: Option<&'a str>,
    /// Only services never deployed are created.
    pub(crate) create_only: bool,
}

/// A plan computed against what runs now.
pub(crate) struct Planned {
    /// The services it touches.
    pub(crate) services: Vec<Name>,
    /// What each of them runs now.
    pub(crate) previous: BTreeMap<Name, Option<ServiceSpec>>,
    /// Per service, in dependency order.
    pub(crate) changes: Vec<ServiceChange>,
    /// The steps that act, in order.
    pub(crate) steps: Vec<Step>,
    /// Every pre-deployment check.
    pub(crate) checks: Vec<CheckResult>,
}

impl DeploymentManager {
    /// Plans `request` without changing anything: the changes, every step
    /// (the gates first) and the outcome of every pre-deployment check.
    pub async fn plan(&self, config: &Config, request: &DeployRequest) -> Result<Deployment> {
        self.check_selection(request).await?;
        let planned = self
            .compute_plan(
                config,
                &Scope {
                    release: &request.release,
                    selected: request.services.as_ref(),
                    actor: &request.actor,
                    own: None,
                    create_only: request.create_only,
                },
            )
            .await?;
        let mut steps = gate_steps(config);
        steps.extend(planned.steps);
        Ok(Deployment {
            id: new_deployment_id(),
            release: request.release.clone(),
            services: planned.services,
            requested_services: request.services.clone(),
            create_only: request.create_only,
            previous: planned.previous,
            plan: Plan {
                changes: planned.changes,
                steps,
                checks: planned.checks,
            },
            status: DeploymentStatus::Running,
            actor: request.actor.clone(),
            reason: request.reason.clone(),
            forced: request.force,
            created_at: Utc::now(),
            finished_at: None,
            error: None,
            engine: None,
        })
    }

    /// Fails when `request` names a service that is neither in its
    /// release nor running.
    pub(crate) async fn check_selection(&self, request: &DeployRequest) -> Result<()> {
        let Some(names) = &request.services else {
            return Ok(());
        };
        let current = self.current_specs().await?;
        for name in names {
            if request.release.service(name).is_none() && !current.contains_key(name) {
                return Err(Error::NotFound(format!(
                    "service `{name}` is neither in the release nor running"
                )));
            }
        }
        Ok(())
    }

    /// Compares `release` (or its `selected` services) with what runs and
    /// runs the checks; `own` is the deployment that holds the deploy
    /// lock for this plan, if any.
    pub(crate) async fn compute_plan(&self, config: &Config, scope: &Scope<'_>) -> Result<Planned> {
        let Scope {
            release,
            selected,
            actor,
            own,
            create_only,
        } = *scope;
        let current = self.current_specs().await?;
        let selected: Vec<Name> = match selected {
            Some(names) => names.clone(),
            None => {
                let mut names: Vec<Name> = release
                    .services
                    .iter()
                    .map(|spec| spec.name.clone())
                    .collect();
                for name in current.keys() {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
                names
            }
        };
        let replicas = self.backend().list().await?;
        let mut changes = Vec::new();
        let mut previous = BTreeMap::new();
        // Release order (dependencies first), then removals.
        let order: Vec<&Name> = release
            .services
            .iter()
            .map(|spec| &spec.name)
            .filter(|name| selected.contains(name))
            .chain(
                selected
                    .iter()
                    .filter(|name| release.service(name).is_none()),
            )
            .collect();
        for name in order {
            let desired = release.service(name);
            let now = current.get(name);
            let running = replicas.iter().filter(|r| &r.service == name).count() as u32;
            let kind = match (now, desired) {
                (None, Some(_)) => ChangeKind::Create,
                (Some(_), None) => ChangeKind::Remove,
                (None, None) => continue,
                // Created meanwhile by another deployment: left as it runs.
                (Some(_), Some(_)) if create_only => ChangeKind::Unchanged,
                (Some(now), Some(desired)) if now.hash() != desired.hash() => ChangeKind::Update,
                (Some(now), Some(desired))
                    if now.replicas != desired.replicas || running != desired.replicas =>
                {
                    ChangeKind::Scale
                }
                (Some(_), Some(_)) => ChangeKind::Unchanged,
            };
            previous.insert(name.clone(), now.cloned());
            changes.push(ServiceChange {
                service: name.clone(),
                kind,
                from_version: now.map(|spec| spec.version.clone()),
                to_version: desired.map(|spec| spec.version.clone()),
                from_replicas: running,
                to_replicas: desired.map_or(0, |spec| spec.replicas),
            });
        }
        let mut steps = Vec::new();
        let mut database_checks = Vec::new();
        for database in &config.databases {
            let name = format!("database {} reachable, migrations valid", database.name);
            match pending_migrations(config, database, self.data_dir(), actor).await {
                Ok(Some((pending, before))) if !pending.is_empty() => {
                    steps.push(Step::new(StepKind::DatabaseMigration {
                        database: database.name.clone(),
                        pending,
                        before,
                        backup: None,
                    }));
                    database_checks.push(checks::result(
                        CheckKind::Database,
                        name,
                        Ok("pending migrations planned".to_owned()),
                    ));
                }
                Ok(_) => database_checks.push(checks::result(
                    CheckKind::Database,
                    name,
                    Ok("no pending migrations".to_owned()),
                )),
                Err(err) => database_checks.push(checks::result(
                    CheckKind::Database,
                    name,
                    Err(err.to_string()),
                )),
            }
        }
        for change in &changes {
            if change.kind != ChangeKind::Unchanged {
                steps.push(Step::new(StepKind::UpdateServices {
                    service: change.service.clone(),
                }));
            }
        }
        if changes.iter().any(|change| {
            matches!(
                change.kind,
                ChangeKind::Create | ChangeKind::Update | ChangeKind::Scale
            )
        }) {
            steps.push(Step::new(StepKind::VerifyHealth));
        }
        let inputs = checks::Inputs {
            backend: self.backend().as_ref(),
            data_dir: self.data_dir(),
            lock_holder: self.lock_holder_alive().await,
            own,
        };
        let checks = checks::run(config, release, &changes, inputs, database_checks).await;
        Ok(Planned {
            services: changes
                .iter()
                .map(|change| change.service.clone())
                .collect(),
            previous,
            changes,
            steps,
            checks,
        })
    }
}

/// The migration manager of a configured database, acting for `actor`
/// (steward-migrate's one constructor for configured databases).
pub(crate) fn migration_manager(
    config: &Config,
    database: &DatabaseConfig,
    data_dir: &std::path::Path,
    actor: &Actor,
) -> Result<MigrationManager> {
    Ok(steward_migrate::configured::manager(
        config,
        data_dir,
        database,
        actor.as_str(),
        |_| {},
    )?)
}

/// Pending versions of a database and its newest applied version; `None`
/// when it has no migrations directory. Fails when the database cannot be
/// reached, its history does not validate, or its plan has lint errors.
async fn pending_migrations(
    config: &Config,
    database: &DatabaseConfig,
    data_dir: &std::path::Path,
    actor: &Actor,
) -> Result<Option<(Vec<String>, Option<String>)>> {
    if database.migrations.is_none() {
        return Ok(None);
    }
    let manager = migration_manager(config, database, data_dir, actor)?;
    let status = manager.validate().await?;
    let plan = manager.plan().await?;
    if steward_migrate::denied(&plan.findings, Severity::Error) {
        let errors: Vec<String> = plan
            .findings
            .iter()
            .filter(|finding| finding.severity >= Severity::Error)
            .map(|finding| {
                format!(
                    "{}:{} {}",
                    finding.file.display(),
                    finding.line,
                    finding.code
                )
            })
            .collect();
        return Err(Error::Invalid(format!(
            "migration lint errors: {}",
            errors.join(", ")
        )));
    }
    let pending = plan
        .steps
        .iter()
        .map(|step| step.migration.clone())
        .collect();
    Ok(Some((pending, status.current)))
}
