//! steward-alert: steward's AlertManager, compatible with Prometheus
//! Alertmanager 0.25 (its configuration, its API v2, its routing,
//! grouping, inhibition and silencing semantics), with alerts, silences
//! and the notification log kept in steward's store.
//!
//! - [`matchers`]: label matchers in Alertmanager's syntax
//!   (`{name=~"re", other!="x"}`), shared by routes, inhibition rules,
//!   silences and the API's filters;
//! - [`notify`]: notifications and the integrations that send them
//!   (webhook, Slack-compatible, PagerDuty, Microsoft Teams, Opsgenie),
//!   with templates, retries, signatures and rate limits.

pub mod error;
pub mod matchers;
pub mod notify;

pub use error::{Error, Result};
pub use matchers::{LabelSet, MatchType, Matcher, Matchers};
