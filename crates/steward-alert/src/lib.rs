//! steward-alert: steward's AlertManager, compatible with Prometheus
//! Alertmanager 0.25 (its configuration, its API v2, its routing,
//! grouping, inhibition and silencing semantics), with alerts, silences
//! and the notification log kept in steward's store.
//!
//! - [`matchers`]: label matchers in Alertmanager's syntax
//!   (`{name=~"re", other!="x"}`), shared by routes, inhibition rules,
//!   silences and the API's filters.
//! - [`alert`]: alerts, their fingerprints, merging and store; each
//!   alert's status ([`alert::Marker`]).
//! - [`silence`]: silences, their rules of change, and the silencer.
//! - [`inhibit`]: inhibition rules and the inhibitor.
//! - [`nflog`]: the notification log and its deduplication rule.
//! - [`dispatch`]: aggregation groups, their timers and the notification
//!   pipeline.
//! - [`notify`]: notifications and the integrations that send them
//!   (webhook, Slack-compatible, PagerDuty, Microsoft Teams, Opsgenie,
//!   email), with templates, retries, signatures and rate limits.
//! - [`enrich`]: the context added to alerts before notification.
//! - [`handoff`]: alert groups worth an incident, to an incident sink.
//! - [`severity`]: severity raised by rules, as a routing input.
//! - [`sources`]: alerts from PagerDuty Events v2 senders and generic
//!   webhooks.
//! - [`clock`]: wall time, injected.
//! - [`manager`]: the [`AlertManager`] facade that wires them together,
//!   answers the API's queries, reloads and collects garbage.
//! - [`api`]: Alertmanager's API v2 over an [`AlertManager`] (axum).
//! - [`config`]: Alertmanager's configuration file, read and checked.
//! - [`route`]: the routing tree, its matching and its options.
//! - [`timeinterval`]: the time intervals that mute routes.
//! - [`build`]: a configuration turned into what the AlertManager runs.
//! - [`events`]: the journal event kinds of notification attempts and
//!   configuration reloads.

pub mod alert;
pub mod api;
pub mod build;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod enrich;
pub mod error;
pub mod events;
pub mod handoff;
pub mod inhibit;
pub mod manager;
pub mod matchers;
pub mod nflog;
pub mod notify;
pub mod route;
pub mod severity;
pub mod silence;
pub mod sources;
pub mod timeinterval;

pub use config::{Config, ConfigError};
pub use error::{Error, Result};
pub use events::{AlertManagerEvent, AlertsConfigEvent};
pub use manager::AlertManager;
pub use matchers::{LabelSet, MatchType, Matcher, Matchers};
pub use route::{Route, RouteOpts};
pub use timeinterval::{TimeInterval, TimeIntervals};
