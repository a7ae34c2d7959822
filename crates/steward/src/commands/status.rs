//! `steward status`: steward itself and the services it knows.

use serde_json::Value;

use crate::{
    cli::{Global, OutputFormat},
    client::Client,
    output,
};

/// `serving/desired`, with the replicas that run but take no traffic.
fn replicas_cell(service: &Value) -> String {
    let serving = service["serving"].as_u64().unwrap_or(0);
    let running = service["running"].as_u64().unwrap_or(0);
    let mut cell = format!("{serving}/{}", output::text(&service["replicas"]));
    if running > serving {
        cell.push_str(&format!(" (+{} idle)", running - serving));
    }
    cell
}

pub(crate) async fn run(global: &Global) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let status: Value = client.get("/api/v1/status", &[]).await?;
    if global.output == OutputFormat::Json {
        output::json(&status);
        return Ok(());
    }
    let steward = &status["steward"];
    output::line(&format!(
        "steward {} at {}: up {}s, state on {} (schema {}), config {}",
        output::text(&steward["version"]),
        client.base(),
        output::text(&steward["uptime_seconds"]),
        output::text(&steward["store"]),
        output::text(&steward["schema_version"]),
        output::text(&steward["config"]),
    ));
    output::line("");
    let mut table = output::table(&[
        "SERVICE",
        "STATE",
        "VERSION",
        "REPLICAS",
        "PORT",
        "BACKENDS",
        "HEALTH",
        "DEPENDS ON",
        "LAST EVENT",
    ]);
    for service in status["services"].as_array().into_iter().flatten() {
        let list = |value: &Value| {
            let items: Vec<String> = value
                .as_array()
                .into_iter()
                .flatten()
                .map(output::text)
                .collect();
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join(",")
            }
        };
        let last = &service["last_event"];
        let last = if last.is_null() {
            "-".to_owned()
        } else {
            format!(
                "{} {} {}",
                output::time(&last["time"]),
                output::text(&last["kind"]),
                output::text(&last["summary"])
            )
        };
        table.add_row(vec![
            output::text(&service["name"]),
            output::text(&service["state"]),
            output::text(&service["version"]),
            replicas_cell(service),
            output::text(&service["port"]),
            list(&service["backends"]),
            output::text(&service["health"]),
            list(&service["depends_on"]),
            last,
        ]);
    }
    output::print_table(&table);
    let databases = status["databases"].as_array().cloned().unwrap_or_default();
    if !databases.is_empty() {
        output::line("");
        let mut table = output::table(&["DATABASE", "ENGINE", "MIGRATIONS"]);
        for database in &databases {
            table.add_row(vec![
                output::text(&database["name"]),
                output::text(&database["engine"]),
                output::text(&database["migrations"]),
            ]);
        }
        output::print_table(&table);
    }
    Ok(())
}
