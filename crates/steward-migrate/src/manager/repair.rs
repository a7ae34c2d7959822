//! Changes to the history itself: `repair` (checksums re-aligned with
//! edited files, failed and interrupted rows removed) and `baseline`
//! (adopting a database that has none).

use serde::Serialize;

use super::{MigrationManager, failure::shorten};
use crate::{
    Error, MigrationVersion, Result,
    history::{HistoryRow, NewRow, RowKind},
    status::{self, State},
};

/// A change `repair` makes to the history.
#[derive(Debug, Clone, Serialize)]
pub struct RepairAction {
    /// `3 add_index`.
    pub migration: String,
    /// What is done.
    pub action: String,
}

impl MigrationManager {
    /// The repairs `repair` would make: checksums re-aligned with edited
    /// files, failed and interrupted rows removed.
    pub async fn repair_plan(&self) -> Result<Vec<RepairAction>> {
        let history = self.history().await?;
        Ok(self
            .repairs(&history)
            .into_iter()
            .map(|(action, _)| action)
            .collect())
    }

    fn repairs(&self, history: &[HistoryRow]) -> Vec<(RepairAction, Repair)> {
        let status = status::compute(&self.source, history);
        let mut repairs = Vec::new();
        for entry in &status.entries {
            let label = match &entry.version {
                Some(version) => format!("{version} {}", entry.name),
                None => format!("R {}", entry.name),
            };
            let rows = history
                .iter()
                .filter(|row| row.version == entry.version && row.name == entry.name);
            match entry.state {
                State::Changed => {
                    if let (Some(row), Some(checksum)) =
                        (rows.clone().rev().find(|r| r.success), &entry.checksum)
                    {
                        repairs.push((
                            RepairAction {
                                migration: label.clone(),
                                action: format!(
                                    "record checksum {} (was {})",
                                    &checksum[..12],
                                    &row.checksum[..12.min(row.checksum.len())]
                                ),
                            },
                            Repair::Checksum(row.rank, checksum.clone()),
                        ));
                    }
                }
                State::Failed | State::Interrupted => {
                    for row in rows.filter(|r| !r.success) {
                        repairs.push((
                            RepairAction {
                                migration: label.clone(),
                                action: format!(
                                    "delete {} row {} ({})",
                                    if row.interrupted() {
                                        "interrupted"
                                    } else {
                                        "failed"
                                    },
                                    row.rank,
                                    row.error.as_deref().map_or_else(
                                        || "no outcome recorded".to_owned(),
                                        |e| shorten(e, 80)
                                    )
                                ),
                            },
                            Repair::Delete(row.rank),
                        ));
                    }
                }
                _ => {}
            }
        }
        repairs
    }

    /// Makes the repairs of [`repair_plan`](Self::repair_plan).
    pub async fn repair(&self) -> Result<Vec<RepairAction>> {
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            let history = conn.history().await?;
            let repairs = self.repairs(&history);
            for (_, repair) in &repairs {
                match repair {
                    Repair::Checksum(rank, checksum) => conn.set_checksum(*rank, checksum).await?,
                    Repair::Delete(rank) => conn.delete_history(*rank).await?,
                }
            }
            conn.close().await;
            Ok(repairs.into_iter().map(|(action, _)| action).collect())
        }
        .await;
        lock.release().await;
        result
    }

    /// Adopts an existing database: records `version` as applied, so that
    /// only later migrations run. Refused when migrations were applied.
    pub async fn baseline(&self, version: &str) -> Result<()> {
        let parsed = MigrationVersion::parse(version)
            .ok_or_else(|| Error::Refused(format!("`{version}` is not a migration version")))?;
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            conn.ensure_history().await?;
            let history = conn.history().await?;
            if history.iter().any(|row| row.success) {
                return Err(Error::Conflict(
                    "the database already has migration history; baseline adopts databases that have none".into(),
                ));
            }
            let fingerprint = conn.fingerprint().await?;
            let rank = conn
                .insert_history(&NewRow {
                    version: Some(parsed.as_str()),
                    name: "baseline",
                    kind: RowKind::Baseline,
                    checksum: "",
                    applied_by: &self.options.applied_by,
                    success: true,
                    backup: None,
                })
                .await?;
            conn.finish_history(rank, true, 0, 0, Some(&fingerprint), None).await?;
            conn.close().await;
            Ok(())
        }
        .await;
        lock.release().await;
        result
    }
}

enum Repair {
    Checksum(i64, String),
    Delete(i64),
}
