//! Steward's own state.
//!
//! One code path (sqlx's `Any` driver) serves SQLite, the embedded default,
//! and PostgreSQL, which lets several steward replicas share state. This is
//! the only crate that runs SQL against steward's database: the journal
//! ([`Store::append`], [`Store::events`]), API tokens, deployment state
//! (the [`steward_deploy::DeployStore`] implementation) and incidents
//! ([`steward_incident::store::IncidentStore`]) live here, and
//! domain crates add their repositories here as they need them.

mod alerts;
mod deploy;
mod error;
mod files;
mod incidents;
mod journal;
mod metrics;
mod retention;
mod store;
mod tokens;

#[cfg(feature = "testing")]
pub mod testing;

pub use alerts::{StoreAlerts, StoreNotificationLog, StoreSilences};
pub use error::{Error, Result};
pub use journal::{EventPage, EventQuery, MAX_PAGE, Order};
pub use retention::{DEFAULT_PRUNE_BATCH, JournalRetention};
pub use store::{Backend, Store, Tx};
pub use tokens::{NewToken, TOKEN_CACHE_TTL, TOKEN_PREFIX, TokenInfo};
