//! `steward alerts history` (in `history.rs`) and
//! `steward alerts routes show|test`: an Alertmanager configuration's
//! routing tree, loaded and checked by steward-alert, printed and tested
//! with the output and exit status of `amtool config routes` (Alertmanager
//! 0.25), so that scripts and CI can swap one for the other.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};
use steward_alert::{Config, LabelSet, MatchType, Route, matchers::parse_matcher};
use steward_core::format_duration;

use crate::{
    Reported,
    cli::{AlertsCommand, Global, OutputFormat, RoutesArgs, RoutesCommand},
    output,
};

/// amtool's line when `--verify.receivers` differs from the result.
const VERIFY_FAILED: &str = "WARNING: Expected receivers did not match resolved receivers.";

mod history;

/// Runs an `alerts` subcommand.
pub(crate) async fn run(global: &Global, command: AlertsCommand) -> anyhow::Result<()> {
    match command {
        AlertsCommand::Routes(args) => routes(global, args),
        AlertsCommand::History {
            service,
            since,
            limit,
        } => history::run(global, service, since, limit).await,
    }
}

/// The Alertmanager configuration file: `--config.file`, else a YAML file
/// given with the global `--config`.
fn config_file(global: &Global, args: &RoutesArgs) -> anyhow::Result<PathBuf> {
    let yaml = |path: &&PathBuf| {
        path.extension()
            .is_some_and(|ext| ext == "yml" || ext == "yaml")
    };
    args.config_file
        .clone()
        .or_else(|| global.config.as_ref().filter(yaml).cloned())
        .ok_or_else(|| {
            anyhow::anyhow!("no Alertmanager configuration: give it with --config.file FILE")
        })
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load_file(path)?)
}

fn routes(global: &Global, args: RoutesArgs) -> anyhow::Result<()> {
    let json = global.output == OutputFormat::Json;
    let path = config_file(global, &args)?;
    let config = load(&path)?;
    let root = Route::from_config(&config);
    match args.command.unwrap_or(RoutesCommand::Show) {
        RoutesCommand::Show => {
            for warning in config.warnings() {
                output::note(&format!("note: {warning}"));
            }
            if json {
                output::json(&route_json(&root));
            } else {
                for line in show_lines(&root) {
                    output::line(&line);
                }
            }
            Ok(())
        }
        RoutesCommand::Test {
            tree,
            verify_receivers,
            labels,
        } => {
            let labels = parse_labels(&labels).context("failed to parse labels")?;
            let tested = test(&root, &labels, tree, verify_receivers.as_deref());
            if json {
                output::json(&tested.json);
            } else {
                for line in &tested.lines {
                    output::line(line);
                }
            }
            if tested.verified {
                Ok(())
            } else {
                Err(Reported(VERIFY_FAILED.to_owned()).into())
            }
        }
    }
}

/// The labels of `routes test`, each `name=value` as amtool reads them
/// (a matcher that must be `=`); a later label wins over an earlier one.
pub(crate) fn parse_labels(args: &[String]) -> anyhow::Result<LabelSet> {
    let mut labels = LabelSet::new();
    for arg in args {
        let matcher = parse_matcher(arg)?;
        if matcher.kind != MatchType::Equal {
            anyhow::bail!("labels must be specified as key=value pairs");
        }
        labels.insert(matcher.name, matcher.value);
    }
    Ok(labels)
}

/// `amtool config routes show`: a heading, the tree, a blank line.
pub(crate) fn show_lines(root: &Route) -> Vec<String> {
    let mut lines = vec!["Routing tree:".to_owned()];
    lines.extend(root.tree().lines().map(str::to_owned));
    lines.push(String::new());
    lines
}

/// What `routes test` prints, and whether the receivers are the expected ones.
pub(crate) struct Tested {
    /// amtool's lines.
    pub(crate) lines: Vec<String>,
    /// The JSON document of `-o json`.
    pub(crate) json: Value,
    /// False when `--verify.receivers` was given and differs.
    pub(crate) verified: bool,
}

/// `amtool config routes test`: with `--tree` the matching routes and two
/// blank lines, then the receivers comma-separated, then amtool's warning
/// when they are not the expected ones.
pub(crate) fn test(root: &Route, labels: &LabelSet, tree: bool, expected: Option<&str>) -> Tested {
    let matched = root.r#match(labels);
    let receivers: Vec<&str> = matched.iter().map(|r| r.opts().receiver.as_str()).collect();
    let slug = receivers.join(",");
    // amtool compares the joined text, and treats an empty flag as unset.
    let verified = expected.is_none_or(|expected| expected.is_empty() || expected == slug);
    let mut lines = Vec::new();
    if tree {
        lines.push("Matching routes:".to_owned());
        lines.extend(root.matching_tree(labels).lines().map(str::to_owned));
        lines.push(String::new());
        lines.push(String::new());
    }
    lines.push(slug);
    if !verified {
        lines.push(VERIFY_FAILED.to_owned());
    }
    let json = json!({
        "receivers": receivers,
        "routes": matched.iter().map(|r| opts_json(r)).collect::<Vec<_>>(),
        "verified": verified,
    });
    Tested {
        lines,
        json,
        verified,
    }
}

/// A route's id, matchers and options.
fn opts_json(route: &Route) -> Value {
    let opts = route.opts();
    json!({
        "id": route.id(),
        "matchers": route.matchers().0.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "continue": route.continues(),
        "receiver": opts.receiver,
        "group_by": if opts.group_by_all {
            vec!["...".to_owned()]
        } else {
            opts.group_by.iter().cloned().collect()
        },
        "group_wait": format_duration(opts.group_wait),
        "group_interval": format_duration(opts.group_interval),
        "repeat_interval": format_duration(opts.repeat_interval),
        "mute_time_intervals": opts.mute_time_intervals,
        "active_time_intervals": opts.active_time_intervals,
    })
}

/// The whole tree: each route's options and its children.
fn route_json(route: &Route) -> Value {
    let mut value = opts_json(route);
    value["routes"] = Value::Array(route.routes().iter().map(route_json).collect());
    value
}

#[cfg(test)]
mod tests;
