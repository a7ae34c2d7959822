//! From a loaded Alertmanager configuration to what the AlertManager
//! runs ([`Configured`]): the route tree behind the dispatcher's
//! [`Router`] trait, each receiver's integrations built from its typed
//! configs, the inhibition rules, the time intervals behind the
//! [`GroupMuter`] trait, the resolve timeout and the receivers' names.
//!
//! Texts: a template left at Alertmanager's default (`{{ template
//! "slack.default.title" . }}` and the like, which name Alertmanager's
//! own template file, not shipped here) or empty becomes steward's
//! default ([`template::DEFAULT_TITLE`], [`template::DEFAULT_TEXT`],
//! [`email::DEFAULT_HTML`]); a text the configuration wrote is kept, and
//! the `templates:` files are parsed so that it may call their
//! `define`s.
//!
//! Each HTTP integration gets its own client from its `http_config`
//! (the global one when it has none), files read now
//! ([`crate::notify::http::client`]).
//!
//! Not mapped (yet): PagerDuty's v1 `service_key` (sent as a v2 routing key),
//! Opsgenie's responders, tags and notes, Slack's fields and actions.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{
    Config, ConfigError, EmailConfig, HttpConfig, MsTeamsConfig, OpsGenieConfig, PagerdutyConfig,
    SlackConfig, WebhookConfig,
};
use crate::dispatch::{self, GroupMuter, Router};
use crate::inhibit::InhibitRule;
use crate::manager::Configured;
use crate::notify::receivers::{AttemptListener, IgnoreAttempts, Receivers};
use crate::notify::template::{self, Renderer};
use crate::notify::{
    Integration, RetryPolicy, email, http, msteams::MsTeams, opsgenie, opsgenie::Opsgenie,
    pagerduty, pagerduty::PagerDuty, slack::Slack, webhook::Webhook,
};
use crate::route::Route;
use crate::timeinterval::TimeIntervals;
use crate::{Error, LabelSet, Result};

/// How long one delivery try may take.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The route tree as the dispatcher's [`Router`]: each route's options
/// converted once, shared by every alert dispatched to it.
pub struct RouteTree {
    root: Route,
    opts: HashMap<String, Arc<dispatch::RouteOpts>>,
}

impl std::fmt::Debug for RouteTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTree")
            .field("routes", &self.opts.len())
            .finish_non_exhaustive()
    }
}

impl RouteTree {
    /// The router of `root`'s tree.
    pub fn new(root: Route) -> Self {
        let opts = root
            .walk()
            .into_iter()
            .map(|route| (route.id().to_owned(), Arc::new(dispatch_opts(route))))
            .collect();
        RouteTree { root, opts }
    }

    /// The tree.
    pub fn root(&self) -> &Route {
        &self.root
    }
}

/// A route's options as the dispatcher takes them, with its identity.
pub fn dispatch_opts(route: &Route) -> dispatch::RouteOpts {
    let o = route.opts();
    dispatch::RouteOpts {
        id: route.id().to_owned(),
        key: route.key().to_owned(),
        receiver: o.receiver.clone(),
        group_by: (!o.group_by_all).then(|| o.group_by.clone()),
        group_wait: o.group_wait,
        group_interval: o.group_interval,
        repeat_interval: o.repeat_interval,
        mute_time_intervals: o.mute_time_intervals.clone(),
        active_time_intervals: o.active_time_intervals.clone(),
    }
}

impl Router for RouteTree {
    fn routes(&self, labels: &LabelSet) -> Vec<Arc<dispatch::RouteOpts>> {
        self.root
            .r#match(labels)
            .into_iter()
            .map(|route| match self.opts.get(route.id()) {
                Some(opts) => opts.clone(),
                // every route of the tree is in the map; never reached
                None => Arc::new(dispatch_opts(route)),
            })
            .collect()
    }
}

/// Mutes routes by their named time intervals.
#[derive(Debug, Clone)]
pub struct IntervalMuter(pub TimeIntervals);

impl GroupMuter for IntervalMuter {
    fn mutes_group(&self, route: &dispatch::RouteOpts, now: DateTime<Utc>) -> bool {
        self.0
            .mutes(
                &route.mute_time_intervals,
                &route.active_time_intervals,
                now,
            )
            .unwrap_or_else(|err| {
                // a checked configuration names only intervals it defines
                tracing::warn!(route = %route.key, error = %err, "cannot decide a route's time intervals");
                false
            })
    }
}

/// What `config` configures, without a listener for delivery tries; see
/// [`configured_with`].
pub fn configured(config: &Config, original: String, external_url: &str) -> Result<Configured> {
    configured_with(config, original, external_url, Arc::new(IgnoreAttempts))
}

/// What `config` (whose text is `original`) configures, with links in
/// notifications pointing at `external_url` and every delivery try told
/// to `listener`.
pub fn configured_with(
    config: &Config,
    original: String,
    external_url: &str,
    listener: Arc<dyn AttemptListener>,
) -> Result<Configured> {
    configured_enriched(config, original, external_url, listener, None)
}

/// As [`configured_with`], each alert enriched by `enricher` (when given)
/// before it is sent.
pub fn configured_enriched(
    config: &Config,
    original: String,
    external_url: &str,
    listener: Arc<dyn AttemptListener>,
    enricher: Option<Arc<dyn crate::enrich::Enricher>>,
) -> Result<Configured> {
    let renderer = renderer(config)?;
    let mut receivers =
        Receivers::new(external_url, RetryPolicy::default()).with_listener(listener);
    if let Some(enricher) = enricher {
        receivers = receivers.with_enricher(enricher);
    }
    let builder = Builder { config, renderer };
    for (i, receiver) in config.receivers.iter().enumerate() {
        let mut integrations: Vec<Arc<dyn Integration>> = Vec::new();
        let at = |kind: &str, j: usize| format!("receivers[{i}].{kind}[{j}]");
        for (j, c) in receiver.webhook_configs.iter().enumerate() {
            integrations.push(Arc::new(builder.webhook(c, &at("webhook_configs", j))?));
        }
        for c in &receiver.email_configs {
            integrations.push(Arc::new(builder.email(c)?));
        }
        for (j, c) in receiver.slack_configs.iter().enumerate() {
            integrations.push(Arc::new(builder.slack(c, &at("slack_configs", j))?));
        }
        for (j, c) in receiver.pagerduty_configs.iter().enumerate() {
            integrations.push(Arc::new(builder.pagerduty(c, &at("pagerduty_configs", j))?));
        }
        for (j, c) in receiver.opsgenie_configs.iter().enumerate() {
            integrations.push(Arc::new(builder.opsgenie(c, &at("opsgenie_configs", j))?));
        }
        for (j, c) in receiver.msteams_configs.iter().enumerate() {
            integrations.push(Arc::new(builder.msteams(c, &at("msteams_configs", j))?));
        }
        receivers.add(receiver.name.clone(), integrations, None);
    }
    let intervals = config.time_intervals();
    Ok(Configured {
        router: Arc::new(RouteTree::new(Route::from_config(config))),
        notifier: Arc::new(receivers),
        inhibit_rules: config
            .inhibit_rules
            .iter()
            .map(|rule| InhibitRule {
                source: rule.source(),
                target: rule.target(),
                equal: rule.equal.clone(),
            })
            .collect(),
        group_muter: (!intervals.0.is_empty())
            .then(|| Arc::new(IntervalMuter(intervals)) as Arc<dyn GroupMuter>),
        resolve_timeout: config.global.resolve_timeout,
        original,
        receivers: config.receivers.iter().map(|r| r.name.clone()).collect(),
    })
}

/// The renderer with the configuration's `templates:` files.
fn renderer(config: &Config) -> Result<Renderer> {
    let mut texts = Vec::new();
    for pattern in &config.templates {
        for file in expand(pattern)? {
            texts.push(
                std::fs::read_to_string(&file).map_err(|e| Error::ConfigFile {
                    file: file.display().to_string(),
                    message: format!("cannot be read: {e}"),
                })?,
            );
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Renderer::new(&refs).map_err(|e| Error::ConfigFile {
        file: config.templates.join(", "),
        message: format!("invalid template: {e}"),
    })
}

/// The files of a `templates:` entry: the file itself, or those of its
/// directory whose names match a last component with `*` wildcards.
fn expand(pattern: &str) -> Result<Vec<std::path::PathBuf>> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.contains('*') {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // Alertmanager's glob matches nothing in a missing directory
        Err(_) => return Ok(Vec::new()),
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard(name, n)))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `name` matches `pattern`, whose `*` match any run of
/// characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether `text` only calls one of Alertmanager's default templates
/// (`{{ template "slack.default.title" . }}`), which steward does not
/// ship.
fn is_alertmanager_default(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("{{") && t.contains("template \"") && t.contains(".default.") && {
        !t.contains("\"steward.default.")
    }
}

/// `text`, or `default` when it is empty or Alertmanager's default.
fn text_or(text: &str, default: &str) -> String {
    if text.trim().is_empty() || is_alertmanager_default(text) {
        default.to_owned()
    } else {
        text.to_owned()
    }
}

/// A secret given inline or in a file (trailing whitespace dropped, as
/// Alertmanager trims `*_file` secrets).
fn secret_or_file(inline: &str, file: &str, what: &str) -> Result<String> {
    if !inline.is_empty() || file.is_empty() {
        return Ok(inline.to_owned());
    }
    std::fs::read_to_string(file)
        .map(|s| s.trim_end().to_owned())
        .map_err(|e| Error::ConfigFile {
            file: file.to_owned(),
            message: format!("cannot read the {what}: {e}"),
        })
}

struct Builder<'a> {
    config: &'a Config,
    renderer: Renderer,
}

impl Builder<'_> {
    /// The client of the integration at `at` (`receivers[0].webhook_configs[1]`):
    /// its own `http_config`, or the global one.
    fn client(&self, http: Option<&HttpConfig>, at: &str) -> Result<reqwest::Client> {
        let http = http.unwrap_or(&self.config.global.http_config);
        http::client(http).map_err(|err| {
            let path = match err.path.is_empty() {
                true => format!("{at}.http_config"),
                false => format!("{at}.http_config.{}", err.path),
            };
            Error::InvalidConfig(ConfigError { path, ..err })
        })
    }

    fn webhook(&self, c: &WebhookConfig, at: &str) -> Result<Webhook> {
        let url = secret_or_file(
            c.url.as_ref().map(|u| u.expose()).unwrap_or_default(),
            &c.url_file,
            "webhook URL",
        )?;
        Ok(Webhook {
            url,
            max_alerts: usize::try_from(c.max_alerts).unwrap_or(usize::MAX),
            send_resolved: c.send_resolved,
            hmac_secret: None,
            timeout: NOTIFY_TIMEOUT,
            client: self.client(c.http_config.as_ref(), at)?,
        })
    }

    fn email(&self, c: &EmailConfig) -> Result<email::Email> {
        let global = &self.config.global;
        let smarthost = c
            .smarthost
            .clone()
            .or_else(|| global.smtp_smarthost.clone())
            .ok_or_else(|| Error::Notify("no SMTP smarthost set".into()))?;
        let port: u16 = smarthost.port.parse().map_err(|_| {
            Error::Notify(format!(
                "SMTP smarthost port {:?} is not a number",
                smarthost.port
            ))
        })?;
        let require_tls = c.require_tls.unwrap_or(global.smtp_require_tls);
        let security = match (port, require_tls) {
            (465, _) => email::Security::Implicit,
            (_, true) => email::Security::StartTls,
            (_, false) => email::Security::None,
        };
        let tls = c.tls_config.clone().unwrap_or_default();
        let ca_pem = match (tls.ca.is_empty(), tls.ca_file.is_empty()) {
            (false, _) => Some(tls.ca.clone().into_bytes()),
            (true, false) => Some(std::fs::read(&tls.ca_file).map_err(|e| Error::ConfigFile {
                file: tls.ca_file.clone(),
                message: format!("cannot read the CA: {e}"),
            })?),
            (true, true) => None,
        };
        let password = secret_or_file(
            c.auth_password.expose(),
            &c.auth_password_file,
            "SMTP password",
        )?;
        let subject = c.headers.get("Subject").map_or("", String::as_str);
        Ok(email::Email {
            to: c
                .to
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            from: if c.from.is_empty() {
                global.smtp_from.clone()
            } else {
                c.from.clone()
            },
            host: smarthost.host,
            port,
            security,
            server_name: (!tls.server_name.is_empty()).then(|| tls.server_name.clone()),
            ca_pem,
            insecure_skip_verify: tls.insecure_skip_verify,
            auth: (!c.auth_username.is_empty()).then(|| (c.auth_username.clone(), password)),
            hello: (!c.hello.is_empty()).then(|| c.hello.clone()),
            subject: text_or(subject, email::DEFAULT_SUBJECT),
            text: text_or(&c.text, template::DEFAULT_TEXT),
            html: text_or(&c.html, email::DEFAULT_HTML),
            send_resolved: c.send_resolved,
            timeout: NOTIFY_TIMEOUT,
            renderer: self.renderer.clone(),
        })
    }

    fn slack(&self, c: &SlackConfig, at: &str) -> Result<Slack> {
        let global = &self.config.global;
        let inline = c
            .api_url
            .as_ref()
            .or(global.slack_api_url.as_ref())
            .map(|u| u.expose())
            .unwrap_or_default();
        let file = if c.api_url_file.is_empty() {
            &global.slack_api_url_file
        } else {
            &c.api_url_file
        };
        let api_url = secret_or_file(inline, file, "Slack API URL")?;
        let username = text_or(&c.username, "");
        Ok(Slack {
            api_url,
            channel: (!c.channel.is_empty()).then(|| c.channel.clone()),
            username: (!username.is_empty()).then_some(username),
            title: text_or(&c.title, template::DEFAULT_TITLE),
            title_link: text_or(&c.title_link, ""),
            text: text_or(&c.text, template::DEFAULT_TEXT),
            fallback: text_or(&c.fallback, template::DEFAULT_TITLE),
            color: text_or(&c.color, crate::notify::slack::DEFAULT_COLOR),
            send_resolved: c.send_resolved,
            timeout: NOTIFY_TIMEOUT,
            renderer: self.renderer.clone(),
            client: self.client(c.http_config.as_ref(), at)?,
        })
    }

    fn pagerduty(&self, c: &PagerdutyConfig, at: &str) -> Result<PagerDuty> {
        let routing_key = match secret_or_file(
            c.routing_key.expose(),
            &c.routing_key_file,
            "PagerDuty routing key",
        )? {
            key if !key.is_empty() => key,
            _ => secret_or_file(
                c.service_key.expose(),
                &c.service_key_file,
                "PagerDuty service key",
            )?,
        };
        let url = c
            .url
            .as_ref()
            .or(self.config.global.pagerduty_url.as_ref())
            .map_or(pagerduty::DEFAULT_URL, |u| u.as_str())
            .to_owned();
        Ok(PagerDuty {
            url,
            routing_key,
            description: text_or(&c.description, template::DEFAULT_TITLE),
            severity: text_or(&c.severity, "error"),
            client: text_or(&c.client, "steward"),
            client_url: text_or(&c.client_url, "{{ .ExternalURL }}"),
            details: defaults_dropped(&c.details),
            send_resolved: c.send_resolved,
            timeout: NOTIFY_TIMEOUT,
            renderer: self.renderer.clone(),
            client_http: self.client(c.http_config.as_ref(), at)?,
        })
    }

    fn opsgenie(&self, c: &OpsGenieConfig, at: &str) -> Result<Opsgenie> {
        let global = &self.config.global;
        let (inline, file) = if c.api_key.expose().is_empty() && c.api_key_file.is_empty() {
            (
                global.opsgenie_api_key.expose(),
                &global.opsgenie_api_key_file,
            )
        } else {
            (c.api_key.expose(), &c.api_key_file)
        };
        let api_key = secret_or_file(inline, file, "Opsgenie API key")?;
        let mut api_url = c
            .api_url
            .as_ref()
            .or(global.opsgenie_api_url.as_ref())
            .map_or(opsgenie::DEFAULT_API_URL, |u| u.as_str())
            .to_owned();
        if !api_url.ends_with('/') {
            api_url.push('/');
        }
        Ok(Opsgenie {
            api_url,
            api_key,
            message: text_or(&c.message, template::DEFAULT_TITLE),
            description: text_or(&c.description, template::DEFAULT_TEXT),
            source: text_or(&c.source, "{{ .ExternalURL }}"),
            priority: c.priority.clone(),
            details: defaults_dropped(&c.details),
            send_resolved: c.send_resolved,
            timeout: NOTIFY_TIMEOUT,
            renderer: self.renderer.clone(),
            client: self.client(c.http_config.as_ref(), at)?,
        })
    }

    fn msteams(&self, c: &MsTeamsConfig, at: &str) -> Result<MsTeams> {
        let webhook_url = secret_or_file(
            c.webhook_url
                .as_ref()
                .map(|u| u.expose())
                .unwrap_or_default(),
            &c.webhook_url_file,
            "Microsoft Teams webhook URL",
        )?;
        Ok(MsTeams {
            webhook_url,
            title: text_or(&c.title, template::DEFAULT_TITLE),
            text: text_or(&c.text, template::DEFAULT_TEXT),
            send_resolved: c.send_resolved,
            timeout: NOTIFY_TIMEOUT,
            renderer: self.renderer.clone(),
            client: self.client(c.http_config.as_ref(), at)?,
        })
    }
}

/// `details` without the entries left at Alertmanager's defaults (the
/// integration adds its own firing and resolved lists and counts).
fn defaults_dropped(
    details: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    details
        .iter()
        .filter(|(_, v)| !is_alertmanager_default(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
