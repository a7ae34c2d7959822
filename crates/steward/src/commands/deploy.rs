//! `steward deploy`, `steward rollback` and `steward deployments`: start
//! deployments through the API, follow them live, and list them.

use std::{io::IsTerminal, time::Duration};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::json;
use steward_deploy::{
    ChangeKind, DeployEvent, Deployment, DeploymentStatus, DeploymentSummary, DeploymentView, Step,
    StepKind, events::DeployStarted,
};
use steward_server::api_types::Cancelling;

use crate::{
    cli::{DeployArgs, DeploymentsCommand, Global, OutputFormat, RollbackArgs},
    client::Client,
    commands::events::journal_event,
    output,
    sse::Frames,
};

/// A deployment that did not succeed: exit code 1, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("deployment {id} {status}: {reason}")]
pub(crate) struct DeploymentFailed {
    id: String,
    status: String,
    reason: String,
}

/// How long a deployment waits for one in progress when `--wait-lock` is
/// not given.
const DEFAULT_WAIT_LOCK: Duration = Duration::from_secs(600);

pub(crate) async fn deploy(global: &Global, args: DeployArgs) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    // Steward waits, not this command: a deployment asked for right after
    // another (or right after `steward up`) queues behind it.
    let wait_lock = args.wait_lock.map_or(DEFAULT_WAIT_LOCK, |wait| wait.get());
    let body = json!({
        "version": args.version,
        "services": args.services,
        "reason": args.reason,
        "force": args.force,
        "dry_run": args.dry_run,
        "wait_lock_seconds": wait_lock.as_secs(),
    });
    let deployment: Deployment = client.post("/api/v1/deployments", &body).await?;
    if args.dry_run {
        match global.output {
            OutputFormat::Json => output::json(&deployment),
            OutputFormat::Table => print_plan(&deployment),
        }
        if !deployment.plan.checks_passed() && !args.force {
            bail!(DeploymentFailed {
                id: "(dry run)".to_owned(),
                status: "would be refused".to_owned(),
                reason: "pre-deployment checks failed (see above; --force overrides)".to_owned(),
            });
        }
        return Ok(());
    }
    started(&client, global, &deployment, args.wait).await
}

pub(crate) async fn rollback(global: &Global, args: RollbackArgs) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let body = json!({"service": args.service, "to": args.to, "reason": args.reason});
    let deployment: Deployment = client.post("/api/v1/rollback", &body).await?;
    started(&client, global, &deployment, args.wait).await
}

/// Reports a deployment the server just recorded, following it with `wait`.
async fn started(
    client: &Client,
    global: &Global,
    deployment: &Deployment,
    wait: bool,
) -> anyhow::Result<()> {
    let id = &deployment.id;
    if global.output == OutputFormat::Table {
        output::line(&format!(
            "deployment {id} of {} requested; steward runs it now",
            deployment.release.version,
        ));
    } else if !wait {
        output::json_line(deployment);
    }
    if !wait {
        if global.output == OutputFormat::Table {
            output::note(&format!("follow it with: steward deployments watch {id}"));
        }
        return Ok(());
    }
    watch(client, global, id).await
}

/// The deployment `id` as the API shows it.
async fn view(client: &Client, id: &str) -> anyhow::Result<DeploymentView> {
    client.get(&format!("/api/v1/deployments/{id}"), &[]).await
}

/// Follows a deployment's events to its end, then exits by its outcome.
async fn watch(client: &Client, global: &Global, id: &str) -> anyhow::Result<()> {
    let show_bar = global.output == OutputFormat::Table && std::io::stderr().is_terminal();
    let steps = view(client, id).await?.deployment.plan.steps.len() as u64;
    let bar = show_bar.then(|| {
        let bar = ProgressBar::new(steps.max(1));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] step {pos}/{len} {wide_msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let mut last = None;
    // The stream ends with the deployment's last event; reconnect (from
    // the last event seen) if the connection drops before that.
    'stream: loop {
        let response = client
            .open_stream(&format!("/api/v1/deployments/{id}/events"), &[], last)
            .await?;
        let mut frames = Frames::new(response);
        while let Some(frame) = frames.next().await {
            let Some(event) = journal_event(&frame) else {
                continue;
            };
            last = Some(event.id.0);
            let kind = DeployEvent::parse(event.kind.as_str());
            match global.output {
                OutputFormat::Json => output::json_line(&event),
                OutputFormat::Table => {
                    let line = format!("{} {}", output::timestamp(&event.time), event.summary);
                    match &bar {
                        Some(bar) => {
                            match kind {
                                Some(DeployEvent::StepSucceeded | DeployEvent::StepFailed) => {
                                    bar.inc(1);
                                }
                                // The plan is known once the gates passed.
                                Some(DeployEvent::Started) => {
                                    if let Ok(started) = DeployStarted::deserialize(&event.payload)
                                    {
                                        bar.set_length(started.steps.len() as u64);
                                    }
                                }
                                _ => {}
                            }
                            bar.set_message(event.summary.clone());
                            bar.println(line);
                        }
                        None => output::line(&line),
                    }
                }
            }
            if kind.is_some_and(DeployEvent::is_terminal) {
                break 'stream;
            }
        }
        let current = view(client, id).await?;
        if current.deployment.status.is_final() {
            break;
        }
        if current.orphaned {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Err(DeploymentFailed {
                id: id.to_owned(),
                status: "interrupted".to_owned(),
                reason: "no steward process runs it any more (steward stopped before it ended); steward finishes it (rolls it back, or resumes it) when it starts again".to_owned(),
            }
            .into());
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let deployment = view(client, id).await?.deployment;
    if global.output == OutputFormat::Json {
        output::json_line(
            &json!({"deployment": id, "status": deployment.status, "error": deployment.error}),
        );
    }
    if deployment.status == DeploymentStatus::Succeeded {
        if global.output == OutputFormat::Table {
            output::line(&format!("deployment {id} succeeded"));
        }
        return Ok(());
    }
    Err(failure(&deployment).into())
}

fn failure(deployment: &Deployment) -> DeploymentFailed {
    DeploymentFailed {
        id: deployment.id.clone(),
        status: deployment.status.as_str().replace('_', " "),
        reason: deployment
            .error
            .clone()
            .unwrap_or_else(|| "no reason recorded".to_owned()),
    }
}

fn describe_changes(deployment: &Deployment) -> String {
    let parts: Vec<String> = deployment
        .plan
        .changes
        .iter()
        .filter(|change| change.kind != ChangeKind::Unchanged)
        .map(|change| {
            format!(
                "{} {} ({} -> {})",
                change.kind,
                change.service,
                output::or_dash(change.from_version.as_ref()),
                output::or_dash(change.to_version.as_ref())
            )
        })
        .collect();
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

fn print_checks(deployment: &Deployment) {
    let mut table = output::table(&["CHECK", "RESULT", "DETAIL"]);
    for check in &deployment.plan.checks {
        table.add_row(vec![
            check.name.clone(),
            if check.passed { "passed" } else { "FAILED" }.to_owned(),
            check.detail.clone(),
        ]);
    }
    output::print_table(&table);
}

fn print_plan(deployment: &Deployment) {
    output::line(&format!("plan for {}:", deployment.release.version));
    let mut changes = output::table(&["SERVICE", "CHANGE", "FROM", "TO", "REPLICAS"]);
    for change in &deployment.plan.changes {
        changes.add_row(vec![
            change.service.to_string(),
            change.kind.to_string(),
            output::or_dash(change.from_version.as_ref()),
            output::or_dash(change.to_version.as_ref()),
            format!("{} -> {}", change.from_replicas, change.to_replicas),
        ]);
    }
    output::print_table(&changes);
    output::line("");
    let mut steps = output::table(&["#", "STEP", "DETAIL"]);
    for (index, step) in deployment.plan.steps.iter().enumerate() {
        let detail = match &step.kind {
            StepKind::DatabaseMigration { pending, .. } => format!("apply {}", pending.join(", ")),
            _ => String::new(),
        };
        steps.add_row(vec![(index + 1).to_string(), step.kind.label(), detail]);
    }
    output::print_table(&steps);
    output::line("");
    print_checks(deployment);
}

/// What a step did or why it failed, for tables.
fn step_outcome(step: &Step) -> String {
    step.error
        .clone()
        .or_else(|| step.detail.clone())
        .unwrap_or_else(|| "-".to_owned())
}

pub(crate) async fn deployments(
    global: &Global,
    command: DeploymentsCommand,
) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    match command {
        DeploymentsCommand::List { service, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(service) = service {
                query.push(("service", service));
            }
            let list: Vec<DeploymentSummary> = client.get("/api/v1/deployments", &query).await?;
            if global.output == OutputFormat::Json {
                output::json(&list);
                return Ok(());
            }
            let mut table = output::table(&[
                "ID", "VERSION", "STATUS", "SERVICES", "ACTOR", "CREATED", "FINISHED", "REASON",
            ]);
            for deployment in &list {
                table.add_row(vec![
                    deployment.id.clone(),
                    deployment.version.to_string(),
                    deployment.status.to_string(),
                    deployment
                        .services
                        .iter()
                        .map(|name| name.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    deployment.actor.to_string(),
                    output::timestamp(&deployment.created_at),
                    output::or_dash(deployment.finished_at.as_ref().map(output::timestamp)),
                    output::or_dash(deployment.reason.as_ref()),
                ]);
            }
            output::print_table(&table);
            Ok(())
        }
        DeploymentsCommand::Show { id } => {
            let shown = view(&client, &id).await?;
            if global.output == OutputFormat::Json {
                output::json(&shown);
                return Ok(());
            }
            let deployment = &shown.deployment;
            output::line(&format!(
                "deployment {} of {}: {}{} (by {}, {})",
                deployment.id,
                deployment.release.version,
                deployment.status,
                if shown.orphaned {
                    ", orphaned: no steward process runs it"
                } else {
                    ""
                },
                deployment.actor,
                describe_changes(deployment)
            ));
            if let Some(error) = &deployment.error {
                output::line(&format!("error: {error}"));
            }
            output::line("");
            let mut steps =
                output::table(&["#", "STEP", "STATUS", "STARTED", "FINISHED", "DETAIL"]);
            for (index, step) in deployment.plan.steps.iter().enumerate() {
                steps.add_row(vec![
                    (index + 1).to_string(),
                    step.kind.label(),
                    step.status.to_string(),
                    output::or_dash(step.started_at.as_ref().map(output::timestamp)),
                    output::or_dash(step.finished_at.as_ref().map(output::timestamp)),
                    step_outcome(step),
                ]);
            }
            output::print_table(&steps);
            output::line("");
            print_checks(deployment);
            Ok(())
        }
        DeploymentsCommand::Watch { id } => watch(&client, global, &id).await,
        DeploymentsCommand::Cancel { id } => {
            let cancelling: Cancelling = client
                .post(&format!("/api/v1/deployments/{id}/cancel"), &json!({}))
                .await?;
            output::line(&format!(
                "deployment {} is being cancelled; it rolls back",
                cancelling.deployment
            ));
            Ok(())
        }
    }
}
