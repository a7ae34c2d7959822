//! `steward reload`: makes a running steward re-read its configuration
//! file, its rule files and its AlertManager's configuration (`POST
//! /api/v1/reload`). Steward refuses invalid files (a 422 whose message
//! lists every problem and what was reloaded nonetheless) and keeps
//! running what it had for the part they belong to.

use steward_server::api_types::ReloadOutcome;

use crate::{
    cli::{Global, OutputFormat},
    client::Client,
    output,
};

/// Asks steward to reload and prints what it loaded.
pub(crate) async fn run(global: &Global) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let response: ReloadOutcome = client
        .post("/api/v1/reload", &serde_json::json!({}))
        .await?;
    if global.output == OutputFormat::Json {
        output::json(&response);
    } else {
        output::line(&summary(&response));
    }
    Ok(())
}

/// `reloaded N rule groups (M rules) from K files`, and `; the
/// Alertmanager configuration from F (R receivers)` from a steward that
/// runs its AlertManager.
fn summary(response: &ReloadOutcome) -> String {
    let rules = format!(
        "reloaded {} ({}) from {}",
        counted(response.groups, "rule group"),
        counted(response.rules, "rule"),
        counted(response.rule_files.len(), "file"),
    );
    match &response.alertmanager {
        Some(am) => format!(
            "{rules}; the Alertmanager configuration from {} ({})",
            am.config,
            counted(am.receivers.len(), "receiver")
        ),
        None => rules,
    }
}

/// `1 rule`, `2 rules`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests;
