//! `steward deploy`, `steward rollback` and `steward deployments`: start
//! deployments through the API, follow them live, and list them.

use std::{io::IsTerminal, time::Duration};

use anyhow::bail;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use steward_deploy::{DeployEvent, DeploymentStatus};

use crate::{
    cli::{DeployArgs, DeploymentsCommand, Global, OutputFormat, RollbackArgs},
    client::Client,
    commands::events::parse_frame,
    output,
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
    let deployment: Value = client.post("/api/v1/deployments", &body).await?;
    if args.dry_run {
        match global.output {
            OutputFormat::Json => output::json(&deployment),
            OutputFormat::Table => print_plan(&deployment),
        }
        if deployment["plan"]["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["passed"] == false)
            && !args.force
        {
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
    let deployment: Value = client.post("/api/v1/rollback", &body).await?;
    started(&client, global, &deployment, args.wait).await
}

/// Reports a deployment the server just answered, following it with `wait`.
async fn started(
    client: &Client,
    global: &Global,
    deployment: &Value,
    wait: bool,
) -> anyhow::Result<()> {
    let id = output::text(&deployment["id"]);
    if deployment["status"] == "aborted" {
        if global.output == OutputFormat::Json {
            output::json_line(deployment);
        } else {
            print_checks(deployment);
        }
        return Err(failure(deployment).into());
    }
    if global.output == OutputFormat::Table {
        output::line(&format!(
            "deployment {id} of {} requested; steward runs it now",
            output::text(&deployment["release"]["version"]),
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
    watch(client, global, &id).await
}

/// Follows a deployment's events to its end, then exits by its outcome.
async fn watch(client: &Client, global: &Global, id: &str) -> anyhow::Result<()> {
    let show_bar = global.output == OutputFormat::Table && std::io::stderr().is_terminal();
    let deployment: Value = client
        .get(&format!("/api/v1/deployments/{id}"), &[])
        .await?;
    let steps = deployment["plan"]["steps"].as_array().map_or(0, Vec::len) as u64;
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
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let Some((event_id, event)) = parse_frame(&frame) else {
                    continue;
                };
                last = Some(event_id);
                let kind = output::text(&event["kind"]);
                match global.output {
                    OutputFormat::Json => output::json_line(&event),
                    OutputFormat::Table => {
                        let line = format!(
                            "{} {}",
                            output::time(&event["time"]),
                            output::text(&event["summary"])
                        );
                        match &bar {
                            Some(bar) => {
                                match DeployEvent::parse(&kind) {
                                    Some(DeployEvent::StepSucceeded | DeployEvent::StepFailed) => {
                                        bar.inc(1);
                                    }
                                    // The plan is known once the gates passed.
                                    Some(DeployEvent::Started) => {
                                        if let Some(steps) = event["payload"]["steps"].as_array() {
                                            bar.set_length(steps.len() as u64);
                                        }
                                    }
                                    _ => {}
                                }
                                bar.set_message(output::text(&event["summary"]));
                                bar.println(line);
                            }
                            None => output::line(&line),
                        }
                    }
                }
                if DeployEvent::is_terminal_kind(&kind) {
                    break 'stream;
                }
            }
        }
        let current: Value = client
            .get(&format!("/api/v1/deployments/{id}"), &[])
            .await?;
        if is_final(&current) {
            break;
        }
        if current["orphaned"] == true {
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
    let deployment: Value = client
        .get(&format!("/api/v1/deployments/{id}"), &[])
        .await?;
    if global.output == OutputFormat::Json {
        output::json_line(
            &json!({"deployment": id, "status": deployment["status"], "error": deployment["error"]}),
        );
    }
    if deployment["status"] == "succeeded" {
        if global.output == OutputFormat::Table {
            output::line(&format!("deployment {id} succeeded"));
        }
        return Ok(());
    }
    Err(failure(&deployment).into())
}

fn is_final(deployment: &Value) -> bool {
    serde_json::from_value::<DeploymentStatus>(deployment["status"].clone())
        .is_ok_and(DeploymentStatus::is_final)
}

fn failure(deployment: &Value) -> DeploymentFailed {
    DeploymentFailed {
        id: output::text(&deployment["id"]),
        status: output::text(&deployment["status"]).replace('_', " "),
        reason: deployment["error"]
            .as_str()
            .unwrap_or("no reason recorded")
            .to_owned(),
    }
}

fn describe_changes(deployment: &Value) -> String {
    let parts: Vec<String> = deployment["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|change| change["kind"] != "unchanged")
        .map(|change| {
            format!(
                "{} {} ({} -> {})",
                output::text(&change["kind"]),
                output::text(&change["service"]),
                output::text(&change["from_version"]),
                output::text(&change["to_version"])
            )
        })
        .collect();
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

fn print_checks(deployment: &Value) {
    let mut table = output::table(&["CHECK", "RESULT", "DETAIL"]);
    for check in deployment["plan"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        table.add_row(vec![
            output::text(&check["name"]),
            if check["passed"] == true {
                "passed"
            } else {
                "FAILED"
            }
            .to_owned(),
            output::text(&check["detail"]),
        ]);
    }
    output::print_table(&table);
}

fn print_plan(deployment: &Value) {
    output::line(&format!(
        "plan for {}:",
        output::text(&deployment["release"]["version"])
    ));
    let mut changes = output::table(&["SERVICE", "CHANGE", "FROM", "TO", "REPLICAS"]);
    for change in deployment["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        changes.add_row(vec![
            output::text(&change["service"]),
            output::text(&change["kind"]),
            output::text(&change["from_version"]),
            output::text(&change["to_version"]),
            format!(
                "{} -> {}",
                output::text(&change["from_replicas"]),
                output::text(&change["to_replicas"])
            ),
        ]);
    }
    output::print_table(&changes);
    output::line("");
    let mut steps = output::table(&["#", "STEP", "DETAIL"]);
    for (index, step) in deployment["plan"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let detail = match step["kind"].as_str() {
            Some("database_migration") => format!(
                "apply {}",
                step["pending"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(output::text)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        steps.add_row(vec![(index + 1).to_string(), step_label(step), detail]);
    }
    output::print_table(&steps);
    output::line("");
    print_checks(deployment);
}

fn step_label(step: &Value) -> String {
    match step["kind"].as_str() {
        Some("database_migration") => {
            format!("database_migration:{}", output::text(&step["database"]))
        }
        Some("update_services") => format!("update_services:{}", output::text(&step["service"])),
        Some("hook") => format!("hook:{}", output::text(&step["hook"])),
        Some(other) => other.to_owned(),
        None => "-".to_owned(),
    }
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
            let list: Value = client.get("/api/v1/deployments", &query).await?;
            if global.output == OutputFormat::Json {
                output::json(&list);
                return Ok(());
            }
            let mut table = output::table(&[
                "ID", "VERSION", "STATUS", "SERVICES", "ACTOR", "CREATED", "FINISHED", "REASON",
            ]);
            for deployment in list.as_array().into_iter().flatten() {
                table.add_row(vec![
                    output::text(&deployment["id"]),
                    output::text(&deployment["version"]),
                    output::text(&deployment["status"]),
                    deployment["services"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(output::text)
                        .collect::<Vec<_>>()
                        .join(","),
                    output::text(&deployment["actor"]),
                    output::time(&deployment["created_at"]),
                    output::time(&deployment["finished_at"]),
                    output::text(&deployment["reason"]),
                ]);
            }
            output::print_table(&table);
            Ok(())
        }
        DeploymentsCommand::Show { id } => {
            let deployment: Value = client
                .get(&format!("/api/v1/deployments/{id}"), &[])
                .await?;
            if global.output == OutputFormat::Json {
                output::json(&deployment);
                return Ok(());
            }
            output::line(&format!(
                "deployment {} of {}: {} (by {}, {})",
                output::text(&deployment["id"]),
                output::text(&deployment["release"]["version"]),
                output::text(&deployment["status"]),
                output::text(&deployment["actor"]),
                describe_changes(&deployment)
            ));
            if let Some(error) = deployment["error"].as_str() {
                output::line(&format!("error: {error}"));
            }
            output::line("");
            let mut steps =
                output::table(&["#", "STEP", "STATUS", "STARTED", "FINISHED", "DETAIL"]);
            for (index, step) in deployment["plan"]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                steps.add_row(vec![
                    (index + 1).to_string(),
                    step_label(step),
                    output::text(&step["status"]),
                    output::time(&step["started_at"]),
                    output::time(&step["finished_at"]),
                    step["error"]
                        .as_str()
                        .map_or_else(|| output::text(&step["detail"]), str::to_owned),
                ]);
            }
            output::print_table(&steps);
            output::line("");
            print_checks(&deployment);
            Ok(())
        }
        DeploymentsCommand::Watch { id } => watch(&client, global, &id).await,
        DeploymentsCommand::Cancel { id } => {
            let _: Value = client
                .post(&format!("/api/v1/deployments/{id}/cancel"), &json!({}))
                .await?;
            output::line(&format!(
                "deployment {id} is being cancelled; it rolls back"
            ));
            Ok(())
        }
    }
}
