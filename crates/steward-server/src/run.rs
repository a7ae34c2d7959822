//! Running the server: open the store, bootstrap the admin token, bind,
//! serve (optionally over TLS) and shut down gracefully, journaling start
//! and stop.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use axum_server::{Handle, tls_rustls::RustlsConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde_json::json;
use steward_config::LoadedConfig;
use steward_core::{Actor, EventKind, NewEvent};
use steward_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{AppState, Error, Result, bootstrap::ensure_admin_token, router};

/// How long in-flight requests may take to finish after shutdown starts.
const GRACE: Duration = Duration::from_secs(30);

/// A started server.
pub struct Running {
    /// The address it listens on (useful when the port was 0).
    pub local_addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// Where a newly created admin token was written, if one was.
    pub admin_token_file: Option<PathBuf>,
    /// The store it uses.
    pub store: Store,
    shutdown: CancellationToken,
    task: JoinHandle<Result<()>>,
}

impl Running {
    /// The base URL clients reach it at.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Starts a graceful shutdown.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has stopped and the store is closed.
    pub async fn wait(self) -> Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(Error::Serve(std::io::Error::other(join))),
        }
    }
}

/// Runs the server until `shutdown` is cancelled.
pub async fn run(config: LoadedConfig, shutdown: CancellationToken) -> Result<()> {
    start(config, shutdown).await?.wait().await
}

/// Starts the server and returns once it listens.
pub async fn start(config: LoadedConfig, shutdown: CancellationToken) -> Result<Running> {
    let store = Store::connect(config.state_url().expose()).await?;
    let admin_token_file = ensure_admin_token(&store, config.data_dir()).await?;
    let tls = match &config.config.server.tls {
        Some(tls) => Some(load_tls(&tls.cert, &tls.key)?),
        None => None,
    };
    let addr = config.config.server.listen;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| Error::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;

    store
        .append(
            NewEvent::new(
                EventKind::new("steward.started").expect("valid kind"),
                Actor::system(),
                format!("steward {} started on {local_addr}", env!("CARGO_PKG_VERSION")),
            )
            .payload(json!({
                "version": env!("CARGO_PKG_VERSION"),
                "listen": local_addr.to_string(),
                "tls": tls.is_some(),
                "config": config.display_name(),
                "store": store.backend().as_str(),
                "services": config.config.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            })),
        )
        .await?;

    let state = AppState::new(store.clone(), config, shutdown.clone());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let has_tls = tls.is_some();
    let task = {
        let store = store.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let watcher = {
                let handle = handle.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    shutdown.cancelled().await;
                    tracing::info!("shutting down; waiting for in-flight requests");
                    handle.graceful_shutdown(Some(GRACE));
                })
            };
            let served = match tls {
                Some(tls) => {
                    axum_server::from_tcp_rustls(listener, tls)
                        .handle(handle)
                        .serve(app)
                        .await
                }
                None => {
                    axum_server::from_tcp(listener)
                        .handle(handle)
                        .serve(app)
                        .await
                }
            };
            watcher.abort();
            let stopped = NewEvent::new(
                EventKind::new("steward.stopped").expect("valid kind"),
                Actor::system(),
                "steward stopped",
            );
            if let Err(err) = store.append(stopped).await {
                tracing::warn!(error = %err, "cannot journal the shutdown");
            }
            store.close().await;
            served.map_err(Error::Serve)
        })
    };
    tracing::info!(addr = %local_addr, tls = has_tls, "steward listening");
    Ok(Running {
        local_addr,
        tls: has_tls,
        admin_token_file,
        store,
        shutdown,
        task,
    })
}

/// Loads a certificate chain and key into a rustls configuration that
/// speaks HTTP/2 and HTTP/1.1.
fn load_tls(cert: &Path, key: &Path) -> Result<RustlsConfig> {
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
