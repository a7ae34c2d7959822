//! `pagerduty_configs` and `opsgenie_configs`: the paging services, with
//! Alertmanager's default templates and details and its checks.

use std::collections::BTreeMap;

use serde::Deserialize;
use steward_core::Secret;

use super::super::global::{GlobalConfig, HttpConfig};
use super::super::yaml::{self, HttpUrl};
use super::yes;

/// `pagerduty_configs`: PagerDuty's Events API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// Whether resolved notifications are sent (true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The HTTP client (the global one when unset).
    #[serde(default, deserialize_with = "yaml::opt_checked")]
    pub http_config: Option<HttpConfig>,
    /// Integration key of the Events API v1.
    #[serde(default, deserialize_with = "yaml::secret")]
    pub service_key: Secret<String>,
    /// A file holding the service key.
    #[serde(default, deserialize_with = "yaml::string")]
    pub service_key_file: String,
    /// Integration key of the Events API v2.
    #[serde(default, deserialize_with = "yaml::secret")]
    pub routing_key: Secret<String>,
    /// A file holding the routing key.
    #[serde(default, deserialize_with = "yaml::string")]
    pub routing_key_file: String,
    /// The API URL (the global `pagerduty_url` when unset).
    #[serde(default)]
    pub url: Option<HttpUrl>,
    /// Client name (a template).
    #[serde(default = "pagerduty::client", deserialize_with = "yaml::string")]
    pub client: String,
    /// Client link (a template).
    #[serde(default = "pagerduty::client_url", deserialize_with = "yaml::string")]
    pub client_url: String,
    /// Summary (a template).
    #[serde(default = "pagerduty::description", deserialize_with = "yaml::string")]
    pub description: String,
    /// Custom details (templates); Alertmanager's four are added unless given.
    #[serde(default, deserialize_with = "yaml::string_map")]
    pub details: BTreeMap<String, String>,
    /// Images.
    #[serde(default, deserialize_with = "yaml::nullable")]
    pub images: Vec<PagerdutyImage>,
    /// Links.
    #[serde(default, deserialize_with = "yaml::nullable")]
    pub links: Vec<PagerdutyLink>,
    /// Source (the client when empty).
    #[serde(default, deserialize_with = "yaml::string")]
    pub source: String,
    /// Severity (`error`).
    #[serde(default = "pagerduty::severity", deserialize_with = "yaml::string")]
    pub severity: String,
    /// Class.
    #[serde(default, deserialize_with = "yaml::string")]
    pub class: String,
    /// Component.
    #[serde(default, deserialize_with = "yaml::string")]
    pub component: String,
    /// Group.
    #[serde(default, deserialize_with = "yaml::string")]
    pub group: String,
}

/// Alertmanager's default PagerDuty templates.
mod pagerduty {
    pub(super) fn client() -> String {
        r#"{{ template "pagerduty.default.client" . }}"#.into()
    }
    pub(super) fn client_url() -> String {
        r#"{{ template "pagerduty.default.clientURL" . }}"#.into()
    }
    pub(super) fn description() -> String {
        r#"{{ template "pagerduty.default.description" .}}"#.into()
    }
    pub(super) fn severity() -> String {
        "error".into()
    }
    pub(super) const DETAILS: [(&str, &str); 4] = [
        (
            "firing",
            r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
        ),
        (
            "resolved",
            r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#,
        ),
        ("num_firing", "{{ .Alerts.Firing | len }}"),
        ("num_resolved", "{{ .Alerts.Resolved | len }}"),
    ];
}

/// An image of a PagerDuty event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerdutyImage {
    /// Image URL.
    #[serde(deserialize_with = "yaml::string")]
    pub src: String,
    /// Alternative text.
    #[serde(deserialize_with = "yaml::string")]
    pub alt: String,
    /// Link.
    #[serde(deserialize_with = "yaml::string")]
    pub href: String,
}

/// A link of a PagerDuty event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerdutyLink {
    /// Target.
    #[serde(deserialize_with = "yaml::string")]
    pub href: String,
    /// Text.
    #[serde(deserialize_with = "yaml::string")]
    pub text: String,
}

impl PagerdutyConfig {
    pub(super) fn validate(&mut self, global: &GlobalConfig) -> Result<(), String> {
        let (routing, service) = (
            !self.routing_key.expose().is_empty(),
            !self.service_key.expose().is_empty(),
        );
        if !routing
            && !service
            && self.routing_key_file.is_empty()
            && self.service_key_file.is_empty()
        {
            return Err("missing service or routing key in PagerDuty config".into());
        }
        if routing && !self.routing_key_file.is_empty() {
            return Err("at most one of routing_key & routing_key_file must be configured".into());
        }
        if service && !self.service_key_file.is_empty() {
            return Err("at most one of service_key & service_key_file must be configured".into());
        }
        for (name, value) in pagerduty::DETAILS {
            self.details
                .entry(name.to_owned())
                .or_insert_with(|| value.to_owned());
        }
        if self.url.is_none() {
            self.url = Some(
                global
                    .pagerduty_url
                    .clone()
                    .ok_or("no global PagerDuty URL set")?,
            );
        }
        Ok(())
    }
}

/// `opsgenie_configs`: Opsgenie's alert API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsGenieConfig {
    /// Whether resolved notifications are sent (true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The HTTP client (the global one when unset).
    #[serde(default, deserialize_with = "yaml::opt_checked")]
    pub http_config: Option<HttpConfig>,
    /// API key (the global one when empty).
    #[serde(default, deserialize_with = "yaml::secret")]
    pub api_key: Secret<String>,
    /// A file holding the API key.
    #[serde(default, deserialize_with = "yaml::string")]
    pub api_key_file: String,
    /// API URL (the global `opsgenie_api_url` when unset), ending in `/`.
    #[serde(default)]
    pub api_url: Option<HttpUrl>,
    /// Message (a template).
    #[serde(default = "opsgenie::message", deserialize_with = "yaml::string")]
    pub message: String,
    /// Description (a template).
    #[serde(default = "opsgenie::description", deserialize_with = "yaml::string")]
    pub description: String,
    /// Source (a template).
    #[serde(default = "opsgenie::source", deserialize_with = "yaml::string")]
    pub source: String,
    /// Extra details (templates).
    #[serde(default, deserialize_with = "yaml::string_map")]
    pub details: BTreeMap<String, String>,
    /// Entity.
    #[serde(default, deserialize_with = "yaml::string")]
    pub entity: String,
    /// Responders.
    #[serde(default, deserialize_with = "yaml::nullable")]
    pub responders: Vec<OpsGenieResponder>,
    /// Actions (comma-separated).
    #[serde(default, deserialize_with = "yaml::string")]
    pub actions: String,
    /// Tags (comma-separated).
    #[serde(default, deserialize_with = "yaml::string")]
    pub tags: String,
    /// Note.
    #[serde(default, deserialize_with = "yaml::string")]
    pub note: String,
    /// Priority (`P1` to `P5`).
    #[serde(default, deserialize_with = "yaml::string")]
    pub priority: String,
    /// Whether an existing alert's message and description are updated.
    #[serde(default)]
    pub update_alerts: bool,
}

/// Alertmanager's default Opsgenie templates.
mod opsgenie {
    pub(super) fn message() -> String {
        r#"{{ template "opsgenie.default.message" . }}"#.into()
    }
    pub(super) fn description() -> String {
        r#"{{ template "opsgenie.default.description" . }}"#.into()
    }
    pub(super) fn source() -> String {
        r#"{{ template "opsgenie.default.source" . }}"#.into()
    }
}

/// A responder of an Opsgenie alert.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsGenieResponder {
    /// Id.
    #[serde(deserialize_with = "yaml::string")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "yaml::string")]
    pub name: String,
    /// User name.
    #[serde(deserialize_with = "yaml::string")]
    pub username: String,
    /// `team`, `teams`, `user`, `escalation` or `schedule` (or a template).
    #[serde(rename = "type", deserialize_with = "yaml::string")]
    pub kind: String,
}

impl OpsGenieConfig {
    pub(super) fn validate(&mut self, global: &GlobalConfig) -> Result<(), String> {
        if !self.api_key.expose().is_empty() && !self.api_key_file.is_empty() {
            return Err("at most one of api_key & api_key_file must be configured".into());
        }
        for r in &mut self.responders {
            // Go prints the responder struct with %v: `{id name username type}`.
            let shown = |r: &OpsGenieResponder| {
                format!("{{{} {} {} {}}}", r.id, r.name, r.username, r.kind)
            };
            if r.id.is_empty() && r.username.is_empty() && r.name.is_empty() {
                return Err(format!(
                    "opsGenieConfig responder {} has to have at least one of id, username or name specified",
                    shown(r)
                ));
            }
            if !r.kind.contains("{{") {
                r.kind = r.kind.to_lowercase();
                if !["team", "teams", "user", "escalation", "schedule"].contains(&r.kind.as_str()) {
                    return Err(format!(
                        "opsGenieConfig responder {} type does not match valid options ^(team|teams|user|escalation|schedule)$",
                        shown(r)
                    ));
                }
            }
        }
        let mut url = match self
            .api_url
            .take()
            .or_else(|| global.opsgenie_api_url.clone())
        {
            Some(url) => url,
            None => return Err("no global OpsGenie URL set".into()),
        };
        if !url.0.path().ends_with('/') {
            let path = format!("{}/", url.0.path());
            url.0.set_path(&path);
        }
        self.api_url = Some(url);
        if self.api_key.expose().is_empty() && self.api_key_file.is_empty() {
            if global.opsgenie_api_key.expose().is_empty()
                && global.opsgenie_api_key_file.is_empty()
            {
                return Err("no global OpsGenie API Key set either inline or in a file".into());
            }
            self.api_key = global.opsgenie_api_key.clone();
            self.api_key_file.clone_from(&global.opsgenie_api_key_file);
        }
        Ok(())
    }
}
