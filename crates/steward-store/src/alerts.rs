//! The AlertManager's durable state (steward-alert's store traits):
//! alerts ([`StoreAlerts`]), silences ([`StoreSilences`]) and the
//! notification log ([`StoreNotificationLog`]) in steward's database, so
//! that after a restart or a crash no firing alert is forgotten, no
//! silence lapses and nothing the log shows as sent is sent again.
//!
//! Alerts are merged in memory and written behind, except changes that
//! decide whether an alert fires, which are committed before the put
//! returns ([`StoreAlerts`] says which and why).

use std::collections::{BTreeSet, HashMap, HashSet};
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

/// The most alerts written by one statement. Fewer than [`CHUNK`]
/// allows: sqlx looks each parameter's name up in SQLite's list of them,
/// which costs time quadratic in the statement's parameters.
const ROWS_PER_STATEMENT: usize = 64;

/// How often alerts whose changes may wait (a re-sent firing alert's
/// later end) are written.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The most deferred alerts written in one transaction: a put whose new
/// alert must be committed waits for at most one such transaction.
const FLUSH_CHUNK: usize = 128;

/// Alerts in the store, served from memory.
///
/// Every alert is held in memory (as Alertmanager holds them) and merged
/// there; what reaches the database, and when, depends on what changed:
///
/// - a change that decides whether an alert fires (a new alert, a new
///   start, a resolution, an end moved earlier) is committed before the
///   put returns, so a sender's 2xx means a crash cannot lose it;
/// - a re-sent firing alert that only pushes its end later (Prometheus
///   re-sends every firing alert each minute) is written within
///   `FLUSH_INTERVAL` (a second), each alert once however often it came, and at
///   [`AlertStore::flush`] when the AlertManager stops.
///
/// A crash can therefore lose at most the last second of end extensions:
/// the alert is still stored as firing until an end under a second
/// earlier than the one last received, and the sender's next re-send
/// (Prometheus: every minute, 4 minutes ahead) extends it again.
///
/// One steward process owns the alerts of a database (as one
/// Alertmanager owns its own): the memory is the reference, the database
/// what a restart reads.
#[derive(Clone)]
pub struct StoreAlerts {
    shared: Arc<Shared>,
}

struct Shared {
    store: Store,
    state: parking_lot::Mutex<State>,
    /// Writes to am_alerts one at a time. The rows are copied from memory
    /// once it is held, so whichever write commits last carries the newest
    /// copy of every alert it writes.
    writer: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    alerts: HashMap<Fingerprint, Alert>,
    /// The start and end of each alert as the database holds them.
    durable: HashMap<Fingerprint, Durable>,
    /// Alerts whose copy in memory may be newer than the database's.
    dirty: HashSet<Fingerprint>,
    /// Alerts that puts wait to see committed (group commit: whichever
    /// put takes the writer first commits every one of them).
    urgent: HashSet<Fingerprint>,
    /// The puts that asked for a commit, counted.
    requested: u64,
    /// Every put counted up to this one has its alerts committed.
    committed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Durable {
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
}

impl Durable {
    fn of(alert: &Alert) -> Self {
        Durable {
            starts_at: alert.starts_at,
            ends_at: alert.ends_at,
        }
    }

    /// Whether storing `alert` over this copy must be committed before the
    /// put returns: a new alert, a new start, a change between firing and
    /// resolved, or a firing alert's end moved earlier. A firing alert's
    /// later end and a resolved alert sent again can wait.
    fn must_write(durable: Option<Self>, alert: &Alert, now: DateTime<Utc>) -> bool {
        let Some(d) = durable else { return true };
        let was_resolved = d.ends_at.is_some_and(|end| end <= now);
        let resolved = alert.resolved_at(now);
        if d.starts_at != alert.starts_at || was_resolved != resolved {
            return true;
        }
        let end_earlier = match (d.ends_at, alert.ends_at) {
            (None, Some(_)) => true,
            (Some(old), Some(new)) => new < old,
            (_, None) => false,
        };
        !resolved && end_earlier
    }
}

impl StoreAlerts {
    /// The alerts of `store`, read into memory; starts writing the
    /// deferred changes every `FLUSH_INTERVAL` (a second) (on the current tokio
    /// runtime, until the last clone is dropped).
    pub async fn load(store: Store) -> Result<Self> {
        let rows = sqlx::query("SELECT fingerprint, record FROM am_alerts")
            .fetch_all(store.pool())
            .await?;
        let mut state = State::default();
        for row in &rows {
            let fp: String = row.try_get("fingerprint")?;
            let text: String = row.try_get("record")?;
            let alert: Alert =
                serde_json::from_str(&text).map_err(|e| corrupt("am_alerts", &fp, e))?;
            let fp = alert.fingerprint();
            state.durable.insert(fp, Durable::of(&alert));
            state.alerts.insert(fp, alert);
        }
        let shared = Arc::new(Shared {
            store,
            state: parking_lot::Mutex::new(state),
            writer: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(flush_periodically(Arc::downgrade(&shared)));
        Ok(StoreAlerts { shared })
    }

    /// How many alerts wait to be written.
    pub fn pending(&self) -> usize {
        self.shared.state.lock().dirty.len()
    }

    /// Merges the batch in memory; the put's number in the commit queue
    /// when something in it must be committed before it returns.
    fn put_all_inner(&self, alerts: Vec<Alert>, now: DateTime<Utc>) -> (Vec<Alert>, Option<u64>) {
        let mut state = self.shared.state.lock();
        let State {
            alerts: held,
            durable,
            dirty,
            urgent,
            requested,
            ..
        } = &mut *state;
        let mut stored = Vec::with_capacity(alerts.len());
        let mut any_urgent = false;
        for alert in alerts {
            let fp = alert.fingerprint();
            let alert = match held.get(&fp) {
                Some(old) => Alert::stored_after(old, alert, now),
                None => alert,
            };
            match Durable::must_write(durable.get(&fp).copied(), &alert, now) {
                true => {
                    urgent.insert(fp);
                    any_urgent = true;
                }
                false => {
                    dirty.insert(fp);
                }
            }
            held.insert(fp, alert.clone());
            stored.push(alert);
        }
        let seq = any_urgent.then(|| {
            *requested += 1;
            *requested
        });
        (stored, seq)
    }

    async fn flush_inner(&self) -> Result<()> {
        self.shared.flush_dirty().await
    }

    async fn gc_inner(&self, now: DateTime<Utc>, retention: Duration) -> Result<Vec<Fingerprint>> {
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let _writer = self.shared.writer.lock().await;
        let removed: Vec<Fingerprint> = {
            let state = self.shared.state.lock();
            state
                .alerts
                .iter()
                .filter(|(_, a)| a.resolved_at(horizon))
                .map(|(fp, _)| *fp)
                .collect()
        };
        if removed.is_empty() {
            return Ok(removed);
        }
        let mut tx = self.shared.store.begin().await?;
        for chunk in removed.chunks(CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "DELETE FROM am_alerts WHERE fingerprint IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for fp in chunk {
                query = query.bind(fp.to_string());
            }
            query.execute(tx.conn()).await?;
        }
        tx.commit().await?;
        let mut state = self.shared.state.lock();
        for fp in &removed {
            state.alerts.remove(fp);
            state.durable.remove(fp);
            state.dirty.remove(fp);
        }
        Ok(removed)
    }
}

impl Shared {
    /// Writes the current copies of `fps` in one transaction. Whatever is
    /// not known written stays marked for the next flush.
    async fn write(&self, fps: Vec<Fingerprint>) -> Result<()> {
        if fps.is_empty() {
            return Ok(());
        }
        let _writer = self.writer.lock().await;
        self.write_locked(fps).await
    }

    /// Returns once put number `seq`'s urgent alerts are committed: by
    /// this call, which then commits every put's waiting so far in one
    /// transaction, or by an earlier one that took them along.
    async fn commit_urgent(&self, seq: u64) -> Result<()> {
        let _writer = self.writer.lock().await;
        let (fps, upto) = {
            let mut state = self.state.lock();
            if state.committed >= seq {
                return Ok(());
            }
            let fps: Vec<Fingerprint> = state.urgent.drain().collect();
            (fps, state.requested)
        };
        match self.write_locked(fps.clone()).await {
            Ok(()) => {
                let mut state = self.state.lock();
                state.committed = state.committed.max(upto);
                Ok(())
            }
            Err(err) => {
                // the puts still waiting try again themselves
                self.state.lock().urgent.extend(fps);
                Err(err)
            }
        }
    }

    /// Writes the alerts whose changes were deferred, in chunks, each its
    /// own transaction, so that puts waiting to commit get the writer in
    /// between.
    async fn flush_dirty(&self) -> Result<()> {
        let dirty: Vec<Fingerprint> = self.state.lock().dirty.iter().copied().collect();
        for chunk in dirty.chunks(FLUSH_CHUNK) {
            self.write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn write_locked(&self, mut fps: Vec<Fingerprint>) -> Result<()> {
        if fps.is_empty() {
            return Ok(());
        }
        fps.sort_unstable();
        fps.dedup();
        let rows: Vec<(Fingerprint, Alert)> = {
            let state = self.state.lock();
            fps.iter()
                .filter_map(|fp| state.alerts.get(fp).map(|a| (*fp, a.clone())))
                .collect()
        };
        match self.write_rows(&rows).await {
            Ok(()) => {
                let mut state = self.state.lock();
                for (fp, written) in &rows {
                    state.durable.insert(*fp, Durable::of(written));
                    if state.alerts.get(fp) == Some(written) {
                        state.dirty.remove(fp);
                    }
                }
                Ok(())
            }
            Err(err) => {
                self.state.lock().dirty.extend(fps);
                Err(err)
            }
        }
    }

    /// One multi-row upsert per chunk, all in one transaction (one commit,
    /// so one sync to disk).
    async fn write_rows(&self, rows: &[(Fingerprint, Alert)]) -> Result<()> {
        let mut tx = self.store.begin().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
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
                    .bind(fp.to_string())
                    .bind(alert.ends_at.map(ms))
                    .bind(serde_json::to_string(alert).expect("alerts serialize"));
            }
            query.execute(tx.conn()).await?;
        }
        tx.commit().await
    }
}

async fn flush_periodically(shared: std::sync::Weak<Shared>) {
    let mut every = tokio::time::interval(FLUSH_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(err) = shared.flush_dirty().await {
            tracing::warn!(error = %err, "cannot write the alerts' deferred changes; retrying");
        }
    }
}

#[async_trait]
impl AlertStore for StoreAlerts {
    async fn put(&self, alert: Alert, now: DateTime<Utc>) -> steward_alert::Result<Alert> {
        Ok(self.put_all(vec![alert], now).await?.remove(0))
    }

    async fn put_all(
        &self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
    ) -> steward_alert::Result<Vec<Alert>> {
        self.put_all_with(alerts, now, &|_| {}).await
    }

    async fn put_all_with(
        &self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
        merged: &(dyn for<'a> Fn(&'a [Alert]) + Send + Sync),
    ) -> steward_alert::Result<Vec<Alert>> {
        let (stored, seq) = self.put_all_inner(alerts, now);
        merged(&stored);
        if let Some(seq) = seq {
            self.shared.commit_urgent(seq).await.map_err(to_alert)?;
        }
        Ok(stored)
    }

    async fn get(&self, fp: Fingerprint) -> steward_alert::Result<Option<Alert>> {
        Ok(self.shared.state.lock().alerts.get(&fp).cloned())
    }

    async fn list(&self) -> steward_alert::Result<Vec<Alert>> {
        Ok(self.shared.state.lock().alerts.values().cloned().collect())
    }

    async fn gc(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> steward_alert::Result<Vec<Fingerprint>> {
        self.gc_inner(now, retention).await.map_err(to_alert)
    }

    async fn flush(&self) -> steward_alert::Result<()> {
        self.flush_inner().await.map_err(to_alert)
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
///
/// Every entry is also held in memory (one per group and integration, as
/// Alertmanager holds its log): a flush asks the log before every
/// notification, and an answer from memory keeps a database round trip
/// out of every notification's latency. Writes are committed before
/// [`NotificationLog::log`] returns, then applied to memory; as for
/// [`StoreAlerts`], one steward process owns the log of a database.
#[derive(Clone)]
pub struct StoreNotificationLog {
    store: Store,
    retention: Duration,
    entries: Arc<parking_lot::Mutex<HashMap<(String, ReceiverKey), NflogEntry>>>,
}

impl StoreNotificationLog {
    /// The log of `store`, its entries kept for `retention`, read into
    /// memory.
    pub async fn load(store: Store, retention: Duration) -> Result<Self> {
        let rows = sqlx::query(
            "SELECT group_key, receiver, integration, idx, timestamp_ms, firing, resolved, expires_at_ms \
             FROM am_nflog",
        )
        .fetch_all(store.pool())
        .await?;
        let mut entries = HashMap::with_capacity(rows.len());
        for row in &rows {
            let group_key: String = row.try_get("group_key")?;
            let index: i64 = row.try_get("idx")?;
            let receiver = ReceiverKey {
                receiver: row.try_get("receiver")?,
                integration: row.try_get("integration")?,
                index: u32::try_from(index).map_err(|e| corrupt("am_nflog", &group_key, e))?,
            };
            let set = |column: &str| -> Result<BTreeSet<Fingerprint>> {
                let text: String = row.try_get(column)?;
                let hex: Vec<String> =
                    serde_json::from_str(&text).map_err(|e| corrupt("am_nflog", &group_key, e))?;
                hex.iter()
                    .map(|h| h.parse().map_err(|e| corrupt("am_nflog", &group_key, e)))
                    .collect()
            };
            let entry = NflogEntry {
                group_key: group_key.clone(),
                receiver: receiver.clone(),
                timestamp: time(row.try_get("timestamp_ms")?),
                firing: set("firing")?,
                resolved: set("resolved")?,
                expires_at: time(row.try_get("expires_at_ms")?),
            };
            entries.insert((group_key, receiver), entry);
        }
        Ok(StoreNotificationLog {
            store,
            retention,
            entries: Arc::new(parking_lot::Mutex::new(entries)),
        })
    }

    fn expires(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        time(ms(now) + i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX / 2))
    }

    async fn log_inner(
        &self,
        group_key: &str,
        r: &ReceiverKey,
        firing: BTreeSet<Fingerprint>,
        resolved: BTreeSet<Fingerprint>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let hex = |set: &BTreeSet<Fingerprint>| {
            serde_json::to_string(&set.iter().map(ToString::to_string).collect::<Vec<_>>())
                .expect("strings serialize")
        };
        let expires = self.expires(now);
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
        .bind(hex(&firing))
        .bind(hex(&resolved))
        .bind(ms(expires))
        .execute(self.store.pool())
        .await?;
        let entry = NflogEntry {
            group_key: group_key.to_owned(),
            receiver: r.clone(),
            timestamp: now,
            firing,
            resolved,
            expires_at: expires,
        };
        // the same rule as the database's: a newer entry stays
        let mut entries = self.entries.lock();
        match entries.entry((group_key.to_owned(), r.clone())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(entry);
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => {
                if slot.get().timestamp <= now {
                    slot.insert(entry);
                }
            }
        }
        Ok(())
    }

    async fn gc_inner(&self, now: DateTime<Utc>) -> Result<usize> {
        let done = sqlx::query("DELETE FROM am_nflog WHERE expires_at_ms <= $1")
            .bind(ms(now))
            .execute(self.store.pool())
            .await?;
        self.entries.lock().retain(|_, e| e.expires_at > now);
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
        let key = (group_key.to_owned(), receiver.clone());
        Ok(self.entries.lock().get(&key).cloned())
    }

    async fn log(
        &self,
        group_key: &str,
        receiver: &ReceiverKey,
        firing: BTreeSet<Fingerprint>,
        resolved: BTreeSet<Fingerprint>,
        now: DateTime<Utc>,
    ) -> steward_alert::Result<()> {
        self.log_inner(group_key, receiver, firing, resolved, now)
            .await
            .map_err(to_alert)
    }

    async fn gc(&self, now: DateTime<Utc>) -> steward_alert::Result<usize> {
        self.gc_inner(now).await.map_err(to_alert)
    }
}
