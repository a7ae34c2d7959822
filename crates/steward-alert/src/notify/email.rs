//! Email through SMTP (lettre): a message with a text and an HTML part
//! rendered from templates, sent through the `smarthost` with STARTTLS
//! required (Alertmanager's `require_tls: true`, the default), implicit
//! TLS on port 465, or in the clear when TLS is not required; optional
//! authentication (PLAIN/LOGIN, over TLS only, as lettre allows).
//!
//! An SMTP answer of 5xx is permanent; 4xx, and failing to connect or to
//! upgrade the connection, are worth retrying.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{MultiPart, header::ContentType},
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{Certificate, Tls, TlsParameters},
    },
};

use super::{Integration, Notification, NotifyError, template::Renderer};

/// The subject unless configured otherwise.
pub const DEFAULT_SUBJECT: &str = r#"{{ template "steward.default.title" . }}"#;

/// The HTML body unless configured otherwise (every value escaped).
pub const DEFAULT_HTML: &str = r#"{{ template "steward.default.html" . }}"#;

/// How the connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS; refuse a server that
    /// cannot.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS (`require_tls: false`).
    None,
}

/// An email receiver.
#[derive(Debug, Clone)]
pub struct Email {
    /// Recipients.
    pub to: Vec<String>,
    /// The sender.
    pub from: String,
    /// The SMTP server's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is secured.
    pub security: Security,
    /// The name the server's certificate must carry (default: `host`).
    pub server_name: Option<String>,
    /// Extra trusted CA certificates (PEM), e.g. a private CA's.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (`tls_config.insecure_skip_verify`).
    pub insecure_skip_verify: bool,
    /// User name and password, if the server wants them.
    pub auth: Option<(String, String)>,
    /// The name sent in EHLO (`hello`).
    pub hello: Option<String>,
    /// The subject template.
    pub subject: String,
    /// The text body template.
    pub text: String,
    /// The HTML body template (empty: text only).
    pub html: String,
    /// Whether resolved notifications are sent (Alertmanager's default
    /// for email is false).
    pub send_resolved: bool,
    /// One delivery's limit.
    pub timeout: Duration,
    /// The texts' renderer.
    pub renderer: Renderer,
}

impl Email {
    /// The message `notification` becomes.
    pub fn message(&self, notification: &Notification) -> Result<Message, NotifyError> {
        let r = |t: &str| self.renderer.render_or_error(t, notification);
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            NotifyError::Permanent(format!("invalid {what}: {e}"))
        };
        let mut builder = Message::builder()
            .from(self.from.parse().map_err(|e| invalid("from address", &e))?)
            .subject(r(&self.subject).replace(['\r', '\n'], " "));
        for to in &self.to {
            builder = builder.to(to.parse().map_err(|e| invalid("to address", &e))?);
        }
        let text = r(&self.text);
        let message = match self.html.is_empty() {
            true => builder.header(ContentType::TEXT_PLAIN).body(text),
            false => builder.multipart(MultiPart::alternative_plain_html(text, r(&self.html))),
        };
        message.map_err(|e| invalid("message", &e))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
        let tls = || {
            let mut params = TlsParameters::builder(
                self.server_name
                    .clone()
                    .unwrap_or_else(|| self.host.clone()),
            )
            .dangerous_accept_invalid_certs(self.insecure_skip_verify);
            if let Some(pem) = &self.ca_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| NotifyError::Permanent(format!("invalid CA certificate: {e}")))?;
                params = params.add_root_certificate(cert);
            }
            params
                .build_rustls()
                .map_err(|e| NotifyError::Permanent(format!("invalid TLS settings: {e}")))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(self.timeout))
            .tls(match self.security {
                Security::StartTls => Tls::Required(tls()?),
                Security::Implicit => Tls::Wrapper(tls()?),
                Security::None => Tls::None,
            });
        if let Some(hello) = &self.hello {
            builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                hello.clone(),
            ));
        }
        if let Some((user, password)) = &self.auth {
            // PLAIN, then LOGIN, as Alertmanager tries them
            builder = builder
                .credentials(Credentials::new(user.clone(), password.clone()))
                .authentication(vec![Mechanism::Plain]);
        }
        Ok(builder.build())
    }
}

#[async_trait::async_trait]
impl Integration for Email {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let message = self.message(notification)?;
        self.transport()?
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| {
                let text = e.to_string();
                match e.is_permanent() {
                    true => NotifyError::Permanent(text),
                    false => NotifyError::Retryable(text),
                }
            })
    }
}
