//! `steward targets`: the targets steward scrapes, with their health and
//! last scrape, from its Prometheus API.

use chrono::{DateTime, Utc};

use super::prometheus::{self, ActiveTarget, TargetDiscovery};
use crate::{
    cli::{Global, OutputFormat},
    client::Client,
    output,
};

pub(crate) async fn run(global: &Global) -> anyhow::Result<()> {
    let client = Client::new(global)?;
    let data: TargetDiscovery = prometheus::get(&client, "/api/v1/targets", &[]).await?;
    if global.output == OutputFormat::Json {
        output::json(&data);
        return Ok(());
    }
    let mut table = output::table(&[
        "JOB",
        "INSTANCE",
        "HEALTH",
        "LAST SCRAPE",
        "DURATION",
        "ERROR",
    ]);
    let now = Utc::now();
    for target in &data.active_targets {
        table.add_row(row(target, now));
    }
    output::print_table(&table);
    Ok(())
}

/// One target as a table row, its last scrape as an age at `now`.
fn row(target: &ActiveTarget, now: DateTime<Utc>) -> Vec<String> {
    let error = if target.last_error.is_empty() {
        "-".to_owned()
    } else {
        target.last_error.clone()
    };
    vec![
        target.scrape_pool.clone(),
        output::or_dash(target.labels.get("instance")),
        target.health.clone(),
        age(&target.last_scrape, now),
        duration(target.last_scrape_duration),
        error,
    ]
}

/// How long ago an RFC 3339 time was: `3s ago`; `never` for the epoch
/// (what Prometheus reports for a target not scraped yet).
fn age(time: &str, now: DateTime<Utc>) -> String {
    match DateTime::parse_from_rfc3339(time) {
        Ok(time) if time.timestamp() <= 0 => "never".to_owned(),
        Ok(time) => {
            let ago = (now - time.with_timezone(&Utc))
                .to_std()
                .unwrap_or_default();
            // Whole seconds: milliseconds of age are noise in a listing.
            let ago = std::time::Duration::from_secs(ago.as_secs());
            format!("{} ago", steward_core::format_duration(ago))
        }
        Err(_) => time.to_owned(),
    }
}

/// A scrape's duration in seconds, in milliseconds or seconds.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        "-".to_owned()
    } else if seconds < 1.0 {
        format!("{:.1}ms", seconds * 1000.0)
    } else {
        format!("{seconds:.2}s")
    }
}

#[cfg(test)]
mod tests;
