//! `steward healthcheck`: asks a steward's open `/healthz` whether it is
//! healthy, for container health checks and scripts (no token, no curl).

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

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
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if global.output == OutputFormat::Json {
        output::json(&body);
    } else {
        output::line(&format!(
            "{url}: {} {}",
            status.as_u16(),
            output::text(&body["status"])
        ));
    }
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    Ok(())
}
