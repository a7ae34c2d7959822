//! The API's TLS configuration, from the certificate chain and key that
//! `[server.tls]` names.

use std::{path::Path, sync::Arc};

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::{Error, Result};

/// Loads a certificate chain and key into a rustls configuration that
/// speaks HTTP/2 and HTTP/1.1.
pub(crate) fn load_tls(cert: &Path, key: &Path) -> Result<RustlsConfig> {
    let tls_error = |what, path: &Path, detail: String| Error::Tls {
        what,
        path: path.display().to_string(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|err| tls_error("certificate", cert, err.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(
            "certificate",
            cert,
            "no certificate in the file".into(),
        ));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|err| tls_error("key", key, err.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| tls_error("certificate", cert, err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|err| tls_error("key", key, err.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}
