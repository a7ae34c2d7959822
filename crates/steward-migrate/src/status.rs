//! Comparing migration files with the target's history: which migrations
//! are applied, pending, changed, missing, out of order, failed or
//! interrupted. Pure logic, tested without a database.

use std::{collections::HashMap, path::PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    Migration, MigrationKind, MigrationVersion, Source,
    history::{HistoryRow, RowKind},
};

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied, and the file is unchanged.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file changed since (checksum differs).
    Changed,
    /// Applied, but its file is gone.
    Missing,
    /// Not applied, and a later version is: applying it would run it out
    /// of order.
    OutOfOrder,
    /// Its last run failed (and was rolled back, or left partial with its
    /// progress recorded).
    Failed,
    /// Its last run stopped without an outcome (the process died during a
    /// statement-by-statement run).
    Interrupted,
    /// The version the database was adopted at.
    Baseline,
    /// Older than the baseline: treated as applied.
    BelowBaseline,
    /// A repeatable migration applied, whose file changed since: it will be
    /// applied again.
    Outdated,
}

impl State {
    /// Whether `validate` reports this state as a problem.
    pub fn is_problem(self, allow_out_of_order: bool) -> bool {
        match self {
            State::Changed | State::Missing | State::Failed | State::Interrupted => true,
            State::OutOfOrder => !allow_out_of_order,
            _ => false,
        }
    }
}

/// One line of the status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Version (`None` for repeatable migrations).
    pub version: Option<String>,
    /// Name.
    pub name: String,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// Where it stands.
    pub state: State,
    /// Its up file, when it exists.
    pub file: Option<PathBuf>,
    /// Checksum of the file, when it exists.
    pub checksum: Option<String>,
    /// Checksum recorded when it was applied.
    pub applied_checksum: Option<String>,
    /// When it was last run.
    pub applied_at: Option<DateTime<Utc>>,
    /// Who last ran it.
    pub applied_by: Option<String>,
    /// How long the last run took.
    pub execution_ms: Option<i64>,
    /// Statements completed by a partial run.
    pub statements_applied: Option<i64>,
    /// Why the last run failed.
    pub error: Option<String>,
    /// Backup taken before the last run.
    pub backup: Option<String>,
}

/// The status of every migration, versioned ones by version, then
/// repeatable ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// One entry per migration file or history version.
    pub entries: Vec<Entry>,
    /// The newest applied version.
    pub current: Option<String>,
}

impl Status {
    /// Entries that `validate` rejects.
    pub fn problems(&self, allow_out_of_order: bool) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|entry| entry.state.is_problem(allow_out_of_order))
            .collect()
    }
}

/// The newest row per versioned migration (versioned, down and baseline
/// rows) and per repeatable name.
struct Latest<'h> {
    versions: HashMap<MigrationVersion, &'h HistoryRow>,
    repeatables: HashMap<&'h str, &'h HistoryRow>,
    baseline: Option<MigrationVersion>,
}

impl<'h> Latest<'h> {
    fn new(history: &'h [HistoryRow]) -> Self {
        let mut latest = Latest {
            versions: HashMap::new(),
            repeatables: HashMap::new(),
            baseline: None,
        };
        for row in history {
            match row.kind {
                RowKind::Repeatable => {
                    latest.repeatables.insert(row.name.as_str(), row);
                }
                RowKind::Versioned | RowKind::Down | RowKind::Baseline => {
                    let Some(version) = row.version.as_deref().and_then(MigrationVersion::parse)
                    else {
                        continue;
                    };
                    if row.kind == RowKind::Baseline && row.success {
                        latest.baseline = Some(version.clone());
                    }
                    latest.versions.insert(version, row);
                }
            }
        }
        latest
    }

    /// Whether a row means "this version is in the schema".
    fn applied(row: &HistoryRow) -> bool {
        row.success && matches!(row.kind, RowKind::Versioned | RowKind::Baseline)
    }

    fn newest_applied(&self) -> Option<&MigrationVersion> {
        self.versions
            .iter()
            .filter(|(_, row)| Self::applied(row))
            .map(|(version, _)| version)
            .max()
    }
}

fn entry(migration: Option<&Migration>, row: Option<&HistoryRow>, state: State) -> Entry {
    Entry {
        version: migration
            .and_then(|m| m.version.as_ref().map(ToString::to_string))
            .or_else(|| row.and_then(|r| r.version.clone())),
        name: migration.map_or_else(
            || row.map(|r| r.name.clone()).unwrap_or_default(),
            |m| m.name.clone(),
        ),
        kind: migration.map_or(
            if row.is_some_and(|r| r.kind == RowKind::Repeatable) {
                MigrationKind::Repeatable
            } else {
                MigrationKind::Versioned
            },
            |m| m.kind,
        ),
        state,
        file: migration.map(|m| m.up.path.clone()),
        checksum: migration.map(|m| m.up.checksum.clone()),
        applied_checksum: row.map(|r| r.checksum.clone()),
        applied_at: row.map(|r| r.applied_at),
        applied_by: row.map(|r| r.applied_by.clone()),
        execution_ms: row.map(|r| r.execution_ms),
        statements_applied: row.filter(|r| !r.success).map(|r| r.statements_applied),
        error: row.and_then(|r| r.error.clone()),
        backup: row.and_then(|r| r.backup.clone()),
    }
}

/// Compares `source` with `history`.
pub fn compute(source: &Source, history: &[HistoryRow]) -> Status {
    let latest = Latest::new(history);
    let newest = latest.newest_applied().cloned();
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for migration in &source.versioned {
        let version = migration
            .version
            .clone()
            .expect("versioned migrations have versions");
        seen.insert(version.clone());
        let row = latest.versions.get(&version).copied();
        let not_applied = || {
            if latest
                .baseline
                .as_ref()
                .is_some_and(|baseline| &version <= baseline)
            {
                State::BelowBaseline
            } else if newest.as_ref().is_some_and(|newest| &version < newest) {
                State::OutOfOrder
            } else {
                State::Pending
            }
        };
        let state = match row {
            None => not_applied(),
            Some(row) => match row.kind {
                RowKind::Down => not_applied(),
                RowKind::Baseline => State::Baseline,
                _ if row.success && row.checksum == migration.up.checksum => State::Applied,
                _ if row.success => State::Changed,
                _ if row.interrupted() => State::Interrupted,
                _ => State::Failed,
            },
        };
        entries.push(entry(
            Some(migration),
            row.filter(|r| r.kind != RowKind::Down),
            state,
        ));
    }
    // Applied (or failed) versions whose files are gone.
    let mut missing: Vec<(&MigrationVersion, &HistoryRow)> = latest
        .versions
        .iter()
        .filter(|(version, row)| !seen.contains(*version) && row.kind == RowKind::Versioned)
        .map(|(version, row)| (version, *row))
        .collect();
    missing.sort_by(|a, b| a.0.cmp(b.0));
    for (_, row) in missing {
        let state = if row.success {
            State::Missing
        } else if row.interrupted() {
            State::Interrupted
        } else {
            State::Failed
        };
        entries.push(entry(None, Some(row), state));
    }
    if let Some(baseline) = &latest.baseline
        && !seen.contains(baseline)
    {
        let row = latest.versions[baseline];
        if row.kind == RowKind::Baseline {
            entries.push(entry(None, Some(row), State::Baseline));
        }
    }
    entries.sort_by(|a, b| {
        let key = |e: &Entry| e.version.as_deref().and_then(MigrationVersion::parse);
        key(a).cmp(&key(b))
    });
    for migration in &source.repeatable {
        let row = latest.repeatables.get(migration.name.as_str()).copied();
        let state = match row {
            None => State::Pending,
            Some(row) if row.success && row.checksum == migration.up.checksum => State::Applied,
            Some(row) if row.success => State::Outdated,
            Some(row) if row.interrupted() => State::Interrupted,
            Some(_) => State::Failed,
        };
        entries.push(entry(Some(migration), row, state));
    }
    Status {
        entries,
        current: newest.map(|version| version.to_string()),
    }
}

#[cfg(test)]
mod tests;
