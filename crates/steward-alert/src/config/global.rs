//! The `global` section of Alertmanager's configuration (its defaults
//! included) and the `http_config` blocks (Prometheus' common HTTP client
//! configuration) that the global section and the receivers share.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
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
    #[serde(deserialize_with = "yaml::checked")]
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
    #[serde(deserialize_with = "yaml::checked")]
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
/// (Prometheus' common `HTTPClientConfig`), checked as its `Validate`
/// checks it when the YAML is read. OAuth 2 is refused: steward does not
/// fetch tokens. Every secret (passwords, credentials, tokens, the proxy
/// URL, which may carry a password) prints as `[redacted]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header (type and credentials); its type is
    /// `Bearer` when the YAML leaves it empty.
    pub authorization: Option<Authorization>,
    /// OAuth 2 client credentials: always `None` in a loaded configuration,
    /// which refuses the key (steward does not fetch OAuth 2 tokens).
    #[serde(deserialize_with = "refuse_oauth2")]
    pub oauth2: Option<serde_yaml_ng::Value>,
    /// A bearer token (the older form of `authorization`).
    #[serde(deserialize_with = "yaml::secret")]
    pub bearer_token: Secret<String>,
    /// A file holding the bearer token.
    #[serde(deserialize_with = "yaml::string")]
    pub bearer_token_file: String,
    /// TLS settings.
    #[serde(deserialize_with = "yaml::checked")]
    pub tls_config: TlsConfig,
    /// An HTTP proxy (`http://` or `https://`; a secret, as it may carry a
    /// password).
    #[serde(deserialize_with = "yaml::secret")]
    pub proxy_url: Secret<String>,
    /// Hosts not to reach through the proxy (comma-separated).
    #[serde(deserialize_with = "yaml::string")]
    pub no_proxy: String,
    /// Whether to use the proxy of the environment (`HTTP_PROXY`,
    /// `HTTPS_PROXY`, `NO_PROXY`).
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy (secrets).
    #[serde(deserialize_with = "secret_lists")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret<String>>>,
    /// Whether redirects are followed (true).
    pub follow_redirects: bool,
    /// Whether HTTP/2 may be used (true). steward's client speaks
    /// HTTP/1.1 only, so this is accepted and has no effect.
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
            proxy_url: Secret::default(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// The message refusing `oauth2`.
pub(crate) const OAUTH2_UNSUPPORTED: &str =
    "oauth2 is not supported by steward; use basic_auth, authorization or bearer_token";

/// `oauth2`: refused unless null (steward does not fetch OAuth 2 tokens,
/// and sending without the configured authentication would be worse).
fn refuse_oauth2<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_yaml_ng::Value>, D::Error> {
    match Option::<serde_yaml_ng::Value>::deserialize(deserializer)? {
        None | Some(serde_yaml_ng::Value::Null) => Ok(None),
        Some(_) => Err(de::Error::custom(OAUTH2_UNSUPPORTED)),
    }
}

/// `proxy_connect_header`: header names to lists of secret values.
fn secret_lists<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<Secret<String>>>, D::Error> {
    let map: Option<BTreeMap<yaml::GoString, Option<Vec<yaml::GoString>>>> =
        Option::deserialize(deserializer)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .map(|(name, values)| {
            let values = values.unwrap_or_default();
            (
                name.0,
                values.into_iter().map(|v| Secret::new(v.0)).collect(),
            )
        })
        .collect())
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
    /// The scheme (`Bearer` when the YAML leaves it empty).
    #[serde(rename = "type", deserialize_with = "yaml::string")]
    pub kind: String,
    /// The credentials.
    #[serde(deserialize_with = "yaml::secret")]
    pub credentials: Secret<String>,
    /// A file holding the credentials.
    #[serde(deserialize_with = "yaml::string")]
    pub credentials_file: String,
}

/// `tls_config`: certificates and verification of a TLS client, checked
/// as Prometheus' `TLSConfig.Validate` checks it.
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
    /// Lowest TLS version (`TLS10` to `TLS13`; steward's TLS speaks 1.2
    /// and 1.3).
    #[serde(deserialize_with = "yaml::string")]
    pub min_version: String,
    /// Highest TLS version.
    #[serde(deserialize_with = "yaml::string")]
    pub max_version: String,
}

/// Go's names of TLS versions, with the minor version of each.
pub(crate) fn tls_version(name: &str) -> Option<u8> {
    match name {
        "TLS10" => Some(0),
        "TLS11" => Some(1),
        "TLS12" => Some(2),
        "TLS13" => Some(3),
        _ => None,
    }
}

impl TlsConfig {
    /// Makes the relative file paths relative to `dir`.
    fn set_directory(&mut self, dir: &Path) {
        for file in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file] {
            join(dir, file);
        }
    }
}

impl yaml::Check for TlsConfig {
    /// Prometheus' `TLSConfig.Validate`, and its TLS version names.
    fn check(&mut self) -> Result<(), String> {
        for version in [&self.min_version, &self.max_version] {
            if !version.is_empty() && tls_version(version).is_none() {
                return Err(format!("unknown TLS version: {version}"));
            }
        }
        if let (Some(min), Some(max)) = (
            tls_version(&self.min_version),
            tls_version(&self.max_version),
        ) && max < min
        {
            return Err("tls_config.max_version must be greater than or equal to tls_config.min_version, if tls_config.max_version is specified".into());
        }
        if !self.ca.is_empty() && !self.ca_file.is_empty() {
            return Err("at most one of ca and ca_file must be configured".into());
        }
        if !self.cert.is_empty() && !self.cert_file.is_empty() {
            return Err("at most one of cert and cert_file must be configured".into());
        }
        if !self.key.expose().is_empty() && !self.key_file.is_empty() {
            return Err("at most one of key and key_file must be configured".into());
        }
        let cert = !self.cert.is_empty() || !self.cert_file.is_empty();
        let key = !self.key.expose().is_empty() || !self.key_file.is_empty();
        if cert && !key {
            return Err("exactly one of key or key_file must be configured when a client certificate is configured".into());
        }
        if key && !cert {
            return Err("exactly one of cert or cert_file must be configured when a client key is configured".into());
        }
        Ok(())
    }
}

/// Makes `file` relative to `dir` unless it is empty or absolute.
pub(crate) fn join(dir: &Path, file: &mut String) {
    if !file.is_empty() && Path::new(file.as_str()).is_relative() {
        *file = dir.join(file.as_str()).to_string_lossy().into_owned();
    }
}

impl yaml::Check for HttpConfig {
    /// Prometheus' `HTTPClientConfig.Validate` (and its `ProxyConfig`'s):
    /// one way to authenticate, a value or a file for each secret, a
    /// proxy URL steward can use; the authorization type trimmed and
    /// `Bearer` when empty. The messages are Prometheus'.
    fn check(&mut self) -> Result<(), String> {
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
        if let Some(auth) = &mut self.authorization {
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
            auth.kind = match auth.kind.trim() {
                "" => "Bearer".to_owned(),
                kind => kind.to_owned(),
            };
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#
                        .into(),
                );
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
        }
        if self.oauth2.is_some() {
            return Err(OAUTH2_UNSUPPORTED.into());
        }
        self.check_proxy()
    }
}

impl HttpConfig {
    /// Prometheus' `ProxyConfig.Validate`, and a proxy URL that steward's
    /// client can use (an `http` or `https` proxy). The URL is never
    /// repeated in a message: it may carry a password.
    fn check_proxy(&self) -> Result<(), String> {
        let proxy = self.proxy_url.expose();
        if !self.proxy_connect_header.is_empty() && !self.proxy_from_environment && proxy.is_empty()
        {
            return Err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".into());
        }
        if self.proxy_from_environment && !proxy.is_empty() {
            return Err(
                "if proxy_from_environment is configured, proxy_url must not be configured".into(),
            );
        }
        if self.proxy_from_environment && !self.no_proxy.is_empty() {
            return Err(
                "if proxy_from_environment is configured, no_proxy must not be configured".into(),
            );
        }
        if proxy.is_empty() && !self.no_proxy.is_empty() {
            return Err("if no_proxy is configured, proxy_url must also be configured".into());
        }
        if !proxy.is_empty() {
            let url = url::Url::parse(proxy).map_err(|e| format!("invalid proxy_url: {e}"))?;
            if !["http", "https"].contains(&url.scheme()) {
                return Err(format!(
                    "unsupported proxy_url scheme {:?}: steward reaches http and https proxies only",
                    url.scheme()
                ));
            }
        }
        for (name, values) in &self.proxy_connect_header {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?} in proxy_connect_header"))?;
            if values
                .iter()
                .any(|v| reqwest::header::HeaderValue::from_str(v.expose()).is_err())
            {
                return Err(format!(
                    "invalid value of header {name:?} in proxy_connect_header"
                ));
            }
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
