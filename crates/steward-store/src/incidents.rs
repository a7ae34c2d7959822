//! Incidents for steward-incident: each stored whole as JSON beside the
//! columns listings and deduplication read, saved with the journal events
//! of its change in one transaction. Implements
//! [`steward_incident::store::IncidentStore`].

use async_trait::async_trait;
use sqlx::Row;
use steward_core::NewEvent;
use steward_incident::{
    incident::{Incident, Status},
    store::IncidentStore,
};

use crate::{Error, Result, Store};

#[allow(clippy::needless_pass_by_value)] // used as `map_err(to_incident)`
fn to_incident(err: Error) -> steward_incident::Error {
    steward_incident::Error::Store(err.to_string())
}

fn decode(id: &str, text: &str) -> Result<Incident> {
    serde_json::from_str(text).map_err(|err| Error::Corrupt {
        table: "incidents",
        id: id.to_owned(),
        detail: err.to_string(),
    })
}

fn decode_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Incident>> {
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let record: String = row.try_get("record")?;
            decode(&id, &record)
        })
        .collect()
}

impl Store {
    async fn save_incident(&self, incident: &Incident, events: Vec<NewEvent>) -> Result<()> {
        let record = serde_json::to_string(incident).expect("incidents serialize");
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO incidents (id, status, severity, dedup_key, opened_at_ms, record) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, severity = excluded.severity, \
             dedup_key = excluded.dedup_key, opened_at_ms = excluded.opened_at_ms, record = excluded.record",
        )
        .bind(&incident.id)
        .bind(incident.status.as_str())
        .bind(incident.severity.as_str())
        .bind(incident.dedup_key.as_deref())
        .bind(incident.opened_at.timestamp_millis())
        .bind(&record)
        .execute(tx.conn())
        .await?;
        for event in events {
            tx.append(event).await?;
        }
        tx.commit().await
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        let row = sqlx::query("SELECT id, record FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| decode_rows(std::slice::from_ref(&row)).map(|mut v| v.remove(0)))
            .transpose()
    }

    async fn incidents(&self, open_only: bool, limit: u32) -> Result<Vec<Incident>> {
        // all: a status no incident has is left out
        let left_out = if open_only {
            Status::Resolved.as_str()
        } else {
            ""
        };
        let rows = sqlx::query(
            "SELECT id, record FROM incidents WHERE status <> $1 \
             ORDER BY opened_at_ms DESC, id DESC LIMIT $2",
        )
        .bind(left_out)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        decode_rows(&rows)
    }

    async fn open_incident_with_key(&self, dedup_key: &str) -> Result<Option<Incident>> {
        let rows = sqlx::query(
            "SELECT id, record FROM incidents WHERE dedup_key = $1 AND status <> $2 \
             ORDER BY opened_at_ms DESC, id DESC LIMIT 1",
        )
        .bind(dedup_key)
        .bind(Status::Resolved.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(decode_rows(&rows)?.into_iter().next())
    }
}

#[async_trait]
impl IncidentStore for Store {
    async fn save(
        &self,
        incident: &Incident,
        events: Vec<NewEvent>,
    ) -> steward_incident::Result<()> {
        self.save_incident(incident, events)
            .await
            .map_err(to_incident)
    }

    async fn get(&self, id: &str) -> steward_incident::Result<Option<Incident>> {
        self.incident(id).await.map_err(to_incident)
    }

    async fn list(&self, open_only: bool, limit: u32) -> steward_incident::Result<Vec<Incident>> {
        self.incidents(open_only, limit).await.map_err(to_incident)
    }

    async fn open_with_dedup_key(
        &self,
        dedup_key: &str,
    ) -> steward_incident::Result<Option<Incident>> {
        self.open_incident_with_key(dedup_key)
            .await
            .map_err(to_incident)
    }
}
