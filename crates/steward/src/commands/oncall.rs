//! `steward oncall who`: who each of the configuration's schedules has on
//! call at a time, computed from the configuration (no server needed:
//! schedules are pure functions of their configuration and the time).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use steward_incident::oncall::{Schedule, Shift, Source};

use crate::{
    UsageError,
    cli::{Global, OncallCommand, OutputFormat},
    local, output,
};

/// Runs an `oncall` subcommand.
pub(crate) fn run(global: &Global, command: OncallCommand) -> anyhow::Result<()> {
    match command {
        OncallCommand::Who { at, schedule } => who(global, at.as_deref(), schedule.as_deref()),
    }
}

/// `--at`: RFC 3339 with an offset, or `now`.
fn parse_at(text: &str) -> Result<DateTime<Utc>, UsageError> {
    if text == "now" {
        return Ok(Utc::now());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            UsageError(format!(
                "--at {text}: expected a time with its offset such as 2026-03-29T09:00:00+02:00, or now"
            ))
        })
}

fn who(global: &Global, at: Option<&str>, only: Option<&str>) -> anyhow::Result<()> {
    let at = at.map(parse_at).transpose()?.unwrap_or_else(Utc::now);
    let loaded = local::load_config(&local::resolve(global.config.as_deref()))?;
    let specs = &loaded.config.oncall.schedules;
    if specs.is_empty() {
        return Err(UsageError(format!(
            "{} has no [[oncall.schedules]]",
            loaded.display_name()
        ))
        .into());
    }
    let selected: Vec<_> = specs
        .iter()
        .filter(|s| only.is_none_or(|name| s.name == name))
        .collect();
    if let Some(name) = only
        && selected.is_empty()
    {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        return Err(UsageError(format!(
            "no schedule named {name:?} in {} (schedules: {})",
            loaded.display_name(),
            names.join(", ")
        ))
        .into());
    }
    let mut rows = Vec::with_capacity(selected.len());
    for spec in selected {
        let schedule = Schedule::new(spec)?;
        let shift = schedule.shift_at(at)?;
        rows.push((schedule, shift));
    }
    if global.output == OutputFormat::Json {
        let all: Vec<Value> = rows
            .iter()
            .map(|(schedule, shift)| shift_json(schedule, shift.as_ref()))
            .collect();
        output::json(&json!({"at": output::timestamp(&at), "schedules": all}));
        return Ok(());
    }
    let mut table = output::table(&["SCHEDULE", "ON CALL", "VIA", "SINCE", "UNTIL"]);
    for (schedule, shift) in &rows {
        let local = |t: &DateTime<Utc>| {
            t.with_timezone(&schedule.time_zone())
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        };
        match shift {
            Some(shift) => table.add_row(vec![
                schedule.name().to_owned(),
                shift.user.clone(),
                source_text(&shift.source).to_owned(),
                local(&shift.start),
                local(&shift.end),
            ]),
            None => table.add_row(vec![
                schedule.name().to_owned(),
                "nobody".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]),
        };
    }
    output::print_table(&table);
    Ok(())
}

fn source_text(source: &Source) -> &str {
    match source {
        Source::Layer(name) => name,
        Source::Override => "override",
    }
}

/// `{"schedule", "time_zone", "user", "layer" | "override", "since",
/// "until"}`; `user` null when nobody is on call.
fn shift_json(schedule: &Schedule, shift: Option<&Shift>) -> Value {
    let Some(shift) = shift else {
        return json!({"schedule": schedule.name(), "time_zone": schedule.time_zone().name(), "user": null});
    };
    let (layer, is_override) = match &shift.source {
        Source::Layer(name) => (Some(name.as_str()), false),
        Source::Override => (None, true),
    };
    json!({
        "schedule": schedule.name(),
        "time_zone": schedule.time_zone().name(),
        "user": shift.user,
        "layer": layer,
        "override": is_override,
        "since": output::timestamp(&shift.start),
        "until": output::timestamp(&shift.end),
    })
}

#[cfg(test)]
mod tests;
