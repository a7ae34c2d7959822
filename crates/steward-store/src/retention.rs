//! Journal retention: deleting the oldest events beyond an age or a count,
//! a batch at a time.
//!
//! Each batch is its own short statement, so pruning a million events never
//! holds SQLite's single write lock (or PostgreSQL row locks) for long, and
//! appends carry on between batches. Deleting rows never moves ids
//! backwards: SQLite's `AUTOINCREMENT` and PostgreSQL's sequences never
//! reuse an id, so journal cursors stay exact.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{Result, Store};

/// Rows deleted per statement by default.
pub const DEFAULT_PRUNE_BATCH: u32 = 5_000;

/// Which journal events to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalRetention {
    /// Delete events older than this; `None` keeps events of any age.
    pub max_age: Option<Duration>,
    /// Keep at most this many events (the newest); `None` for no limit.
    pub max_events: Option<u64>,
    /// Rows deleted per statement.
    pub batch: u32,
}

impl JournalRetention {
    /// Limits where `0` means "no limit", as `[retention]` writes them.
    pub fn new(max_age: Duration, max_events: u64) -> Self {
        JournalRetention {
            max_age: (!max_age.is_zero()).then_some(max_age),
            max_events: (max_events > 0).then_some(max_events),
            batch: DEFAULT_PRUNE_BATCH,
        }
    }
}

impl Store {
    /// Deletes the events that `retention` does not keep, as of `now`, and
    /// returns how many it deleted.
    pub async fn prune_journal(
        &self,
        retention: &JournalRetention,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        // Events at or below this id go for the count limit; computed once,
        // so that events appended while pruning are never counted out.
        let count_bound: i64 = match retention.max_events {
            Some(keep) => {
                let offset = i64::try_from(keep).unwrap_or(i64::MAX);
                self.timed(
                    "journal_prune",
                    sqlx::query_scalar::<_, i64>(
                        "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET $1",
                    )
                    .bind(offset)
                    .fetch_optional(self.pool()),
                )
                .await?
                .unwrap_or(0)
            }
            None => 0,
        };
        // Events before this time go for the age limit (-1: none do).
        let age_bound: i64 = match retention.max_age {
            Some(age) => {
                let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
                now.checked_sub_signed(age)
                    .map_or(-1, |cutoff| cutoff.timestamp_millis())
            }
            None => -1,
        };
        if count_bound == 0 && age_bound < 0 {
            return Ok(0);
        }
        let batch = i64::from(retention.batch.max(1));
        let mut deleted = 0u64;
        loop {
            // The oldest matching ids first, through the primary key: the
            // rows to delete are exactly the first ones it meets.
            let result = self
                .timed(
                    "journal_prune",
                    sqlx::query(
                        "DELETE FROM events WHERE id IN (SELECT id FROM events \
                         WHERE id <= $1 OR time_ms < $2 ORDER BY id LIMIT $3)",
                    )
                    .bind(count_bound)
                    .bind(age_bound)
                    .bind(batch)
                    .execute(self.pool()),
                )
                .await?;
            let rows = result.rows_affected();
            deleted += rows;
            if rows < batch as u64 {
                break;
            }
            // Let appends waiting for the write lock in between batches.
            tokio::task::yield_now().await;
        }
        if deleted > 0 {
            tracing::debug!(deleted, "journal pruned");
        }
        Ok(deleted)
    }
}
