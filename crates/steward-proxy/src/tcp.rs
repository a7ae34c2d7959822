//! Plain TCP forwarding: each client connection is joined to a connection
//! to the upstream the pool picks, for its whole life or until nothing
//! moves either way for the idle timeout. Connecting is retried once on
//! another upstream (nothing has been sent yet, so any protocol is safe to
//! retry there).

use std::sync::Arc;

use steward_net::{Acceptor, Activity};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::shared::Inner;

/// Accepts connections (at most `max_connections` at once) until
/// `shutdown`. Connections already joined carry on until either side
/// closes them or they stay silent for the idle timeout.
pub(crate) async fn serve(inner: Arc<Inner>, listener: TcpListener, shutdown: CancellationToken) {
    let mut acceptor = Acceptor::new(
        listener,
        inner.options.edge.max_connections,
        &inner.options.service,
    );
    while let Some((client, _, slot)) = acceptor.next(&shutdown).await {
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            join(&inner, client).await;
            drop(slot);
        });
    }
}

async fn join(inner: &Inner, client: TcpStream) {
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
            Ok(Ok(upstream)) => {
                let _ = upstream.set_nodelay(true);
                inner
                    .metrics
                    .requests
                    .with_label_values(&[service, &id, "tcp"])
                    .inc();
                let gauge = inner.metrics.in_flight.with_label_values(&[service, &id]);
                gauge.inc();
                let activity = Arc::new(Activity::new());
                let mut client = activity.watch(client);
                let mut upstream = activity.watch(upstream);
                tokio::select! {
                    copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                        if let Err(err) = copied {
                            tracing::debug!(service, upstream = %id, error = %err, "tcp connection ended with an error");
                        }
                    }
                    // Both streams are dropped on return: both sides close.
                    () = activity.idle(inner.options.edge.tcp_idle_timeout) => {
                        tracing::debug!(service, upstream = %id, "tcp connection idle; closing both sides");
                    }
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
