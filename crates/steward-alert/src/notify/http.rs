//! The HTTP client of one integration, built from its `http_config`
//! (Prometheus' `HTTPClientConfig`) as Alertmanager's notifiers build
//! theirs: basic authentication, an `Authorization` header (or the older
//! `bearer_token`), TLS (private CAs, client certificates, `server_name`,
//! `insecure_skip_verify`, versions), a proxy, and redirects followed or
//! not. [`client`] is the only place the notifiers' clients are made.
//!
//! Files (`password_file`, `credentials_file`, `ca_file`...) are read
//! once, when the client is built: a changed file takes effect at the next
//! configuration load. Their contents are trimmed, as Prometheus trims
//! them. The `Authorization` header is a default header marked sensitive
//! (it never prints), and, as with Prometheus' round trippers, one a
//! notifier sets itself (Opsgenie's `GenieKey`) wins over it.
//!
//! TLS is rustls; the server's certificate is checked against the public
//! CAs (webpki-roots), or against `ca`/`ca_file` only when given, as Go
//! replaces its pool with the given CAs. With `server_name` the
//! certificate must name it instead of the URL's host (the SNI is still
//! the URL's host). The client speaks HTTP/1.1 (`enable_http2` has no
//! effect) and never uses the environment's proxy unless
//! `proxy_from_environment` says so, as Prometheus.

use std::sync::Arc;

use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use steward_core::Secret;

use crate::config::global::{OAUTH2_UNSUPPORTED, tls_version};
use crate::config::{ConfigError, HttpConfig, TlsConfig};

/// The `User-Agent` of every notification.
pub const USER_AGENT: &str = concat!("steward/", env!("CARGO_PKG_VERSION"));

/// How many redirects are followed (Go's client's limit).
const MAX_REDIRECTS: usize = 10;

/// The client `config` describes. The error's path is below the
/// `http_config` (`tls_config.ca_file`), for the caller to prefix.
pub fn client(config: &HttpConfig) -> Result<reqwest::Client, ConfigError> {
    if config.oauth2.is_some() {
        return Err(ConfigError::at("oauth2", OAUTH2_UNSUPPORTED));
    }
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(match config.follow_redirects {
            true => reqwest::redirect::Policy::limited(MAX_REDIRECTS),
            false => reqwest::redirect::Policy::none(),
        })
        .use_preconfigured_tls(tls(&config.tls_config)?);
    if let Some(value) = authorization(config)? {
        builder = builder.default_headers(HeaderMap::from_iter([(AUTHORIZATION, value)]));
    }
    builder = match (
        config.proxy_url.expose().is_empty(),
        config.proxy_from_environment,
    ) {
        (false, _) => builder.proxy(proxy(config)?),
        // reqwest reads HTTP_PROXY and the like unless told not to
        (true, true) => builder,
        (true, false) => builder.no_proxy(),
    };
    builder
        .build()
        .map_err(|e| ConfigError::at("", format!("cannot build the HTTP client: {e}")))
}

/// A secret given inline or in a file, read now and trimmed.
fn inline_or_file(inline: &str, file: &str, field: &str) -> Result<String, ConfigError> {
    if file.is_empty() {
        return Ok(inline.to_owned());
    }
    std::fs::read_to_string(file)
        .map(|s| s.trim().to_owned())
        .map_err(|e| ConfigError::at(field, format!("cannot read {file:?}: {e}")))
}

/// The `Authorization` header value, sensitive, if the config authenticates.
fn authorization(config: &HttpConfig) -> Result<Option<HeaderValue>, ConfigError> {
    let text = if let Some(basic) = &config.basic_auth {
        let username = inline_or_file(
            &basic.username,
            &basic.username_file,
            "basic_auth.username_file",
        )?;
        let password = inline_or_file(
            basic.password.expose(),
            &basic.password_file,
            "basic_auth.password_file",
        )?;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Secret::new(format!("Basic {encoded}"))
    } else if let Some(auth) = &config.authorization {
        let credentials = inline_or_file(
            auth.credentials.expose(),
            &auth.credentials_file,
            "authorization.credentials_file",
        )?;
        let kind = match auth.kind.trim() {
            "" => "Bearer",
            kind => kind,
        };
        Secret::new(format!("{kind} {credentials}"))
    } else if !config.bearer_token.expose().is_empty() || !config.bearer_token_file.is_empty() {
        let token = inline_or_file(
            config.bearer_token.expose(),
            &config.bearer_token_file,
            "bearer_token_file",
        )?;
        Secret::new(format!("Bearer {token}"))
    } else {
        return Ok(None);
    };
    let mut value = HeaderValue::from_str(text.expose()).map_err(|_| {
        // the value itself is a secret: not repeated
        ConfigError::at("", "the credentials are not a valid HTTP header value")
    })?;
    value.set_sensitive(true);
    Ok(Some(value))
}

/// The configured proxy, with its exceptions and CONNECT headers.
fn proxy(config: &HttpConfig) -> Result<reqwest::Proxy, ConfigError> {
    // the URL may carry a password: never in a message
    let proxy = reqwest::Proxy::all(config.proxy_url.expose().as_str())
        .map_err(|_| ConfigError::at("proxy_url", "invalid proxy URL"))?
        .no_proxy(reqwest::NoProxy::from_string(&config.no_proxy));
    let mut headers = HeaderMap::new();
    for (name, values) in &config.proxy_connect_header {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::at(
                "proxy_connect_header",
                format!("invalid header name {name:?}"),
            )
        })?;
        for value in values {
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                ConfigError::at(
                    "proxy_connect_header",
                    format!("invalid value of header {name:?}"),
                )
            })?;
            value.set_sensitive(true);
            headers.append(name.clone(), value);
        }
    }
    Ok(match headers.is_empty() {
        true => proxy,
        false => proxy.headers(headers),
    })
}

/// The rustls configuration `tls` describes.
fn tls(tls: &TlsConfig) -> Result<rustls::ClientConfig, ConfigError> {
    let at = |field: &str, message: String| ConfigError::at(format!("tls_config{field}"), message);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let min = tls_version(&tls.min_version).unwrap_or(2);
    let max = tls_version(&tls.max_version).unwrap_or(3);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(minor, _)| (min..=max).contains(minor))
            .map(|(_, version)| version)
            .collect();
    if versions.is_empty() {
        return Err(at(
            ".max_version",
            format!(
                "{} leaves no TLS version steward speaks (TLS12, TLS13)",
                tls.max_version
            ),
        ));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| at("", e.to_string()))?;
    let roots = roots(tls)?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else if !tls.server_name.is_empty() {
        let name = ServerName::try_from(tls.server_name.clone()).map_err(|e| {
            at(
                ".server_name",
                format!("invalid server name {:?}: {e}", tls.server_name),
            )
        })?;
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| at("", format!("cannot verify certificates: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamedServer { inner, name }))
    } else {
        builder.with_root_certificates(roots)
    };
    match identity(tls)? {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| at("", format!("invalid client certificate or key: {e}"))),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The path of `tls_config`'s `name` (`ca`) or `name_file`, whichever
/// is set.
fn tls_field(name: &str, inline: &str) -> String {
    match inline.is_empty() {
        true => format!("tls_config.{name}_file"),
        false => format!("tls_config.{name}"),
    }
}

/// PEM certificates from `inline` or `file` (`tls_config`'s `name` or
/// `name_file`).
fn certificates(
    inline: &str,
    file: &str,
    name: &str,
) -> Result<Option<Vec<CertificateDer<'static>>>, ConfigError> {
    let path = tls_field(name, inline);
    let (pem, source) = match (inline.is_empty(), file.is_empty()) {
        (true, true) => return Ok(None),
        (false, _) => (inline.as_bytes().to_vec(), "inline".to_owned()),
        (true, false) => (
            std::fs::read(file)
                .map_err(|e| ConfigError::at(&path, format!("cannot read {file:?}: {e}")))?,
            format!("{file:?}"),
        ),
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::at(&path, format!("invalid PEM in {source}: {e}")))?;
    if certs.is_empty() {
        return Err(ConfigError::at(
            &path,
            format!("no certificate found in {source}"),
        ));
    }
    Ok(Some(certs))
}

/// The CAs a server's certificate must chain to: the configured ones, or
/// the public ones.
fn roots(tls: &TlsConfig) -> Result<RootCertStore, ConfigError> {
    let Some(certs) = certificates(&tls.ca, &tls.ca_file, "ca")? else {
        return Ok(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        ));
    };
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| {
            ConfigError::at(
                tls_field("ca", &tls.ca),
                format!("unusable CA certificate: {e}"),
            )
        })?;
    }
    Ok(roots)
}

/// The client certificate chain and key, when configured (the checks at
/// load made sure both or neither are).
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn identity(tls: &TlsConfig) -> Result<Option<Identity>, ConfigError> {
    let Some(certs) = certificates(&tls.cert, &tls.cert_file, "cert")? else {
        return Ok(None);
    };
    let path = tls_field("key", tls.key.expose());
    let key = Secret::new(inline_or_file(tls.key.expose(), &tls.key_file, &path)?);
    // the key's text is a secret: only the parser's reason is told
    let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
        .map_err(|e| ConfigError::at(&path, format!("invalid private key: {e}")))?;
    Ok(Some((certs, key)))
}

/// Verifies the server's certificate against a configured name rather
/// than the URL's host (`server_name`).
#[derive(Debug)]
struct NamedServer {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate for any name, as Go's
/// `InsecureSkipVerify`; the handshake's signatures are still checked,
/// as Go checks them.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests;
