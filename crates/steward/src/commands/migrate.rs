//! `steward migrate`: the migration engine from the command line, against
//! a configured database or a URL, without a running server.

use std::{
    io::IsTerminal,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use steward_core::Severity;
use steward_migrate::{
    BackupPolicy, MigrationManager, Options, Plan, Source,
    lint::Finding,
    progress::{Progress, ProgressEvent},
    status::{State, Status},
};

use crate::{
    UsageError,
    cli::{BackupArg, Global, MigrateArgs, MigrateCommand, OutputFormat, SeverityArg},
    local, output,
};

/// A migration failed, was refused or found problems: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failed(String);

impl From<SeverityArg> for Severity {
    fn from(value: SeverityArg) -> Self {
        match value {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Error => Severity::Error,
        }
    }
}

/// The database, migrations directory and backup directory to use.
/// Backups kept for a database given by `--url` (a configured one keeps
/// `[retention] backups_keep`).
const DEFAULT_KEEP_BACKUPS: usize = 10;

struct Target {
    url: String,
    dir: PathBuf,
    backup_dir: PathBuf,
    name: String,
    /// Backups to keep when `--keep-backups` is not given.
    keep_backups: usize,
}

fn resolve(global: &Global, args: &MigrateArgs) -> anyhow::Result<Target> {
    if let Some(url) = &args.url {
        let dir = args
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("migrations"));
        let backup_dir = args
            .backup_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".steward/backups"));
        return Ok(Target {
            url: url.clone(),
            dir,
            backup_dir,
            name: "database".to_owned(),
            keep_backups: DEFAULT_KEEP_BACKUPS,
        });
    }
    let source = local::resolve(global.config.as_deref());
    let loaded = local::load_config(&source)?;
    let databases = &loaded.config.databases;
    let database = match &args.database {
        Some(name) => databases
            .iter()
            .find(|d| d.name.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = databases.iter().map(|d| d.name.as_str()).collect();
                UsageError(format!(
                    "no database `{name}` in {} (configured: {})",
                    loaded.display_name(),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ))
            })?,
        None => match databases.as_slice() {
            [only] => only,
            [] => {
                return Err(UsageError(format!(
                    "{} configures no database; pass --url (or DATABASE_URL) and --dir",
                    loaded.display_name()
                ))
                .into());
            }
            _ => {
                let names: Vec<&str> = databases.iter().map(|d| d.name.as_str()).collect();
                return Err(UsageError(format!(
                    "several databases are configured; pass --database ({})",
                    names.join(", ")
                ))
                .into());
            }
        },
    };
    let dir = match (&args.dir, &database.migrations) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => {
            return Err(UsageError(format!(
                "database `{}` has no migrations directory; pass --dir",
                database.name
            ))
            .into());
        }
    };
    Ok(Target {
        url: database.url.expose().clone(),
        dir,
        backup_dir: args.backup_dir.clone().unwrap_or_else(|| {
            steward_migrate::configured::backup_dir(loaded.data_dir(), database)
        }),
        name: database.name.to_string(),
        keep_backups: loaded.config.retention.backups_to_keep(),
    })
}

fn migration_manager(
    target: &Target,
    args: &MigrateArgs,
    configure: impl FnOnce(&mut Options),
) -> anyhow::Result<MigrationManager> {
    let source = Source::from_dir(&target.dir)?;
    let mut options = Options::new(&target.backup_dir);
    options.lock_timeout = args.lock_timeout.get();
    options.keep_backups = args.keep_backups.unwrap_or(target.keep_backups);
    options.backup = match args.backup {
        BackupArg::Auto => BackupPolicy::Auto,
        BackupArg::PerMigration => BackupPolicy::PerMigration,
        BackupArg::PerRun => BackupPolicy::PerRun,
        BackupArg::Off => BackupPolicy::Off,
    };
    configure(&mut options);
    Ok(MigrationManager::new(&target.url, source, options)?)
}

/// Runs `steward migrate <subcommand>`, one function per subcommand.
pub(crate) async fn run(global: &Global, args: MigrateArgs) -> anyhow::Result<()> {
    let target = resolve(global, &args)?;
    let run = Invocation {
        target: &target,
        args: &args,
        json: global.output == OutputFormat::Json,
    };
    match &args.command {
        MigrateCommand::Status => run.status().await,
        MigrateCommand::Validate { allow_out_of_order } => run.validate(*allow_out_of_order).await,
        MigrateCommand::Plan {
            deny,
            target: version,
            allow_out_of_order,
        } => {
            run.plan(
                deny.map(Severity::from),
                version.as_deref(),
                *allow_out_of_order,
            )
            .await
        }
        MigrateCommand::Apply {
            dry_run,
            target: version,
            deny,
            allow_out_of_order,
        } => {
            run.apply(
                *dry_run,
                version.as_deref(),
                deny.map(Severity::from),
                *allow_out_of_order,
            )
            .await
        }
        MigrateCommand::Down { to } => run.down(to.as_deref()).await,
        MigrateCommand::Repair { yes } => run.repair(*yes).await,
        MigrateCommand::Baseline { version } => run.baseline(version).await,
        MigrateCommand::Drift => run.drift().await,
        MigrateCommand::Backups => run.backups(),
        MigrateCommand::Restore { backup, yes } => run.restore(backup, *yes).await,
    }
}

/// One `steward migrate` command line: what every subcommand needs.
struct Invocation<'a> {
    target: &'a Target,
    args: &'a MigrateArgs,
    json: bool,
}

impl Invocation<'_> {
    /// The manager for the target, with the options the common arguments
    /// set, adjusted by `configure`.
    fn migration_manager(
        &self,
        configure: impl FnOnce(&mut Options),
    ) -> anyhow::Result<MigrationManager> {
        migration_manager(self.target, self.args, configure)
    }

    /// `migrate status`.
    async fn status(&self) -> anyhow::Result<()> {
        let status = self.migration_manager(|_| {})?.status().await?;
        if self.json {
            output::json(&status);
        } else {
            print_status(self.target, &status);
        }
        Ok(())
    }

    /// `migrate validate`: exit 1 when any migration needs attention.
    async fn validate(&self, allow_out_of_order: bool) -> anyhow::Result<()> {
        let status = self
            .migration_manager(|o| o.allow_out_of_order = allow_out_of_order)?
            .status()
            .await?;
        let problems = status.problems(allow_out_of_order);
        if self.json {
            output::json(&json!({"valid": problems.is_empty(), "problems": problems}));
        } else if problems.is_empty() {
            output::line(&format!(
                "ok: {} migrations, none changed, missing, failed or out of order",
                status.entries.len()
            ));
        } else {
            print_status(self.target, &status);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Failed(format!("{} migration(s) need attention", problems.len())).into())
        }
    }

    /// `migrate plan`: exit 1 when a finding reaches `deny`.
    async fn plan(
        &self,
        deny: Option<Severity>,
        version: Option<&str>,
        allow_out_of_order: bool,
    ) -> anyhow::Result<()> {
        let manager = self.migration_manager(|o| {
            o.target = version.map(str::to_owned);
            o.allow_out_of_order = allow_out_of_order;
        })?;
        let plan = manager.plan().await?;
        print_plan(self.json, &plan);
        deny_check(&plan.findings, deny)
    }

    /// `migrate apply`, or its plan with `--dry-run`.
    async fn apply(
        &self,
        dry_run: bool,
        version: Option<&str>,
        deny: Option<Severity>,
        allow_out_of_order: bool,
    ) -> anyhow::Result<()> {
        let manager = self.migration_manager(|o| {
            o.target = version.map(str::to_owned);
            o.deny = deny;
            o.allow_out_of_order = allow_out_of_order;
        })?;
        if dry_run {
            let plan = manager.plan().await?;
            print_plan(self.json, &plan);
            return deny_check(&plan.findings, deny);
        }
        let reporter = Arc::new(Reporter::new(self.json));
        let manager = manager.with_progress(reporter.clone());
        let result = manager.apply().await;
        reporter.finish();
        let report = result?;
        let target = self.target;
        if self.json {
            output::json_line(&json!({"event": "result", "report": report}));
        } else if report.migrations.is_empty() {
            output::line(&format!("{} is up to date", target.name));
        } else {
            let total: i64 = report.migrations.iter().map(|m| m.execution_ms).sum();
            output::line(&format!(
                "applied {} migration(s) to {} in {total} ms{}",
                report.migrations.len(),
                target.name,
                match report.backups.len() {
                    0 => String::new(),
                    n => format!(", {n} backup(s) in {}", target.backup_dir.display()),
                }
            ));
        }
        Ok(())
    }

    /// `migrate down`.
    async fn down(&self, to: Option<&str>) -> anyhow::Result<()> {
        let reporter = Arc::new(Reporter::new(self.json));
        let manager = self
            .migration_manager(|_| {})?
            .with_progress(reporter.clone());
        let result = manager.down(to).await;
        reporter.finish();
        let report = result?;
        if self.json {
            output::json_line(&json!({"event": "result", "report": report}));
        } else if report.migrations.is_empty() {
            output::line("nothing to undo");
        } else {
            for migration in &report.migrations {
                output::line(&format!(
                    "undid {} ({} ms)",
                    migration.migration, migration.execution_ms
                ));
            }
        }
        Ok(())
    }

    /// `migrate repair`: shows the changes, asks unless `yes`, makes them.
    async fn repair(&self, yes: bool) -> anyhow::Result<()> {
        let manager = self.migration_manager(|_| {})?;
        let actions = manager.repair_plan().await?;
        if actions.is_empty() {
            if self.json {
                output::json(&json!({"repaired": []}));
            } else {
                output::line("nothing to repair");
            }
            return Ok(());
        }
        if !self.json {
            output::line("repair will:");
            for action in &actions {
                output::line(&format!("  {}: {}", action.migration, action.action));
            }
        }
        if !yes && !confirm("make these changes to the history?")? {
            return Err(Failed("repair cancelled; nothing was changed".into()).into());
        }
        let done = manager.repair().await?;
        if self.json {
            output::json(&json!({"repaired": done}));
        } else {
            output::line(&format!("repaired {} history row(s)", done.len()));
        }
        Ok(())
    }

    /// `migrate baseline`.
    async fn baseline(&self, version: &str) -> anyhow::Result<()> {
        self.migration_manager(|_| {})?.baseline(version).await?;
        output::line(&format!(
            "{} adopted at version {version}",
            self.target.name
        ));
        Ok(())
    }

    /// `migrate drift`: exit 1 when the schema drifted.
    async fn drift(&self) -> anyhow::Result<()> {
        let drift = self.migration_manager(|_| {})?.drift().await?;
        let target = self.target;
        if self.json {
            output::json(&drift);
        } else if drift.drifted {
            output::line(&format!(
                "drift: the live schema of {} (fingerprint {}) is not what migration {} left (fingerprint {})",
                target.name,
                short(&drift.actual),
                drift.recorded_by.as_deref().unwrap_or("-"),
                drift.expected.as_deref().map_or("-", short)
            ));
        } else if drift.expected.is_none() {
            output::line(&format!(
                "unknown: migration {} of {} recorded no fingerprint (its run stopped before writing it), \
                 so there is nothing to compare with; the next apply records one",
                drift.recorded_by.as_deref().unwrap_or("-"),
                target.name
            ));
        } else {
            output::line(&format!(
                "no drift: the schema of {} is what the migrations produced",
                target.name
            ));
        }
        if drift.drifted {
            Err(Failed("the schema drifted".into()).into())
        } else {
            Ok(())
        }
    }

    /// `migrate backups`.
    fn backups(&self) -> anyhow::Result<()> {
        let backups = self.migration_manager(|_| {})?.backups()?;
        if self.json {
            output::json(&backups);
        } else {
            let mut table = output::table(&["ID", "TAKEN", "REASON", "SIZE"]);
            for backup in &backups {
                table.add_row(vec![
                    backup.id.clone(),
                    output::timestamp(&backup.created_at),
                    backup.reason.clone(),
                    steward_core::ByteSize(backup.bytes).to_string(),
                ]);
            }
            output::print_table(&table);
            output::note(&format!("in {}", self.target.backup_dir.display()));
        }
        Ok(())
    }

    /// `migrate restore`: asks unless `yes`.
    async fn restore(&self, backup: &str, yes: bool) -> anyhow::Result<()> {
        let manager = self.migration_manager(|_| {})?;
        let target = self.target;
        if !yes
            && !confirm(&format!(
                "replace the contents of {} with backup {backup}?",
                target.name
            ))?
        {
            return Err(Failed("restore cancelled; nothing was changed".into()).into());
        }
        let restored = manager.restore(backup).await?;
        output::line(&format!(
            "restored {} from {} ({})",
            target.name, restored.id, restored.reason
        ));
        Ok(())
    }
}

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

/// Asks a yes/no question on the terminal; without a terminal, refuses.
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!("{question} (no terminal to ask on; pass --yes)")).into());
    }
    output::note(&format!("{question} [y/N]"));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn deny_check(findings: &[Finding], deny: Option<Severity>) -> anyhow::Result<()> {
    match deny {
        Some(deny) if steward_migrate::lint::denied(findings, deny) => {
            let count = findings.iter().filter(|f| f.severity >= deny).count();
            Err(Failed(format!("{count} lint finding(s) at {deny} or above")).into())
        }
        _ => Ok(()),
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Applied => "applied",
        State::Pending => "pending",
        State::Changed => "CHANGED",
        State::Missing => "MISSING",
        State::OutOfOrder => "out-of-order",
        State::Failed => "FAILED",
        State::Interrupted => "INTERRUPTED",
        State::Baseline => "baseline",
        State::BelowBaseline => "below-baseline",
        State::Outdated => "outdated",
    }
}

fn print_status(target: &Target, status: &Status) {
    let mut table = output::table(&["VERSION", "NAME", "STATE", "APPLIED", "BY", "MS", "NOTE"]);
    for entry in &status.entries {
        let note = match entry.state {
            State::Failed | State::Interrupted => entry
                .error
                .clone()
                .or_else(|| {
                    entry
                        .statements_applied
                        .map(|n| format!("{n} statement(s) done"))
                })
                .unwrap_or_default(),
            State::Changed => "file edited since applied".to_owned(),
            State::Missing => "file not found".to_owned(),
            _ => String::new(),
        };
        table.add_row(vec![
            entry.version.clone().unwrap_or_else(|| "R".to_owned()),
            entry.name.clone(),
            state_name(entry.state).to_owned(),
            output::or_dash(
                entry
                    .applied_at
                    .filter(|_| entry.state != State::Pending)
                    .as_ref()
                    .map(output::timestamp),
            ),
            output::or_dash(entry.applied_by.as_ref()),
            output::or_dash(entry.execution_ms),
            note,
        ]);
    }
    output::print_table(&table);
    output::note(&format!(
        "{}: current version {}, migrations in {}",
        target.name,
        status.current.as_deref().unwrap_or("none"),
        target.dir.display()
    ));
}

fn print_plan(json: bool, plan: &Plan) {
    if json {
        output::json(plan);
        return;
    }
    if plan.steps.is_empty() {
        output::line("-- nothing to apply");
    }
    for step in &plan.steps {
        let mode = if step.transactional {
            "in one transaction"
        } else {
            "statement by statement"
        };
        let resume = if step.resume_from > 0 {
            format!(", resuming at statement {}", step.resume_from + 1)
        } else {
            String::new()
        };
        output::line(&format!(
            "-- {} ({}, {mode}{resume})",
            step.migration,
            step.file.display()
        ));
        for statement in step.statements.iter().skip(step.resume_from) {
            output::line(&format!("-- line {}\n{};", statement.line, statement.sql));
        }
        output::line("");
    }
    for finding in &plan.findings {
        output::line(&format!(
            "{}[{}] {}:{}: {}\n  hint: {}",
            finding.severity,
            finding.code,
            finding.file.display(),
            finding.line,
            finding.message,
            finding.hint
        ));
    }
    output::note(&format!("backups: {}", plan.backups));
}

/// Shows progress: bars on a terminal, JSON lines with `--output json`,
/// nothing otherwise.
struct Reporter {
    json: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Reporter {
    fn new(json: bool) -> Self {
        Reporter {
            json,
            bar: Mutex::new(None),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn event(&self, event: &ProgressEvent) {
        if self.json {
            output::json_line(event);
            return;
        }
        let mut bar = self.bar.lock().expect("progress lock");
        match event {
            ProgressEvent::Started { total } if *total > 0 => {
                let new = ProgressBar::new(*total as u64);
                new.set_style(
                    ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {msg}")
                        .expect("valid template"),
                );
                new.enable_steady_tick(std::time::Duration::from_millis(120));
                *bar = Some(new);
            }
            ProgressEvent::MigrationStarted {
                migration,
                statements,
                resume_from,
                ..
            } => {
                if let Some(bar) = bar.as_ref() {
                    let resume = if *resume_from > 0 {
                        format!(" (resuming at {})", resume_from + 1)
                    } else {
                        String::new()
                    };
                    bar.set_message(format!("{migration}: {statements} statement(s){resume}"));
                }
            }
            ProgressEvent::StatementDone {
                done, statements, ..
            } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_message(format!("statement {done}/{statements}"));
                }
            }
            ProgressEvent::MigrationApplied {
                migration,
                execution_ms,
                ..
            } => match bar.as_ref() {
                Some(bar) => {
                    bar.println(format!("applied {migration} ({execution_ms} ms)"));
                    bar.inc(1);
                }
                None => output::note(&format!("applied {migration} ({execution_ms} ms)")),
            },
            ProgressEvent::MigrationUndone {
                migration,
                execution_ms,
            } => {
                output::note(&format!("undoing {migration} took {execution_ms} ms"));
            }
            ProgressEvent::BackupTaken { backup } => {
                let text = format!(
                    "backup {} ({})",
                    backup.id,
                    steward_core::ByteSize(backup.bytes)
                );
                match bar.as_ref() {
                    Some(bar) => bar.println(text),
                    None => output::note(&text),
                }
            }
            ProgressEvent::RolledBack {
                migration,
                backup: Some(backup),
            } => {
                output::note(&format!(
                    "restored backup {backup} after {migration} failed"
                ));
            }
            ProgressEvent::RolledBack { backup: None, .. } => {}
            ProgressEvent::MigrationFailed { .. } | ProgressEvent::Started { .. } => {}
        }
    }
}
