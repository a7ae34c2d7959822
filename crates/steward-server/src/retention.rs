//! Retention: a task of the server's that applies `[retention]` to what grows
//! while steward runs: journal events (the store prunes them in batches),
//! the process backend's replica logs (rotated by size, pruned by age) and
//! migration backups (`<data_dir>/backups/<database>`, pruned by age and
//! count with steward-migrate's own pruning). It runs shortly after start,
//! then every `interval`, and journals a `retention.pruned` event with the
//! counts whenever it removed something.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde_json::json;
use steward_config::{LoadedConfig, RetentionConfig};
use steward_core::{Actor, NewEvent};
use steward_deploy::backend::process::{LogRetention, clean_logs};
use steward_store::{JournalRetention, Store};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Delay of the first pass: after the start's own work (recovery, the
/// first deployment), soon enough that a long-stopped steward catches up.
const FIRST_PASS: Duration = Duration::from_secs(60);

/// The retention task for `config`, which runs until `shutdown` is
/// cancelled; `None` when `[retention] interval` is 0.
pub(crate) fn task(
    store: Store,
    config: &LoadedConfig,
    shutdown: CancellationToken,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let retention = config.config.retention.clone();
    let interval = retention.interval.get();
    if interval.is_zero() {
        tracing::info!("retention is off ([retention] interval = 0)");
        return None;
    }
    let pass = Retention {
        store,
        retention,
        data_dir: config.data_dir().to_owned(),
    };
    Some(async move {
        schedule(FIRST_PASS.min(interval), interval, shutdown, || async {
            pass.run(Utc::now()).await;
        })
        .await;
    })
}

/// Calls `pass` after `first`, then every `interval`, until `shutdown`.
/// A pass that overruns delays the next one rather than bunching them.
async fn schedule<F, Fut>(
    first: Duration,
    interval: Duration,
    shutdown: CancellationToken,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = pass() => {}
        }
    }
}

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Pruned {
    /// Journal events deleted.
    pub(crate) journal_events: u64,
    /// Replica log files rotated.
    pub(crate) log_files_rotated: usize,
    /// Replica log files (rotated copies, logs of gone replicas) deleted.
    pub(crate) log_files_deleted: usize,
    /// Migration backups deleted.
    pub(crate) backups_deleted: usize,
}

impl Pruned {
    fn anything(&self) -> bool {
        *self != Pruned::default()
    }
}

/// One retention pass over a store and a data directory.
pub(crate) struct Retention {
    pub(crate) store: Store,
    pub(crate) retention: RetentionConfig,
    pub(crate) data_dir: PathBuf,
}

impl Retention {
    /// Applies the limits as of `now`, journals what it removed, and
    /// returns it. A part that fails is logged and the others still run.
    pub(crate) async fn run(&self, now: DateTime<Utc>) -> Pruned {
        let retention = &self.retention;
        let mut pruned = Pruned::default();
        let journal = JournalRetention::new(
            retention.journal_max_age.get(),
            retention.journal_max_events,
        );
        match self.store.prune_journal(&journal, now).await {
            Ok(deleted) => pruned.journal_events = deleted,
            Err(err) => tracing::warn!(error = %err, "cannot prune the journal"),
        }
        let logs = LogRetention {
            max_size: retention.logs_max_size.bytes(),
            keep: retention.logs_keep,
            max_age: nonzero(retention.logs_max_age.get()),
        };
        match clean_logs(
            &self.data_dir.join("replicas"),
            &self.data_dir.join("logs"),
            logs,
        )
        .await
        {
            Ok(done) => {
                pruned.log_files_rotated = done.rotated;
                pruned.log_files_deleted = done.deleted;
            }
            Err(err) => tracing::warn!(error = %err, "cannot rotate the replica logs"),
        }
        let backups = self.data_dir.join("backups");
        let (max_age, keep) = (
            nonzero(retention.backups_max_age.get()),
            retention.backups_to_keep(),
        );
        match tokio::task::spawn_blocking(move || prune_backups(&backups, max_age, keep, now)).await
        {
            Ok(deleted) => pruned.backups_deleted = deleted,
            Err(err) => tracing::warn!(error = %err, "cannot prune the migration backups"),
        }
        if pruned.anything() {
            tracing::info!(
                journal_events = pruned.journal_events,
                log_files_rotated = pruned.log_files_rotated,
                log_files_deleted = pruned.log_files_deleted,
                backups_deleted = pruned.backups_deleted,
                "retention pruned"
            );
            let event = NewEvent::new(
                crate::events::RetentionEvent::Pruned.kind(),
                Actor::system(),
                format!(
                    "retention deleted {} journal events, {} log files and {} backups, and rotated {} log files",
                    pruned.journal_events,
                    pruned.log_files_deleted,
                    pruned.backups_deleted,
                    pruned.log_files_rotated
                ),
            )
            .payload(json!(pruned));
            if let Err(err) = self.store.append(event).await {
                tracing::warn!(error = %err, "cannot journal the retention pass");
            }
        }
        pruned
    }
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// Prunes the backups of every database under `dir`: keeps the newest
/// `keep` of those younger than `max_age`, and always the newest one.
/// Returns how many it deleted; failures are logged.
fn prune_backups(dir: &Path, max_age: Option<Duration>, keep: usize, now: DateTime<Utc>) -> usize {
    let databases = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return 0,
        Err(err) => {
            tracing::warn!(path = %dir.display(), error = %err, "cannot list the migration backups");
            return 0;
        }
    };
    let cutoff = max_age
        .and_then(|age| chrono::Duration::from_std(age).ok())
        .and_then(|age| now.checked_sub_signed(age));
    let mut deleted = 0;
    for database in databases.flatten() {
        let path = database.path();
        // `prune` leaves a directory alone while a restore is in progress.
        if !path.is_dir() {
            continue;
        }
        let backups = match steward_migrate::backup::list(&path) {
            Ok(backups) => backups,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot list the migration backups");
                continue;
            }
        };
        // Newest first, so "younger than the cutoff" is a prefix.
        let young = backups
            .iter()
            .filter(|backup| cutoff.is_none_or(|cutoff| backup.created_at >= cutoff))
            .count();
        match steward_migrate::backup::prune(&path, young.min(keep).max(1)) {
            Ok(removed) => deleted += removed.len(),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot prune the migration backups");
            }
        }
    }
    deleted
}

#[cfg(test)]
mod tests;
