//! `steward healthcheck`: asks a steward's open `/healthz` whether it is
//! healthy, for container health checks and scripts (no token, no curl).

use std::time::Duration;

use anyhow::{Context, bail};
use steward_server::api_types::Health;

use crate::{
    cli::{Global, OutputFormat},
    local, output,
};

pub(crate) async fn run(global: &Global, timeout: Duration) -> anyhow::Result<()> {
    let base = match &global.server {
        Some(server) => server.trim_end_matches('/').to_owned(),
        None => local::server_url(&local::load_config(&local::resolve(
            global.config.as_deref(),
        ))?),
    };
    let url = format!("{base}/healthz");
    let client = reqwest::Client::builder().timeout(timeout).build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    // Whatever the status, a steward answers with its health; anything
    // else (a proxy's error page) is shown as no health at all.
    let health: Option<Health> = response.json().await.ok();
    if global.output == OutputFormat::Json {
        output::json(&health);
    } else {
        output::line(&format!(
            "{url}: {} {}",
            status.as_u16(),
            output::or_dash(health.as_ref().map(|health| &health.status))
        ));
    }
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    Ok(())
}
