//! `steward incident ...`: incidents over the API. Each change is the
//! server's (the IncidentManager journals it as the token's actor); the
//! CLI prints what came back, as a table or, with `--output json`, the
//! API's answer.

use serde_json::{Value, json};
use steward_server::api_types::{
    ActionItem, CandidateView, Incident, IncidentView, StatsView, TimelineEntryView,
};

use crate::{
    UsageError,
    cli::{Global, IncidentCommand, OutputFormat},
    client::Client,
    output,
};

/// Runs an `incident` subcommand.
pub(crate) async fn run(global: &Global, command: IncidentCommand) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let json = global.output == OutputFormat::Json;
    match command {
        IncidentCommand::List { open, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if open {
                query.push(("open", "true".to_owned()));
            }
            let incidents: Vec<Incident> = client.get("/api/v1/incidents", &query).await?;
            if json {
                output::json(&incidents);
                return Ok(());
            }
            let mut table =
                output::table(&["ID", "SEVERITY", "STATUS", "OPENED", "SERVICES", "TITLE"]);
            for i in &incidents {
                table.add_row(vec![
                    i.id.clone(),
                    i.severity.to_string(),
                    i.status.as_str().to_owned(),
                    output::timestamp(&i.opened_at),
                    join(i.services.iter()),
                    i.title.clone(),
                ]);
            }
            output::print_table(&table);
        }
        IncidentCommand::Show { id } => {
            let view: IncidentView = client.get(&path(&id, ""), &[]).await?;
            if json {
                output::json(&view);
            } else {
                show(&view);
            }
        }
        IncidentCommand::Open {
            title,
            severity,
            services,
            commander,
        } => {
            let incident: Incident = client
                .post(
                    "/api/v1/incidents",
                    &json!({
                        "title": title,
                        "severity": severity,
                        "services": services,
                        "commander": commander,
                    }),
                )
                .await?;
            changed(json, &incident, "opened");
        }
        IncidentCommand::Ack { id } => {
            act(&client, json, &id, json!({"action": "acknowledge"})).await?;
        }
        IncidentCommand::Mitigate { id } => {
            act(&client, json, &id, json!({"action": "mitigate"})).await?;
        }
        IncidentCommand::Resolve { id } => {
            act(&client, json, &id, json!({"action": "resolve"})).await?;
        }
        IncidentCommand::Reopen { id } => {
            act(&client, json, &id, json!({"action": "reopen"})).await?;
        }
        IncidentCommand::Severity { id, severity } => {
            act(
                &client,
                json,
                &id,
                json!({"action": "set_severity", "severity": severity}),
            )
            .await?;
        }
        IncidentCommand::Assign {
            id,
            user,
            commander,
        } => {
            let action = if commander { "set_commander" } else { "assign" };
            act(&client, json, &id, json!({"action": action, "user": user})).await?;
        }
        IncidentCommand::Note { id, text } => {
            client
                .post_no_content(&path(&id, "/notes"), &json!({"text": text}))
                .await?;
            if json {
                output::json(&json!({"incident": id, "noted": text}));
            } else {
                output::line(&format!("noted on {id}"));
            }
        }
        IncidentCommand::Approve { id, step } => {
            step_command(&client, json, &id, step, "approve").await?;
        }
        IncidentCommand::Retry { id, step } => {
            step_command(&client, json, &id, step, "retry").await?;
        }
        IncidentCommand::Skip { id, step } => {
            step_command(&client, json, &id, step, "skip").await?;
        }
        IncidentCommand::Done { id, step } => {
            step_command(&client, json, &id, step, "done").await?;
        }
        IncidentCommand::Timeline { id } => {
            let entries: Vec<TimelineEntryView> = client.get(&path(&id, "/timeline"), &[]).await?;
            if json {
                output::json(&entries);
                return Ok(());
            }
            let mut table = output::table(&["TIME", "KIND", "WHAT"]);
            for e in &entries {
                table.add_row(vec![
                    output::timestamp(&e.at),
                    e.kind.clone(),
                    e.text.clone(),
                ]);
            }
            output::print_table(&table);
        }
        IncidentCommand::Candidates { id } => {
            let candidates: Vec<CandidateView> = client.get(&path(&id, "/candidates"), &[]).await?;
            if json {
                output::json(&candidates);
                return Ok(());
            }
            if candidates.is_empty() {
                output::line(
                    "no change found before the first alert on the affected services or their dependencies",
                );
                return Ok(());
            }
            let mut table =
                output::table(&["#", "CHANGE", "KIND", "SERVICE", "AT", "SCORE", "EVIDENCE"]);
            for (rank, c) in candidates.iter().enumerate() {
                table.add_row(vec![
                    (rank + 1).to_string(),
                    c.id.clone(),
                    c.kind.clone(),
                    c.service.clone(),
                    output::timestamp(&c.at),
                    format!("{:.3}", c.score),
                    c.evidence.join("; "),
                ]);
            }
            output::print_table(&table);
        }
        IncidentCommand::Postmortem { id, out } => {
            let (status, body) = client.get_bytes(&path(&id, "/postmortem"), &[]).await?;
            if !status.is_success() {
                let message = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                anyhow::bail!("the postmortem of {id}: {message}");
            }
            let markdown = String::from_utf8_lossy(&body);
            match out {
                Some(file) => {
                    std::fs::write(&file, markdown.as_bytes()).map_err(|err| {
                        UsageError(format!("cannot write {}: {err}", file.display()))
                    })?;
                    if json {
                        output::json(&json!({"incident": id, "written": file}));
                    } else {
                        output::line(&format!("wrote {}", file.display()));
                    }
                }
                None if json => output::json(&json!({"incident": id, "markdown": markdown})),
                None => output::line(markdown.trim_end()),
            }
        }
        IncidentCommand::ActionItem {
            id,
            item,
            title,
            kind,
            owner,
            status,
        } => {
            let body = json!({"title": title, "kind": kind, "owner": owner, "status": status});
            let body = Value::Object(
                body.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            let saved: ActionItem = match &item {
                None => client.post(&path(&id, "/action_items"), &body).await?,
                Some(item) => {
                    client
                        .patch(&path(&id, &format!("/action_items/{item}")), &body)
                        .await?
                }
            };
            if json {
                output::json(&saved);
            } else {
                output::line(&format!(
                    "{} {}: {} ({}, owner {})",
                    if item.is_none() { "added" } else { "changed" },
                    saved.id,
                    saved.title,
                    name_of(&saved.status),
                    saved.owner.as_deref().unwrap_or("none")
                ));
            }
        }
        IncidentCommand::Stats => {
            let stats: StatsView = client.get("/api/v1/incidents/stats", &[]).await?;
            if json {
                output::json(&stats);
                return Ok(());
            }
            let secs = |s: Option<i64>| {
                s.map_or("-".to_owned(), |s| {
                    steward_core::format_duration(std::time::Duration::from_secs(s.max(0) as u64))
                })
            };
            output::line(&format!(
                "{} incidents ({} open)\nMTTD {}  MTTA {}  MTTM {}  MTTR {}",
                stats.incidents,
                stats.open,
                secs(stats.mttd_seconds),
                secs(stats.mtta_seconds),
                secs(stats.mttm_seconds),
                secs(stats.mttr_seconds)
            ));
        }
    }
    Ok(())
}

/// `/api/v1/incidents/<id><rest>`, the id escaped.
fn path(id: &str, rest: &str) -> String {
    format!(
        "/api/v1/incidents/{}{rest}",
        crate::client::encode_segment(id)
    )
}

fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&str> = items.map(String::as_str).collect();
    if all.is_empty() {
        "-".to_owned()
    } else {
        all.join(", ")
    }
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `running`, `failed`...: a step's state by its tag.
fn state_of(step: &steward_incident::plan::RunStep) -> String {
    serde_json::to_value(&step.state)
        .ok()
        .and_then(|v| v["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn act(client: &Client, json: bool, id: &str, body: Value) -> anyhow::Result<()> {
    let incident: Incident = client.post(&path(id, "/actions"), &body).await?;
    changed(json, &incident, "is");
    Ok(())
}

async fn step_command(
    client: &Client,
    json: bool,
    id: &str,
    step: u32,
    command: &str,
) -> anyhow::Result<()> {
    let incident: Incident = client
        .post(
            &path(id, &format!("/steps/{step}")),
            &json!({"command": command}),
        )
        .await?;
    if json {
        output::json(&incident);
        return Ok(());
    }
    if let Some(run) = &incident.plan
        && let Some(s) = run.steps.get(step as usize - 1)
    {
        output::line(&format!("{id} step {step}: {}", state_of(s)));
    }
    Ok(())
}

fn changed(json: bool, incident: &Incident, verb: &str) {
    if json {
        output::json(incident);
    } else {
        output::line(&format!(
            "{} {verb} {} ({}): {}",
            incident.id,
            incident.status.as_str(),
            incident.severity,
            incident.title
        ));
    }
}

fn show(view: &IncidentView) {
    let i = &view.incident;
    output::line(&format!("{} {} — {}", i.id, i.severity, i.title));
    output::line(&format!("status      {}", i.status.as_str()));
    output::line(&format!("services    {}", join(i.services.iter())));
    output::line(&format!(
        "commander   {}",
        i.commander.as_deref().unwrap_or("-")
    ));
    output::line(&format!("assignees   {}", join(i.assignees.iter())));
    output::line(&format!("opened      {}", output::timestamp(&i.opened_at)));
    let d = &view.durations;
    let secs = |s: Option<i64>| {
        s.map_or("-".to_owned(), |s| {
            steward_core::format_duration(std::time::Duration::from_secs(s.max(0) as u64))
        })
    };
    output::line(&format!(
        "detect {}  acknowledge {}  mitigate {}  resolve {}",
        secs(d.detect_seconds),
        secs(d.acknowledge_seconds),
        secs(d.mitigate_seconds),
        secs(d.resolve_seconds)
    ));
    output::line(&format!("impact      (calls for {})", view.impact_severity));
    for line in &view.impact {
        output::line(&format!("  {line}"));
    }
    if let Some(run) = &i.plan {
        output::line(&format!("plan        {}", run.plan));
        for (n, step) in run.steps.iter().enumerate() {
            output::line(&format!(
                "  {}. {} [{}]",
                n + 1,
                steward_incident::manager::describe(&step.spec.action),
                state_of(step)
            ));
        }
    }
    if !i.action_items.is_empty() {
        output::line("action items");
        for item in &i.action_items {
            output::line(&format!(
                "  {} {} ({}, {}, owner {})",
                item.id,
                item.title,
                name_of(&item.kind),
                name_of(&item.status),
                item.owner.as_deref().unwrap_or("-")
            ));
        }
    }
}
