//! `steward status`: steward itself and the services it knows.

use steward_server::api_types::{ServiceStatus, Status};

use crate::{
    cli::{Global, OutputFormat},
    client::Client,
    output,
};

/// `serving/desired`, with the replicas that run but take no traffic.
fn replicas_cell(service: &ServiceStatus) -> String {
    let mut cell = format!("{}/{}", service.serving, service.replicas);
    if service.running > service.serving {
        cell.push_str(&format!(" (+{} idle)", service.running - service.serving));
    }
    cell
}

/// Names joined with commas, or `-`.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

pub(crate) async fn run(global: &Global) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let status: Status = client.get("/api/v1/status", &[]).await?;
    if global.output == OutputFormat::Json {
        output::json(&status);
        return Ok(());
    }
    let steward = &status.steward;
    output::line(&format!(
        "steward {} at {}: up {}s, state on {} (schema {}), config {}",
        steward.version,
        client.base(),
        steward.uptime_seconds,
        steward.store,
        steward.schema_version,
        steward.config,
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
    for service in &status.services {
        let last = service.last_event.as_ref().map(|event| {
            format!(
                "{} {} {}",
                output::timestamp(&event.time),
                event.kind,
                event.summary
            )
        });
        table.add_row(vec![
            service.name.clone(),
            service.state.clone(),
            output::or_dash(service.version.as_ref()),
            replicas_cell(service),
            output::or_dash(service.port),
            list(&service.backends),
            output::or_dash(service.health.as_ref()),
            list(&service.depends_on),
            output::or_dash(last),
        ]);
    }
    output::print_table(&table);
    if !status.databases.is_empty() {
        output::line("");
        let mut table = output::table(&["DATABASE", "ENGINE", "MIGRATIONS"]);
        for database in &status.databases {
            table.add_row(vec![
                database.name.clone(),
                database.engine.clone(),
                output::or_dash(database.migrations.as_ref()),
            ]);
        }
        output::print_table(&table);
    }
    Ok(())
}
