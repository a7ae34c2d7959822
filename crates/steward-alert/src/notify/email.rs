//! Email through SMTP (lettre): a message with a text and an HTML part
//! rendered from templates, sent through the `smarthost` with STARTTLS
//! required (Alertmanager's `require_tls: true`, the default), implicit
//! TLS on port 465, or in the clear when TLS is not required; optional
//! authentication (PLAIN/LOGIN, over TLS only, as lettre allows).
//!
//! An SMTP answer of 5xx is permanent; 4xx, and failing to connect or to
//! upgrade the connection, are worth retrying, and so is a refused
//! authentication (as in Alertmanager). The whole dialogue is bounded by
//! the notifier's timeout: a server that stops answering fails the
//! attempt, which is retried.

use std::time::Duration;

use lettre::{
    Message,
    message::{MultiPart, header::ContentType},
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, Certificate, TlsParameters},
        extension::ClientId,
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

    /// The TLS parameters of the connection (the server's name, the
    /// trusted CA, whether certificates are checked).
    fn tls(&self) -> Result<TlsParameters, NotifyError> {
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
    }

    /// One SMTP dialogue, step by step so that each failure says which
    /// step failed: connect (TLS from the first byte on port 465), STARTTLS
    /// (required unless TLS is not), authenticate, send, quit. lettre's
    /// own timeout only bounds the connect; [`Integration::notify`] bounds
    /// the whole dialogue.
    async fn dialogue(&self, message: &Message) -> Result<(), NotifyError> {
        let hello = self.hello.clone().map(ClientId::Domain).unwrap_or_default();
        let wrapper = match self.security {
            Security::Implicit => Some(self.tls()?),
            Security::StartTls | Security::None => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &hello,
            wrapper,
            None,
        )
        .await
        .map_err(|e| smtp_error("cannot connect", &e))?;
        if self.security == Security::StartTls {
            conn.starttls(self.tls()?, &hello)
                .await
                .map_err(|e| smtp_error("STARTTLS failed", &e))?;
        }
        if let Some((user, password)) = &self.auth {
            // PLAIN, then LOGIN, as Alertmanager tries them. A refusal is
            // worth retrying, as Alertmanager retries it: the password
            // file may be fixed meanwhile, or the server's backend back.
            conn.auth(
                &[Mechanism::Plain, Mechanism::Login],
                &Credentials::new(user.clone(), password.clone()),
            )
            .await
            .map_err(|e| NotifyError::Retryable(format!("authentication failed: {e}")))?;
        }
        conn.send(message.envelope(), &message.formatted())
            .await
            .map_err(|e| smtp_error("sending failed", &e))?;
        // the message is accepted: a failed QUIT changes nothing
        let _ = conn.quit().await;
        Ok(())
    }
}

/// An SMTP error at a step: a 5xx answer is permanent, anything else
/// (4xx, the network, TLS) worth retrying.
fn smtp_error(step: &str, e: &lettre::transport::smtp::Error) -> NotifyError {
    let text = format!("{step}: {e}");
    match e.is_permanent() {
        true => NotifyError::Permanent(text),
        false => NotifyError::Retryable(text),
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
        // A server that stops answering (after AUTH, during DATA) would
        // otherwise hold the attempt, and the retries after it, for ever.
        tokio::time::timeout(self.timeout, self.dialogue(&message))
            .await
            .unwrap_or_else(|_| {
                Err(NotifyError::Retryable(format!(
                    "the SMTP server did not answer within {:?}",
                    self.timeout
                )))
            })
    }
}
