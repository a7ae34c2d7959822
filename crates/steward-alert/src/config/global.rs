//! The `global` section of Alertmanager's configuration (its defaults
//! included) and the `http_config` blocks (Prometheus' common HTTP client
//! configuration) that the global section and the receivers share.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use steward_core::Secret;

use super::yaml::{self, HostPort, HttpUrl, SecretUrl};

/// `global`: defaults for the receivers and the resolve timeout.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long after its last update an alert without an end is taken as
    /// resolved (5m).
    #[serde(deserialize_with = "yaml::duration")]
    pub resolve_timeout: Duration,
    /// The HTTP client of receivers that have no `http_config` of their own.
    #[serde(deserialize_with = "yaml::nullable")]
    pub http_config: HttpConfig,
    /// Default sender address of email receivers.
    #[serde(deserialize_with = "yaml::string")]
    pub smtp_from: String,
    /// Default EHLO name (`localhost`).
    #[serde(deserialize_with = "yaml::string")]
    pub smtp_hello: String,
    /// Default SMTP server, `host:port`.
    #[serde(deserialize_with = "yaml::opt_host_port")]
    pub smtp_smarthost: Option<HostPort>,
    /// Default SMTP user.
    #[serde(deserialize_with = "yaml::string")]
    pub smtp_auth_username: String,
    /// Default SMTP password.
    #[serde(deserialize_with = "yaml::secret")]
    pub smtp_auth_password: Secret<String>,
    /// Default file holding the SMTP password.
    #[serde(deserialize_with = "yaml::string")]
    pub smtp_auth_password_file: String,
    /// Default CRAM-MD5 secret.
    #[serde(deserialize_with = "yaml::secret")]
    pub smtp_auth_secret: Secret<String>,
    /// Default PLAIN identity.
    #[serde(deserialize_with = "yaml::string")]
    pub smtp_auth_identity: String,
    /// Whether SMTP must use STARTTLS (true).
    pub smtp_require_tls: bool,
    /// Default TLS settings of SMTP connections.
    #[serde(deserialize_with = "yaml::nullable")]
    pub smtp_tls_config: TlsConfig,
    /// Default Slack webhook URL.
    pub slack_api_url: Option<SecretUrl>,
    /// Default file holding the Slack webhook URL.
    #[serde(deserialize_with = "yaml::string")]
    pub slack_api_url_file: String,
    /// PagerDuty Events API URL (`https://events.pagerduty.com/v2/enqueue`).
    pub pagerduty_url: Option<HttpUrl>,
    /// Opsgenie API URL (`https://api.opsgenie.com/`).
    pub opsgenie_api_url: Option<HttpUrl>,
    /// Default Opsgenie API key.
    #[serde(deserialize_with = "yaml::secret")]
    pub opsgenie_api_key: Secret<String>,
    /// Default file holding the Opsgenie API key.
    #[serde(deserialize_with = "yaml::string")]
    pub opsgenie_api_key_file: String,
    /// WeChat API URL (accepted; steward does not send to WeChat).
    pub wechat_api_url: Option<HttpUrl>,
    /// WeChat API secret (accepted, not used).
    #[serde(deserialize_with = "yaml::secret")]
    pub wechat_api_secret: Secret<String>,
    /// WeChat corporation id (accepted, not used).
    #[serde(deserialize_with = "yaml::string")]
    pub wechat_api_corp_id: String,
    /// VictorOps API URL (accepted, not used).
    pub victorops_api_url: Option<HttpUrl>,
    /// VictorOps API key (accepted, not used).
    #[serde(deserialize_with = "yaml::secret")]
    pub victorops_api_key: Secret<String>,
    /// File holding the VictorOps API key (accepted, not used).
    #[serde(deserialize_with = "yaml::string")]
    pub victorops_api_key_file: String,
    /// Telegram API URL (accepted, not used).
    pub telegram_api_url: Option<HttpUrl>,
    /// Webex API URL (accepted, not used).
    pub webex_api_url: Option<HttpUrl>,
}

fn url(text: &str) -> Option<HttpUrl> {
    HttpUrl::parse(text).ok()
}

impl Default for GlobalConfig {
    /// Alertmanager's `DefaultGlobalConfig`.
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: Duration::from_secs(5 * 60),
            http_config: HttpConfig::default(),
            smtp_from: String::new(),
            smtp_hello: "localhost".to_owned(),
            smtp_smarthost: None,
            smtp_auth_username: String::new(),
            smtp_auth_password: Secret::default(),
            smtp_auth_password_file: String::new(),
            smtp_auth_secret: Secret::default(),
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            smtp_tls_config: TlsConfig::default(),
            slack_api_url: None,
            slack_api_url_file: String::new(),
            pagerduty_url: url("https://events.pagerduty.com/v2/enqueue"),
            opsgenie_api_url: url("https://api.opsgenie.com/"),
            opsgenie_api_key: Secret::default(),
            opsgenie_api_key_file: String::new(),
            wechat_api_url: url("https://qyapi.weixin.qq.com/cgi-bin/"),
            wechat_api_secret: Secret::default(),
            wechat_api_corp_id: String::new(),
            victorops_api_url: url(
                "https://alert.victorops.com/integrations/generic/20131114/alert/",
            ),
            victorops_api_key: Secret::default(),
            victorops_api_key_file: String::new(),
            telegram_api_url: url("https://api.telegram.org"),
            webex_api_url: url("https://webexapis.com/v1/messages"),
        }
    }
}

impl GlobalConfig {
    /// The checks of Alertmanager's configuration on the global section:
    /// a value and a file for the same secret exclude each other.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let both = |a: bool, b: &str, what: &str| match a && !b.is_empty() {
            true => Err(format!(
                "at most one of {what} & {what}_file must be configured"
            )),
            false => Ok(()),
        };
        both(
            self.slack_api_url.is_some(),
            &self.slack_api_url_file,
            "slack_api_url",
        )?;
        both(
            !self.opsgenie_api_key.expose().is_empty(),
            &self.opsgenie_api_key_file,
            "opsgenie_api_key",
        )?;
        both(
            !self.victorops_api_key.expose().is_empty(),
            &self.victorops_api_key_file,
            "victorops_api_key",
        )?;
        both(
            !self.smtp_auth_password.expose().is_empty(),
            &self.smtp_auth_password_file,
            "smtp_auth_password",
        )
    }
}

/// `http_config`: how a receiver's HTTP client authenticates and connects
/// (Prometheus' common `HTTPClientConfig`; the parts steward uses are
/// typed, OAuth 2 is kept as written).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header (type and credentials).
    pub authorization: Option<Authorization>,
    /// OAuth 2 client credentials, as written (not used by steward yet).
    pub oauth2: Option<serde_yaml_ng::Value>,
    /// A bearer token (the older form of `authorization`).
    #[serde(deserialize_with = "yaml::secret")]
    pub bearer_token: Secret<String>,
    /// A file holding the bearer token.
    #[serde(deserialize_with = "yaml::string")]
    pub bearer_token_file: String,
    /// TLS settings.
    #[serde(deserialize_with = "yaml::nullable")]
    pub tls_config: TlsConfig,
    /// An HTTP proxy.
    #[serde(deserialize_with = "yaml::string")]
    pub proxy_url: String,
    /// Hosts not to reach through the proxy.
    #[serde(deserialize_with = "yaml::string")]
    pub no_proxy: String,
    /// Whether to use the proxy of the environment (`HTTP_PROXY`).
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    #[serde(deserialize_with = "yaml::nullable")]
    pub proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// Whether redirects are followed (true).
    pub follow_redirects: bool,
    /// Whether HTTP/2 may be used (true).
    pub enable_http2: bool,
}

impl Default for HttpConfig {
    /// Prometheus' `DefaultHTTPClientConfig`.
    fn default() -> Self {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: TlsConfig::default(),
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// `basic_auth` of an `http_config`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    #[serde(deserialize_with = "yaml::string")]
    pub username: String,
    /// A file holding the user name.
    #[serde(deserialize_with = "yaml::string")]
    pub username_file: String,
    /// The password.
    #[serde(deserialize_with = "yaml::secret")]
    pub password: Secret<String>,
    /// A file holding the password.
    #[serde(deserialize_with = "yaml::string")]
    pub password_file: String,
}

/// `authorization` of an `http_config`: `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Authorization {
    /// The scheme (`Bearer` when empty).
    #[serde(rename = "type", deserialize_with = "yaml::string")]
    pub kind: String,
    /// The credentials.
    #[serde(deserialize_with = "yaml::secret")]
    pub credentials: Secret<String>,
    /// A file holding the credentials.
    #[serde(deserialize_with = "yaml::string")]
    pub credentials_file: String,
}

/// `tls_config`: certificates and verification of a TLS client.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificates (PEM) to trust.
    #[serde(deserialize_with = "yaml::string")]
    pub ca: String,
    /// The client certificate (PEM).
    #[serde(deserialize_with = "yaml::string")]
    pub cert: String,
    /// The client key (PEM).
    #[serde(deserialize_with = "yaml::secret")]
    pub key: Secret<String>,
    /// A file of CA certificates.
    #[serde(deserialize_with = "yaml::string")]
    pub ca_file: String,
    /// The client certificate's file.
    #[serde(deserialize_with = "yaml::string")]
    pub cert_file: String,
    /// The client key's file.
    #[serde(deserialize_with = "yaml::string")]
    pub key_file: String,
    /// The name to verify the server's certificate against.
    #[serde(deserialize_with = "yaml::string")]
    pub server_name: String,
    /// Whether the server's certificate goes unchecked.
    pub insecure_skip_verify: bool,
    /// Lowest TLS version (`TLS12`, `TLS13`).
    #[serde(deserialize_with = "yaml::string")]
    pub min_version: String,
    /// Highest TLS version.
    #[serde(deserialize_with = "yaml::string")]
    pub max_version: String,
}

impl TlsConfig {
    /// Makes the relative file paths relative to `dir`.
    fn set_directory(&mut self, dir: &Path) {
        for file in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file] {
            join(dir, file);
        }
    }
}

/// Makes `file` relative to `dir` unless it is empty or absolute.
pub(crate) fn join(dir: &Path, file: &mut String) {
    if !file.is_empty() && Path::new(file.as_str()).is_relative() {
        *file = dir.join(file.as_str()).to_string_lossy().into_owned();
    }
}

impl HttpConfig {
    /// Prometheus' `HTTPClientConfig.Validate`: one way to authenticate,
    /// a value or a file for each secret.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let bearer = !self.bearer_token.expose().is_empty() || !self.bearer_token_file.is_empty();
        if !self.bearer_token.expose().is_empty() && !self.bearer_token_file.is_empty() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && bearer {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
        if let Some(auth) = &self.basic_auth {
            if !auth.username.is_empty() && !auth.username_file.is_empty() {
                return Err(
                    "at most one of basic_auth username & username_file must be configured".into(),
                );
            }
            if !auth.password.expose().is_empty() && !auth.password_file.is_empty() {
                return Err(
                    "at most one of basic_auth password & password_file must be configured".into(),
                );
            }
        }
        if let Some(auth) = &self.authorization {
            if bearer {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                );
            }
            if !auth.credentials.expose().is_empty() && !auth.credentials_file.is_empty() {
                return Err(
                    "at most one of authorization credentials & credentials_file must be configured"
                        .into(),
                );
            }
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#
                        .into(),
                );
            }
        }
        let schemes = [
            self.basic_auth.is_some(),
            self.oauth2.is_some(),
            self.authorization.is_some(),
        ];
        if schemes.iter().filter(|set| **set).count() > 1 {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into(),
            );
        }
        Ok(())
    }

    /// Makes the relative file paths relative to `dir` (the configuration
    /// file's directory), as Alertmanager does on loading a file.
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        if let Some(auth) = &mut self.basic_auth {
            join(dir, &mut auth.username_file);
            join(dir, &mut auth.password_file);
        }
        if let Some(auth) = &mut self.authorization {
            join(dir, &mut auth.credentials_file);
        }
        join(dir, &mut self.bearer_token_file);
        self.tls_config.set_directory(dir);
    }
}
