//! Clients built from `http_config` blocks, each sending a webhook to a
//! real receiver on loopback: the `Authorization` header it gets, HTTPS
//! with a CA made for the test (trusted through `ca_file` only, or not
//! checked with `insecure_skip_verify`), `server_name`, client
//! certificates, TLS versions, redirects and a proxy.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::PrivateKeyDer;
use tokio::sync::mpsc;

use super::*;
use crate::config::yaml::Check;
use crate::notify::webhook::Webhook;
use crate::notify::{Integration, Notification, NotifyError, post_json};

/// What a receiver saw of one request.
#[derive(Debug)]
struct Seen {
    uri: Uri,
    authorization: Option<String>,
    proxy_authorization: Option<String>,
}

/// Answers 307 to `/moved` (to `/hook`) and 200 to anything else,
/// telling each request to `tx`. As a proxy it sees the absolute URI.
fn app(tx: mpsc::UnboundedSender<Seen>) -> Router {
    Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let tx = tx.clone();
        async move {
            let text = |name| {
                headers
                    .get(name)
                    .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
            };
            let moved = uri.path() == "/moved";
            let _ = tx.send(Seen {
                authorization: text(header::AUTHORIZATION),
                proxy_authorization: text(header::PROXY_AUTHORIZATION),
                uri,
            });
            match moved {
                true => (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/hook")],
                )
                    .into_response(),
                false => StatusCode::OK.into_response(),
            }
        }
    })
}

/// A plain HTTP receiver: its base URL and what it sees.
async fn http_receiver() -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(tx)).await });
    (format!("http://{addr}"), rx)
}

/// An HTTPS receiver with `tls`: its base URL (by IP) and what it sees.
fn https_receiver(tls: rustls::ServerConfig) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
    let server = axum_server::from_tcp_rustls(listener, config);
    tokio::spawn(server.serve(app(tx).into_make_service()));
    (format!("https://{addr}"), rx)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A CA made for the test, and certificates it signs.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "steward test CA");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A certificate for `names` (DNS names or IP addresses), for a
    /// server or, with `client`, a client.
    fn issue(&self, names: &[&str], client: bool) -> CertifiedKey {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![match client {
            true => ExtendedKeyUsagePurpose::ClientAuth,
            false => ExtendedKeyUsagePurpose::ServerAuth,
        }];
        let key_pair = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key_pair, &self.cert, &self.key).unwrap();
        CertifiedKey { cert, key_pair }
    }

    /// A server's TLS configuration presenting a certificate for `names`,
    /// requiring a client certificate from this CA when `mtls`.
    fn server(
        &self,
        names: &[&str],
        mtls: bool,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> rustls::ServerConfig {
        let issued = self.issue(names, false);
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = match mtls {
            true => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(self.cert.der().clone()).unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            false => builder.with_no_client_auth(),
        };
        builder
            .with_single_cert(
                vec![issued.cert.der().clone()],
                PrivateKeyDer::Pkcs8(issued.key_pair.serialize_der().into()),
            )
            .unwrap()
    }
}

/// An `http_config` from YAML, checked and normalised as a load does.
fn http(yaml: &str) -> HttpConfig {
    let mut config: HttpConfig = serde_yaml_ng::from_str(yaml).unwrap();
    config.check().unwrap();
    config
}

fn webhook(url: &str, config: &HttpConfig) -> Webhook {
    Webhook {
        url: url.to_owned(),
        max_alerts: 0,
        send_resolved: true,
        hmac_secret: None,
        timeout: Duration::from_secs(10),
        client: client(config).unwrap(),
    }
}

fn notification() -> Notification {
    Notification {
        receiver: "hook".into(),
        group_key: "{}:{}".into(),
        group_labels: Default::default(),
        alerts: Vec::new(),
        external_url: "http://steward.example".into(),
    }
}

/// Sends one notification through a client built from `config` and
/// returns what `seen` got (or the error).
async fn send(
    url: &str,
    config: &HttpConfig,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) -> Result<Seen, NotifyError> {
    webhook(url, config).notify(&notification()).await?;
    Ok(seen.try_recv().expect("the receiver got the request"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn basic_auth_and_bearer_tokens_are_sent_as_authorization() {
    let (base, mut seen) = http_receiver().await;
    let url = format!("{base}/hook");
    let dir = tempfile::tempdir().unwrap();
    let password = write(dir.path(), "password", "hunter2\n");
    let token = write(dir.path(), "token", "  t0ken-from-file\n");
    let cases = [
        (
            format!("basic_auth: {{username: alerts, password_file: {password}}}"),
            Some("Basic YWxlcnRzOmh1bnRlcjI="), // alerts:hunter2
        ),
        (
            "basic_auth: {username: alerts, password: 's3cret'}".to_owned(),
            Some("Basic YWxlcnRzOnMzY3JldA=="), // alerts:s3cret
        ),
        (
            format!("authorization: {{credentials_file: {token}}}"),
            Some("Bearer t0ken-from-file"),
        ),
        (
            "authorization: {type: Token, credentials: abc}".to_owned(),
            Some("Token abc"),
        ),
        ("bearer_token: legacy".to_owned(), Some("Bearer legacy")),
        (
            format!("bearer_token_file: {token}"),
            Some("Bearer t0ken-from-file"),
        ),
        ("follow_redirects: true".to_owned(), None),
    ];
    for (yaml, expected) in cases {
        let got = send(&url, &http(&yaml), &mut seen).await.unwrap();
        assert_eq!(got.authorization.as_deref(), expected, "{yaml}");
    }

    // Files are read when the client is built; the secret never prints.
    let config = http(&format!(
        "basic_auth: {{username: alerts, password_file: {password}}}"
    ));
    let hook = webhook(&url, &config);
    std::fs::write(&password, "changed").unwrap();
    hook.notify(&notification()).await.unwrap();
    let got = seen.try_recv().unwrap();
    assert_eq!(
        got.authorization.as_deref(),
        Some("Basic YWxlcnRzOmh1bnRlcjI=")
    );
    let shown = format!("{hook:?} {config:?}");
    assert!(
        !shown.contains("YWxlcnRzOmh1bnRlcjI") && !shown.contains("hunter2"),
        "{shown}"
    );

    // A header the notifier sets itself (Opsgenie's GenieKey) wins, as
    // with Prometheus' round trippers.
    let client = client(&http("bearer_token: legacy")).unwrap();
    let own = [("Authorization", "GenieKey k".to_owned())];
    post_json(&client, &url, &own, b"{}".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        seen.try_recv().unwrap().authorization.as_deref(),
        Some("GenieKey k")
    );
}

#[test]
fn unreadable_files_fail_the_build_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").to_string_lossy().into_owned();
    let err = client(&http(&format!(
        "basic_auth: {{username: u, password_file: {missing}}}"
    )))
    .unwrap_err();
    assert_eq!(err.path, "basic_auth.password_file");
    assert!(
        err.message.starts_with(&format!("cannot read {missing:?}")),
        "{err}"
    );
    let not_pem = write(dir.path(), "ca.pem", "not a certificate");
    let err = client(&http(&format!("tls_config: {{ca_file: {not_pem}}}"))).unwrap_err();
    assert_eq!(err.path, "tls_config.ca_file");
    assert_eq!(err.message, format!("no certificate found in {not_pem:?}"));
    let err = client(&http("tls_config: {max_version: TLS11}")).unwrap_err();
    assert_eq!(err.path, "tls_config.max_version");
    // a hand-made config with oauth2 is refused here too
    let oauth2 = HttpConfig {
        oauth2: Some(serde_yaml_ng::Value::Null),
        ..HttpConfig::default()
    };
    assert_eq!(client(&oauth2).unwrap_err().path, "oauth2");
}

#[tokio::test]
async fn https_receivers_are_trusted_through_ca_file_or_insecure_skip_verify() {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.cert.pem());
    let all = rustls::DEFAULT_VERSIONS;
    let (base, mut seen) = https_receiver(ca.server(&["127.0.0.1"], false, all));
    let url = format!("{base}/hook");

    // the CA is no public one: refused, nothing sent
    let refused = send(&url, &HttpConfig::default(), &mut seen)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    assert!(seen.try_recv().is_err());
    // trusted through ca_file
    let trusted = http(&format!("tls_config: {{ca_file: {ca_file}}}"));
    let got = send(&url, &trusted, &mut seen).await.unwrap();
    assert_eq!(got.uri.path(), "/hook");
    // or not checked at all
    send(
        &url,
        &http("tls_config: {insecure_skip_verify: true}"),
        &mut seen,
    )
    .await
    .unwrap();
    // the CA given inline, with basic auth over TLS
    let inline = HttpConfig {
        tls_config: TlsConfig {
            ca: ca.cert.pem(),
            ..TlsConfig::default()
        },
        ..http("basic_auth: {username: a, password: b}")
    };
    let got = send(&url, &inline, &mut seen).await.unwrap();
    assert_eq!(got.authorization.as_deref(), Some("Basic YTpi"));

    // a server that speaks TLS 1.2 only, for a client that wants 1.3
    let (base12, mut seen12) =
        https_receiver(ca.server(&["127.0.0.1"], false, &[&rustls::version::TLS12]));
    let url12 = format!("{base12}/hook");
    send(&url12, &trusted, &mut seen12).await.unwrap();
    let tls13 = http(&format!(
        "tls_config: {{ca_file: {ca_file}, min_version: TLS13}}"
    ));
    assert!(send(&url12, &tls13, &mut seen12).await.is_err());
}

#[tokio::test]
async fn server_name_and_client_certificates_are_honoured() {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.cert.pem());
    let all = rustls::DEFAULT_VERSIONS;

    // a certificate for a name the URL (an IP) does not carry
    let (base, mut seen) = https_receiver(ca.server(&["hooks.internal"], false, all));
    let url = format!("{base}/hook");
    let by_url = http(&format!("tls_config: {{ca_file: {ca_file}}}"));
    let mismatch = send(&url, &by_url, &mut seen).await.unwrap_err();
    assert!(
        mismatch.to_string().contains("not valid for name"),
        "{mismatch}"
    );
    let named = http(&format!(
        "tls_config: {{ca_file: {ca_file}, server_name: hooks.internal}}"
    ));
    send(&url, &named, &mut seen).await.unwrap();
    let wrong = http(&format!(
        "tls_config: {{ca_file: {ca_file}, server_name: other.internal}}"
    ));
    assert!(send(&url, &wrong, &mut seen).await.is_err());

    // a server that wants a client certificate from the CA
    let (base, mut seen) = https_receiver(ca.server(&["127.0.0.1"], true, all));
    let url = format!("{base}/hook");
    assert!(send(&url, &by_url, &mut seen).await.is_err());
    let client_cert = ca.issue(&["steward"], true);
    let cert_file = write(dir.path(), "client.pem", &client_cert.cert.pem());
    let key_file = write(
        dir.path(),
        "client.key",
        &client_cert.key_pair.serialize_pem(),
    );
    let mtls = http(&format!(
        "tls_config: {{ca_file: {ca_file}, cert_file: {cert_file}, key_file: {key_file}}}"
    ));
    send(&url, &mtls, &mut seen).await.unwrap();
}

#[tokio::test]
async fn redirects_are_followed_unless_follow_redirects_is_false() {
    let (base, mut seen) = http_receiver().await;
    let url = format!("{base}/moved");
    let first = send(&url, &HttpConfig::default(), &mut seen).await.unwrap();
    assert_eq!(first.uri.path(), "/moved");
    let followed = seen.try_recv().expect("the redirect was followed");
    assert_eq!(followed.uri.path(), "/hook");

    let err = send(&url, &http("follow_redirects: false"), &mut seen)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        NotifyError::Permanent("unexpected status code 307: ".into())
    );
    // the receiver saw the first request only
    assert_eq!(seen.try_recv().unwrap().uri.path(), "/moved");
    assert!(seen.try_recv().is_err(), "not followed");
}

#[tokio::test]
async fn a_proxy_url_carries_the_requests_except_for_no_proxy_hosts() {
    let (proxy, mut at_proxy) = http_receiver().await;
    let proxy_url = proxy.replace("http://", "http://relay:p4ss@");
    let config = http(&format!(
        "{{proxy_url: '{proxy_url}', no_proxy: 127.0.0.2}}"
    ));
    // a host that does not resolve: only the proxy can take it
    let got = send("http://hooks.invalid/hook", &config, &mut at_proxy)
        .await
        .unwrap();
    assert_eq!(got.uri.to_string(), "http://hooks.invalid/hook");
    assert_eq!(
        got.proxy_authorization.as_deref(),
        Some("Basic cmVsYXk6cDRzcw==") // relay:p4ss
    );
    assert!(!format!("{config:?}").contains("p4ss"));

    // a host under no_proxy is reached directly
    // (Linux routes all of 127.0.0.0/8 to loopback)
    let direct = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = direct.local_addr().unwrap();
    let (tx, mut at_direct) = mpsc::unbounded_channel();
    tokio::spawn(async move { axum::serve(direct, app(tx)).await });
    send(&format!("http://{addr}/hook"), &config, &mut at_direct)
        .await
        .unwrap();
    assert!(at_proxy.try_recv().is_err());
}
