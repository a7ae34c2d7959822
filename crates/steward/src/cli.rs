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
  NO_COLOR         set (non-empty) for logs without colour; they only have colour on a terminal
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
    /// Log format on stderr: `json` for log shippers (with `up`, its
    /// notes on stderr are JSON log lines too).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// Whether text logs on stderr are coloured: only when stderr is a
/// terminal (a file or a pipe would keep the escape codes), and not when
/// `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
pub(crate) fn log_colours(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
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
    /// Run the control plane in the foreground until SIGINT, SIGTERM or SIGHUP.
    ///
    /// SIGINT, SIGTERM and SIGHUP (sent when the terminal closes) each stop
    /// steward gracefully: it stops the services' replicas (unless
    /// --keep-services), then exits 0. A second SIGINT or SIGTERM stops it
    /// at once.
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
    /// Probe a steward's `/healthz` (no token needed); exit 0 when healthy.
    /// Used as the container image's HEALTHCHECK.
    Healthcheck {
        /// Give up after this long.
        #[arg(long, default_value = "5s", value_name = "DURATION")]
        timeout: steward_core::HumanDuration,
    },
    /// Database migrations: status, plan, apply, down, repair, backups.
    Migrate(MigrateArgs),
    /// Deploy a release: plan, pre-checks, migrations, rolling or
    /// blue-green update, verification; rolls back by itself on failure.
    Deploy(DeployArgs),
    /// Redeploy the previous successful release (or `--to` a version).
    Rollback(RollbackArgs),
    /// List, show, watch and cancel deployments.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Run PromQL test files (Prometheus' `promql/testdata` `.test` format)
    /// in process; exit 0 when every evaluation passes, 1 when one fails,
    /// 2 when a file cannot be read or is malformed.
    PromqlTest {
        /// Test files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Check and unit-test Prometheus rule files in process, as promtool
    /// does (`promtool check rules`, `promtool test rules`).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// On-call: who the configuration's schedules (`[[oncall.schedules]]`)
    /// have on call, computed locally.
    #[command(subcommand)]
    Oncall(OncallCommand),
    /// Make steward re-read its configuration file, its rule files and its
    /// AlertManager's configuration. Invalid files are refused with every
    /// problem, and what they would have replaced keeps running.
    Reload,
    /// Evaluate a PromQL expression on steward's metrics: a table of the
    /// series and their values, or with `--range` a chart over time.
    Query(QueryArgs),
    /// Print the system's log lines from steward's log store, oldest
    /// first: one service's (or every service's), those holding a text,
    /// or those a LogQL query selects; `--follow` keeps printing new ones.
    Logs(LogsArgs),
    /// The scrape targets: job, instance, health, last scrape and error.
    Targets,
    /// Alerting with Alertmanager 0.25's configuration: its routing tree,
    /// shown and tested as `amtool config routes` does.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Incidents: list, open, acknowledge, resolve, note, run their
    /// response plan's steps, read their timeline, root-cause candidates
    /// and postmortem.
    #[command(subcommand)]
    Incident(IncidentCommand),
}

/// Incident commands.
#[derive(Debug, Subcommand)]
pub(crate) enum IncidentCommand {
    /// Incidents, newest first.
    List {
        /// Only the open ones.
        #[arg(long)]
        open: bool,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One incident: its status, times, services, impact and plan.
    Show {
        /// The incident's id.
        id: String,
    },
    /// Open an incident by hand (escalation and its response plan start).
    Open {
        /// What is happening, in a line.
        #[arg(long)]
        title: String,
        /// SEV1 (worst) to SEV4.
        #[arg(long, default_value = "SEV3")]
        severity: String,
        /// An affected service (repeat for more).
        #[arg(long = "service", value_name = "SERVICE")]
        services: Vec<String>,
        /// Who leads the response.
        #[arg(long)]
        commander: Option<String>,
    },
    /// Acknowledge: someone is on it, paging stops.
    Ack {
        /// The incident's id.
        id: String,
    },
    /// The impact is over (rolled back, failed over).
    Mitigate {
        /// The incident's id.
        id: String,
    },
    /// It is over.
    Resolve {
        /// The incident's id.
        id: String,
    },
    /// It is back: triggered again, paging starts over.
    Reopen {
        /// The incident's id.
        id: String,
    },
    /// Set its severity.
    Severity {
        /// The incident's id.
        id: String,
        /// SEV1 to SEV4.
        severity: String,
    },
    /// Add someone to it (or make them its commander).
    Assign {
        /// The incident's id.
        id: String,
        /// The user.
        user: String,
        /// As the incident commander.
        #[arg(long)]
        commander: bool,
    },
    /// Write a note on its timeline.
    Note {
        /// The incident's id.
        id: String,
        /// The note.
        text: String,
    },
    /// Approve a step of its response plan that waits for approval.
    Approve {
        /// The incident's id.
        id: String,
        /// The step, from 1.
        step: u32,
    },
    /// Run a failed step of its response plan again.
    Retry {
        /// The incident's id.
        id: String,
        /// The step, from 1.
        step: u32,
    },
    /// Leave out a step of its response plan.
    Skip {
        /// The incident's id.
        id: String,
        /// The step, from 1.
        step: u32,
    },
    /// Tick a checklist step of its response plan.
    Done {
        /// The incident's id.
        id: String,
        /// The step, from 1.
        step: u32,
    },
    /// Its timeline from the journal, oldest first.
    Timeline {
        /// The incident's id.
        id: String,
    },
    /// Its root-cause candidates: the changes before the first alert,
    /// likeliest first, with their evidence.
    Candidates {
        /// The incident's id.
        id: String,
    },
    /// Its postmortem draft in Markdown.
    Postmortem {
        /// The incident's id.
        id: String,
        /// Write it to this file instead of the standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Add an action item, or change one (`--item`).
    ActionItem {
        /// The incident's id.
        id: String,
        /// The item to change; a new one without it.
        #[arg(long)]
        item: Option<String>,
        /// What to do.
        #[arg(long)]
        title: Option<String>,
        /// mitigate, prevent or process.
        #[arg(long)]
        kind: Option<String>,
        /// Who does it.
        #[arg(long)]
        owner: Option<String>,
        /// open, in_progress or done.
        #[arg(long)]
        status: Option<String>,
    },
    /// Mean times to detect, acknowledge, mitigate and resolve.
    Stats,
}

/// Alerting commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCommand {
    /// The routing tree of an Alertmanager configuration file, with the
    /// output and exit status of `amtool config routes` (Alertmanager 0.25).
    Routes(RoutesArgs),
    /// What happened to alerts, newest first: rule alerts pending, firing
    /// and resolved, and every notification attempt, from the journal.
    History {
        /// Only this service's.
        #[arg(long)]
        service: Option<String>,
        /// Only since this time: RFC 3339 or a duration ago (`1h`).
        #[arg(long)]
        since: Option<String>,
        /// How many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// Which Alertmanager configuration, and what to do with its routes.
#[derive(Debug, Args)]
pub(crate) struct RoutesArgs {
    /// Alertmanager configuration file (YAML), as amtool's flag. A `.yml`
    /// or `.yaml` file given with the global `--config` is taken too.
    #[arg(long = "config.file", global = true, value_name = "FILE")]
    pub(crate) config_file: Option<PathBuf>,
    /// `show` when left out, as amtool.
    #[command(subcommand)]
    pub(crate) command: Option<RoutesCommand>,
}

/// `steward alerts routes` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RoutesCommand {
    /// Print the routing tree.
    Show,
    /// Print the receivers an alert with these labels goes to,
    /// comma-separated in the tree's order; exit 1 when they differ from
    /// `--verify.receivers`.
    Test {
        /// Print the matching routes as a tree first.
        #[arg(long)]
        tree: bool,
        /// The receivers expected, comma-separated (`a,b`).
        #[arg(long = "verify.receivers", value_name = "A,B")]
        verify_receivers: Option<String>,
        /// The alert's labels, `name=value` (values may be quoted).
        #[arg(value_name = "LABEL")]
        labels: Vec<String>,
    },
}

/// On-call commands.
#[derive(Debug, Subcommand)]
pub(crate) enum OncallCommand {
    /// Who each schedule has on call at a time (now by default): the
    /// user, the layer or override that puts them there, and their shift.
    Who {
        /// The time: RFC 3339 with its offset
        /// (`2026-03-29T09:00:00+02:00`) or `now`.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Only this schedule.
        #[arg(long, value_name = "NAME")]
        schedule: Option<String>,
    },
}

/// Rule file commands, with promtool's output and exit status.
#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Validate rule files as `promtool check rules` does: exit 0 when all
    /// are valid, 1 when any has problems (each naming its file, group and
    /// rule).
    Check {
        /// The expressions are LogQL metric queries (the files of `[rules]
        /// log_files`), not PromQL.
        #[arg(long)]
        logql: bool,
        /// Rule files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run rule unit-test files (promtool's `test rules` format): exit 0
    /// when every test passes, 1 when any fails or a file is invalid.
    Test {
        /// Test files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// What to query, and over which time.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// PromQL expression.
    pub(crate) expr: String,
    /// Evaluation time of an instant query: RFC 3339 or unix seconds (default: now).
    #[arg(long, value_name = "TIME", conflicts_with = "range")]
    pub(crate) time: Option<String>,
    /// Query this long a range ending at `--end` and draw a chart.
    #[arg(long, value_name = "DURATION")]
    pub(crate) range: Option<steward_core::HumanDuration>,
    /// Resolution of a range query (default: the range divided into 240 steps).
    #[arg(long, value_name = "DURATION", requires = "range")]
    pub(crate) step: Option<steward_core::HumanDuration>,
    /// End of a range query: RFC 3339 or unix seconds (default: now).
    #[arg(long, value_name = "TIME", requires = "range")]
    pub(crate) end: Option<String>,
}

/// Which log lines to print.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Only this service's lines (default: every service's).
    pub(crate) service: Option<String>,
    /// Lines from this long ago.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub(crate) since: steward_core::HumanDuration,
    /// Only lines containing this text (case-sensitive).
    #[arg(long, value_name = "TEXT")]
    pub(crate) grep: Option<String>,
    /// A LogQL log query instead of SERVICE and --grep, e.g.
    /// `{service="worker"} | json | level="error"`.
    #[arg(long, value_name = "LOGQL")]
    pub(crate) query: Option<String>,
    /// The most lines printed before following (the newest).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub(crate) limit: u32,
    /// Keep printing new lines as they come.
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
}

/// What to deploy.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Release version (substituted for `{version}` in commands and images).
    pub(crate) version: steward_core::Version,
    /// Only these services (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub(crate) services: Option<Vec<steward_core::Name>>,
    /// Print the plan and the pre-deployment checks; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Go on even if pre-deployment checks fail (journaled as forced).
    #[arg(long)]
    pub(crate) force: bool,
    /// Why, for the journal.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Follow the deployment to its end; exit 0 only if it succeeded.
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long the deployment waits for one in progress to finish
    /// (default 10m; `0` refuses at once). Steward waits, not this command,
    /// so any length works; the deployment's events say whose it waits for.
    #[arg(long, value_name = "DURATION")]
    pub(crate) wait_lock: Option<steward_core::HumanDuration>,
}

/// What to roll back.
#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// Only this service (default: the whole previous release).
    pub(crate) service: Option<steward_core::Name>,
    /// This version instead of the previous successful one.
    #[arg(long, value_name = "VERSION")]
    pub(crate) to: Option<steward_core::Version>,
    /// Why, for the journal.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Follow the rollback to its end; exit 0 only if it succeeded.
    #[arg(long)]
    pub(crate) wait: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeploymentsCommand {
    /// Deployments, newest first.
    List {
        /// Only those touching this service.
        #[arg(long)]
        service: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One deployment: plan, checks, steps.
    Show {
        /// Deployment id.
        id: String,
    },
    /// Follow a deployment to its end (exit 0 only if it succeeded).
    Watch {
        /// Deployment id.
        id: String,
    },
    /// Cancel a running deployment; it rolls back.
    Cancel {
        /// Deployment id.
        id: String,
    },
}

/// Which database to migrate, and how.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// A database of the configuration, by name (default: the only one).
    #[arg(long, short = 'd', global = true, conflicts_with = "url")]
    pub(crate) database: Option<String>,
    /// Database URL, to migrate without a configuration (sqlite://, postgres://, mysql://).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub(crate) url: Option<String>,
    /// Migrations directory (default: the configured one, else ./migrations).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) dir: Option<PathBuf>,
    /// Where backups go (default: <data_dir>/backups/<database>).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) backup_dir: Option<PathBuf>,
    /// How long to wait for another run's lock.
    #[arg(long, global = true, default_value = "30s", value_name = "DURATION")]
    pub(crate) lock_timeout: steward_core::HumanDuration,
    /// When to back up: auto (SQLite before each migration, others once per run when the dump tool is installed), per-migration, per-run, off.
    #[arg(long, global = true, value_enum, default_value_t = BackupArg::Auto)]
    pub(crate) backup: BackupArg,
    /// Backups to keep after a successful run (default: `[retention]
    /// backups_keep` for a configured database, else 10).
    #[arg(long, global = true, value_name = "N")]
    pub(crate) keep_backups: Option<usize>,
    #[command(subcommand)]
    pub(crate) command: MigrateCommand,
}

/// Backup policies.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum BackupArg {
    /// The engine's default.
    Auto,
    /// Before each migration.
    PerMigration,
    /// Once per run.
    PerRun,
    /// Never.
    Off,
}

/// Lint severities a plan may be refused at.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SeverityArg {
    /// Any finding.
    Info,
    /// Warnings and errors.
    Warning,
    /// Errors only.
    Error,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MigrateCommand {
    /// List applied, pending, changed, missing, out-of-order and failed migrations.
    Status,
    /// Fail (exit 1) when any migration is changed, missing, failed or out of order.
    Validate {
        /// Pending migrations older than the newest applied one are not a problem.
        #[arg(long)]
        allow_out_of_order: bool,
    },
    /// Print the exact SQL that apply would run, in order, with lint findings.
    Plan {
        /// Fail when a finding is at least this severe.
        #[arg(long, value_enum)]
        deny: Option<SeverityArg>,
        /// Plan only up to this version.
        #[arg(long)]
        target: Option<String>,
        /// Include pending migrations older than the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
    },
    /// Apply pending migrations.
    Apply {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply only up to this version.
        #[arg(long)]
        target: Option<String>,
        /// Refuse when a lint finding is at least this severe.
        #[arg(long, value_enum)]
        deny: Option<SeverityArg>,
        /// Run pending migrations older than the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
    },
    /// Undo the newest migration, or every one above --to, with their down files.
    Down {
        /// Undo every migration newer than this version (0 for all).
        #[arg(long)]
        to: Option<String>,
    },
    /// Re-align checksums of edited migrations and clear failed rows (shows the changes first).
    Repair {
        /// Make the changes without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Adopt an existing database: record VERSION as applied.
    Baseline {
        /// The version the database already has.
        version: String,
    },
    /// Report whether the live schema differs from what the migrations produced.
    Drift,
    /// List backups.
    Backups,
    /// Restore a backup (by id or unique id prefix).
    Restore {
        /// The backup.
        backup: String,
        /// Restore without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Configuration file; without one, ./steward.toml or the embedded example system.
    #[arg(value_name = "CONFIG")]
    pub(crate) file: Option<PathBuf>,
    /// Leave the services' replicas running when steward stops (the next
    /// `steward up` adopts them) instead of stopping them.
    #[arg(long)]
    pub(crate) keep_services: bool,
    /// Serve the API only: do not deploy or supervise services.
    #[arg(long, conflicts_with = "keep_services")]
    pub(crate) no_services: bool,
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
