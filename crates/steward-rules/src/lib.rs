//! steward-rules: Prometheus 2.42's recording and alerting rules.
//!
//! - [`rulefmt`]: rule files in Prometheus' YAML format, validated as
//!   `promtool check rules` does;
//! - [`rule`] and [`group`]: evaluating rules (alert states, `for`,
//!   `keep_firing_for`, `limit`, `ALERTS`, staleness, restoring alerts
//!   after a restart);
//! - [`manager`]: groups on tokio timers, reloads, alerts to an
//!   [`AlertSink`], and the engine's [`metrics`];
//! - [`querier`]: the language of a group's expressions: PromQL, or a
//!   [`RuleQuerier`] the server passes (LogQL for `[rules] log_files`);
//! - [`unittest`]: `promtool test rules`;
//! - [`template`]: alert labels and annotations expanded as Prometheus
//!   does ([`TemplateExpander`]);
//! - [`alertmanager`]: the [`AlertSink`] that posts alerts to
//!   Alertmanagers ([`AlertmanagerSink`]).
//!
//! Alert labels and annotations are templates; the engine expands them
//! through the [`AnnotationExpander`] trait, so that its own tests can do
//! without templates ([`Verbatim`]).

pub mod alertmanager;
pub mod api;
pub mod duration;
pub mod error;
pub mod events;
pub mod expand;
pub mod group;
pub mod manager;
pub mod metrics;
pub mod querier;
pub mod rule;
pub mod rulefmt;
pub mod sink;
pub mod template;
pub mod unittest;

pub use alertmanager::{AlertmanagerAuth, AlertmanagerConfig, AlertmanagerSink, NotifierOptions};
pub use error::{Error, Result};
pub use events::{AlertEvent, RulesEvent};
pub use expand::{AnnotationExpander, Verbatim};
pub use manager::{ManagerOptions, RuleFiles, RuleManager};
pub use querier::RuleQuerier;
pub use sink::{AlertListener, AlertSink, AlertTransition, DiscardSink, NotifiedAlert};
pub use template::{SyntaxChecker, TemplateExpander};
