//! `slack_configs`: Slack's incoming-webhook message, with Alertmanager's
//! default templates and its checks of fields and actions.

use serde::Deserialize;

use super::super::global::{GlobalConfig, HttpConfig};
use super::super::yaml::{self, SecretUrl};

/// `slack_configs`: Slack's incoming-webhook message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Whether resolved notifications are sent (false).
    #[serde(default)]
    pub send_resolved: bool,
    /// The HTTP client (the global one when unset).
    #[serde(default, deserialize_with = "yaml::opt_checked")]
    pub http_config: Option<HttpConfig>,
    /// The webhook URL (the global `slack_api_url` when unset).
    #[serde(default)]
    pub api_url: Option<SecretUrl>,
    /// A file holding the webhook URL.
    #[serde(default, deserialize_with = "yaml::string")]
    pub api_url_file: String,
    /// The channel or user to post to.
    #[serde(default, deserialize_with = "yaml::string")]
    pub channel: String,
    /// Bot name (a template; the message's parts below default to
    /// Alertmanager's templates).
    #[serde(default = "defaults::username", deserialize_with = "yaml::string")]
    pub username: String,
    /// Attachment colour.
    #[serde(default = "defaults::color", deserialize_with = "yaml::string")]
    pub color: String,
    /// Title.
    #[serde(default = "defaults::title", deserialize_with = "yaml::string")]
    pub title: String,
    /// Title link.
    #[serde(default = "defaults::title_link", deserialize_with = "yaml::string")]
    pub title_link: String,
    /// Pretext.
    #[serde(default = "defaults::pretext", deserialize_with = "yaml::string")]
    pub pretext: String,
    /// Text.
    #[serde(default = "defaults::text", deserialize_with = "yaml::string")]
    pub text: String,
    /// Attachment fields.
    #[serde(default, deserialize_with = "yaml::nullable")]
    pub fields: Vec<SlackField>,
    /// Whether fields are short by default.
    #[serde(default)]
    pub short_fields: bool,
    /// Footer.
    #[serde(default = "defaults::footer", deserialize_with = "yaml::string")]
    pub footer: String,
    /// Fallback text.
    #[serde(default = "defaults::fallback", deserialize_with = "yaml::string")]
    pub fallback: String,
    /// Callback id.
    #[serde(default = "defaults::callback_id", deserialize_with = "yaml::string")]
    pub callback_id: String,
    /// Emoji icon.
    #[serde(default = "defaults::icon_emoji", deserialize_with = "yaml::string")]
    pub icon_emoji: String,
    /// Icon URL.
    #[serde(default = "defaults::icon_url", deserialize_with = "yaml::string")]
    pub icon_url: String,
    /// Image URL.
    #[serde(default, deserialize_with = "yaml::string")]
    pub image_url: String,
    /// Thumbnail URL.
    #[serde(default, deserialize_with = "yaml::string")]
    pub thumb_url: String,
    /// Whether names are linked.
    #[serde(default)]
    pub link_names: bool,
    /// Parts formatted as Markdown.
    #[serde(default, deserialize_with = "yaml::strings")]
    pub mrkdwn_in: Vec<String>,
    /// Buttons.
    #[serde(default, deserialize_with = "yaml::nullable")]
    pub actions: Vec<SlackAction>,
}

/// Alertmanager's default Slack templates.
mod defaults {
    pub(super) fn username() -> String {
        r#"{{ template "slack.default.username" . }}"#.into()
    }
    pub(super) fn color() -> String {
        r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.into()
    }
    pub(super) fn title() -> String {
        r#"{{ template "slack.default.title" . }}"#.into()
    }
    pub(super) fn title_link() -> String {
        r#"{{ template "slack.default.titlelink" . }}"#.into()
    }
    pub(super) fn pretext() -> String {
        r#"{{ template "slack.default.pretext" . }}"#.into()
    }
    pub(super) fn text() -> String {
        r#"{{ template "slack.default.text" . }}"#.into()
    }
    pub(super) fn footer() -> String {
        r#"{{ template "slack.default.footer" . }}"#.into()
    }
    pub(super) fn fallback() -> String {
        r#"{{ template "slack.default.fallback" . }}"#.into()
    }
    pub(super) fn callback_id() -> String {
        r#"{{ template "slack.default.callbackid" . }}"#.into()
    }
    pub(super) fn icon_emoji() -> String {
        r#"{{ template "slack.default.iconemoji" . }}"#.into()
    }
    pub(super) fn icon_url() -> String {
        r#"{{ template "slack.default.iconurl" . }}"#.into()
    }
}

/// A field of a Slack attachment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackField {
    /// Title (required).
    #[serde(deserialize_with = "yaml::string")]
    pub title: String,
    /// Value (required).
    #[serde(deserialize_with = "yaml::string")]
    pub value: String,
    /// Whether it is short (the config's `short_fields` when unset).
    pub short: Option<bool>,
}

/// A button of a Slack attachment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackAction {
    /// `button`.
    #[serde(rename = "type", deserialize_with = "yaml::string")]
    pub kind: String,
    /// Label.
    #[serde(deserialize_with = "yaml::string")]
    pub text: String,
    /// Link (or `name` and `value`).
    #[serde(deserialize_with = "yaml::string")]
    pub url: String,
    /// Style.
    #[serde(deserialize_with = "yaml::string")]
    pub style: String,
    /// Name of an interactive button.
    #[serde(deserialize_with = "yaml::string")]
    pub name: String,
    /// Value of an interactive button.
    #[serde(deserialize_with = "yaml::string")]
    pub value: String,
    /// A confirmation dialog.
    pub confirm: Option<SlackConfirm>,
}

/// The confirmation dialog of a Slack button.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfirm {
    /// Body (required).
    #[serde(deserialize_with = "yaml::string")]
    pub text: String,
    /// Title.
    #[serde(deserialize_with = "yaml::string")]
    pub title: String,
    /// Confirm button.
    #[serde(deserialize_with = "yaml::string")]
    pub ok_text: String,
    /// Cancel button.
    #[serde(deserialize_with = "yaml::string")]
    pub dismiss_text: String,
}

impl SlackConfig {
    pub(super) fn validate(&mut self, global: &GlobalConfig) -> Result<(), String> {
        if self.api_url.is_some() && !self.api_url_file.is_empty() {
            return Err("at most one of api_url & api_url_file must be configured".into());
        }
        for action in &mut self.actions {
            if action.kind.is_empty() {
                return Err("missing type in Slack action configuration".into());
            }
            if action.text.is_empty() {
                return Err("missing text in Slack action configuration".into());
            }
            if !action.url.is_empty() {
                action.name.clear();
                action.value.clear();
                action.confirm = None;
            } else if action.name.is_empty() {
                return Err("missing name or url in Slack action configuration".into());
            }
            if action.confirm.as_ref().is_some_and(|c| c.text.is_empty()) {
                return Err("missing text in Slack confirmation configuration".into());
            }
        }
        for field in &self.fields {
            if field.title.is_empty() {
                return Err("missing title in Slack field configuration".into());
            }
            if field.value.is_empty() {
                return Err("missing value in Slack field configuration".into());
            }
        }
        if self.api_url.is_none() && self.api_url_file.is_empty() {
            if global.slack_api_url.is_none() && global.slack_api_url_file.is_empty() {
                return Err("no global Slack API URL set either inline or in a file".into());
            }
            self.api_url.clone_from(&global.slack_api_url);
            self.api_url_file.clone_from(&global.slack_api_url_file);
        }
        Ok(())
    }
}
