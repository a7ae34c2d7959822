//! The AlertManager's durable state (steward-alert's store traits):
//! alerts ([`StoreAlerts`]), silences ([`StoreSilences`]) and the
//! notification log ([`StoreNotificationLog`]) in steward's database, so
//! that after a restart or a crash no firing alert is forgotten, no
//! silence lapses and nothing the log shows as sent is sent again.
//!
//! Storing an alert merges it with the stored one: read and write happen
//! in one transaction, and the puts of one process are serialized by a
//! lock (one AlertManager runs per steward process; the database's own
//! locking covers the rest).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::Row;
use steward_alert::{
    Matchers,
    alert::{Alert, AlertStore, Fingerprint},
    nflog::{NflogEntry, NotificationLog, ReceiverKey},
    silence::{Silence, SilenceStore},
};

use crate::{Error, Result, Store};

#[allow(clippy::needless_pass_by_value)] // used as `map_err(to_alert)`
fn to_alert(err: Error) -> steward_alert::Error {
    steward_alert::Error::Store(err.to_string())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn corrupt(table: &'static str, id: &str, detail: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        table,
        id: id.to_owned(),
        detail: detail.to_string(),
    }
}

/// The most parameters bound in one statement (SQLite's default limit
/// is 32,766, PostgreSQL's 65,535; a batch from Prometheus holds 64).
const CHUNK: usize = 900;

/// Alerts in the store.
#[derive(Clone)]
pub struct StoreAlerts {
    store: Store,
    puts: Arc<tokio::sync::Mutex<()>>,
}

impl StoreAlerts {
    /// The alerts of `store`.
    pub fn new(store: Store) -> Self {
        StoreAlerts {
            store,
            puts: Arc::default(),
        }
    }

    async fn put_inner(&self, alert: Alert, now: DateTime<Utc>) -> Result<Alert> {
        Ok(self.put_all_inner(vec![alert], now).await?.remove(0))
    }

    /// Stores a batch: the merges are decided first, then every row is
    /// written in one transaction (one commit, so one sync to disk, per
    /// batch).
    ///
    /// Puts and collections of this process are the only writers of
    /// am_alerts, one at a time: the reads need no transaction, and a
    /// SQLite transaction that reads before it writes fails with `database
    /// is locked` when another connection (the journal, the notification
    /// log) wrote meanwhile, instead of waiting.
    async fn put_all_inner(&self, alerts: Vec<Alert>, now: DateTime<Utc>) -> Result<Vec<Alert>> {
        let _one_at_a_time = self.puts.lock().await;
        // one read of every stored alert of the batch, in chunks that stay
        // under the engines' limits on bound parameters
        let mut merged: HashMap<String, Alert> = HashMap::new();
        let wanted: Vec<String> = {
            let mut fps: Vec<String> = alerts.iter().map(|a| a.fingerprint().to_string()).collect();
            fps.sort();
            fps.dedup();
            fps
        };
        for chunk in wanted.chunks(CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT fingerprint, record FROM am_alerts WHERE fingerprint IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for fp in chunk {
                query = query.bind(fp);
            }
            for row in query.fetch_all(self.store.pool()).await? {
                let fp: String = row.try_get("fingerprint")?;
                let text: String = row.try_get("record")?;
                let old: Alert =
                    serde_json::from_str(&text).map_err(|e| corrupt("am_alerts", &fp, e))?;
                merged.insert(fp, old);
            }
        }
        let mut stored = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let fp = alert.fingerprint().to_string();
            let alert = match merged.get(&fp) {
                Some(old) => Alert::stored_after(old, alert, now),
                None => alert,
            };
            merged.insert(fp, alert.clone());
            stored.push(alert);
        }
        // one multi-row upsert per chunk, all in one transaction
        let rows: Vec<(&String, &Alert)> = merged
            .iter()
            .filter(|(fp, _)| wanted.binary_search(fp).is_ok())
            .collect();
        let mut tx = self.store.begin().await?;
        for chunk in rows.chunks(CHUNK / 3) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO am_alerts (fingerprint, ends_at_ms, record) VALUES {} \
                 ON CONFLICT (fingerprint) DO UPDATE SET ends_at_ms = excluded.ends_at_ms, record = excluded.record",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (fp, alert) in chunk {
                query = query
                    .bind((*fp).clone())
                    .bind(alert.ends_at.map(ms))
                    .bind(serde_json::to_string(alert).expect("alerts serialize"));
            }
            query.execute(tx.conn()).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn list_inner(&self, fingerprint: Option<&str>) -> Result<Vec<Alert>> {
        let rows = match fingerprint {
            Some(fp) => {
                sqlx::query("SELECT fingerprint, record FROM am_alerts WHERE fingerprint = $1")
                    .bind(fp)
                    .fetch_all(self.store.pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT fingerprint, record FROM am_alerts")
                    .fetch_all(self.store.pool())
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                let fp: String = row.try_get("fingerprint")?;
                let text: String = row.try_get("record")?;
                serde_json::from_str(&text).map_err(|e| corrupt("am_alerts", &fp, e))
            })
            .collect()
    }

    async fn gc_inner(&self, now: DateTime<Utc>, retention: Duration) -> Result<Vec<Fingerprint>> {
        let horizon = ms(now) - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        // read before the transaction, as `put_all_inner` says why
        let _one_at_a_time = self.puts.lock().await;
        let rows = sqlx::query(
            "SELECT fingerprint FROM am_alerts WHERE ends_at_ms IS NOT NULL AND ends_at_ms <= $1",
        )
        .bind(horizon)
        .fetch_all(self.store.pool())
        .await?;
        let mut tx = self.store.begin().await?;
        let mut removed = Vec::with_capacity(rows.len());
        for row in &rows {
            let fp: String = row.try_get("fingerprint")?;
            sqlx::query("DELETE FROM am_alerts WHERE fingerprint = $1")
                .bind(&fp)
                .execute(tx.conn())
                .await?;
            removed.push(fp.parse().map_err(|e| corrupt("am_alerts", &fp, e))?);
        }
        tx.commit().await?;
        Ok(removed)
    }
}

#[async_trait]
impl AlertStore for StoreAlerts {
    async fn put(&self, alert: Alert, now: DateTime<Utc>) -> steward_alert::Result<Alert> {
        self.put_inner(alert, now).await.map_err(to_alert)
    }

    async fn put_all(
        &self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
    ) -> steward_alert::Result<Vec<Alert>> {
        self.put_all_inner(alerts, now).await.map_err(to_alert)
    }

    async fn get(&self, fp: Fingerprint) -> steward_alert::Result<Option<Alert>> {
        let fp = fp.to_string();
        Ok(self.list_inner(Some(&fp)).await.map_err(to_alert)?.pop())
    }

    async fn list(&self) -> steward_alert::Result<Vec<Alert>> {
        self.list_inner(None).await.map_err(to_alert)
    }

    async fn gc(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> steward_alert::Result<Vec<Fingerprint>> {
        self.gc_inner(now, retention).await.map_err(to_alert)
    }
}

/// Silences in the store.
#[derive(Clone)]
pub struct StoreSilences(pub Store);

impl StoreSilences {
    async fn load_inner(&self) -> Result<Vec<Silence>> {
        let rows = sqlx::query(
            "SELECT id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, comment FROM am_silences",
        )
        .fetch_all(self.0.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let matchers: String = row.try_get("matchers")?;
                Ok(Silence {
                    matchers: Matchers::parse(&matchers)
                        .map_err(|e| corrupt("am_silences", &id, e))?,
                    starts_at: time(row.try_get("starts_at_ms")?),
                    ends_at: time(row.try_get("ends_at_ms")?),
                    updated_at: time(row.try_get("updated_at_ms")?),
                    created_by: row.try_get("created_by")?,
                    comment: row.try_get("comment")?,
                    id,
                })
            })
            .collect()
    }

    async fn save_inner(&self, s: &Silence) -> Result<()> {
        sqlx::query(
            "INSERT INTO am_silences (id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, comment) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, \
             starts_at_ms = excluded.starts_at_ms, ends_at_ms = excluded.ends_at_ms, \
             updated_at_ms = excluded.updated_at_ms, created_by = excluded.created_by, comment = excluded.comment",
        )
        .bind(&s.id)
        .bind(s.matchers.to_string())
        .bind(ms(s.starts_at))
        .bind(ms(s.ends_at))
        .bind(ms(s.updated_at))
        .bind(&s.created_by)
        .bind(&s.comment)
        .execute(self.0.pool())
        .await?;
        Ok(())
    }

    async fn remove_inner(&self, ids: &[String]) -> Result<()> {
        let mut tx = self.0.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM am_silences WHERE id = $1")
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await
    }
}

#[async_trait]
impl SilenceStore for StoreSilences {
    async fn load(&self) -> steward_alert::Result<Vec<Silence>> {
        self.load_inner().await.map_err(to_alert)
    }

    async fn save(&self, silence: &Silence) -> steward_alert::Result<()> {
        self.save_inner(silence).await.map_err(to_alert)
    }

    async fn remove(&self, ids: &[String]) -> steward_alert::Result<()> {
        self.remove_inner(ids).await.map_err(to_alert)
    }
}

/// The notification log in the store; entries expire `retention` after
/// they are written (Alertmanager's `--data.retention`).
#[derive(Clone)]
pub struct StoreNotificationLog {
    store: Store,
    retention: Duration,
}

impl StoreNotificationLog {
    /// The log of `store`, its entries kept for `retention`.
    pub fn new(store: Store, retention: Duration) -> Self {
        StoreNotificationLog { store, retention }
    }

    async fn query_inner(&self, group_key: &str, r: &ReceiverKey) -> Result<Option<NflogEntry>> {
        let row = sqlx::query(
            "SELECT timestamp_ms, firing, resolved, expires_at_ms FROM am_nflog \
             WHERE group_key = $1 AND receiver = $2 AND integration = $3 AND idx = $4",
        )
        .bind(group_key)
        .bind(&r.receiver)
        .bind(&r.integration)
        .bind(i64::from(r.index))
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let set = |column: &str| -> Result<BTreeSet<Fingerprint>> {
            let text: String = row.try_get(column)?;
            let hex: Vec<String> =
                serde_json::from_str(&text).map_err(|e| corrupt("am_nflog", group_key, e))?;
            hex.iter()
                .map(|h| h.parse().map_err(|e| corrupt("am_nflog", group_key, e)))
                .collect()
        };
        Ok(Some(NflogEntry {
            group_key: group_key.to_owned(),
            receiver: r.clone(),
            timestamp: time(row.try_get("timestamp_ms")?),
            firing: set("firing")?,
            resolved: set("resolved")?,
            expires_at: time(row.try_get("expires_at_ms")?),
        }))
    }

    async fn log_inner(
        &self,
        group_key: &str,
        r: &ReceiverKey,
        firing: &BTreeSet<Fingerprint>,
        resolved: &BTreeSet<Fingerprint>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let hex = |set: &BTreeSet<Fingerprint>| {
            serde_json::to_string(&set.iter().map(ToString::to_string).collect::<Vec<_>>())
                .expect("strings serialize")
        };
        let expires = ms(now) + i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX / 2);
        // an entry newer than this one (written by a later flush) stays
        sqlx::query(
            "INSERT INTO am_nflog (group_key, receiver, integration, idx, timestamp_ms, firing, resolved, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (group_key, receiver, integration, idx) DO UPDATE SET \
             timestamp_ms = excluded.timestamp_ms, firing = excluded.firing, resolved = excluded.resolved, \
             expires_at_ms = excluded.expires_at_ms WHERE am_nflog.timestamp_ms <= excluded.timestamp_ms",
        )
        .bind(group_key)
        .bind(&r.receiver)
        .bind(&r.integration)
        .bind(i64::from(r.index))
        .bind(ms(now))
        .bind(hex(firing))
        .bind(hex(resolved))
        .bind(expires)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    async fn gc_inner(&self, now: DateTime<Utc>) -> Result<usize> {
        let done = sqlx::query("DELETE FROM am_nflog WHERE expires_at_ms <= $1")
            .bind(ms(now))
            .execute(self.store.pool())
            .await?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}

#[async_trait]
impl NotificationLog for StoreNotificationLog {
    async fn query(
        &self,
        group_key: &str,
        receiver: &ReceiverKey,
    ) -> steward_alert::Result<Option<NflogEntry>> {
        self.query_inner(group_key, receiver)
            .await
            .map_err(to_alert)
    }

    async fn log(
        &self,
        group_key: &str,
        receiver: &ReceiverKey,
        firing: BTreeSet<Fingerprint>,
        resolved: BTreeSet<Fingerprint>,
        now: DateTime<Utc>,
    ) -> steward_alert::Result<()> {
        self.log_inner(group_key, receiver, &firing, &resolved, now)
            .await
            .map_err(to_alert)
    }

    async fn gc(&self, now: DateTime<Utc>) -> steward_alert::Result<usize> {
        self.gc_inner(now).await.map_err(to_alert)
    }
}
