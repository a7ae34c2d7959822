//! The persistence a deployment needs, as a trait: steward-store
//! implements it on SQLite and PostgreSQL, so that only steward-store runs
//! SQL against steward's own database.

use async_trait::async_trait;
use steward_core::{Name, NewEvent};

use crate::{
    Result,
    model::{Deployment, DeploymentSummary, LockHolder, ServiceSpec},
};

/// Durable deployment state: records, the deploy lock, and the spec each
/// service last settled on.
#[async_trait]
pub trait DeployStore: Send + Sync + 'static {
    /// Takes the deploy lock for `holder`. Returns the current holder
    /// instead when someone else has it.
    async fn try_lock(&self, holder: &LockHolder) -> Result<Option<LockHolder>>;

    /// Replaces `stale` (a holder found dead) with `holder`, atomically:
    /// returns false when the lock changed hands in between.
    async fn take_over_lock(&self, stale: &LockHolder, holder: &LockHolder) -> Result<bool>;

    /// Releases the lock if `deployment_id` holds it.
    async fn unlock(&self, deployment_id: &str) -> Result<()>;

    /// The current holder of the lock.
    async fn lock_holder(&self) -> Result<Option<LockHolder>>;

    /// Writes the deployment (inserting or replacing it) and appends
    /// `events` in the same transaction. When the deployment has ended,
    /// also records each touched service's resulting spec
    /// ([`Deployment::outcome`]).
    async fn save(&self, deployment: &Deployment, events: Vec<NewEvent>) -> Result<()>;

    /// One deployment.
    async fn get(&self, id: &str) -> Result<Option<Deployment>>;

    /// Newest first, optionally only those touching `service`.
    async fn list(&self, service: Option<&str>, limit: u32) -> Result<Vec<DeploymentSummary>>;

    /// Deployments that have not ended (a crash interrupted them, or
    /// they run now).
    async fn unfinished(&self) -> Result<Vec<Deployment>>;

    /// The spec each service settled on after its last finished
    /// deployment (services never deployed or removed are absent).
    async fn current(&self) -> Result<Vec<ServiceSpec>>;

    /// Newest succeeded deployments touching `service` (or any), newest first.
    async fn succeeded(&self, service: Option<&Name>, limit: u32) -> Result<Vec<Deployment>>;

    /// Appends events outside a deployment save (replica restarts, ...).
    async fn journal(&self, events: Vec<NewEvent>) -> Result<()>;
}
