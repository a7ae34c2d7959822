//! The backup side of the manager: the policy in effect (with `Auto`
//! resolved per engine) and how the plan describes it, listing backups,
//! restoring one, and finishing a restore that a crash cut short.

use std::path::Path;

use super::{BackupPolicy, MigrationManager};
use crate::{
    Dialect, Result,
    backup::{self, BackupInfo},
    conn::Conn,
    progress::ProgressEvent,
};

impl MigrationManager {
    /// The backup policy in effect, with `Auto` resolved.
    pub(super) fn backup_policy(&self) -> BackupPolicy {
        match self.options.backup {
            BackupPolicy::Auto => match self.dialect {
                Dialect::Sqlite => BackupPolicy::PerMigration,
                _ if backup::tool_available(self.dialect) => BackupPolicy::PerRun,
                _ => BackupPolicy::Off,
            },
            policy => policy,
        }
    }

    pub(super) fn backup_sentence(&self) -> String {
        let dir = self.options.backup_dir.display();
        match (self.backup_policy(), self.dialect) {
            (BackupPolicy::PerMigration, _) => format!("a backup before each migration, in {dir}"),
            (BackupPolicy::PerRun, _) => format!("one backup before the run, in {dir}"),
            (_, Dialect::Postgres) if !backup::tool_available(Dialect::Postgres) => {
                "no backup: pg_dump is not installed; each migration relies on PostgreSQL's transactional DDL \
                 (no-transaction migrations cannot be rolled back)"
                    .to_owned()
            }
            (_, Dialect::Mysql) if !backup::tool_available(Dialect::Mysql) => {
                "no backup: mysqldump is not installed; a failed migration is resumed from its recorded progress, \
                 not rolled back"
                    .to_owned()
            }
            _ => "no backup (backups are off)".to_owned(),
        }
    }

    /// Completes a restore that a crash cut short, before anything else.
    pub(super) async fn finish_interrupted_restore(&self, conn: &mut Conn) -> Result<()> {
        if let Some(backup) = backup::interrupted_restore(&self.options.backup_dir) {
            tracing::warn!(backup = %backup.id, "finishing a restore that was interrupted");
            backup::restore(conn, &self.url, &backup, self.options.tool_timeout).await?;
            self.progress.event(&ProgressEvent::RolledBack {
                migration: "(interrupted restore)".to_owned(),
                backup: Some(backup.id),
            });
        }
        Ok(())
    }

    /// Backups in the backup directory, newest first.
    pub fn backups(&self) -> Result<Vec<BackupInfo>> {
        backup::list(&self.options.backup_dir)
    }

    /// Restores a backup (by id or unique id prefix), holding the lock.
    pub async fn restore(&self, id: &str) -> Result<BackupInfo> {
        let backup = backup::find(&self.options.backup_dir, id)?;
        let lock = self.lock().await?;
        let result = async {
            let mut conn = self.connect().await?;
            let result =
                backup::restore(&mut conn, &self.url, &backup, self.options.tool_timeout).await;
            conn.close().await;
            result
        }
        .await;
        lock.release().await;
        result.map(|()| backup)
    }

    /// The backup directory.
    pub fn backup_dir(&self) -> &Path {
        &self.options.backup_dir
    }
}
