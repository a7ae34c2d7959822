//! The persistence the IncidentManager needs, as a trait that
//! steward-store implements (only steward-store runs SQL against
//! steward's database): incidents saved whole with the journal events of
//! their change in one transaction, so that the journal never shows a
//! change the record does not hold, nor the other way round.

use async_trait::async_trait;
use steward_core::NewEvent;

use crate::{Result, incident::Incident};

/// Where incidents are kept.
#[async_trait]
pub trait IncidentStore: Send + Sync + 'static {
    /// Writes `incident` (inserting or replacing it by id) and appends
    /// `events` in the same transaction.
    async fn save(&self, incident: &Incident, events: Vec<NewEvent>) -> Result<()>;

    /// One incident.
    async fn get(&self, id: &str) -> Result<Option<Incident>>;

    /// Incidents newest first (by opening), only the open ones (not
    /// resolved) when `open_only`, at most `limit`.
    async fn list(&self, open_only: bool, limit: u32) -> Result<Vec<Incident>>;

    /// The open incident opened for, or deduplicated by, `dedup_key`.
    async fn open_with_dedup_key(&self, dedup_key: &str) -> Result<Option<Incident>>;
}
