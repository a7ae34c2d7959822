//! Plain TCP forwarding: each client connection is joined to a connection
//! to the upstream the pool picks, for its whole life. Connecting is
//! retried once on another upstream (nothing has been sent yet, so any
//! protocol is safe to retry there).

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::proxy::Inner;

/// Accepts connections until `shutdown`. Connections already joined carry
/// on until either side closes them.
pub(crate) async fn serve(inner: Arc<Inner>, listener: TcpListener, shutdown: CancellationToken) {
    loop {
        let client = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(err) => {
                    tracing::warn!(service = %inner.options.service, error = %err, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let inner = Arc::clone(&inner);
        tokio::spawn(async move { join(&inner, client).await });
    }
}

async fn join(inner: &Inner, mut client: TcpStream) {
    let service = inner.options.service.as_str();
    let mut failed: Option<String> = None;
    loop {
        let Some(flight) = inner.pool.pick(failed.as_deref()) else {
            tracing::warn!(service, "no replica to take a tcp connection; closing it");
            return;
        };
        let id = flight.member.upstream.id.clone();
        let connect = TcpStream::connect(flight.member.upstream.addr);
        match tokio::time::timeout(inner.options.connect_timeout, connect).await {
            Ok(Ok(mut upstream)) => {
                let _ = upstream.set_nodelay(true);
                inner
                    .metrics
                    .requests
                    .with_label_values(&[service, &id, "tcp"])
                    .inc();
                let gauge = inner.metrics.in_flight.with_label_values(&[service, &id]);
                gauge.inc();
                if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(service, upstream = %id, error = %err, "tcp connection ended with an error");
                }
                gauge.dec();
                drop(flight);
                return;
            }
            Ok(Err(_)) | Err(_) => {
                inner
                    .metrics
                    .errors
                    .with_label_values(&[service, &id, "connect"])
                    .inc();
                if failed.is_some() {
                    return;
                }
                inner.metrics.retries.with_label_values(&[service]).inc();
                failed = Some(id);
            }
        }
    }
}
