//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the operation failed (steward answered with an error, or could not be reached)
  2  usage or configuration error (bad arguments, invalid steward.toml, invalid request)

Environment:
  STEWARD_SERVER   API URL (default: from the configuration, http://127.0.0.1:7373)
  STEWARD_TOKEN    API token (default: <data_dir>/admin.token of the local configuration)
  STEWARD_CONFIG   configuration file (default: ./steward.toml, else the embedded example)
  STEWARD_LOG      log filter, e.g. `debug` or `steward_server=debug`
  STEWARD_<SECTION>__<KEY>  overrides a configuration key, e.g. STEWARD_SERVER__LISTEN";

/// Steward: the operations plane of an AI agent system.
#[derive(Debug, Parser)]
#[command(name = "steward", version, about, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Configuration file (also used to find a local server and its admin token).
    #[arg(
        long,
        short = 'c',
        env = "STEWARD_CONFIG",
        global = true,
        value_name = "PATH"
    )]
    pub(crate) config: Option<PathBuf>,
    /// Steward API URL.
    #[arg(long, env = "STEWARD_SERVER", global = true, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// API token.
    #[arg(
        long,
        env = "STEWARD_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
    /// PEM certificate to trust for a steward served over TLS with a private CA.
    #[arg(long, env = "STEWARD_CA_CERT", global = true, value_name = "PATH")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Output format of read commands.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) output: OutputFormat,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts and CI (one document, or one object per line when following).
    Json,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the control plane in the foreground until SIGINT or SIGTERM.
    Up(UpArgs),
    /// Validate a configuration file and report every problem with file:line:column.
    CheckConfig(CheckConfigArgs),
    /// Print the JSON Schema of steward.toml (for editor completion and validation).
    ConfigSchema,
    /// Manage API tokens (admin role).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the event journal.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Show steward's state and the services it knows.
    Status,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Configuration file; without one, ./steward.toml or the embedded example system.
    #[arg(value_name = "CONFIG")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// Configuration file; without one, ./steward.toml or the embedded example system.
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it once.
    Create {
        /// Token name (lowercase letters, digits and `-`).
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List tokens.
    List {
        /// Include revoked tokens.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a token by id or name.
    Revoke {
        /// Token id (`tok_...`) or name.
        #[arg(value_name = "TOKEN")]
        id_or_name: String,
    },
}

/// Roles, weakest first.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Read state, events and metrics.
    Viewer,
    /// Also change the operated system.
    Operator,
    /// Also manage steward itself.
    Admin,
}

impl RoleArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RoleArg::Viewer => "viewer",
            RoleArg::Operator => "operator",
            RoleArg::Admin => "admin",
        }
    }
}

/// Filters shared by `events list` and `events tail`.
#[derive(Debug, Args, Default)]
pub(crate) struct EventFilters {
    /// Only this kind and its sub-kinds (`deploy` matches `deploy.started`).
    #[arg(long)]
    pub(crate) kind: Option<String>,
    /// Only events about this service.
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// Only events by this actor, e.g. `token:ci` or `system`.
    #[arg(long)]
    pub(crate) actor: Option<String>,
    /// Only events whose summary or payload contains this text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) grep: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// List events, newest first.
    List {
        #[command(flatten)]
        filters: EventFilters,
        /// Only events at or after this time: RFC 3339 or a duration ago (`15m`).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this time: RFC 3339 or a duration ago.
        #[arg(long)]
        until: Option<String>,
        /// How many events (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from the cursor a previous listing printed.
        #[arg(long)]
        cursor: Option<i64>,
        /// Oldest first instead of newest first.
        #[arg(long)]
        reverse: bool,
    },
    /// Follow new events as they happen, until interrupted.
    Tail {
        #[command(flatten)]
        filters: EventFilters,
        /// Start after this event id (replaying everything newer).
        #[arg(long)]
        after: Option<i64>,
    },
}

#[cfg(test)]
mod tests;
