//! Binding the listening socket, serving the router, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{AppState, router};

/// A bound, not yet serving, agent.
///
/// Binding and serving are separate so that the caller can learn the real
/// port (when asked for port 0) and announce it before serving starts.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
}

impl Server {
    /// Binds the configured host and port and creates the agent's state.
    ///
    /// The port listens from here on, even during `--startup-delay`: the
    /// agent answers 503 until ready instead of refusing connections, which
    /// is what health checks of a slow-starting service see in practice.
    pub async fn bind(config: Config) -> Result<Self> {
        let addr = format!("{}:{}", config.listen, config.port);
        let listener = TcpListener::bind((config.listen.as_str(), config.port))
            .await
            .map_err(|source| Error::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let state = AppState::new(config)?;
        Ok(Self {
            listener,
            local_addr,
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The agent's shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting connections
    /// and waits for in-flight requests to finish.
    pub async fn serve<F>(self, shutdown: F) -> Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let state = self.state.clone();
        if !state.is_started() {
            tokio::spawn(async move {
                tokio::time::sleep_until(state.ready_at()).await;
                tracing::info!(version = %state.config().version, "ready");
            });
        }
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(Error::Serve)?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Installs handlers for SIGTERM and SIGINT and returns a future that
/// completes on the first of them.
///
/// Installing happens before the future is polled, so a signal that arrives
/// right after startup is not lost to the default handler.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signal)?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
        Ok(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot wait for ctrl-c");
                std::future::pending::<()>().await;
            }
            tracing::info!(signal = "ctrl-c", "shutting down");
        })
    }
}
