//! One module per command; [`run`] dispatches.

mod alerts;
mod check_config;
mod deploy;
mod events;
mod healthcheck;
mod incident;
mod logs;
mod migrate;
mod oncall;
mod prometheus;
mod promql_test;
mod query;
mod reload;
mod rules;
mod status;
mod targets;
mod token;
mod up;

use crate::cli::{Cli, Command};

/// Runs the command the user asked for.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    match command {
        Command::Up(args) => up::run(&global, args).await,
        Command::CheckConfig(args) => check_config::run(&global, &args),
        Command::ConfigSchema => {
            crate::output::json(&steward_config::json_schema());
            Ok(())
        }
        Command::Token(command) => token::run(&global, command).await,
        Command::Events(command) => events::run(&global, command).await,
        Command::Status => status::run(&global).await,
        Command::Healthcheck { timeout } => healthcheck::run(&global, timeout.get()).await,
        Command::Migrate(args) => migrate::run(&global, args).await,
        Command::Deploy(args) => deploy::deploy(&global, args).await,
        Command::Rollback(args) => deploy::rollback(&global, args).await,
        Command::Deployments(command) => deploy::deployments(&global, command).await,
        Command::PromqlTest { files } => promql_test::run(&global, &files),
        Command::Rules(command) => rules::run(&global, command),
        Command::Oncall(command) => oncall::run(&global, command),
        Command::Reload => reload::run(&global).await,
        Command::Query(args) => query::run(&global, args).await,
        Command::Logs(args) => logs::run(&global, args).await,
        Command::Targets => targets::run(&global).await,
        Command::Alerts(command) => alerts::run(&global, command).await,
        Command::Incident(command) => incident::run(&global, command).await,
    }
}
