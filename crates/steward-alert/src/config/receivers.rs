//! `receivers`: where notifications go. The kinds steward sends (webhook,
//! email, Slack, PagerDuty, Opsgenie, Microsoft Teams) are typed with
//! Alertmanager's keys and defaults; the other kinds Alertmanager knows
//! (VictorOps, WeChat, Pushover, SNS, Telegram, Webex, Discord, ...) are
//! kept as written so that real configurations load, and are reported as
//! not sent ([`Receiver::unsupported_kinds`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use steward_core::Secret;

use super::global::{GlobalConfig, HttpConfig, TlsConfig};
use super::yaml::{self, HostPort, SecretUrl};

mod paging;
mod slack;

pub use paging::{
    OpsGenieConfig, OpsGenieResponder, PagerdutyConfig, PagerdutyImage, PagerdutyLink,
};
pub use slack::{SlackAction, SlackConfig, SlackConfirm, SlackField};

/// One receiver: a name and the integrations it notifies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Receiver {
    /// The name routes refer to (required, unique).
    #[serde(deserialize_with = "yaml::string")]
    pub name: String,
    /// Webhooks (Alertmanager's version-4 payload).
    #[serde(deserialize_with = "yaml::nullable")]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Email over SMTP.
    #[serde(deserialize_with = "yaml::nullable")]
    pub email_configs: Vec<EmailConfig>,
    /// Slack incoming webhooks (or a compatible API).
    #[serde(deserialize_with = "yaml::nullable")]
    pub slack_configs: Vec<SlackConfig>,
    /// PagerDuty (Events API v2, or v1 with a service key).
    #[serde(deserialize_with = "yaml::nullable")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    /// Opsgenie.
    #[serde(deserialize_with = "yaml::nullable")]
    pub opsgenie_configs: Vec<OpsGenieConfig>,
    /// Microsoft Teams (Alertmanager 0.26's key; 0.25 has no Teams receiver).
    #[serde(deserialize_with = "yaml::nullable")]
    pub msteams_configs: Vec<MsTeamsConfig>,
    /// Kinds that steward accepts but does not send to, as written.
    #[serde(deserialize_with = "yaml::nullable")]
    pub victorops_configs: Vec<serde_yaml_ng::Value>,
    /// Accepted, not sent.
    #[serde(deserialize_with = "yaml::nullable")]
    pub wechat_configs: Vec<serde_yaml_ng::Value>,
    /// Accepted, not sent.
    #[serde(deserialize_with = "yaml::nullable")]
    pub pushover_configs: Vec<serde_yaml_ng::Value>,
    /// Accepted, not sent.
    #[serde(deserialize_with = "yaml::nullable")]
    pub sns_configs: Vec<serde_yaml_ng::Value>,
    /// Accepted, not sent.
    #[serde(deserialize_with = "yaml::nullable")]
    pub telegram_configs: Vec<serde_yaml_ng::Value>,
    /// Accepted, not sent.
    #[serde(deserialize_with = "yaml::nullable")]
    pub webex_configs: Vec<serde_yaml_ng::Value>,
    /// Accepted, not sent.
    #[serde(deserialize_with = "yaml::nullable")]
    pub discord_configs: Vec<serde_yaml_ng::Value>,
}

impl Receiver {
    /// The kinds this receiver configures that steward does not send to
    /// (their keys, e.g. `victorops_configs`).
    pub fn unsupported_kinds(&self) -> Vec<&'static str> {
        [
            ("victorops_configs", self.victorops_configs.len()),
            ("wechat_configs", self.wechat_configs.len()),
            ("pushover_configs", self.pushover_configs.len()),
            ("sns_configs", self.sns_configs.len()),
            ("telegram_configs", self.telegram_configs.len()),
            ("webex_configs", self.webex_configs.len()),
            ("discord_configs", self.discord_configs.len()),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, _)| kind)
        .collect()
    }

    /// Alertmanager's per-receiver checks and the defaults it takes from
    /// the global section. The error is `(path below the receiver, message)`.
    pub(crate) fn validate(&mut self, global: &GlobalConfig) -> Result<(), (String, String)> {
        let at = |kind: &str, i: usize| format!("{kind}[{i}]");
        let http = |own: &mut Option<HttpConfig>| {
            if own.is_none() {
                *own = Some(global.http_config.clone());
            }
        };
        for (i, c) in self.webhook_configs.iter_mut().enumerate() {
            c.validate().map_err(|e| (at("webhook_configs", i), e))?;
            http(&mut c.http_config);
        }
        for (i, c) in self.email_configs.iter_mut().enumerate() {
            c.validate(global)
                .map_err(|e| (at("email_configs", i), e))?;
        }
        for (i, c) in self.slack_configs.iter_mut().enumerate() {
            c.validate(global)
                .map_err(|e| (at("slack_configs", i), e))?;
            http(&mut c.http_config);
        }
        for (i, c) in self.pagerduty_configs.iter_mut().enumerate() {
            c.validate(global)
                .map_err(|e| (at("pagerduty_configs", i), e))?;
            http(&mut c.http_config);
        }
        for (i, c) in self.opsgenie_configs.iter_mut().enumerate() {
            c.validate(global)
                .map_err(|e| (at("opsgenie_configs", i), e))?;
            http(&mut c.http_config);
        }
        for (i, c) in self.msteams_configs.iter_mut().enumerate() {
            c.validate().map_err(|e| (at("msteams_configs", i), e))?;
            http(&mut c.http_config);
        }
        Ok(())
    }

    /// Every `http_config` of the receiver, to resolve their file paths.
    pub(crate) fn http_configs_mut(&mut self) -> impl Iterator<Item = &mut HttpConfig> {
        let webhook = self.webhook_configs.iter_mut().map(|c| &mut c.http_config);
        let slack = self.slack_configs.iter_mut().map(|c| &mut c.http_config);
        let pagerduty = self
            .pagerduty_configs
            .iter_mut()
            .map(|c| &mut c.http_config);
        let opsgenie = self.opsgenie_configs.iter_mut().map(|c| &mut c.http_config);
        let msteams = self.msteams_configs.iter_mut().map(|c| &mut c.http_config);
        webhook
            .chain(slack)
            .chain(pagerduty)
            .chain(opsgenie)
            .chain(msteams)
            .filter_map(Option::as_mut)
    }
}

pub(super) const fn yes() -> bool {
    true
}

/// `webhook_configs`: POSTs Alertmanager's JSON payload (version 4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Whether resolved notifications are sent (true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The HTTP client (the global one when unset).
    #[serde(default, deserialize_with = "yaml::opt_checked")]
    pub http_config: Option<HttpConfig>,
    /// Where to POST.
    #[serde(default)]
    pub url: Option<SecretUrl>,
    /// A file holding the URL (Alertmanager 0.26's key).
    #[serde(default, deserialize_with = "yaml::string")]
    pub url_file: String,
    /// At most this many alerts per payload (0: all).
    #[serde(default)]
    pub max_alerts: u64,
}

impl WebhookConfig {
    fn validate(&self) -> Result<(), String> {
        match (&self.url, self.url_file.is_empty()) {
            (None, true) => Err("missing URL in webhook config".into()),
            (Some(_), false) => Err("at most one of url & url_file must be configured".into()),
            _ => Ok(()),
        }
    }
}

/// `email_configs`: mail over SMTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Whether resolved notifications are sent (false).
    #[serde(default)]
    pub send_resolved: bool,
    /// Recipients (a template).
    #[serde(default, deserialize_with = "yaml::string")]
    pub to: String,
    /// Sender (the global `smtp_from` when empty).
    #[serde(default, deserialize_with = "yaml::string")]
    pub from: String,
    /// EHLO name (the global `smtp_hello` when empty).
    #[serde(default, deserialize_with = "yaml::string")]
    pub hello: String,
    /// SMTP server (the global `smtp_smarthost` when unset).
    #[serde(default, deserialize_with = "yaml::opt_host_port")]
    pub smarthost: Option<HostPort>,
    /// SMTP user.
    #[serde(default, deserialize_with = "yaml::string")]
    pub auth_username: String,
    /// SMTP password.
    #[serde(default, deserialize_with = "yaml::secret")]
    pub auth_password: Secret<String>,
    /// A file holding the SMTP password.
    #[serde(default, deserialize_with = "yaml::string")]
    pub auth_password_file: String,
    /// CRAM-MD5 secret.
    #[serde(default, deserialize_with = "yaml::secret")]
    pub auth_secret: Secret<String>,
    /// PLAIN identity.
    #[serde(default, deserialize_with = "yaml::string")]
    pub auth_identity: String,
    /// Headers (templates), names in canonical case; `Subject` defaults to
    /// Alertmanager's subject template.
    #[serde(default, deserialize_with = "yaml::string_map")]
    pub headers: BTreeMap<String, String>,
    /// HTML body template.
    #[serde(default = "email_html", deserialize_with = "yaml::string")]
    pub html: String,
    /// Text body template (none by default).
    #[serde(default, deserialize_with = "yaml::string")]
    pub text: String,
    /// Whether STARTTLS is required (the global `smtp_require_tls` when unset).
    #[serde(default)]
    pub require_tls: Option<bool>,
    /// TLS settings (the global `smtp_tls_config` when unset).
    #[serde(default, deserialize_with = "yaml::opt_checked")]
    pub tls_config: Option<TlsConfig>,
}

fn email_html() -> String {
    r#"{{ template "email.default.html" . }}"#.to_owned()
}

/// Go's `strings.Title`: the first letter of each word upper-cased, a
/// word starting after any character that is not a letter, digit or `_`.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        out.extend(if start {
            c.to_uppercase().collect::<Vec<_>>()
        } else {
            vec![c]
        });
        start = !(c.is_alphanumeric() || c == '_');
    }
    out
}

impl EmailConfig {
    fn validate(&mut self, global: &GlobalConfig) -> Result<(), String> {
        if self.to.is_empty() {
            return Err("missing to address in email config".into());
        }
        let mut headers = BTreeMap::new();
        for (name, value) in std::mem::take(&mut self.headers) {
            let name = title_case(&name);
            if headers.contains_key(&name) {
                return Err(format!("duplicate header {name:?} in email config"));
            }
            headers.insert(name, value);
        }
        headers
            .entry("Subject".to_owned())
            .or_insert_with(|| r#"{{ template "email.default.subject" . }}"#.to_owned());
        self.headers = headers;
        if self.tls_config.is_none() {
            self.tls_config = Some(global.smtp_tls_config.clone());
        }
        if self.smarthost.is_none() {
            self.smarthost = Some(
                global
                    .smtp_smarthost
                    .clone()
                    .ok_or("no global SMTP smarthost set")?,
            );
        }
        if self.from.is_empty() {
            if global.smtp_from.is_empty() {
                return Err("no global SMTP from set".into());
            }
            self.from.clone_from(&global.smtp_from);
        }
        if self.hello.is_empty() {
            self.hello.clone_from(&global.smtp_hello);
        }
        if self.auth_username.is_empty() {
            self.auth_username.clone_from(&global.smtp_auth_username);
        }
        if self.auth_password.expose().is_empty() && self.auth_password_file.is_empty() {
            self.auth_password = global.smtp_auth_password.clone();
            self.auth_password_file
                .clone_from(&global.smtp_auth_password_file);
        }
        if self.auth_secret.expose().is_empty() {
            self.auth_secret = global.smtp_auth_secret.clone();
        }
        if self.auth_identity.is_empty() {
            self.auth_identity.clone_from(&global.smtp_auth_identity);
        }
        self.require_tls.get_or_insert(global.smtp_require_tls);
        Ok(())
    }
}

/// `msteams_configs`: a Microsoft Teams incoming webhook (Alertmanager
/// 0.26's receiver).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsTeamsConfig {
    /// Whether resolved notifications are sent (true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The HTTP client (the global one when unset).
    #[serde(default, deserialize_with = "yaml::opt_checked")]
    pub http_config: Option<HttpConfig>,
    /// The webhook URL.
    #[serde(default)]
    pub webhook_url: Option<SecretUrl>,
    /// A file holding the webhook URL.
    #[serde(default, deserialize_with = "yaml::string")]
    pub webhook_url_file: String,
    /// Title (a template).
    #[serde(default = "msteams::title", deserialize_with = "yaml::string")]
    pub title: String,
    /// Summary (a template).
    #[serde(default = "msteams::summary", deserialize_with = "yaml::string")]
    pub summary: String,
    /// Text (a template).
    #[serde(default = "msteams::text", deserialize_with = "yaml::string")]
    pub text: String,
}

/// Alertmanager's default Teams templates.
mod msteams {
    pub(super) fn title() -> String {
        r#"{{ template "msteams.default.title" . }}"#.into()
    }
    pub(super) fn summary() -> String {
        r#"{{ template "msteams.default.summary" . }}"#.into()
    }
    pub(super) fn text() -> String {
        r#"{{ template "msteams.default.text" . }}"#.into()
    }
}

impl MsTeamsConfig {
    fn validate(&self) -> Result<(), String> {
        match (&self.webhook_url, self.webhook_url_file.is_empty()) {
            (None, true) => Err("one of webhook_url or webhook_url_file must be configured".into()),
            (Some(_), false) => {
                Err("at most one of webhook_url & webhook_url_file must be configured".into())
            }
            _ => Ok(()),
        }
    }
}
